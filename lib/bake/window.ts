/**
 * Judging a stage's whole bake window after the fact (window bake mode): pure functions over the history read from
 * Prometheus (lib/bake/history.ts), so every rule has a table test.  Kayenta judges a past interval the same way;
 * Argo Rollouts keeps its AnalysisRun in the cluster — here the stage's state (shiftedAt) lives in the Pulumi stack
 * and the measurements in Prometheus, so a bake survives any number of `pulumi up`s, killed or not.
 *
 * Each series is read as `max_over_time(<recorded series>[step])` at every step from the shift to now, so a point
 * stands for everything evaluated in its step: nothing between two points is skipped.
 *   fail  an abort threshold crossed at any point, the error rate above the spike limit, a critical alert firing,
 *         a revert by the watchdog, or a gap longer than the no-data allowance where no data means fail — the
 *         stage goes back to 0 % and the update fails, naming the check, the timestamp and the value;
 *   hold  a point at or above a promote threshold (or a gap where no data means hold): the bake starts again after
 *         it, as a hold does in watch mode — nothing changes, the refusal names the earliest promotion time;
 *   pass  the window is at least the bake long, counted from the last hold, and every point is green.
 * Two tracks (ingress-weight, mirrored blue-green): the canary judge (lib/judge) also compares the canary with stable
 * over the whole window, as the live gate does over its own; a fail is a no-go, an inconclusive comparison (too little
 * traffic, or an interval that straddles the margin) withholds the pass without restarting the bake — it is the
 * same evidence, only not yet enough of it.
 */
import { StageThresholds } from "../../config/thresholds";
import { fmt, judgementChecks, Measured, MetricCheck, NoDataPolicy, spikeLimit, Verdict } from "../gate/decision";
import type { TrackPair } from "../gate/measure";
import { judgeCanary, JudgeSettings } from "../judge/judge";
import type { Point } from "../prometheus/client";
import { formatTable } from "../table";
import { formatSeconds } from "../time/duration";
import { SloReading, stageBudget, StageBudget } from "../slo/judge";
import { sloChecks } from "../gate/slo";
import { SloSpec } from "../monitoring/slo";
import { ClockJudgement, describeSkew } from "./clock";

/** One point of a range query: unix seconds and value (lib/prometheus/client.ts). */
export type { Point };

export type WindowMetric = Exclude<MetricCheck, "errorRateVsBaseline">;
export const WINDOW_METRICS: WindowMetric[] = ["rollbackRate", "errorRate", "proofQueue", "memoryPercent", "latencyP99", "latencyTailRatio"];

/** What the history holds for one stage's window. */
export interface WindowHistory {
    metrics: Record<WindowMetric, Measured<Point[]>>;
    queries: Record<WindowMetric, string>;
    /** Critical alerts firing in the window: each alert name with the times it was seen firing. */
    criticalAlerts: Measured<{ alertname: string; points: number[] }[]>;
    alertsQuery: string;
    /** Times (unix seconds) of the watchdog's reverts, as its last-revert gauge shows them over the window. */
    watchdogReverts: Measured<number[]>;
    watchdogQuery: string;
    /** Two tracks: both tracks' counts over the whole window (read when the spec compares them). */
    tracks?: Measured<TrackPair>;
    tracksQuery?: string;
    /** The SLO at the window's end (read when the spec has one): burn over the bake and its last twelfth, budget left. */
    slo?: SloReading;
}

export interface WindowSpec {
    stage: string;
    /** When the stage's shift was applied, ms since the epoch. */
    shiftedAt: number;
    bakeSeconds: number;
    /** The range queries' resolution (the scrape interval). */
    stepSeconds: number;
    /** Longest stretch without a point that is not a gap. */
    maxGapSeconds: number;
    thresholds: StageThresholds;
    baselineErrorRate: number;
    noData: Record<MetricCheck, NoDataPolicy>;
    /** Two tracks: the canary judge's settings; the canary must be no worse than stable over the whole window. */
    compare?: JudgeSettings;
    /** The SLO: the release's track may not burn faster than the gate pair over the bake, nor the budget be below the floor. */
    slo?: SloSpec;
}

