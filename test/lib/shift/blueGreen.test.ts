/** Blue-green mode's strategy (lib/shift/blueGreen.ts). Pure: staging's config, no resources. */
import { expect } from "chai";
import { GREEN_NAME, shiftStrategy, STABLE_NAME } from "../../../lib/shift";
import { context, GREEN_URL, judge, STABLE_URL } from "./context";

describe("shift strategy: blue-green", () => {
    const bg = shiftStrategy("blue-green");
    const hold = context("blue-green");
    const mirror = context("blue-green", [["speculation:canary", "blueGreen.lowerSteps", "mirror"]]);

    it("below 100 % judges blue at the previous version (hold) or green against blue (mirror); at 100 % the primary Service at the release", () => {
        expect(bg.gateTarget(hold, 50)).to.deep.equal({ url: STABLE_URL, version: "v1.2.2" });
        expect(bg.gateTarget(mirror, 50)).to.deep.equal({ url: GREEN_URL, version: "v1.2.3", compare: { stableUrl: STABLE_URL, ...judge(mirror.config) } });
        for (const ctx of [hold, mirror]) expect(bg.gateTarget(ctx, 100)).to.deep.equal({ url: STABLE_URL, version: "v1.2.3" });
    });

    it("raises green at 100 % (the switch), nothing below", () => {
        expect(bg.raisedTrack(hold, { percentage: 50, previousPercentage: 10 }, STABLE_URL)).to.equal(undefined);
        expect(bg.raisedTrack(hold, { percentage: 100, previousPercentage: 50 }, STABLE_URL)).to.equal(GREEN_URL);
        const elsewhere = context("blue-green", [["speculation:canary", "blueGreen.greenUrl", "http://green.example:9090"]]);
        expect(bg.raisedTrack(elsewhere, { percentage: 100, previousPercentage: 50 }, STABLE_URL)).to.equal("http://green.example:9090");
    });

    it("runs green as a full copy of blue; the primary Service selects green at 100 % only, and its switch is the 100 % stage's shift", () => {
        expect(bg.newTrack(hold, 10)).to.deep.equal({ name: GREEN_NAME, prefix: "green", url: GREEN_URL, replicas: hold.config.service.replicas });
        expect(bg.stable(hold, 50)).to.deep.equal({ version: "v1.2.2", primaryIngress: true, primarySelects: STABLE_NAME, newTrackServesPrimary: false });
        expect(bg.stable(hold, 100)).to.deep.equal({ version: "v1.2.2", primaryIngress: true, primarySelects: GREEN_NAME, newTrackServesPrimary: true });
        expect([10, 50, 100].map((p) => bg.switchesPrimary(p))).to.deep.equal([false, false, true]);
    });

    it("mirrors to green's in-cluster Service strictly between 0 and 100 %, with lowerSteps mirror only", () => {
        expect([0, 10, 50, 100].map((top) => bg.stable(mirror, top).mirrorTo)).to.deep.equal([undefined, GREEN_URL, GREEN_URL, undefined]);
        expect(bg.stable(hold, 50).mirrorTo).to.equal(undefined);
        const elsewhere = context("blue-green", [["speculation:canary", "blueGreen.lowerSteps", "mirror"], ["speculation:canary", "blueGreen.greenUrl", "http://green.example:9090"]]);
        expect(bg.stable(elsewhere, 50).mirrorTo, "ingress-nginx runs in the cluster").to.equal(GREEN_URL);
    });

    it("never reverts (traffic moves only with the switch), and says how to go back to blue", () => {
        const f = bg.gateFailure(context("blue-green", [["speculation:canary", "gate.revert.watchdogActionUrl", "http://watchdog:9095/revert"]]));
        expect(f).to.include({ onFailure: "fail", revertTarget: "rollout-percentage" });
        expect(f.leftAs).to.match(/^Traffic left as it is \(blue-green: traffic moves only with the switch\)\. Back to blue: /);
        expect(bg.refreshReadsRolloutPercentage).to.equal(false);
        expect(bg.watchdogLowersIngress).to.equal(undefined);
    });
});
