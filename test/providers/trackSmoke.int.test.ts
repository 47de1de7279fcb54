/**
 * The smoke tests against a new track (canary or green) before it gets traffic: the one suite (lib/smoke) through
 * ReleaseSmokeTest with the track's version expected and retries while its pods come up.  The reference plays the
 * track.
 */
import { expect } from "chai";
import { mkdtempSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { releaseSmokeTestProvider } from "../../providers/releaseSmoke";
import { deserialised } from "../helpers/deserialise";
import { ADMIN_TOKEN, Reference, startReference } from "../helpers/reference";

describe("ReleaseSmokeTest against a new track (green or canary before it gets traffic)", function () {
    this.timeout(20_000);
    let ref: Reference;
    afterEach(async () => ref?.close());
    const spec = (url: string, edit: Record<string, unknown> = {}) => ({
        track: "green", version: "v1.2.4", serviceUrl: url, adminToken: ADMIN_TOKEN, timeoutMs: 500, expectVersion: true,
        artifactsDir: mkdtempSync(path.join(tmpdir(), "track-smoke-")), retry: { deadlineSeconds: 1, pollSeconds: 0.1 }, ...edit,
    });

    it("passes a healthy green at the release version: seed 000's six tests and the synthetic speculation", async () => {
        ref = await startReference();
        const { outs } = await (await deserialised(releaseSmokeTestProvider)).create(spec(ref.service.url));
        expect(outs.verdict).to.equal("pass");
        expect(outs.attempts).to.equal(1);
        expect(outs.report.checks.map((c: { name: string }) => c.name)).to.deep.equal(["1-health", "2-metrics", "3-admin-status", "4-config-api", "5-proof-workers", "6-chain", "7-synthetic"]);
    });

    it("retries while the track comes up (its pods not healthy yet), then passes", async () => {
        ref = await startReference({ faults: { unhealthy: ["chain_connection"] } });
        const lines: string[] = [];
        const log = console.log;
        console.log = (l: string) => { lines.push(l); };
        let healed = false;
        const created = releaseSmokeTestProvider.create!(spec(ref.service.url, { retry: { deadlineSeconds: 5, pollSeconds: 0.1 } }));
        // Heal the track once the first attempt has said it is not green (the test follows the provider's own lines).
        const heal = setInterval(() => { if (!healed && lines.some((l) => /attempt 1: not green/.test(l))) { healed = true; ref.service.setFaults({ unhealthy: [] }); } }, 10);
        try {
            const { outs } = await created;
            expect(outs.verdict).to.equal("pass");
            expect(outs.attempts).to.be.greaterThan(1);
            expect(lines[0]).to.match(/^\[smoke-green\] http:\/\/127\.0\.0\.1:\d+ attempt 1: not green \(1-health: HTTP 200 .*degraded/);
        } finally { clearInterval(heal); console.log = log; }
    });

    it("fails naming every check when the track runs another version, after its retries; no traffic moves", async () => {
        ref = await startReference({ version: "v1.2.3" });
        const err = await releaseSmokeTestProvider.create!(spec(ref.service.url)).then(() => undefined, (e: { message: string }) => e);
        expect(err?.message).to.match(/^smoke tests of the green track \(http:\/\/127\.0\.0\.1:\d+, v1\.2\.4\) failed after \d+ attempt\(s\); no traffic moved to it: 1 check\(s\) failed \(1-health\)/);
        expect(err?.message).to.match(/1-health\s+GET http:\S+\/health\s+HTTP 200 .*"version":"v1\.2\.3".*\s+\.status == "healthy" and \.version == "v1\.2\.4"\s+FAIL/);
    });

    it("without expectVersion (the stable service) another version is not a failure", async () => {
        ref = await startReference({ version: "v1.2.3" });
        const { outs } = await releaseSmokeTestProvider.create!(spec(ref.service.url, { track: "stable", expectVersion: false, retry: undefined }));
        expect(outs.verdict).to.equal("pass");
    });
});
