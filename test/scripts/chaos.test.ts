/** The chaos matrix as data (reference/chaos/matrix.ts) and how `npm run chaos` selects from it (scripts/chaos.ts). */
import { expect } from "chai";
import { CHAOS_MATRIX } from "../../reference/chaos/matrix";
import { selectFaults } from "../../scripts/chaos";
import { partitionViolations } from "../../reference/chaos/watchdogPartition";
import { localGuardPlan } from "../../scripts/localStack";

describe("npm run chaos: the matrix and its selection", () => {
    it("names every fault once and covers each group the issue lists; the short matrix is a part of it", () => {
        const names = CHAOS_MATRIX.map((f) => f.name);
        expect(new Set(names).size, "unique names").to.equal(names.length);
        expect([...new Set(CHAOS_MATRIX.map((f) => f.group))].sort()).to.deep.equal(["byzantine", "exhaustion", "kill", "node", "partition"]);
        const short = selectFaults({ short: true });
        expect(short.length).to.be.greaterThan(0).and.below(CHAOS_MATRIX.length);
        expect(new Set(short.map((f) => f.group)).size, "the short matrix has every group").to.equal(5);
        expect(selectFaults({})).to.deep.equal(CHAOS_MATRIX);
    });

    it("kills at every dynamic provider kind and during the policy pack", () => {
        const kills = CHAOS_MATRIX.filter((f) => f.kind === "kill").map((f) => f.name);
        for (const kind of ["preflight", "release-smoke-test", "bench-run", "error-baseline", "traffic-shift", "health-gate", "ssh-rollout",
            "deployment-record", "bake-window", "verification", "rollback-drain", "emergency-stop"]) {
            expect(kills, kind).to.include(`kill-at-${kind}`);
        }
        expect(kills).to.include("kill-during-policy-pack");
    });

    it("the short matrix CI runs is the nine faults it was; the node lost mid-restore, the watchdog's partition and the clock skew are in the full one", () => {
        expect(selectFaults({ short: true }).map((f) => f.name)).to.deep.equal([
            "node-crash-after-swap", "sshd-killed-mid-upload", "deployer-prometheus-partition", "admin-200-not-applied",
            "proof-queue-saturated", "admin-api-slow", "kill-at-bench-run", "kill-at-deployment-record", "kill-during-policy-pack",
        ]);
        const full = Object.fromEntries(CHAOS_MATRIX.map((f) => [f.name, f]));
        expect(full["node-lost-mid-restore"]).to.include({ kind: "up", group: "node", short: false });
        expect(full["watchdog-admin-partition"]).to.include({ kind: "guard", group: "partition", short: false, scenario: "watchdog-admin-partition" });
        expect(full["deployer-clock-skew"]).to.include({ kind: "up", group: "byzantine", short: false });
    });

    it("the watchdog partition's rules: loud at the deadline, trying again while the trigger fires, 0 % within the bound from the heal", () => {
        const plan = localGuardPlan((c) => { c["speculation:watchdog"] = { ...c["speculation:watchdog"], revertDeadline: "30s" }; });
        expect(plan.refusals).to.deep.equal([]);
        const good = {
            cutAt: 0, firstRetryAt: 7_000, failedAt: 37_000, loud: true, alertAt: 39_000, retriedAfterFailureAt: 38_000, healedAt: 40_000, confirmedAt: 41_000,
            seconds: 1, boundSeconds: plan.partitionHeal.seconds,
            attemptTimeoutsMs: [1000, 2000, 4000, 8000, 8000, 3000], attemptGapsMs: [1250, 2500, 5000, 13000, 13000],
            percentageWhileCut: 10, finalPercentage: 0, confirmed: { path: "admin-api", attempts: 1 },
        };
        expect(partitionViolations(good, plan)).to.deep.equal([]);
        // A watchdog that gives up at its deadline and never acts again while the trigger fires: traffic never reaches 0.
        expect(partitionViolations({ ...good, retriedAfterFailureAt: Number.NaN, finalPercentage: 10 }, plan)).to.deep.equal([
            "no new action after the failure while the trigger kept firing", "traffic reads 10 % at the end",
        ]);
        // One that gives up early, quietly, after two short attempts; and one too slow after the heal.
        expect(partitionViolations({ ...good, loud: false, failedAt: 5_000, attemptTimeoutsMs: [1000, 2000], attemptGapsMs: [1250] }, plan)).to.have.members([
            "the watchdog made 2 attempt(s) before its deadline; it must keep trying until then",
            "no attempt gave the admin API its 8000 ms (1000, 2000 ms)",
            "failed 5000 ms after the cut, before its 30 s deadline could have passed",
            "no REVERT FAILED log line at the deadline",
        ]);
        expect(partitionViolations({ ...good, seconds: 70 }, plan)).to.deep.equal([`0 % confirmed 70 s after the heal, over the bound ${plan.partitionHeal.seconds} s`]);
    });

    it("--only picks the named faults and refuses an unknown name, listing the allowed ones", () => {
        expect(selectFaults({ only: "kill-at-bench-run,node-crash-after-swap" }).map((f) => f.name)).to.deep.equal(["node-crash-after-swap", "kill-at-bench-run"]);
        expect(() => selectFaults({ only: "kill-at-bench,node-crash-after-swap" })).to.throw(/--only kill-at-bench: allowed node-crash-after-swap, .*kill-at-bench-run/);
    });
});
