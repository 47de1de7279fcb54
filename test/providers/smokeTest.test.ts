/** SmokeTest against green's own address: the reference service plays green. */
import { expect } from "chai";
import { smokeTestProvider } from "../../providers/smokeTest";
import { deserialised } from "../helpers/deserialise";
import { Reference, startReference } from "../helpers/reference";

describe("SmokeTest provider (green before it gets traffic)", function () {
    this.timeout(20_000);
    let ref: Reference;
    afterEach(async () => ref?.close());
    const spec = (url: string, edit: Record<string, unknown> = {}) => ({ stage: "stage-1-10pct", url, version: "v1.2.4", timeoutMs: 500, deadlineSeconds: 1, pollSeconds: 0.1, ...edit });

    it("passes a healthy, ready green at the release version with its metrics", async () => {
        ref = await startReference();
        const { outs } = await (await deserialised(smokeTestProvider)).create(spec(ref.service.url));
        expect(outs.attempts).to.equal(1);
        expect(outs.passedAt).to.be.a("string");
    });

    it("waits for green to become ready, then passes", async () => {
        ref = await startReference({ faults: { readinessDelayMs: 400 } });
        const { outs } = await smokeTestProvider.create!(spec(ref.service.url, { deadlineSeconds: 5 }));
        expect(outs.attempts).to.be.greaterThan(1);
    });

    it("fails naming every check when green runs another version, is unhealthy or has no metrics", async () => {
        ref = await startReference({ version: "v1.2.3", faults: { unhealthy: ["stake_pool"] } });
        const err = await smokeTestProvider.create!(spec(ref.service.url)).then(() => undefined, (e: Error) => e);
        expect(err?.message).to.match(/smoke tests against green \(http:\/\/127\.0\.0\.1:\d+, v1\.2\.4\) failed after \d+ attempt\(s\); the primary Service stays on blue/);
        expect(err?.message).to.match(/FAIL {2}GET \/health is healthy at v1\.2\.4: degraded v1\.2\.3/);
        expect(err?.message).to.match(/PASS {2}GET \/metrics has more than 10 speculation_\* series: \d+ series/);
        ref.service.setFaults({ unhealthy: [], dropMetrics: [] , httpStatus: 500 });
        const down = await smokeTestProvider.create!(spec(ref.service.url)).then(() => undefined, (e: Error) => e);
        expect(down?.message).to.match(/FAIL {2}GET \/metrics has more than 10 speculation_\* series: no answer \(HTTP 500\)/);
    });

    it("a new version or address tests again", async () => {
        const olds = { ...spec("http://a"), passedAt: "x", attempts: 1 };
        expect((await smokeTestProvider.diff!("id", olds, spec("http://a", { version: "v1.2.5" }))).replaces).to.deep.equal(["version"]);
        expect((await smokeTestProvider.diff!("id", olds, spec("http://a"))).changes).to.equal(false);
    });
});