export interface WindowFinding {
    check: string;
    query: string;
    /** ISO time of the offending point (the first fail, or the last hold). */
    at: string;
    observed: string;
    threshold: string;
    verdict: Verdict;
    reason: string;
}

export type WindowVerdict = "pass" | "baking" | "fail";

export interface WindowDecision {
    stage: string;
    verdict: WindowVerdict;
    /** One line: why. */
    reason: string;
    shiftedAt: string;
    judgedAt: string;
    /** shiftedAt + bake, and the time the bake counts from after the last hold. */
    bakeEndsAt: string;
    cleanSince: string;
    earliestPromotion: string;
    elapsedSeconds: number;
    requiredSeconds: number;
    /** Points read per metric series. */
    points: number;
    /** Every check's row: its worst point, or a green summary. */
    findings: WindowFinding[];
    /** The error budget over the bake: the release track's burn rate, the share of the window's budget spent, and left. */
    slo?: StageBudget;
}

const iso = (sec: number) => new Date(sec * 1000).toISOString();

/** Durations in verdicts print in prose notation (lib/time/duration.ts); re-exported under the name it had here. */
export { formatSeconds };

interface Limits { promoteBelow: number; abortAbove: number; threshold: string }

function limitsOf(check: MetricCheck, t: StageThresholds, baseline: number): Limits {
    const both = (p: number, a: number): Limits => ({ promoteBelow: p, abortAbove: a, threshold: p === a ? `≤ ${fmt(a)}` : `< ${fmt(p)} to promote, > ${fmt(a)} aborts` });
    switch (check) {
        case "rollbackRate": return both(t.maxRollbackRate, t.abortRollbackRate);
        case "errorRate": return both(t.maxErrorRate, t.abortErrorRate);
        case "errorRateVsBaseline": { const s = spikeLimit(baseline, t.maxErrorRateBaselineMultiple); return both(s, s); }
        case "proofQueue": return both(t.maxProofQueueSize, t.maxProofQueueSize);
        case "memoryPercent": return both(t.maxMemoryPercent, t.maxMemoryPercent);
        case "latencyP99": return both(t.maxP99LatencySeconds, t.abortP99LatencySeconds);
        case "latencyTailRatio": return both(t.maxTailRatio, t.maxTailRatio);
    }
}

/** Gaps longer than the allowance, between the window's start, its points, and its end. */
export function gaps(points: number[], startSec: number, endSec: number, stepSeconds: number, maxGapSeconds: number): { from: number; to: number }[] {
    const out: { from: number; to: number }[] = [];
    let prev = startSec;
    for (const t of [...points, endSec + stepSeconds]) {
        // A point at t covers (t - step, t]; the stretch with no data runs from the previous covered time.
        if (t - stepSeconds - prev > maxGapSeconds) out.push({ from: prev, to: Math.min(t - stepSeconds, endSec) });
        prev = Math.max(prev, t);
    }
    return out;
}

