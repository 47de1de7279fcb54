/** Seed 000's smoke suite (six tests + the synthetic speculation) against the reference workloads, each fault caught. */
import { expect } from "chai";
import { mkdtempSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { parseExposition } from "../../../lib/gate/measure";
import { reportTable } from "../../../lib/runbook/steps";
import { runSmokeTests } from "../../../lib/smoke/suite";
import { releaseSmokeTestProvider } from "../../../providers/releaseSmoke";
import { Faults } from "../../../reference/speculationService";
import { deserialised } from "../../helpers/deserialise";
import { ADMIN_TOKEN, Reference, startReference } from "../../helpers/reference";

describe("smoke tests against the reference workloads", function () {
    this.timeout(60_000);
    let ref: Reference;
    before(async () => { ref = await startReference(); });
    after(async () => ref.close());
    const target = () => ({ serviceUrl: ref.service.url, proofWorkerUrl: ref.worker.url, adminToken: ADMIN_TOKEN, timeoutMs: 1000 });

    it("passes all seven in the seed's order, one progress line each", async () => {
        const lines: string[] = [];
        const report = await runSmokeTests(target(), (l) => lines.push(l));
        expect(report.verdict, reportTable(report)).to.equal("pass");
        expect(report.checks.map((c) => c.name)).to.deep.equal(["1-health", "2-metrics", "3-admin-status", "4-config-api", "5-proof-workers", "6-chain", "7-synthetic"]);
        expect(report.checks.every((c) => c.verdict === "pass")).to.equal(true);
        expect(lines).to.have.length(7);
        expect(ref.service.state).to.include({ enabled: false, rolloutPercentage: 0 });   // smoke tests move no traffic
    });

    const cases: [string, Partial<Faults>, string][] = [
        ["a degraded service", { unhealthy: ["stake_pool"] }, "1-health"],
        // All but one speculation_ family dropped (whatever the reference exposes today).
        ["too few speculation metrics", { dropMetrics: ["*speculation"] }, "2-metrics"],
        ["a disconnected chain", { unhealthy: ["chain_connection"] }, "6-chain"],
        ["a failing synthetic speculation", { errorRate: 1 }, "7-synthetic"],
    ];
    for (const [what, given, check] of cases) {
        let faults = given;
        it(`fails on ${what} (${check})`, async () => {
            if (faults.dropMetrics?.[0] === "*speculation") {
                const families = parseExposition(await (await fetch(`${ref.service.url}/metrics`)).text())!;
                faults = { dropMetrics: families.map((f) => f.name).filter((n) => n.startsWith("speculation_") && n !== "speculation_enabled") };
            }
            ref.service.setFaults(faults);
            try {
                const report = await runSmokeTests(target(), () => undefined);
                expect(report.checks.find((c) => c.name === check)!.verdict, reportTable(report)).to.equal("fail");
            } finally {
                ref.service.setFaults({ unhealthy: [], dropMetrics: [], errorRate: 0.002 });
            }
        });
    }

    it("fails test 5 when the proof workers are down (the seed only warns) and skips it without a URL", async () => {
        ref.worker.faults.healthy = false;
        try {
            const down = await runSmokeTests(target(), () => undefined);
            expect(down.checks.find((c) => c.name === "5-proof-workers")!.verdict).to.equal("fail");
        } finally { ref.worker.faults.healthy = true; }
        const skipped = await runSmokeTests({ ...target(), proofWorkerUrl: undefined }, () => undefined);
        expect(skipped.verdict).to.equal("pass");
        expect(skipped.checks.find((c) => c.name === "5-proof-workers")!.verdict).to.equal("skip");
    });

    it("runs against a canary track of its own: a broken canary fails while the stable track passes", async () => {
        const canary = await startReference({ faults: { unhealthy: ["chain_connection"] }, version: "v1.2.5" });
        try {
            const onCanary = await runSmokeTests({ step: "smoke-canary", serviceUrl: canary.service.url, proofWorkerUrl: canary.worker.url, adminToken: ADMIN_TOKEN, timeoutMs: 1000 }, () => undefined);
            expect(onCanary.step).to.equal("smoke-canary");
            expect(onCanary.verdict).to.equal("fail");
            expect((await runSmokeTests(target(), () => undefined)).verdict).to.equal("pass");
        } finally { await canary.close(); }
    });

    it("the provider (deserialised) fails create with the table naming the track and the failed test", async () => {
        const provider = await deserialised(releaseSmokeTestProvider);
        ref.service.setFaults({ unhealthy: ["chain_connection"] });
        try {
            await provider.create({ track: "canary", version: "v1.2.5", serviceUrl: ref.service.url, proofWorkerUrl: ref.worker.url, adminToken: ADMIN_TOKEN,
                timeoutMs: 1000, artifactsDir: mkdtempSync(path.join(tmpdir(), "smoke-")) });
            expect.fail("a track with a disconnected chain passed");
        } catch (e) {
            const err = e as { reasons: string[]; properties: Record<string, unknown> };
            expect(err.reasons[0]).to.match(/^smoke tests of the canary track \(http:\/\/127\.0\.0\.1:\d+, v1\.2\.5\) failed after 1 attempt\(s\); no traffic moved to it: 2 check\(s\) failed \(1-health, 6-chain\)/);
            expect(err.reasons[0]).to.match(/6-chain\s+GET http:\S+\/admin\/chain-status \(bearer\)\s+HTTP 200 \{"connected":false\}\s+\.connected == true\s+FAIL/);
            expect(JSON.stringify(err.properties)).to.not.contain(ADMIN_TOKEN);
        } finally { ref.service.setFaults({ unhealthy: [] }); }
    });
});
