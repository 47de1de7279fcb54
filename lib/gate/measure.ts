/**
 * Reads one sample of a stage's health: the service's probes over HTTP, and the metrics either by scraping
 * `/metrics` (lib/prometheus/exposition.ts) or by PromQL through the Prometheus HTTP API (lib/prometheus/client.ts:
 * the recorded series the alert rules also use).  Every way a read can go wrong comes back as a named ReadFailure.
 */
import { RECORDED } from "../monitoring/rules";
import { TrackCounts, windowBetween } from "../judge/judge";
import { binnedQuantile } from "../judge/stats";
import { AlertSource, readCriticalAlerts } from "../prometheus/alerts";
import { promQuery, querySeries, queryValue } from "../prometheus/client";
import { Family, parseExposition } from "../prometheus/exposition";
import { fail, get, getJson } from "../prometheus/read";
import { errorRateBetween, Measured, Reading } from "./decision";
import { redactUrl } from "../records/redact";

// Moved to lib/prometheus; re-exported for the modules that import them from here (lib/gate/run.ts, lib/revert,
// lib/preshift, the providers and program.ts).
export { parseExposition, promQuery, readCriticalAlerts };
export type { AlertSource };
export { CRITICAL_ALERTS_FILTER, CRITICAL_ALERTS_PROMQL } from "../prometheus/alerts";

export interface MeasureTarget {
    serviceUrl: string;
    proofWorkerUrl?: string;
    prometheusUrl?: string;
    source: "metrics-endpoint" | "prometheus";
    timeoutMs: number;
    /** Checked when the gate may have to revert: a token the service rejects is a no-go before anything else. */
    adminToken?: string;
    /** Prometheus samples older than this are stale. */
    maxSampleAgeSeconds: number;
    /** Where critical alerts are read (every gate checks that none is firing). */
    alerts?: AlertSource;
    /** Prometheus source: the span one sample's counts cover (the poll interval), for the CUSUM drift check. */
    sampleSeconds?: number;
}

/** Cumulative counters read from /metrics; the next reading's rates are differences of two of these. */
export interface Counters {
    errors: number;
    operations: number;
    /** speculation_operation_duration_seconds: cumulative count at each upper bound (seconds, +Inf included). */
    latency?: TrackCounts["latency"];
}

/** Fewer operation-latency observations than this in a sample and a p99 means nothing: the check holds (sparse). */
export const LATENCY_MIN_OBSERVATIONS = 100;

/** The operation-latency histogram every gate judges (p99 and p99/p95) and the canary judge compares. */
export const LATENCY_HISTOGRAM = "speculation_operation_duration_seconds";

function field<T>(m: Measured<any>, url: string, pick: (b: any) => T | undefined, what: string): Measured<T> {
    if (!m.ok) return m;
    const v = pick(m.value);
    return v === undefined ? fail("malformed", `${redactUrl(url)}: ${what} missing`) : { ok: true, value: v };
}

function sumOf(families: Family[], name: string, filter: (l: Record<string, string>) => boolean = () => true): Measured<number> {
    const fam = families.find((f) => f.name === name);
    if (!fam || fam.metrics.length === 0) return fail("missing-metric", `${name} is not exposed`);
    let sum = 0;
    for (const s of fam.metrics) if (filter(s.labels ?? {})) sum += Number(s.value);
    return Number.isNaN(sum) ? fail("nan", `${name} is NaN`) : { ok: true, value: sum };
}

function maxOf(families: Family[], name: string): Measured<number> {
    const fam = families.find((f) => f.name === name);
    if (!fam || fam.metrics.length === 0) return fail("missing-metric", `${name} is not exposed`);
    const values = fam.metrics.map((s) => Number(s.value));
    return values.some(Number.isNaN) ? fail("nan", `${name} is NaN`) : { ok: true, value: Math.max(...values) };
}

/** The operation-latency histogram's buckets, summed over every series that has them. */
function latencyBuckets(families: Family[]): Measured<TrackCounts["latency"]> {
    const fam = families.find((f) => f.name === LATENCY_HISTOGRAM) as (Family & { metrics: { buckets?: Record<string, string> }[] }) | undefined;
    if (!fam || fam.metrics.length === 0) return fail("missing-metric", `${LATENCY_HISTOGRAM} is not exposed`);
    const sums = new Map<number, number>();
    for (const m of fam.metrics) {
        for (const [le, count] of Object.entries(m.buckets ?? {})) {
            const bound = le === "+Inf" ? Infinity : Number(le);
            sums.set(bound, (sums.get(bound) ?? 0) + Number(count));
        }
    }
    const latency = [...sums.entries()].sort((a, b) => a[0] - b[0]).map(([le, cumulative]) => ({ le, cumulative }));
    if (latency.some((b) => Number.isNaN(b.le) || Number.isNaN(b.cumulative))) return fail("nan", `${LATENCY_HISTOGRAM} has a NaN bucket`);
    if (!latency.some((b) => !Number.isFinite(b.le))) return fail("malformed", `${LATENCY_HISTOGRAM} has no +Inf bucket`);
    return { ok: true, value: latency };
}

