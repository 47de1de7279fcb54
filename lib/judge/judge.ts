/**
 * The canary judge: is the canary track no worse than the stable track, over the same window, by the configured
 * margins?  Pure: counts in, a judgement out.
 *
 * Modelled on Kayenta's Mann-Whitney classifier (a metric is High only when the test's whole confidence interval lies
 * past the allowed effect) and on Argo Rollouts' analysis, where a measurement that meets neither the success nor the
 * failure condition is Inconclusive and an inconclusive run pauses the rollout instead of promoting it.  Here each
 * metric is a non-inferiority test:
 *   pass          the upper confidence bound of (canary − stable) is within the margin: shown to be no worse;
 *   fail          the lower confidence bound is beyond the margin: shown to be worse;
 *   inconclusive  neither (the interval straddles the margin), or too little traffic in either track.
 * Inconclusive never passes: the gate holds the stage (the bake restarts) and fails at its deadline if the evidence
 * never comes.
 *   error rate  Newcombe's hybrid score interval on the two proportions (errors / operations), absolute margin;
 *   latency     Mann-Whitney U on the two latency histograms (binned, so ties), as θ = P(canary slower) + ½ P(tie),
 *               DeLong's interval; the margin is on θ (0.5 = same distribution).
 */
import { binnedQuantile, mannWhitneyBinned, newcombeDifference, normalQuantile } from "./stats";

export type JudgeVerdict = "pass" | "fail" | "inconclusive";

/** One track's traffic over the judged window. */
export interface TrackCounts {
    /** Operations in the window. */
    requests: number;
    /** Failed operations in the window. */
    errors: number;
    /** Latency histogram over the window: cumulative count at each upper bound `le` (seconds), `+Inf` included. */
    latency: { le: number; cumulative: number }[];
}

export interface JudgeSettings {
    /** Largest allowed excess of the canary's error rate over stable's (absolute, 0.005 = half a percentage point). */
    errorRateMargin: number;
    /** Largest allowed excess of θ over 0.5 (0.1: the canary may be the slower one in at most 60 % of pairs). */
    latencyMargin: number;
    /** One-sided confidence of each bound (0.95). */
    confidence: number;
    /** Fewer operations than this in either track is too little traffic to judge (inconclusive). */
    minRequests: number;
}

export interface MetricJudgement {
    metric: "errorRate" | "latency";
    verdict: JudgeVerdict;
    /** What was compared, for the decision record. */
    observed: string;
    /** The bound that decided, against the margin. */
    threshold: string;
    reason: string;
}

export interface CanaryJudgement {
    verdict: JudgeVerdict;
    metrics: MetricJudgement[];
}

const pct = (x: number) => `${(100 * x).toFixed(3).replace(/\.?0+$/, "")} %`;
const num = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));
const ms = (s: number) => (Number.isFinite(s) ? `${(1000 * s).toPrecision(3)} ms` : "n/a");

function tooLittle(metric: MetricJudgement["metric"], c: number, s: number, settings: JudgeSettings, observed: string, threshold: string): MetricJudgement | undefined {
    if (c >= settings.minRequests && s >= settings.minRequests) return undefined;
    const which = [c < settings.minRequests ? `canary ${num(c)}` : "", s < settings.minRequests ? `stable ${num(s)}` : ""].filter(Boolean).join(", ");
    return { metric, verdict: "inconclusive", observed, threshold, reason: `too little traffic to judge: ${which} (needs ${settings.minRequests} per track)` };
}

export function judgeErrorRate(canary: TrackCounts, stable: TrackCounts, settings: JudgeSettings): MetricJudgement {
    const z = normalQuantile(settings.confidence);
    const rate = (t: TrackCounts) => (t.requests > 0 ? t.errors / t.requests : NaN);
    const observed = `canary ${pct(rate(canary))} (${num(canary.errors)}/${num(canary.requests)}), stable ${pct(rate(stable))} (${num(stable.errors)}/${num(stable.requests)})`;
    const threshold = `canary − stable ≤ ${pct(settings.errorRateMargin)}`;
    const few = tooLittle("errorRate", canary.requests, stable.requests, settings, observed, threshold);
    if (few) return few;
    const d = newcombeDifference(canary.errors, canary.requests, stable.errors, stable.requests, z);
    const ci = `difference ${pct(d.estimate)}, ${pct(settings.confidence)} bounds [${pct(d.lower)}, ${pct(d.upper)}]`;
    if (d.lower > settings.errorRateMargin) return { metric: "errorRate", verdict: "fail", observed: `${observed}; ${ci}`, threshold, reason: `the canary's error rate is worse than stable's by more than ${pct(settings.errorRateMargin)} (lower bound ${pct(d.lower)})` };
    if (d.upper <= settings.errorRateMargin) return { metric: "errorRate", verdict: "pass", observed: `${observed}; ${ci}`, threshold, reason: "no worse than stable within the margin" };
    return { metric: "errorRate", verdict: "inconclusive", observed: `${observed}; ${ci}`, threshold, reason: `not enough evidence either way: the interval [${pct(d.lower)}, ${pct(d.upper)}] straddles the margin ${pct(settings.errorRateMargin)}` };
}

