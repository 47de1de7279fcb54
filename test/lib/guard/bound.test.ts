/**
 * The guard's bound (lib/guard/bound.ts, lib/guard/plan.ts): each term is the worst case of one step, the attempt
 * schedule is the watchdog's own, and the stacks' figures are the ones the README and the production policy quote.
 */
import { expect } from "chai";
import { actionScheduleSeconds, attemptTimeoutSeconds, formatBound, guardBounds, GuardTimings, partitionHealBound, triggerBound } from "../../../lib/guard/bound";
import { guardPlan, guardSummary } from "../../../lib/guard/plan";
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

    it("a rehearsal's for: enters the bound only in local, and a slower poll lengthens it", () => {
        const staging = parseStackConfig(encodeConfig(withEdit(stackConfig("staging"), "speculation:watchdog", "pollInterval", "1m"))).config;
        const plan = guardPlan(staging);
        expect(plan.worst.terms.find((t) => t.step.startsWith("watchdog poll"))!.seconds).to.equal(65);
    });
});
