/**
 * Reads one sample of a stage's health: the service's probes over HTTP, and the metrics either by scraping
 * `/metrics` (parsed with parse-prometheus-text-format) or by PromQL through the Prometheus HTTP API (the recorded
 * series the alert rules also use).  Every way a read can go wrong comes back as a named ReadFailure.
 */
import { fetchWithin } from "../http";
import { RECORDED } from "../monitoring/rules";
import { TrackCounts } from "../judge/judge";
import { errorRateBetween, Measured, ReadFailure, Reading } from "./decision";

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
}

export interface Counters {
    errors: number;
    operations: number;
}

type Fetched = { ok: true; status: number; text: string } | { ok: false; failure: ReadFailure; detail: string };

async function get(url: string, timeoutMs: number, headers: Record<string, string> = {}): Promise<Fetched> {
    const res = await fetchWithin(url, { headers }, timeoutMs);
    if (!res.ok) return { ok: false, failure: res.failure, detail: `${url}: ${res.why}` };
    if (res.status === 401 || res.status === 403) return { ok: false, failure: "rejected-token", detail: `${url}: HTTP ${res.status}` };
    return res;
}

function fail<T>(failure: ReadFailure, detail: string): Measured<T> {
    return { ok: false, failure, detail };
}

async function getJson(url: string, timeoutMs: number, okStatuses: number[] = []): Promise<Measured<any>> {
    const r = await get(url, timeoutMs);
    if (!r.ok) return r;
    if ((r.status < 200 || r.status > 299) && !okStatuses.includes(r.status)) return fail("http-status", `${url}: HTTP ${r.status}`);
    try {
        const body = JSON.parse(r.text);
        if (body === null || typeof body !== "object") return fail("malformed", `${url}: body is not a JSON object`);
        return { ok: true, value: body };
    } catch {
        return fail("malformed", `${url}: body is not JSON`);
    }
}

function field<T>(m: Measured<any>, url: string, pick: (b: any) => T | undefined, what: string): Measured<T> {
    if (!m.ok) return m;
    const v = pick(m.value);
    return v === undefined ? fail("malformed", `${url}: ${what} missing`) : { ok: true, value: v };
}

interface Family { name: string; metrics: { value?: string; labels?: Record<string, string> }[] }

