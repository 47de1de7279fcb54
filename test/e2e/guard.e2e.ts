/**
 * The guard between `up`s, on the local default's timings (Pulumi.local.yaml → lib/guard/plan.ts): for each of the
 * four fault classes the watchdog used to miss, and for every rollback trigger's ordinary firing, traffic reaches 0 %
 * — confirmed by the watchdog's read-back — within the bound the program computes for that trigger.  Real
 * Prometheus, Alertmanager and watchdog (reference/guardFaults.ts); no Pulumi process runs, as between two `up`s.
 */
import { expect } from "chai";
import { GUARD_SCENARIOS, planFor, runGuardScenario } from "../../reference/guardFaults";
import { localGuardPlan } from "../../scripts/localStack";

describe("the guard between ups reaches 0 % within its computed bound (local default, real Prometheus, Alertmanager, watchdog)", function () {
    this.timeout(240_000);
    const plan = localGuardPlan();

    it("the local default's bound is computed from its config (and every scenario's trigger has one)", () => {
        expect(plan.worst.seconds).to.be.greaterThan(0);
        for (const s of GUARD_SCENARIOS) expect(plan.triggers.map((t) => t.alert)).to.include(s.trigger);
    });

    it("every rollback trigger of the plan has a scenario that makes it take the traffic away (a new trigger cannot go unproven)", () => {
        const proven = new Set(GUARD_SCENARIOS.map((s) => s.trigger));
        const unproven = plan.triggers.map((t) => t.alert).filter((a) => !proven.has(a));
        expect(unproven, "rollback triggers (lib/guard/plan.ts) with no GUARD_SCENARIOS entry in reference/guardFaults.ts").to.deep.equal([]);
    });

    for (const s of GUARD_SCENARIOS) {
        it(`${s.kind === "fault-class" ? "fault class" : "trigger"} ${s.name}: ${s.fault}`, async () => {
            const m = await runGuardScenario(s, planFor(s, localGuardPlan), (line) => console.log(`      ${line}`));
            expect(m.finalPercentage, "traffic at the end").to.equal(0);
            expect(m.seconds, `0 % confirmed ${m.seconds} s after the condition; the bound for ${s.trigger} is ${m.boundSeconds} s`)
                .to.be.at.most(m.boundSeconds);
            if (s.name === "unscrapable-service") expect(m.action.alerts).to.include("SpeculationUnobservable");
            if (s.name === "slow-admin-api") expect(m.action.attempts, "the attempts grew until one outlasted the 5 s API").to.be.greaterThan(1);
            // 5 % errors against a 1 % baseline: neither the spike (10x) nor the abort (10 %) fires; the budget's burn alone does.
            if (s.name === "error-budget-fast-burn") expect(m.action.alerts).to.deep.equal(["SpeculationErrorBudgetFastBurn"]);
            // The scenarios that isolate one trigger (the fast burn, with no for:, otherwise takes every error-rate
            // fault first): it alone acted, so its own rule is proven, not only the path.
            if (s.name.endsWith("-alone")) expect(m.action.alerts).to.deep.equal([s.trigger]);
        });
    }
});