/** Judges one metric series over the window: its first fail and its last hold, or a green row. */
function decideSeries(check: MetricCheck, query: string, measured: Measured<Point[]>, lim: Limits, noData: NoDataPolicy,
    startSec: number, endSec: number, spec: WindowSpec): { finding: WindowFinding; lastHoldEnd?: number } {
    const row = (verdict: Verdict, at: number, observed: string, reason: string): WindowFinding =>
        ({ check, query, at: iso(at), observed, threshold: lim.threshold, verdict, reason });
    if (!measured.ok) {
        const isNoData = ["missing-metric", "nan", "stale"].includes(measured.failure);
        if (isNoData && noData === "hold") return { finding: row("hold", endSec, `no data (${measured.failure})`, measured.detail), lastHoldEnd: endSec };
        return { finding: row("fail", endSec, `no data (${measured.failure})`, `${measured.failure}: ${measured.detail}`) };
    }
    const pts = measured.value.filter((p) => p.t > startSec && p.t <= endSec + 1e-9);
    const fail = pts.find((p) => Number.isNaN(p.v) || p.v > lim.abortAbove);
    if (fail) return { finding: row("fail", fail.t, Number.isNaN(fail.v) ? "NaN" : fmt(fail.v), Number.isNaN(fail.v) ? "nan: the series is NaN" : `above the abort threshold ${fmt(lim.abortAbove)}`) };
    const holes = gaps(pts.map((p) => p.t), startSec, endSec, spec.stepSeconds, spec.maxGapSeconds);
    if (holes.length > 0 && noData === "fail") {
        const h = holes[0];
        return { finding: row("fail", h.from, `no data for ${formatSeconds(h.to - h.from)}`, `gap longer than ${formatSeconds(spec.maxGapSeconds)} (no data is a no-go)`) };
    }
    const holds = lim.promoteBelow === lim.abortAbove ? [] : pts.filter((p) => p.v >= lim.promoteBelow);
    const lastHold = holds[holds.length - 1];
    const lastHole = holes[holes.length - 1];
    const holdEnd = Math.max(lastHold?.t ?? -Infinity, lastHole?.to ?? -Infinity);
    if (holdEnd > -Infinity) {
        const f = lastHold && lastHold.t >= (lastHole?.to ?? -Infinity)
            ? row("hold", lastHold.t, fmt(lastHold.v), `not below the promote threshold ${fmt(lim.promoteBelow)} (${holds.length} point(s)); the bake counts from here`)
            : row("hold", lastHole!.from, `no data for ${formatSeconds(lastHole!.to - lastHole!.from)}`, "gap (no data holds); the bake counts from its end");
        return { finding: f, lastHoldEnd: holdEnd };
    }
    const worst = pts.reduce<Point | undefined>((w, p) => (!w || p.v > w.v ? p : w), undefined);
    return { finding: row("pass", worst?.t ?? endSec, worst ? `max ${fmt(worst.v)} over ${pts.length} point(s)` : "no points", "") };
}

