import { expect } from "chai";
import { commonBins, judgeCanary, judgeErrorRate, judgeLatency, JudgeSettings, TrackCounts, windowBetween } from "../../../lib/judge/judge";
import { binnedQuantile, mannWhitneyBinned, newcombeDifference, normalCdf, normalQuantile, wilson } from "../../../lib/judge/stats";

const EDGES = [0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, Infinity];
const SETTINGS: JudgeSettings = { errorRateMargin: 0.005, latencyMargin: 0.1, confidence: 0.95, minRequests: 500 };

/** A track with `requests` operations spread over the bins in the given shares, `errors` of them failed. */
function track(requests: number, errors: number, shares: number[]): TrackCounts {
    let cumulative = 0;
    const total = shares.reduce((s, v) => s + v, 0);
    return {
        requests, errors,
        latency: EDGES.map((le, i) => { cumulative += requests * (shares[i] ?? 0) / total; return { le, cumulative }; }),
    };
}
const FAST = [0, 0, 3, 4, 3, 0, 0, 0, 0];
const SLOW = [0, 0, 0, 0, 1, 3, 6, 0, 0];

describe("judge statistics", () => {
    it("normal CDF and quantile agree with the tables", () => {
        expect(normalCdf(1.959964)).to.be.closeTo(0.975, 1e-6);
        expect(normalCdf(-1.644854)).to.be.closeTo(0.05, 1e-6);
        expect(normalQuantile(0.975)).to.be.closeTo(1.959964, 1e-6);
        expect(normalQuantile(0.05)).to.be.closeTo(-1.644854, 1e-6);
        expect(normalQuantile(0.999)).to.be.closeTo(3.090232, 1e-6);
    });

    it("Wilson and Newcombe intervals match Newcombe (1998)'s worked examples", () => {
        const w = wilson(0, 10, 1.96);
        expect(w.lower).to.equal(0);
        expect(w.upper).to.be.closeTo(0.2775, 1e-4);
        // Newcombe 1998, Table II example (a): 56/70 − 48/80, method 10: 0.0524 to 0.3339.
        const d = newcombeDifference(56, 70, 48, 80, 1.959964);
        expect(d.estimate).to.be.closeTo(0.2, 1e-12);
        expect(d.lower).to.be.closeTo(0.0524, 1e-4);
        expect(d.upper).to.be.closeTo(0.3339, 1e-4);
    });

    it("Mann-Whitney on bins equals the pairwise count on the expanded observations, ties counting ½", () => {
        const canary = [0, 1, 2, 0, 3];
        const stable = [2, 1, 0, 4, 1];
        const expand = (bins: number[]) => bins.flatMap((n, b) => Array(n).fill(b));
        let u = 0;
        for (const c of expand(canary)) for (const s of expand(stable)) u += c > s ? 1 : c === s ? 0.5 : 0;
        const mw = mannWhitneyBinned(canary, stable);
        expect(mw.u).to.be.closeTo(u, 1e-9);
        expect(mw.theta).to.be.closeTo(u / (6 * 8), 1e-12);
        expect(mannWhitneyBinned([5, 5], [5, 5]).theta, "the same distribution").to.equal(0.5);
        expect(mannWhitneyBinned([0, 10], [10, 0]).theta, "every canary value larger").to.equal(1);
    });

    it("the standard error shrinks with traffic and never reaches 0 on a handful of tied observations", () => {
        const small = mannWhitneyBinned([0, 3, 0], [0, 3, 0]);
        expect(small.standardError).to.be.greaterThan(0.15);
        const large = mannWhitneyBinned([100, 300, 100], [100, 300, 100]);
        expect(large.standardError).to.be.lessThan(0.03);
        expect(mannWhitneyBinned([0, 50, 50], [50, 50, 0]).pValue, "a clear shift is significant").to.be.lessThan(1e-6);
    });

    it("quantiles of binned data interpolate inside the bin like histogram_quantile", () => {
        expect(binnedQuantile(0.5, [0.01, 0.1, Infinity], [50, 50, 0])).to.be.closeTo(0.01, 1e-12);
        expect(binnedQuantile(0.75, [0.01, 0.1, Infinity], [50, 50, 0])).to.be.closeTo(0.055, 1e-12);
    });
});

describe("the canary judge", () => {
    const stable = track(20_000, 40, FAST);

    it("passes a canary as good as stable", () => {
        const j = judgeCanary(track(20_000, 41, FAST), stable, SETTINGS);
        expect(j.verdict).to.equal("pass");
        expect(j.metrics.map((m) => m.verdict)).to.deep.equal(["pass", "pass"]);
    });

    it("fails a canary whose error rate is worse than stable's beyond the margin", () => {
        const j = judgeErrorRate(track(20_000, 1000, FAST), stable, SETTINGS);
        expect(j.verdict).to.equal("fail");
        expect(j.reason).to.match(/worse than stable's by more than 0\.5 %/);
        expect(j.observed).to.match(/canary 5 % \(1000\/20000\), stable 0\.2 % \(40\/20000\)/);
    });

    it("fails a slower canary, passes a faster one (only slower is worse)", () => {
        expect(judgeLatency(track(20_000, 40, SLOW), stable, SETTINGS).verdict).to.equal("fail");
        expect(judgeLatency(stable, track(20_000, 40, SLOW), SETTINGS).verdict).to.equal("pass");
    });

    it("is inconclusive with too little traffic, even when the few requests look perfect", () => {
        const j = judgeCanary(track(40, 0, FAST), stable, SETTINGS);
        expect(j.verdict).to.equal("inconclusive");
        expect(j.metrics[0].reason).to.match(/too little traffic to judge: canary 40 \(needs 500 per track\)/);
    });

    it("is inconclusive when the interval straddles the margin, with enough requests to pass the minimum", () => {
        // 0.8 % against 0.2 % over 1000 requests each: the evidence cannot say whether the canary is worse by the margin.
        const j = judgeErrorRate(track(1000, 8, FAST), track(1000, 2, FAST), SETTINGS);
        expect(j.verdict).to.equal("inconclusive");
        expect(j.reason).to.match(/straddles the margin 0\.5 %/);
    });

    it("with enough traffic a difference inside the margin passes and one beyond it fails", () => {
        expect(judgeErrorRate(track(400_000, 2400, FAST), track(400_000, 800, FAST), SETTINGS).verdict).to.equal("pass");
        expect(judgeErrorRate(track(400_000, 4400, FAST), track(400_000, 800, FAST), SETTINGS).verdict).to.equal("fail");
    });

    it("fails when the two latency histograms share no bucket layout", () => {
        const other: TrackCounts = { requests: 20_000, errors: 40, latency: [{ le: 0.3, cumulative: 20_000 }] };
        expect(judgeLatency(other, stable, SETTINGS).reason).to.match(/share no bucket layout/);
        expect(commonBins(stable.latency, stable.latency).edges).to.have.length(EDGES.length);
    });

    it("a window is the difference of two readings; counters going backwards is no window", () => {
        const w = windowBetween(track(100, 1, FAST), track(300, 4, FAST))!;
        expect(w).to.include({ requests: 200, errors: 3 });
        expect(w.latency[w.latency.length - 1].cumulative).to.be.closeTo(200, 1e-9);
        expect(windowBetween(track(300, 4, FAST), track(100, 1, FAST))).to.equal(undefined);
    });
});
