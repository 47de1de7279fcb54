/** Ingress-weight mode's strategy (lib/shift/ingressWeight.ts). Pure: staging's config, no resources. */
import { expect } from "chai";
import { CANARY_NAME, canaryReplicas, shiftStrategy } from "../../../lib/shift";
import { CANARY_URL, context, judge, STABLE_URL } from "./context";

describe("shift strategy: ingress-weight", () => {
    const iw = shiftStrategy("ingress-weight");
    const ctx = context("ingress-weight");

    it("judges the canary at the release against the stable track, at canary.gate.canaryUrl when set", () => {
        expect(iw.gateTarget(ctx, 10)).to.deep.equal({ url: CANARY_URL, version: "v1.2.3", compare: { stableUrl: STABLE_URL, ...judge(ctx.config) } });
        const elsewhere = context("ingress-weight", [["speculation:canary", "gate.canaryUrl", "http://canary.example:9090"]]);
        expect(iw.gateTarget(elsewhere, 50).url).to.equal("http://canary.example:9090");
    });

    it("raises the canary past the first stage only (stage 1's canary is new: its smoke tests come first)", () => {
        expect(iw.raisedTrack(ctx, { percentage: 10, previousPercentage: 0 }, CANARY_URL)).to.equal(undefined);
        expect(iw.raisedTrack(ctx, { percentage: 50, previousPercentage: 10 }, CANARY_URL)).to.equal(CANARY_URL);
    });

    it("sizes the canary to its share of the stable pods; blue keeps the previous version until 100 %", () => {
        expect(iw.newTrack(ctx, 50)).to.deep.equal({ name: CANARY_NAME, prefix: "canary", url: CANARY_URL, replicas: canaryReplicas(ctx.config.service.replicas, 50) });
        expect(iw.stable(ctx, 50)).to.deep.equal({ version: "v1.2.2", primaryIngress: true, newTrackServesPrimary: false });
        expect(iw.stable(ctx, 100).version).to.equal("v1.2.3");
        expect(iw.switchesPrimary(100)).to.equal(false);
    });

    it("lowers the canary's weight only where the gate reaches the watchdog's action, else says why it left it", () => {
        const action: [string, string | undefined, unknown] = ["speculation:canary", "gate.revert.watchdogActionUrl", "http://watchdog:9095/revert"];
        expect(iw.gateFailure(context("ingress-weight", [action]))).to.deep.equal({ onFailure: "revert", revertTarget: "canary-weight" });
        const without = iw.gateFailure(ctx);
        expect(without).to.include({ onFailure: "fail", revertTarget: "canary-weight" });
        expect(without.leftAs).to.match(/^Traffic left as it is: the canary keeps its weight\. The gate cannot reach it \(ingress-weight mode without canary\.gate\.revert\.watchdogActionUrl\)/);
        expect(iw.gateFailure(context("ingress-weight", [action, ["speculation:watchdog", "enabled", false]])).leftAs).to.include("(watchdog.enabled is false)");
        expect(iw.gateFailure(context("ingress-weight", [action, ["speculation:canary", "gate.onFailure", "fail"]])).leftAs)
            .to.match(/^Traffic left as it is \(onFailure: fail\): the canary keeps its weight\./);
    });

    it("is reverted by the watchdog through the canary Ingress, and a refresh does not read the admin percentage", () => {
        expect(iw.watchdogLowersIngress).to.equal(CANARY_NAME);
        expect(iw.refreshReadsRolloutPercentage).to.equal(false);
    });
});