/** Judges the window [shiftedAt, now] of one stage from its history. */
export function decideWindow(spec: WindowSpec, history: WindowHistory, nowMs: number): WindowDecision {
    const startSec = spec.shiftedAt / 1000;
    const endSec = nowMs / 1000;
    const findings: WindowFinding[] = [];
    let cleanSince = startSec;
    let points = 0;
    const consider = (check: MetricCheck, query: string, measured: Measured<Point[]>) => {
        const r = decideSeries(check, query, measured, limitsOf(check, spec.thresholds, spec.baselineErrorRate), spec.noData[check], startSec, endSec, spec);
        findings.push(r.finding);
        if (r.lastHoldEnd !== undefined) cleanSince = Math.max(cleanSince, r.lastHoldEnd);
        if (measured.ok) points = Math.max(points, measured.value.length);
    };
    for (const m of WINDOW_METRICS) {
        consider(m, history.queries[m], history.metrics[m]);
        if (m === "errorRate") consider("errorRateVsBaseline", `${history.queries.errorRate} vs baseline ${fmt(spec.baselineErrorRate)}`, history.metrics.errorRate);
    }
    const alerts = history.criticalAlerts;
    if (!alerts.ok) {
        findings.push({ check: "critical alerts", query: history.alertsQuery, at: iso(endSec), observed: `no answer (${alerts.failure})`, threshold: "none firing", verdict: "fail", reason: alerts.detail });
    } else {
        const firing = alerts.value.map((a) => ({ ...a, points: a.points.filter((t) => t > startSec && t <= endSec + 1e-9) })).filter((a) => a.points.length > 0);
        const first = firing.sort((a, b) => a.points[0] - b.points[0])[0];
        findings.push(first
            ? { check: "critical alerts", query: history.alertsQuery, at: iso(first.points[0]), observed: firing.map((a) => a.alertname).join(", "), threshold: "none firing", verdict: "fail", reason: `${first.alertname} firing` }
            : { check: "critical alerts", query: history.alertsQuery, at: iso(endSec), observed: "none", threshold: "none firing", verdict: "pass", reason: "" });
    }
    const reverts = history.watchdogReverts;
    if (!reverts.ok) {
        findings.push({ check: "watchdog reverts", query: history.watchdogQuery, at: iso(endSec), observed: `no data (${reverts.failure})`, threshold: "none since the shift", verdict: "fail", reason: `the watchdog cannot be read (${reverts.detail}): it may have reverted` });
    } else {
        const since = reverts.value.filter((t) => t >= startSec).sort((a, b) => a - b);
        findings.push(since.length > 0
            ? { check: "watchdog reverts", query: history.watchdogQuery, at: iso(since[0]), observed: `reverted at ${iso(since[0])}`, threshold: "none since the shift", verdict: "fail", reason: "the watchdog set the rollout to 0 % during the bake" }
            : { check: "watchdog reverts", query: history.watchdogQuery, at: iso(endSec), observed: "none", threshold: "none since the shift", verdict: "pass", reason: "" });
    }

    const compared = spec.compare ? compareFindings(spec.compare, history, endSec) : [];
    findings.push(...compared);
    // The SLO at the window's end: burning faster than the gate pair over both windows is a no-go; a budget below the
    // floor (or a burn that cannot be read) holds the promotion without reverting.
    const sloFindings = spec.slo ? sloWindowFindings(spec.slo, history.slo, endSec) : [];
    findings.push(...sloFindings);
    const budget = spec.slo && history.slo ? stageBudget(spec.slo, history.slo) : undefined;

    const elapsed = endSec - startSec;
    const clean = endSec - cleanSince;
    const earliest = cleanSince + spec.bakeSeconds;
    const failed = findings.filter((f) => f.verdict === "fail");
    const base = {
        stage: spec.stage, shiftedAt: iso(startSec), judgedAt: iso(endSec), bakeEndsAt: iso(startSec + spec.bakeSeconds), cleanSince: iso(cleanSince),
        earliestPromotion: iso(earliest), elapsedSeconds: Math.round(elapsed), requiredSeconds: spec.bakeSeconds, points, findings,
        ...(budget ? { slo: budget } : {}),
    };
    if (failed.length > 0) {
        return { ...base, verdict: "fail", reason: `no-go in the bake window: ${failed.map((f) => `${f.check} ${f.observed} at ${f.at} (${f.reason})`).join("; ")}` };
    }
    if (clean + 1e-9 < spec.bakeSeconds) {
        const held = cleanSince > startSec ? `; held at ${iso(cleanSince)} (${findings.filter((f) => f.verdict === "hold").map((f) => `${f.check} ${f.observed}`).join(", ")}), so the bake counts from there` : "";
        return {
            ...base, verdict: "baking",
            reason: `${spec.stage} has baked ${formatSeconds(clean)} of ${formatSeconds(spec.bakeSeconds)}${held}; promotion is possible from ${iso(earliest)}`,
        };
    }
    const inconclusive = [...compared, ...sloFindings].filter((f) => f.verdict === "hold");
    if (inconclusive.length > 0) {
        return {
            ...base, verdict: "baking",
            reason: `${spec.stage} has baked ${formatSeconds(clean)} of ${formatSeconds(spec.bakeSeconds)}, but ${inconclusive.map((f) => `${f.check} is ${f.reason}`).join("; ")}: ` +
                "promotion waits until the window holds enough evidence",
        };
    }
    return { ...base, verdict: "pass", reason: `${formatSeconds(elapsed)} baked, ${points} point(s) per series, every point green` };
}

/** The clock's row in a judged window's findings: how far this machine's clock was from Prometheus's, which set its end. */
export function clockFinding(c: Extract<ClockJudgement, { verdict: "ok" }>): WindowFinding {
    return {
        check: "clock", query: "vector(time())", at: iso(c.nowMs / 1000), observed: `this machine ${describeSkew(c.skewSeconds, c.uncertaintySeconds)}`,
        threshold: `within ±${c.toleranceSeconds} s (the window ends at Prometheus's time)`, verdict: "pass", reason: "",
    };
}

/**
 * A window that is not judged because the clocks cannot be trusted (clock.ts): skewed → `baking` (the promotion is
 * refused, nothing changes); unread → `fail` (an unreadable Prometheus, as any failed read).  No history is read.
 */