/** Parses the Prometheus text format; a body that yields no metric families at all is malformed. */
export function parseExposition(text: string): Family[] | undefined {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const parse = require("parse-prometheus-text-format") as (t: string) => Family[];
    try {
        const families = parse(text);
        return families.length > 0 ? families : undefined;
    } catch {
        return undefined;
    }
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

async function scrape(url: string, timeoutMs: number): Promise<Measured<Family[]>> {
    const r = await get(url, timeoutMs);
    if (!r.ok) return r;
    if (r.status < 200 || r.status > 299) return fail("http-status", `${url}: HTTP ${r.status}`);
    const families = parseExposition(r.text);
    return families ? { ok: true, value: families } : fail("malformed", `${url}: not in the Prometheus text format`);
}

/** One PromQL instant query; the series must exist, be a number, and be fresh. */
export async function promQuery(prometheusUrl: string, expr: string, timeoutMs: number, maxAgeSeconds: number): Promise<Measured<number>> {
    // Two queries keep the parsing obvious: the value, and the age of the sample it came from.
    const value = await getJson(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`, timeoutMs);
    const parsed = vectorValue(value, expr);
    if (!parsed.ok) return parsed;
    const age = await getJson(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(`time() - timestamp(${expr})`)}`, timeoutMs);
    const ageValue = vectorValue(age, `age of ${expr}`);
    if (!ageValue.ok) return ageValue;
    if (ageValue.value > maxAgeSeconds) return fail("stale", `${expr}: newest sample is ${ageValue.value.toFixed(0)} s old (limit ${maxAgeSeconds} s)`);
    return parsed;
}

function vectorValue(m: Measured<any>, expr: string): Measured<number> {
    if (!m.ok) return m;
    const body = m.value;
    if (body.status !== "success" || body.data?.resultType !== "vector" || !Array.isArray(body.data.result)) {
        return fail("malformed", `${expr}: not a successful instant-vector answer`);
    }
    if (body.data.result.length === 0) return fail("missing-metric", `${expr}: no series`);
    const values = body.data.result.map((r: { value?: [number, string] }) => Number(r.value?.[1]));
    if (values.some(Number.isNaN)) return fail("nan", `${expr} is NaN`);
    return { ok: true, value: Math.max(...values) };
}

export const PROMQL = {
    rollbackRate: RECORDED.rollbackRate,
    errorRate: RECORDED.errorRate,
    memoryPercent: RECORDED.memoryPercent,
    proofQueue: RECORDED.proofQueue,
} as const;

export interface MeasureResult {
    reading: Reading;
    /** Counters from this scrape, for the next sample's error rate (metrics-endpoint source). */
    counters?: Counters;
}

export async function measure(target: MeasureTarget, previous?: Counters, now: () => Date = () => new Date()): Promise<MeasureResult> {
    const s = target.serviceUrl;
    const at = now().toISOString();
    const [health, ready, detailed, worker, token] = await Promise.all([
        getJson(`${s}/health`, target.timeoutMs),
        getJson(`${s}/ready`, target.timeoutMs, [503]),
        getJson(`${s}/health/detailed`, target.timeoutMs),
        target.proofWorkerUrl ? getJson(`${target.proofWorkerUrl}/health`, target.timeoutMs, [503]) : Promise.resolve(undefined),
        target.adminToken !== undefined ? get(`${s}/admin/config`, target.timeoutMs, { authorization: `Bearer ${target.adminToken}` }) : Promise.resolve(undefined),
    ]);
    const reading: Reading = {
        at,
        health: field(health, `${s}/health`, (b) => (typeof b.status === "string" ? { status: b.status, version: b.version } : undefined), "status"),
        ready: field(ready, `${s}/ready`, (b) => (typeof b.ready === "boolean" ? b.ready : undefined), "ready"),
        components: field(detailed, `${s}/health/detailed`, (b) => (b.components && typeof b.components === "object" ? b.components : undefined), "components"),
        ...(worker ? { proofWorkers: field(worker, `${target.proofWorkerUrl}/health`, (b) => (typeof b.status === "string" ? b.status : undefined), "status") } : {}),
        ...(token ? {
            adminToken: token.ok
                ? (token.status >= 200 && token.status < 300 ? { ok: true as const, value: true as const } : fail<true>("http-status", `${s}/admin/config: HTTP ${token.status}`))
                : token,
        } : {}),
        metrics: {} as Reading["metrics"],
        queries: {} as Reading["queries"],
    };

    if (target.source === "prometheus") {
        const p = target.prometheusUrl!;
        const keys = ["rollbackRate", "errorRate", "memoryPercent", "proofQueue"] as const;
        const values = await Promise.all(keys.map((k) => promQuery(p, PROMQL[k], target.timeoutMs, target.maxSampleAgeSeconds)));
        keys.forEach((k, i) => {
            reading.metrics[k] = values[i];
            reading.queries[k] = PROMQL[k];
        });
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
    };
    if (!service.ok) {
        const failed: Measured<number> = service;
        for (const k of ["rollbackRate", "errorRate", "memoryPercent"] as const) reading.metrics[k] = failed;
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
    const usage = maxOf(f, "speculation_memory_usage_bytes");
    const limit = maxOf(f, "speculation_memory_limit_bytes");
    reading.metrics.memoryPercent = !usage.ok ? usage : !limit.ok ? limit
        : limit.value > 0 ? { ok: true, value: 100 * usage.value / limit.value } : fail("nan", "speculation_memory_limit_bytes is 0");
    reading.metrics.proofQueue = workerMetrics
        ? (workerMetrics.ok ? maxOf(workerMetrics.value, "proof_queue_size") : workerMetrics)
        : maxOf(f, "speculation_proof_queue_size");
    return { reading, counters };
}

// ---- Both tracks, for the canary judge (lib/judge): the same counters read from the canary and the stable track.

/** The series the canary judge compares; each track's Service carries a `track` label (stable | canary). */
export const TRACK_SERIES = {
    operations: "speculation_operations_total",
    errors: "speculation_errors_total",
    latency: "speculation_operation_duration_seconds",
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
    const fam = families.find((f) => f.name === TRACK_SERIES.latency) as (Family & { metrics: { buckets?: Record<string, string> }[] }) | undefined;
    if (!fam || fam.metrics.length === 0) return fail("missing-metric", `${TRACK_SERIES.latency} is not exposed`);
    const sums = new Map<number, number>();
    for (const m of fam.metrics) {
        for (const [le, count] of Object.entries(m.buckets ?? {})) {
            const bound = le === "+Inf" ? Infinity : Number(le);
            sums.set(bound, (sums.get(bound) ?? 0) + Number(count));
        }
    }
    const latency = [...sums.entries()].sort((a, b) => a[0] - b[0]).map(([le, cumulative]) => ({ le, cumulative }));
    if (latency.some((b) => Number.isNaN(b.le) || Number.isNaN(b.cumulative))) return fail("nan", `${TRACK_SERIES.latency} has a NaN bucket`);
    return { ok: true, value: { requests: operations.value, errors: errors.value, latency } };
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

async function promVector(prometheusUrl: string, expr: string, at: number, timeoutMs: number): Promise<Measured<{ metric: Record<string, string>; value: number }[]>> {
    const m = await getJson(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}&time=${at / 1000}`, timeoutMs);
    if (!m.ok) return m;
    const body = m.value;
    if (body.status !== "success" || body.data?.resultType !== "vector" || !Array.isArray(body.data.result)) return fail("malformed", `${expr}: not a successful instant-vector answer`);
    if (body.data.result.length === 0) return fail("missing-metric", `${expr}: no series`);
    const out = body.data.result.map((r: { metric?: Record<string, string>; value?: [number, string] }) => ({ metric: r.metric ?? {}, value: Number(r.value?.[1]) }));
    return out.some((r: { value: number }) => Number.isNaN(r.value)) ? fail("nan", `${expr} is NaN`) : { ok: true, value: out };
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
export async function queryTracks(t: TracksTarget, seconds: number, at: number): Promise<Measured<TrackPair>> {
    const one = async (track: Track): Promise<Measured<TrackCounts>> => {
        const q = trackQueries(track, seconds);
        const [ops, errs, lat] = await Promise.all([q.operations, q.errors, q.latency].map((e) => promVector(t.prometheusUrl!, e, at, t.timeoutMs)));
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
