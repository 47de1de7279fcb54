/**
 * Reading a stage's bake window from Prometheus history: range queries (lib/prometheus/client.ts, chunked under
 * Prometheus's points-per-series limit) over the recorded series the alerts and the live gate also use, at the
 * scrape step.  Measurement only: lib/bake/window.ts decides.  Every way a read can go wrong comes back as a named failure (fail closed).
 */
import { Measured } from "../gate/decision";
import { queryTracks, trackQueries } from "../gate/measure";
import { RECORDED, WATCHDOG_METRICS } from "../monitoring/rules";
import { fail } from "../prometheus/read";
import { rangeQuery, RangeSeries, RangeTarget } from "../prometheus/client";
import { Point, WINDOW_METRICS, WindowHistory, WindowMetric } from "./window";
import { readSlo } from "../slo/read";
import { gateWindows } from "../slo/judge";
import { SloSpec } from "../monitoring/slo";

// The range query and its chunking live in the Prometheus client; re-exported under the names this module had.
export { MAX_POINTS_PER_QUERY, rangeQuery } from "../prometheus/client";
export type { RangeSeries };

/** Where the window is read: Prometheus, its request timeout, and the scrape step. */
export type HistoryTarget = RangeTarget;

/**
 * The worst track at each step: the max over a metric's series (one per `track`), at the steps where EVERY series
 * of the window has a value.  A step where one track has no value is no point at all, so it counts towards a gap
 * (judged by the no-data allowance) instead of being read from the other track alone: a canary whose series
 * stopped would otherwise pass its bake on stable's values.
 */
export function worstOfEveryTrack(series: RangeSeries[]): Point[] {
    const byT = new Map<number, { v: number; n: number }>();
    for (const s of series) {
        for (const p of s.points) {
            const at = byT.get(p.t);
            byT.set(p.t, { v: Math.max(at?.v ?? -Infinity, p.v), n: (at?.n ?? 0) + 1 });
        }
    }
    return [...byT.entries()].filter(([, x]) => x.n === series.length).sort((a, b) => a[0] - b[0]).map(([t, x]) => ({ t, v: x.v }));
}

/** Every point of a metric (worstOfEveryTrack); no series at all is a missing metric. */
function maxPoints(series: Measured<RangeSeries[]>, expr: string): Measured<Point[]> {
    if (!series.ok) return series;
    if (series.value.length === 0) return fail("missing-metric", `${expr}: no series in the window`);
    return { ok: true, value: worstOfEveryTrack(series.value) };
}

export const windowQueries = (stepSeconds: number) => ({
    metrics: Object.fromEntries(WINDOW_METRICS.map((m) => [m, `max_over_time(${RECORDED[m]}[${stepSeconds}s])`])) as Record<WindowMetric, string>,
    alerts: `max by (alertname) (max_over_time(ALERTS{alertstate="firing",severity="critical"}[${stepSeconds}s]))`,
    watchdog: `max(max_over_time(${WATCHDOG_METRICS.lastRevert}[${stepSeconds}s]))`,
});

/**
 * The seconds both tracks' counts are compared over: the whole window, and at least a few scrape steps, since
 * increase() needs several samples in its range.
 */
export const tracksWindowSeconds = (t: HistoryTarget, startMs: number, endMs: number) => Math.max((endMs - startMs) / 1000, 4 * t.stepSeconds);

/**
 * Reads the whole window [startMs, endMs] of one stage.  With `tracks` (two tracks: ingress-weight, mirrored
 * blue-green) it also reads both tracks' operations, errors and latency histogram over the whole window, evaluated
 * at its end, for the canary judge (lib/judge).
 */
export async function readWindow(t: HistoryTarget, startMs: number, endMs: number, opts: { tracks?: boolean; slo?: SloSpec } = {}): Promise<WindowHistory> {
    const q = windowQueries(t.stepSeconds);
    const start = startMs / 1000 + t.stepSeconds;
    const end = Math.max(start, endMs / 1000);
    const trackSeconds = tracksWindowSeconds(t, startMs, endMs);
    // The SLO: the release track's burn over the bake (from the shift to the end) and its last twelfth, and the budget
    // left, at the end; windows of at least four scrape steps (increase() needs several samples in its range).
    const sloWindows = opts.slo ? gateWindows(opts.slo.gatePair, (endMs - startMs) / 1000, 4 * t.stepSeconds) : undefined;
    const [metrics, alerts, watchdog, tracks, slo] = await Promise.all([
        Promise.all(WINDOW_METRICS.map(async (m) => maxPoints(await rangeQuery(t, q.metrics[m], start, end), q.metrics[m]))),
        rangeQuery(t, q.alerts, start, end),
        rangeQuery(t, q.watchdog, start, end),
        opts.tracks ? queryTracks(t, trackSeconds, endMs) : undefined,
        opts.slo && sloWindows ? readSlo(t.prometheusUrl, opts.slo, sloWindows, t.timeoutMs, endMs) : undefined,
    ]);
    const wd = maxPoints(watchdog, q.watchdog);
    return {
        metrics: Object.fromEntries(WINDOW_METRICS.map((m, i) => [m, metrics[i]])) as WindowHistory["metrics"],
        queries: q.metrics,
        criticalAlerts: alerts.ok
            ? { ok: true, value: alerts.value.map((s) => ({ alertname: s.labels.alertname ?? "(unnamed)", points: s.points.filter((p) => p.v > 0).map((p) => p.t) })) }
            : alerts,
        alertsQuery: q.alerts,
        // The gauge holds the time of the watchdog's last revert (0 before any): every distinct value is one revert.
        watchdogReverts: wd.ok ? { ok: true, value: [...new Set(wd.value.map((p) => p.v).filter((v) => v > 0))] } : wd,
        watchdogQuery: q.watchdog,
        ...(slo ? { slo } : {}),
        ...(tracks ? {
            tracks,
            tracksQuery: `${trackQueries("canary", trackSeconds).errors}, …operations and …_bucket by le, track="canary" vs track="stable"`,
        } : {}),
    };
}