export function clockDecision(spec: WindowSpec, c: Exclude<ClockJudgement, { verdict: "ok" }>, deployerNowMs: number): WindowDecision {
    const at = c.verdict === "skewed" ? c.prometheusMs / 1000 : deployerNowMs / 1000;
    const startSec = spec.shiftedAt / 1000;
    const finding: WindowFinding = {
        check: "clock", query: "vector(time())", at: iso(at),
        observed: c.verdict === "skewed" ? `this machine ${describeSkew(c.skewSeconds, c.uncertaintySeconds)}` : "no answer",
        threshold: `within ±${c.toleranceSeconds} s`, verdict: c.verdict === "skewed" ? "hold" : "fail", reason: c.reason,
    };
    return {
        stage: spec.stage, verdict: c.verdict === "skewed" ? "baking" : "fail",
        reason: c.verdict === "skewed" ? `the window of ${spec.stage} is not judged: ${c.reason}` : `no-go in the bake window: ${c.reason}`,
        shiftedAt: iso(startSec), judgedAt: iso(at), bakeEndsAt: iso(startSec + spec.bakeSeconds), cleanSince: iso(startSec),
        earliestPromotion: iso(startSec + spec.bakeSeconds), elapsedSeconds: Math.round(at - startSec), requiredSeconds: spec.bakeSeconds, points: 0,
        findings: [finding],
    };
}

/** The canary judge over the whole window: one finding per metric (pass, fail, or hold for inconclusive). */
function compareFindings(settings: JudgeSettings, history: WindowHistory, endSec: number): WindowFinding[] {
    const query = history.tracksQuery ?? "both tracks over the window";
    const tracks = history.tracks;
    if (!tracks || !tracks.ok) {
        const why = tracks && !tracks.ok ? `${tracks.failure}: ${tracks.detail}` : "not read";
        return [{ check: "canary vs stable", query, at: iso(endSec), observed: "no data", threshold: "both tracks readable", verdict: "fail", reason: why }];
    }
    return judgementChecks(judgeCanary(tracks.value.canary, tracks.value.stable, settings), query)
        .map(({ check, observed, threshold, verdict, reason }) => ({ check, query, at: iso(endSec), observed, threshold, verdict, reason: reason ?? "" }));
}

/** The SLO's findings at the window's end; no reading at all is a no-go (fail closed). */
function sloWindowFindings(s: SloSpec, reading: SloReading | undefined, endSec: number): WindowFinding[] {
    if (!reading) return [{ check: "error budget burn", query: "(not read)", at: iso(endSec), observed: "no data", threshold: `≤ ${s.gatePair.factor}×`, verdict: "fail", reason: "the SLO was not read" }];
    return sloChecks(s, reading, "fail").map(({ check, query, observed, threshold, verdict, reason }) => ({ check, query, at: iso(endSec), observed, threshold, verdict, reason: reason ?? "" }));
}

/** The table a window judgement prints: one row per check. */
export function formatFindings(j: Pick<WindowDecision, "findings">): string {
    return formatTable([["check", "query", "at", "observed", "threshold", "verdict"],
        ...j.findings.map((f) => [f.check, f.query, f.at, f.observed, f.threshold, f.verdict.toUpperCase()])]);
}

/** Before any history is read: has the bake even elapsed?  Returns the refusal, or undefined. */
export function notYetElapsed(stage: string, shiftedAtMs: number, bakeSeconds: number, nowMs: number): string | undefined {
    const elapsed = (nowMs - shiftedAtMs) / 1000;
    if (elapsed >= bakeSeconds) return undefined;
    if (elapsed < 0) {
        return `${stage} shifted at ${new Date(shiftedAtMs).toISOString()}, ${formatSeconds(-elapsed)} after this machine's now (${new Date(nowMs).toISOString()}): ` +
            "this machine's clock is behind the one that stamped the shift. Set it right (NTP) and run pulumi up again. Nothing was changed.";
    }
    return `${stage} has baked ${formatSeconds(elapsed)} of ${formatSeconds(bakeSeconds)} since its shift at ${new Date(shiftedAtMs).toISOString()}; ` +
        `promotion is possible from ${new Date(shiftedAtMs + bakeSeconds * 1000).toISOString()}. Nothing was changed.`;
}
