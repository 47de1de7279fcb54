/** Feature-flag mode's strategy (lib/shift/featureFlag.ts). Pure: staging's config, no resources. */
import { expect } from "chai";
import { shiftStrategy } from "../../../lib/shift";
import { context, STABLE_URL } from "./context";

describe("shift strategy: feature-flag", () => {
    const ff = shiftStrategy("feature-flag");
    const ctx = context("feature-flag");

    it("judges the service at the release, and its shift raises the service the baseline reads", () => {
        for (const pct of [10, 50, 100]) expect(ff.gateTarget(ctx, pct)).to.deep.equal({ url: STABLE_URL, version: "v1.2.3" });
        expect(ff.raisedTrack(ctx, { percentage: 50, previousPercentage: 10 }, STABLE_URL)).to.equal(undefined);
    });

    it("has no new track, no primary Ingress, and the stable service runs the release", () => {
        expect(ff.newTrack(ctx, 100)).to.equal(undefined);
        expect(ff.stable(ctx, 50)).to.deep.equal({ version: "v1.2.3", primaryIngress: false, newTrackServesPrimary: false });
        expect(ff.switchesPrimary(100)).to.equal(false);
    });

    it("reverts through the admin API as configured, and a refresh reads the rollout percentage back", () => {
        expect(ff.gateFailure(ctx)).to.deep.equal({ onFailure: "revert", revertTarget: "rollout-percentage" });
        expect(ff.gateFailure(context("feature-flag", [["speculation:canary", "gate.onFailure", "fail"]]))).to.deep.equal({ onFailure: "fail", revertTarget: "rollout-percentage" });
        expect(ff.refreshReadsRolloutPercentage).to.equal(true);
        expect(ff.watchdogLowersIngress).to.equal(undefined);
    });
});