/** Bins (non-cumulative counts) on the bucket edges both histograms have; cumulative counts at a shared edge are exact. */
export function commonBins(a: TrackCounts["latency"], b: TrackCounts["latency"]): { edges: number[]; a: number[]; b: number[] } {
    const edgesB = new Set(b.map((x) => x.le));
    const edges = [...new Set(a.map((x) => x.le))].filter((le) => edgesB.has(le)).sort((x, y) => x - y);
    const at = (h: TrackCounts["latency"], le: number) => h.find((x) => x.le === le)!.cumulative;
    const bins = (h: TrackCounts["latency"]) => edges.map((le, i) => Math.max(0, at(h, le) - (i === 0 ? 0 : at(h, edges[i - 1]))));
    return { edges, a: bins(a), b: bins(b) };
}

export function judgeLatency(canary: TrackCounts, stable: TrackCounts, settings: JudgeSettings): MetricJudgement {
    const z = normalQuantile(settings.confidence);
    const bins = commonBins(canary.latency, stable.latency);
    const threshold = `θ = P(canary slower) ≤ ${(0.5 + settings.latencyMargin).toFixed(2)}`;
    const nC = bins.a.reduce((s, v) => s + v, 0);
    const nS = bins.b.reduce((s, v) => s + v, 0);
    const quantiles = (counts: number[]) => [0.5, 0.99].map((q) => ms(binnedQuantile(q, bins.edges, counts))).join("/");
    const observed = `p50/p99 canary ${quantiles(bins.a)}, stable ${quantiles(bins.b)}`;
    if (bins.edges.length === 0 || !bins.edges.some((e) => !Number.isFinite(e))) {
        return { metric: "latency", verdict: "fail", observed, threshold, reason: "the two tracks' latency histograms share no bucket layout (a +Inf bucket on both is needed)" };
    }
    const few = tooLittle("latency", nC, nS, settings, observed, threshold);
    if (few) return few;
    const mw = mannWhitneyBinned(bins.a, bins.b);
    const lower = mw.theta - z * mw.standardError;
    const upper = mw.theta + z * mw.standardError;
    const stat = `θ ${mw.theta.toFixed(3)}, ${pct(settings.confidence)} bounds [${lower.toFixed(3)}, ${upper.toFixed(3)}], Mann-Whitney p ${mw.pValue.toPrecision(2)}`;
    const limit = 0.5 + settings.latencyMargin;
    if (lower > limit) return { metric: "latency", verdict: "fail", observed: `${observed}; ${stat}`, threshold, reason: `the canary is slower than stable beyond the margin (θ lower bound ${lower.toFixed(3)} > ${limit.toFixed(2)})` };
    if (upper <= limit) return { metric: "latency", verdict: "pass", observed: `${observed}; ${stat}`, threshold, reason: "no slower than stable within the margin" };
    return { metric: "latency", verdict: "inconclusive", observed: `${observed}; ${stat}`, threshold, reason: `not enough evidence either way: θ bounds [${lower.toFixed(3)}, ${upper.toFixed(3)}] straddle ${limit.toFixed(2)}` };
}

/** Both metrics; the canary passes only when every metric passes, and any failing metric fails it. */
export function judgeCanary(canary: TrackCounts, stable: TrackCounts, settings: JudgeSettings): CanaryJudgement {
    const metrics = [judgeErrorRate(canary, stable, settings), judgeLatency(canary, stable, settings)];
    const verdicts = metrics.map((m) => m.verdict);
    const verdict: JudgeVerdict = verdicts.includes("fail") ? "fail" : verdicts.includes("inconclusive") ? "inconclusive" : "pass";
    return { verdict, metrics };
}

/** Counts over a window: the later reading minus the earlier one (counters only grow; a reset is a failed read). */
export function windowBetween(start: TrackCounts, end: TrackCounts): TrackCounts | undefined {
    if (end.requests < start.requests || end.errors < start.errors) return undefined;
    const latency = end.latency.map((b) => {
        const before = start.latency.find((x) => x.le === b.le)?.cumulative ?? 0;
        return { le: b.le, cumulative: b.cumulative - before };
    });
    if (latency.some((b) => b.cumulative < 0)) return undefined;
    return { requests: end.requests - start.requests, errors: end.errors - start.errors, latency };
}