export interface LatencyQuantiles { p95: number; p99: number; observations: number }

/**
 * p95 and p99 of the operations observed between two readings of the histogram, interpolated inside their bucket as
 * PromQL's histogram_quantile does.  No earlier reading, a reset, or too few observations is no data.
 */
export function latencyBetween(prev: TrackCounts["latency"] | undefined, cur: TrackCounts["latency"]): Measured<LatencyQuantiles> {
    if (!prev) return fail("stale", "no earlier scrape to compare with");
    const w = windowBetween({ requests: 0, errors: 0, latency: prev }, { requests: 0, errors: 0, latency: cur });
    if (!w) return fail("stale", `${LATENCY_HISTOGRAM} went backwards (the service restarted)`);
    const bounds = w.latency.map((b) => b.le);
    const counts = w.latency.map((b, i) => Math.max(0, b.cumulative - (i === 0 ? 0 : w.latency[i - 1].cumulative)));
    const observations = counts.reduce((a, b) => a + b, 0);
    if (observations < LATENCY_MIN_OBSERVATIONS) {
        return fail("sparse", `${observations} operation-latency observations since the last sample (a p99 needs at least ${LATENCY_MIN_OBSERVATIONS})`);
    }
    return { ok: true, value: { p95: binnedQuantile(0.95, bounds, counts), p99: binnedQuantile(0.99, bounds, counts), observations } };
}

/** p99 / p95; a p95 of 0 (every observation in the first bucket's lowest edge) has no meaningful ratio: 1. */
export const tailRatio = (q: LatencyQuantiles) => (q.p95 > 0 ? q.p99 / q.p95 : 1);

async function scrape(url: string, timeoutMs: number): Promise<Measured<Family[]>> {
    const r = await get(url, timeoutMs);
    if (!r.ok) return r;
    if (r.status < 200 || r.status > 299) return fail("http-status", `${redactUrl(url)}: HTTP ${r.status}`);
    const families = parseExposition(r.text);
    return families ? { ok: true, value: families } : fail("malformed", `${redactUrl(url)}: not in the Prometheus text format`);
}

export const PROMQL = {
    rollbackRate: RECORDED.rollbackRate,
    errorRate: RECORDED.errorRate,
    memoryPercent: RECORDED.memoryPercent,
    proofQueue: RECORDED.proofQueue,
    latencyP99: RECORDED.latencyP99,
    latencyTailRatio: RECORDED.latencyTailRatio,
} as const;

export interface MeasureResult {
    reading: Reading;
    /** Counters from this scrape, for the next sample's error rate (metrics-endpoint source). */
    counters?: Counters;
}

