/**
 * The guard's bound (lib/guard/bound.ts, lib/guard/plan.ts): each term is the worst case of one step, the attempt
 * schedule is the watchdog's own, and the stacks' figures are the ones the README and the production policy quote.
 */
import { expect } from "chai";
import { actionScheduleSeconds, attemptTimeoutSeconds, formatBound, guardBounds, GuardTimings, partitionHealBound, triggerBound } from "../../../lib/guard/bound";
import { boundByKey, guardPlan, guardSummary } from "../../../lib/guard/plan";
import { GUARD_BOUND_LIMIT_SECONDS } from "../../../config/thresholds";
import { parseStackConfig } from "../../../config";
import { encodeConfig, stackConfig, withEdit } from "../../helpers/stack";

const LOCAL: GuardTimings = {
    scrapeIntervalSeconds: 1, scrapeTimeoutSeconds: 1, evaluationIntervalSeconds: 1, pollIntervalSeconds: 1, queryTimeoutSeconds: 1,
    attempts: { initialTimeoutSeconds: 1, adminApiTimeoutSeconds: 8, initialBackoffSeconds: 0.25, maxBackoffSeconds: 5 },
};

describe("the guard's bound (lib/guard)", () => {
    it("the attempt schedule: timeouts double to the admin API's, and the worst case is an API just slower than the last short one", () => {
        expect([0, 1, 2, 3, 4].map((n) => attemptTimeoutSeconds(LOCAL.attempts, n))).to.deep.equal([1, 2, 4, 8, 8]);
        // Failed 1 + 2 + 4 with pauses 0.25 + 0.5 + 1, then write and read-back at 8 s each.
        expect(actionScheduleSeconds(LOCAL.attempts)).to.equal(1 + 0.25 + 2 + 0.5 + 4 + 1 + 2 * 8);
        // A fast API alone: one attempt of three requests (read, write, read back).
        expect(actionScheduleSeconds({ ...LOCAL.attempts, adminApiTimeoutSeconds: 1 })).to.equal(3);
    });

    it("sums every step: scrape, recording, pending, for: in whole evaluations, the watchdog's poll, the action", () => {
        const b = triggerBound({ ...LOCAL, evaluationIntervalSeconds: 15, scrapeIntervalSeconds: 15, scrapeTimeoutSeconds: 10 }, { alert: "X", forSeconds: 20, recorded: true });
        expect(b.terms.map((t) => t.seconds)).to.deep.equal([25, 15, 15, 30, 2, 24.75]);
        expect(b.seconds).to.equal(111.75);
        // A trigger on a raw series skips the recording evaluation.
        expect(triggerBound(LOCAL, { alert: "Y", forSeconds: 2, recorded: false }).terms.map((t) => t.step)).to.not.include("recording rule evaluation");
        expect(guardBounds(LOCAL, [{ alert: "A", forSeconds: 2, recorded: false }, { alert: "B", forSeconds: 60, recorded: true }]).worst.alert).to.equal("B");
        expect(formatBound(410.75)).to.equal("6m 51s");
        expect(formatBound(32.75)).to.equal("32.75s");
    });

    it("after a cut between the watchdog and the admin API heals: the swallowed request, its pause, the schedule, and the deadline's restart", () => {
        const b = partitionHealBound(LOCAL);
        // 8 s request timeout + 5 s pause + 24.75 s schedule + (1 s poll + 1 s query) + 24.75 s new action.
        expect(b.terms.map((t) => t.seconds)).to.deep.equal([8, 5, 24.75, 2, 24.75]);
        expect(b.seconds).to.equal(64.5);
        // A slower admin API timeout or poll lengthens it; the local plan carries it.
        expect(partitionHealBound({ ...LOCAL, pollIntervalSeconds: 15, queryTimeoutSeconds: 5 }).seconds).to.equal(82.5);
        const { config } = parseStackConfig(encodeConfig(stackConfig("production")));
        expect(guardPlan(config).partitionHeal.seconds).to.equal(10 + 5 + 35.75 + 20 + 35.75);
        expect(guardSummary(guardPlan(config)).afterWatchdogPartition, "pulumi stack output guard").to.equal("1m 47s");
    });

    it("production as configured: 6m 51s, its worst trigger the rollback-rate abort (5 min for:), within the 7 min policy", () => {
        const { config } = parseStackConfig(encodeConfig(stackConfig("production")));
        const plan = guardPlan(config);
        expect(plan.worst.seconds).to.equal(410.75);
        expect(plan.worst.alert).to.equal("SpeculationRollbackRateAbort");
        expect(plan.refusals).to.deep.equal([]);
        expect(plan.triggers.map((t) => t.alert)).to.include.members(["SpeculationErrorRateAbort", "SpeculationUnobservable"]);
        // The unobservable trigger tolerates one missed scrape: for = scrape + evaluation.
        expect(plan.triggers.find((t) => t.alert === "SpeculationUnobservable")!.terms.find((t) => t.step.startsWith("for:"))!.seconds).to.equal(30);
    });

    it("splits the bound by the stack key each second comes from; the go/no-go table's for: is listed as fixed", () => {
        const { config } = parseStackConfig(encodeConfig(stackConfig("production")));
        const plan = guardPlan(config);
        const shares = boundByKey(config, plan.worst);
        // 410.75 s: the rollback-rate abort's 5 min for:, then the evaluation interval (recording, pending and the poll,
        // which defaults to it: 15 + 15 + 15 + 5), the attempt schedule, the scrape interval and Prometheus's 10 s timeout.
        expect(shares).to.deep.equal([
            { key: "SpeculationRollbackRateAbort's for: (the go/no-go table)", seconds: 300, fixed: true },
            { key: "monitoring.evaluationInterval", seconds: 50 },
            { key: "watchdog.adminApiTimeout", seconds: 35.75 },
            { key: "monitoring.scrapeInterval", seconds: 15 },
            { key: "monitoring.scrapeTimeout", seconds: 10 },
        ]);
        expect(shares.reduce((a, x) => a + x.seconds, 0)).to.equal(plan.worst.seconds);
    });

    describe("production's refusal names the key that contributes most, and the limit is the stack's watchdog.maxGuardBound", () => {
        const production = (...edits: [string, string, unknown][]) =>
            parseStackConfig(encodeConfig(edits.reduce((c, [k, p, v]) => withEdit(c, `speculation:${k}`, p, v), stackConfig("production")))).config;

        it("the limit defaults to GUARD_BOUND_LIMIT_SECONDS (7 min), shown beside the bound in the stack output", () => {
            const plan = guardPlan(production());
            expect(plan.limitSeconds).to.equal(GUARD_BOUND_LIMIT_SECONDS).and.to.equal(420);
            expect(guardSummary(plan)).to.include({ boundSeconds: 410.75, bound: "6m 51s", maxBoundSeconds: 420, maxBound: "7m" });
        });

        const cases: [string, [string, string, unknown][], string][] = [
            ["30 s scrapes and evaluations: the evaluation interval (recording, pending, the poll it sets)", [["monitoring", "scrapeInterval", "30s"], ["monitoring", "evaluationInterval", "30s"]], "monitoring.evaluationInterval"],
            ["2 min scrapes", [["monitoring", "scrapeInterval", "2m"]], "monitoring.scrapeInterval"],
            ["a 2 min poll", [["watchdog", "pollInterval", "2m"]], "watchdog.pollInterval"],
            ["a 90 s admin API timeout", [["watchdog", "adminApiTimeout", "90s"], ["watchdog", "revertDeadline", "10m"]], "watchdog.adminApiTimeout"],
        ];
        for (const [name, edits, key] of cases) {
            it(`${name}: refused naming ${key}`, () => {
                const plan = guardPlan(production(...edits));
                expect(plan.refusals.map((r) => r.key)).to.deep.equal([key]);
                expect(plan.refusals[0].message).to.match(/^contributes most of a guard bound of .* above watchdog\.maxGuardBound \(7m\); by key: /);
                expect(plan.refusals[0].message).to.include(`Shorten ${key}`).and.to.include("or raise watchdog.maxGuardBound");
            });
        }

        it("raising watchdog.maxGuardBound admits a longer bound; lowering it below the bound refuses production's own intervals", () => {
            const slow: [string, string, unknown][] = [["monitoring", "scrapeInterval", "30s"], ["monitoring", "evaluationInterval", "30s"]];
            expect(guardPlan(production(...slow)).worst.seconds).to.be.greaterThan(420);
            expect(guardPlan(production(...slow, ["watchdog", "maxGuardBound", "8m"])).refusals).to.deep.equal([]);
            const tight = guardPlan(production(["watchdog", "maxGuardBound", "6m"]));
            expect(tight.refusals.map((r) => r.key)).to.deep.equal(["monitoring.evaluationInterval"]);
            expect(tight.refusals[0].message).to.include("6m 51s").and.to.include("above watchdog.maxGuardBound (6m)");
        });

        it("outside production the limit is recorded but not refused at config load (the policy pack reports it)", () => {
            const staging = parseStackConfig(encodeConfig(withEdit(stackConfig("staging"), "speculation:watchdog", "maxGuardBound", "1m"))).config;
            const plan = guardPlan(staging);
            expect(plan.limitSeconds).to.equal(60);
            expect(plan.worst.seconds).to.be.greaterThan(60);
            expect(plan.refusals).to.deep.equal([]);
        });
    });

    it("a rehearsal's for: enters the bound only in local, and a slower poll lengthens it", () => {
        const staging = parseStackConfig(encodeConfig(withEdit(stackConfig("staging"), "speculation:watchdog", "pollInterval", "1m"))).config;
        const plan = guardPlan(staging);
        expect(plan.worst.terms.find((t) => t.step.startsWith("watchdog poll"))!.seconds).to.equal(65);
    });
});
