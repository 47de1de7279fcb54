/**
 * A kill -9 of the whole `pulumi up` at each dynamic provider's step, under the real engine (issue 24): within 5 s no
 * process of the dead update is left (provider, bench command, the policy pack's host), and nothing was written for
 * it — no report, record, bench result or baseline — beyond a record saying it was interrupted.  The rows are the
 * chaos matrix's kill rows (reference/chaos/matrix.ts; the provider is frozen across the kill so its step is in
 * flight); the kinds with a kill test of their own elsewhere are left out: SshRollout (nodeKill.e2e.ts), HealthGate
 * (bakes.e2e.ts), TrafficShift (rollback.e2e.ts).  EmergencyStop runs only with Kubernetes: its row is a stack of that
 * step alone on the test control plane (reference/chaos/emergencyStop.ts), killed while it waits for the release's
 * pods to go.
 */
import { expect } from "chai";
import * as path from "path";
import { CHAOS_MATRIX } from "../../reference/chaos/matrix";
import { runChaosFault } from "../../reference/chaos/run";
import { localGuardPlan, ROOT, toolchain } from "../../scripts/localStack";

const ELSEWHERE = ["kill-at-ssh-rollout", "kill-at-health-gate", "kill-at-traffic-shift"];

describe("the real engine: a kill at every dynamic provider's step leaves no process and no record behind", function () {
    this.timeout(600_000);
    const runDir = path.join(ROOT, ".pulumi-local/chaos", `e2e-kill-${new Date().toISOString().replace(/[:.]/g, "-")}`);
    const plan = localGuardPlan();
    let binDir: string;
    before(() => { binDir = toolchain(); });

    for (const f of CHAOS_MATRIX.filter((x) => x.kind === "kill" && !ELSEWHERE.includes(x.name))) {
        it(`${f.name}: ${f.fault}`, async () => {
            const row = await runChaosFault(f, { runDir, binDir, plan, log: (s) => console.log(`      ${s}`) });
            console.log(`      killed at +${((row.injectedAt ?? row.startedAt) - row.startedAt) / 1000} s; every process gone ${row.safeSeconds ?? "never"} s later` +
                `${row.notes.length ? ` (${row.notes.join("; ")})` : ""}`);
            expect(row.injectedAt, "the kill landed").to.not.equal(undefined);
            expect(row.safeSeconds, "no process of the dead update left within 5 s").to.be.below(5);
            expect(row.violations).to.deep.equal([]);
        });
    }
});