export async function measure(target: MeasureTarget, previous?: Counters, now: () => Date = () => new Date()): Promise<MeasureResult> {
    const s = target.serviceUrl;
    // What a record names: the URL without any user:password@ (every printed URL is redacted).
    const shown = redactUrl(s);
    const at = now().toISOString();
    const [health, ready, detailed, worker, token] = await Promise.all([
        getJson(`${s}/health`, target.timeoutMs),
        getJson(`${s}/ready`, target.timeoutMs, [503]),
        getJson(`${s}/health/detailed`, target.timeoutMs),
        target.proofWorkerUrl ? getJson(`${target.proofWorkerUrl}/health`, target.timeoutMs, [503]) : Promise.resolve(undefined),
        target.adminToken !== undefined ? get(`${s}/admin/config`, target.timeoutMs, { authorization: `Bearer ${target.adminToken}` }) : Promise.resolve(undefined),
    ]);
    const alerts = target.alerts ? await readCriticalAlerts(target.alerts, target.timeoutMs) : undefined;
    const reading: Reading = {
        at,
        health: field(health, `${shown}/health`, (b) => (typeof b.status === "string" ? { status: b.status, version: b.version } : undefined), "status"),
        ready: field(ready, `${shown}/ready`, (b) => (typeof b.ready === "boolean" ? b.ready : undefined), "ready"),
        components: field(detailed, `${shown}/health/detailed`, (b) => (b.components && typeof b.components === "object" ? b.components : undefined), "components"),
        ...(worker ? { proofWorkers: field(worker, `${redactUrl(target.proofWorkerUrl!)}/health`, (b) => (typeof b.status === "string" ? b.status : undefined), "status") } : {}),
        ...(token ? {
            adminToken: token.ok
                ? (token.status >= 200 && token.status < 300 ? { ok: true as const, value: true as const } : fail<true>("http-status", `${shown}/admin/config: HTTP ${token.status}`))
                : token,
        } : {}),
        metrics: {} as Reading["metrics"],
        queries: {} as Reading["queries"],
        ...(alerts ? { criticalAlerts: alerts.alerts, criticalAlertsQuery: alerts.query } : {}),
    };

    if (target.source === "prometheus") {
        const p = target.prometheusUrl!;
        const keys = ["rollbackRate", "errorRate", "memoryPercent", "proofQueue", "latencyP99", "latencyTailRatio"] as const;
        const [values, sample] = await Promise.all([
            Promise.all(keys.map((k) => promQuery(p, PROMQL[k], target.timeoutMs, target.maxSampleAgeSeconds))),
            target.sampleSeconds ? promSampleCounts(p, target.sampleSeconds, target.timeoutMs) : Promise.resolve(undefined),
        ]);
        keys.forEach((k, i) => {
            reading.metrics[k] = values[i];
            reading.queries[k] = PROMQL[k];
        });
        if (sample) reading.sample = sample;
        return { reading };
    }

    const [service, workerMetrics] = await Promise.all([
        scrape(`${s}/metrics`, target.timeoutMs),
        target.proofWorkerUrl ? scrape(`${target.proofWorkerUrl}/metrics`, target.timeoutMs) : Promise.resolve(undefined),
    ]);
    reading.queries = {
        rollbackRate: "max(speculation_rollback_rate) from /metrics",
        errorRate: "Δspeculation_errors_total / Δspeculation_operations_total between scrapes",
        memoryPercent: "100 × speculation_memory_usage_bytes / speculation_memory_limit_bytes from /metrics",
        proofQueue: target.proofWorkerUrl ? "max(proof_queue_size) from the proof workers' /metrics" : "speculation_proof_queue_size from /metrics",
        latencyP99: `p99 of Δ${LATENCY_HISTOGRAM}_bucket between scrapes`,
        latencyTailRatio: `p99 / p95 of Δ${LATENCY_HISTOGRAM}_bucket between scrapes`,
    };
    if (!service.ok) {
        const failed: Measured<number> = service;
        for (const k of ["rollbackRate", "errorRate", "memoryPercent", "latencyP99", "latencyTailRatio"] as const) reading.metrics[k] = failed;
        reading.metrics.proofQueue = !workerMetrics ? failed
            : workerMetrics.ok ? maxOf(workerMetrics.value, "proof_queue_size") : workerMetrics;
        return { reading };
    }
    const f = service.value;
    reading.metrics.rollbackRate = maxOf(f, "speculation_rollback_rate");
    const errors = sumOf(f, "speculation_errors_total");
    const operations = sumOf(f, "speculation_operations_total");
    let counters: Counters | undefined;
    if (!errors.ok) reading.metrics.errorRate = errors;
    else if (!operations.ok) reading.metrics.errorRate = operations;
    else {
        counters = { errors: errors.value, operations: operations.value };
        reading.metrics.errorRate = errorRateBetween(previous, counters);
    }
    const buckets = latencyBuckets(f);
    let p95: number | undefined;
    if (!buckets.ok) {
        reading.metrics.latencyP99 = buckets;
        reading.metrics.latencyTailRatio = buckets;
    } else {
        if (counters) counters.latency = buckets.value;
        const q = latencyBetween(previous?.latency, buckets.value);
        reading.metrics.latencyP99 = q.ok ? { ok: true, value: q.value.p99 } : q;
        reading.metrics.latencyTailRatio = q.ok ? { ok: true, value: tailRatio(q.value) } : q;
        if (q.ok) p95 = q.value.p95;
    }
    // This sample's own counts, for CUSUM: only when the counters advanced (a restart or a still scrape has none).
    if (previous && counters && counters.operations > previous.operations && counters.errors >= previous.errors) {
        reading.sample = { errors: counters.errors - previous.errors, operations: counters.operations - previous.operations, ...(p95 !== undefined ? { p95 } : {}) };
    }
    const usage = maxOf(f, "speculation_memory_usage_bytes");
    const limit = maxOf(f, "speculation_memory_limit_bytes");
    reading.metrics.memoryPercent = !usage.ok ? usage : !limit.ok ? limit
        : limit.value > 0 ? { ok: true, value: 100 * usage.value / limit.value } : fail("nan", "speculation_memory_limit_bytes is 0");
    reading.metrics.proofQueue = workerMetrics
        ? (workerMetrics.ok ? maxOf(workerMetrics.value, "proof_queue_size") : workerMetrics)
        : maxOf(f, "speculation_proof_queue_size");
    return { reading, counters };
}

