import { expect } from "chai";
import { parseStackConfig } from "../../config";
import { canaryReplicas, effectiveThresholds, plannedStages } from "../../lib/plan";
import { encodeConfig, stackConfig, withEdit } from "../helpers/stack";

describe("canary plan", () => {
    const production = (edits: [string, string | undefined, unknown][] = []) =>
        parseStackConfig(encodeConfig(edits.reduce((c, [k, p, v]) => withEdit(c, k, p, v), stackConfig("production")))).config;

    it("declares the steps up to the target, each handing back to the one before", () => {
        const stages = plannedStages(production([["speculation:rolloutPercentage", undefined, 50]]));
        expect(stages.map((s) => [s.name, s.percentage, s.previousPercentage, s.bakeSeconds])).to.deep.equal([
            ["stage-1-10pct", 10, 0, 4 * 3600], ["stage-2-25pct", 25, 10, 8 * 3600], ["stage-3-50pct", 50, 25, 24 * 3600],
        ]);
    });

    it("declares nothing while the kill switch is off or the target is 0", () => {
        expect(plannedStages(production())).to.deep.equal([]);
    });

    it("tightens thresholds per stack and per step, never loosens them", () => {
        const config = production([
            ["speculation:thresholds", "maxRollbackRate", 0.03],
            ["speculation:canary", "steps[1].thresholds.maxRollbackRate", 0.02],
            ["speculation:canary", "steps[1].thresholds.maxProofQueueSize", 1000],
        ]);
        expect(effectiveThresholds(config, 0)).to.include({ maxRollbackRate: 0.03, maxProofQueueSize: 2000, abortRollbackRate: 0.15 });
        expect(effectiveThresholds(config, 1)).to.include({ maxRollbackRate: 0.02, maxProofQueueSize: 1000, maxErrorRate: 0.01 });
    });

    it("sizes the ingress-weight canary to its share of the stable pods, at least one and never more than stable", () => {
        // Production's 4 pods along the plan: a canary pod carries about what a stable pod carries.
        expect([10, 25, 50, 100].map((w) => canaryReplicas(4, w))).to.deep.equal([1, 1, 2, 4]);
        expect([1, 34, 67, 100].map((w) => canaryReplicas(3, w))).to.deep.equal([1, 2, 3, 3]);
        expect(canaryReplicas(1, 50)).to.equal(1);
    });
});
