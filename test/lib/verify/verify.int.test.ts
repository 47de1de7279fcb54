/** Post-deployment verification (seed 000's verify script, with thresholds) against the reference workloads. */
import { expect } from "chai";
import { mkdtempSync, readFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { reportTable } from "../../../lib/runbook/steps";
import { runVerification, VerifyTarget } from "../../../lib/verify/checks";
import { verificationProvider } from "../../../providers/verification";
import { deserialised } from "../../helpers/deserialise";
import { Reference, startReference } from "../../helpers/reference";

describe("post-deployment verification against the reference workloads", function () {
    this.timeout(60_000);
    let ref: Reference;
    before(async () => { ref = await startReference({ rolloutPercentage: 100 }); });
    after(async () => ref.close());
    const target = (over: Partial<VerifyTarget> = {}): VerifyTarget => ({
        version: "v1.2.4", serviceUrl: ref.service.url, proofWorkerUrl: ref.worker.url, timeoutMs: 1000,
        pods: [{ name: "proof-workers", ready: 4, desired: 4 }, { name: "agenc-speculation", ready: 3, desired: 3 }],
        expectRolloutPercentage: 100,
        limits: { minSpeculationMetrics: 10, maxRollbackRate: 0.05, maxMemoryPercent: 90, maxProofQueueSize: 2000 }, ...over,
    });

    it("passes a healthy release at 100 % with every check of the seed's script", async () => {
        const report = await runVerification(target(), () => undefined);
        expect(report.verdict, reportTable(report)).to.equal("pass");
        expect(report.checks.map((c) => c.name)).to.deep.equal(["pods-proof-workers", "pods-agenc-speculation", "health", "metrics", "rollback-rate", "memory", "proof-queue", "rollout"]);
    });

    it("fails each check on its fault", async () => {
        const cases: [string, () => void, Partial<VerifyTarget>, string][] = [
            ["pods not ready", () => undefined, { pods: [{ name: "agenc-speculation", ready: 2, desired: 3 }] }, "pods-agenc-speculation"],
            ["another version", () => undefined, { version: "v1.2.5" }, "health"],
            ["a high rollback rate", () => ref.service.setFaults({ rollbackRate: 0.08 }), {}, "rollback-rate"],
            ["memory critical", () => ref.service.setFaults({ memoryPercent: 95 }), {}, "memory"],
            ["a full proof queue", () => { ref.worker.faults.queueSize = 2500; }, {}, "proof-queue"],
            ["traffic not at 100 %", () => { ref.service.state.rolloutPercentage = 50; }, {}, "rollout"],
        ];
        for (const [what, inject, over, check] of cases) {
            inject();
            try {
                const report = await runVerification(target(over), () => undefined);
                expect(report.checks.filter((c) => c.verdict === "fail").map((c) => c.name), what).to.deep.equal([check]);
            } finally {
                ref.service.setFaults({ rollbackRate: 0.01, memoryPercent: 45 });
                ref.worker.faults.queueSize = 120;
                ref.service.state.rolloutPercentage = 100;
            }
        }
    });

    it("the provider records the report and fails up with the table", async () => {
        const provider = await deserialised(verificationProvider);
        const dir = mkdtempSync(path.join(tmpdir(), "verify-"));
        const ok = await provider.create({ ...target(), artifactsDir: dir });
        expect(JSON.parse(readFileSync(ok.outs.artifact, "utf8")).verdict).to.equal("pass");
        ref.service.setFaults({ memoryPercent: 95 });
        try {
            await provider.create({ ...target(), artifactsDir: dir });
            expect.fail("memory at 95 % verified");
        } catch (e) {
            expect((e as { reasons: string[] }).reasons[0]).to.match(/post-deployment verification of v1\.2\.4 at 100 % failed: 1 check\(s\) failed \(memory\)[\s\S]*memory\s+GET \S+\/admin\/memory-stats\s+3891MB \/ 4096MB \(95\.0 %\)\s+< 90 % of the limit\s+FAIL/);
        } finally { ref.service.setFaults({ memoryPercent: 45 }); }
    });
});