/**
 * Prometheus source: one sample's own counts for the CUSUM drift check — the operations, errors and p95 of the last
 * `seconds` (the poll interval), so consecutive samples do not overlap.  Undefined when Prometheus has none yet.
 */
async function promSampleCounts(prometheusUrl: string, seconds: number, timeoutMs: number): Promise<Reading["sample"]> {
    const w = `[${Math.max(1, Math.round(seconds))}s]`;
    const [ops, errs, p95] = await Promise.all([
        `sum(increase(speculation_operations_total${w}))`,
        `sum(increase(speculation_errors_total${w}))`,
        `histogram_quantile(0.95, sum by (le) (increase(${LATENCY_HISTOGRAM}_bucket${w})))`,
    ].map((e) => queryValue(prometheusUrl, e, timeoutMs)));
    if (!ops.ok || !errs.ok || !(ops.value > 0)) return undefined;
    return { operations: ops.value, errors: errs.value, ...(p95.ok && Number.isFinite(p95.value) ? { p95: p95.value } : {}) };
}

// ---- Both tracks, for the canary judge (lib/judge): the same counters read from the canary and the stable track.

/** The series the canary judge compares; each track's Service carries a `track` label (stable | canary). */
export const TRACK_SERIES = {
    operations: "speculation_operations_total",
    errors: "speculation_errors_total",
    latency: LATENCY_HISTOGRAM,
} as const;

export type Track = "canary" | "stable";
export type TrackPair = Record<Track, TrackCounts>;

export interface TracksTarget {
    /** Metrics-endpoint source: each track's own address. */
    urls: Record<Track, string>;
    prometheusUrl?: string;
    source: "metrics-endpoint" | "prometheus";
    timeoutMs: number;
}

function trackCounts(families: Family[]): Measured<TrackCounts> {
    const operations = sumOf(families, TRACK_SERIES.operations);
    if (!operations.ok) return operations;
    const errors = sumOf(families, TRACK_SERIES.errors);
    if (!errors.ok) return errors;
    const latency = latencyBuckets(families);
    if (!latency.ok) return latency;
    return { ok: true, value: { requests: operations.value, errors: errors.value, latency: latency.value } };
}

/** Metrics-endpoint source: both tracks' cumulative counters, scraped at the same moment. */
export async function scrapeTracks(t: TracksTarget): Promise<Measured<TrackPair>> {
    const [canary, stable] = await Promise.all((["canary", "stable"] as const).map(async (track) => {
        const s = await scrape(`${t.urls[track]}/metrics`, t.timeoutMs);
        const counts = s.ok ? trackCounts(s.value) : s;
        return counts.ok ? counts : fail<TrackCounts>(counts.failure, `${track} track: ${counts.detail}`);
    }));
    if (!canary.ok) return canary;
    if (!stable.ok) return stable;
    return { ok: true, value: { canary: canary.value, stable: stable.value } };
}

/** The PromQL the judge reads for one track over a window of `seconds` ending at the same instant for both tracks. */
export function trackQueries(track: Track, seconds: number) {
    const sel = `{track="${track}"}`;
    const w = `[${Math.max(1, Math.round(seconds))}s]`;
    return {
        operations: `sum(increase(${TRACK_SERIES.operations}${sel}${w}))`,
        errors: `sum(increase(${TRACK_SERIES.errors}${sel}${w}))`,
        latency: `sum by (le) (increase(${TRACK_SERIES.latency}_bucket${sel}${w}))`,
    };
}

/** Prometheus source: both tracks' increase over the same window, evaluated at the same instant `at` (ms). */
export async function queryTracks(t: Pick<TracksTarget, "prometheusUrl" | "timeoutMs">, seconds: number, at: number): Promise<Measured<TrackPair>> {
    const one = async (track: Track): Promise<Measured<TrackCounts>> => {
        const q = trackQueries(track, seconds);
        const [ops, errs, lat] = await Promise.all([q.operations, q.errors, q.latency].map((e) => querySeries(t.prometheusUrl!, e, t.timeoutMs, { atMs: at })));
        if (!ops.ok) return ops;
        if (!errs.ok) return errs;
        if (!lat.ok) return lat;
        const latency = lat.value.map((r) => ({ le: r.metric.le === "+Inf" ? Infinity : Number(r.metric.le), cumulative: r.value }))
            .sort((a, b) => a.le - b.le);
        return { ok: true, value: { requests: ops.value[0].value, errors: errs.value[0].value, latency } };
    };
    const [canary, stable] = await Promise.all([one("canary"), one("stable")]);
    if (!canary.ok) return canary;
    if (!stable.ok) return stable;
    return { ok: true, value: { canary: canary.value, stable: stable.value } };
}
