/**
 * The one Prometheus HTTP API client: instant queries (`/api/v1/query`), range queries (`/api/v1/query_range`,
 * chunked under Prometheus's points-per-series limit) and the active scrape targets (`/api/v1/targets`).
 * Measurement only: every way a read goes wrong comes back as a named failure (fail closed), and the callers
 * (lib/gate, lib/bake, lib/preflight) decide.  Plain functions, so dynamic providers capture them.
 *
 * The folder: read.ts (HTTP reads as Measured values), client.ts (this: the HTTP API), alerts.ts (the critical
 * alerts firing, from Prometheus or Alertmanager), exposition.ts (the text format a /metrics endpoint serves).
 */
import { fetchWithin } from "../http";
import { fail, getJson, Measured } from "./read";
import { redactUrl } from "../records/redact";

/** One series of an instant vector: its labels and its value. */
export interface VectorSample { metric: Record<string, string>; value: number }

/** One point of a range series: unix seconds and value. */
export interface Point { t: number; v: number }

/** One series of a range query: its labels and its points in time order. */
export interface RangeSeries { labels: Record<string, string>; points: Point[] }

/** Where range queries go, and at which resolution. */
export interface RangeTarget {
    prometheusUrl: string;
    timeoutMs: number;
    stepSeconds: number;
}

/** Points per request; Prometheus refuses more than 11 000 per series. */
export const MAX_POINTS_PER_QUERY = 10_000;

const instantUrl = (prometheusUrl: string, expr: string, atMs?: number) =>
    `${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}${atMs !== undefined ? `&time=${atMs / 1000}` : ""}`;

/**
 * An instant query, every series of its answer (empty is fine: "none"); `atMs` evaluates it at that instant instead
 * of now.  `label` names the query in failures (default: the expression).
 */
export async function instantVector(prometheusUrl: string, expr: string, timeoutMs: number,
    opts: { atMs?: number; label?: string } = {}): Promise<Measured<VectorSample[]>> {
    const m = await getJson(instantUrl(prometheusUrl, expr, opts.atMs), timeoutMs);
    if (!m.ok) return m;
    const body = m.value;
    if (body.status !== "success" || body.data?.resultType !== "vector" || !Array.isArray(body.data.result)) {
        return fail("malformed", `${opts.label ?? expr}: not a successful instant-vector answer`);
    }
    return {
        ok: true,
        value: body.data.result.map((r: { metric?: Record<string, string>; value?: [number, string] }) => ({ metric: r.metric ?? {}, value: Number(r.value?.[1]) })),
    };
}

/** Prometheus's own time against this machine's clock: what lib/bake/clock.ts judges a window's "now" from. */
export interface ClockReading {
    /** Prometheus's time when it evaluated the query (`time()`), ms since the epoch. */
    prometheusMs: number;
    /** This machine's clock just before the request was sent, and when its answer had arrived. */
    sentMs: number;
    receivedMs: number;
}

/** Reads Prometheus's clock (`vector(time())`, evaluated at its own now) between two readings of this machine's. */
export async function readClock(prometheusUrl: string, timeoutMs: number, now: () => number = Date.now): Promise<Measured<ClockReading>> {
    const label = "Prometheus's clock (vector(time()))";
    const sentMs = now();
    const v = await instantVector(prometheusUrl, "vector(time())", timeoutMs, { label });
    const receivedMs = now();
    if (!v.ok) return v;
    const t = v.value[0]?.value;
    if (v.value.length !== 1 || !Number.isFinite(t) || t <= 0) return fail("malformed", `${label}: not one finite time`);
    return { ok: true, value: { prometheusMs: Math.round(t * 1000), sentMs, receivedMs } };
}

/** An instant query that must answer at least one series, none of them NaN. */
export async function querySeries(prometheusUrl: string, expr: string, timeoutMs: number,
    opts: { atMs?: number; label?: string } = {}): Promise<Measured<VectorSample[]>> {
    const label = opts.label ?? expr;
    const v = await instantVector(prometheusUrl, expr, timeoutMs, opts);
    if (!v.ok) return v;
    if (v.value.length === 0) return fail("missing-metric", `${label}: no series`);
    return v.value.some((r) => Number.isNaN(r.value)) ? fail("nan", `${label} is NaN`) : v;
}

/** An instant query read as one number: the largest value over its series (the worst track); `atMs`: at that instant, not now. */
export async function queryValue(prometheusUrl: string, expr: string, timeoutMs: number, label: string = expr, atMs?: number): Promise<Measured<number>> {
    const v = await querySeries(prometheusUrl, expr, timeoutMs, { label, ...(atMs !== undefined ? { atMs } : {}) });
    return v.ok ? { ok: true, value: Math.max(...v.value.map((r) => r.value)) } : v;
}

/** One PromQL instant query; the series must exist, be a number, and be fresh (newest sample ≤ `maxAgeSeconds` old). */
export async function promQuery(prometheusUrl: string, expr: string, timeoutMs: number, maxAgeSeconds: number): Promise<Measured<number>> {
    // Two queries keep the parsing obvious: the value, and the age of the sample it came from.
    const parsed = await queryValue(prometheusUrl, expr, timeoutMs);
    if (!parsed.ok) return parsed;
    const age = await queryValue(prometheusUrl, `time() - timestamp(${expr})`, timeoutMs, `age of ${expr}`);
    if (!age.ok) return age;
    if (age.value > maxAgeSeconds) return fail("stale", `${expr}: newest sample is ${age.value.toFixed(0)} s old (limit ${maxAgeSeconds} s)`);
    return parsed;
}

async function rangeChunk(t: RangeTarget, expr: string, start: number, end: number): Promise<Measured<RangeSeries[]>> {
    const qs = new URLSearchParams({ query: expr, start: start.toFixed(3), end: end.toFixed(3), step: String(t.stepSeconds) });
    const url = `${t.prometheusUrl}/api/v1/query_range?${qs}`;
    const res = await fetchWithin(url, {}, t.timeoutMs);
    if (!res.ok) return fail(res.failure, `${expr}: ${res.why}`);
    if (res.status < 200 || res.status > 299) return fail("http-status", `${expr}: HTTP ${res.status} ${res.text.slice(0, 200)}`);
    let body: any;
    try { body = JSON.parse(res.text); } catch { return fail("malformed", `${expr}: body is not JSON`); }
    if (body?.status !== "success" || body.data?.resultType !== "matrix" || !Array.isArray(body.data.result)) {
        return fail("malformed", `${expr}: not a successful range-vector answer`);
    }
    return {
        ok: true,
        value: body.data.result.map((r: { metric?: Record<string, string>; values?: [number, string][] }) => ({
            labels: r.metric ?? {},
            points: (r.values ?? []).map(([ts, v]) => ({ t: Number(ts), v: Number(v) })),
        })),
    };
}

/** A range query over [start, end] (unix seconds), in chunks of MAX_POINTS_PER_QUERY steps; series are merged by their label set. */
export async function rangeQuery(t: RangeTarget, expr: string, start: number, end: number): Promise<Measured<RangeSeries[]>> {
    const span = MAX_POINTS_PER_QUERY * t.stepSeconds;
    const merged = new Map<string, RangeSeries>();
    for (let from = start; from <= end; from += span + t.stepSeconds) {
        const chunk = await rangeChunk(t, expr, from, Math.min(end, from + span));
        if (!chunk.ok) return chunk;
        for (const s of chunk.value) {
            const key = JSON.stringify(s.labels);
            const into = merged.get(key) ?? { labels: s.labels, points: [] };
            into.points.push(...s.points);
            merged.set(key, into);
        }
    }
    return { ok: true, value: [...merged.values()] };
}

/** One active scrape target, as `/api/v1/targets` reports it. */
export interface ScrapeTarget { job: string; instance: string; health: string; lastError: string }

/** Prometheus's active scrape targets; any failure throws, naming the URL (the preflight's check turns it into a row). */
export async function activeTargets(url: string, timeoutMs: number): Promise<ScrapeTarget[]> {
    const res = await fetchWithin(`${url}/api/v1/targets?state=active`, {}, timeoutMs);
    if (!res.ok) throw new Error(`${redactUrl(url)}/api/v1/targets: ${res.why}`);
    if (res.status !== 200) throw new Error(`${redactUrl(url)}/api/v1/targets: HTTP ${res.status}`);
    let body: { status?: string; data?: { activeTargets?: { labels?: Record<string, string>; health?: string; lastError?: string }[] } };
    try { body = JSON.parse(res.text); } catch { throw new Error(`${redactUrl(url)}/api/v1/targets: body is not JSON`); }
    if (body.status !== "success" || !Array.isArray(body.data?.activeTargets)) throw new Error(`${redactUrl(url)}/api/v1/targets: not a successful targets answer`);
    return body.data!.activeTargets!.map((t) => ({
        job: t.labels?.job ?? "", instance: t.labels?.instance ?? "", health: t.health ?? "unknown", lastError: t.lastError ?? "",
    }));
}

/** Prometheus's own duration syntax (1y2w3d4h5m6s7ms, units from the longest), in seconds; undefined when it is not one. */
export function prometheusDurationSeconds(text: string): number | undefined {
    const units: Record<string, number> = { y: 365 * 86_400, w: 7 * 86_400, d: 86_400, h: 3600, m: 60, s: 1, ms: 0.001 };
    if (!/^(\d+(y|w|d|h|ms|m|s))+$/.test(text)) return undefined;
    let total = 0;
    for (const [, n, unit] of text.matchAll(/(\d+)(ms|y|w|d|h|m|s)/g)) total += Number(n) * units[unit];
    return total;
}

/**
 * How long Prometheus keeps its data, from its own flags (`/api/v1/status/flags`: storage.tsdb.retention.time; "0s"
 * with no size limit means its default, 15d).  A size limit is reported too: it can cut the history shorter than the
 * time says, which no reading can tell in advance.  Any failure throws, naming the URL.
 */
export async function retention(url: string, timeoutMs: number): Promise<{ seconds: number; flag: string; sizeLimit?: string }> {
    const res = await fetchWithin(`${url}/api/v1/status/flags`, {}, timeoutMs);
    if (!res.ok) throw new Error(`${redactUrl(url)}/api/v1/status/flags: ${res.why}`);
    if (res.status !== 200) throw new Error(`${redactUrl(url)}/api/v1/status/flags: HTTP ${res.status}`);
    let body: { status?: string; data?: Record<string, string> };
    try { body = JSON.parse(res.text); } catch { throw new Error(`${redactUrl(url)}/api/v1/status/flags: body is not JSON`); }
    const flags = body.data ?? {};
    const flag = flags["storage.tsdb.retention.time"] ?? flags["storage.tsdb.retention"];
    if (body.status !== "success" || flag === undefined) throw new Error(`${redactUrl(url)}/api/v1/status/flags: no storage.tsdb.retention.time`);
    const size = flags["storage.tsdb.retention.size"];
    const sizeLimit = size && size !== "0B" && size !== "0" ? size : undefined;
    const parsed = prometheusDurationSeconds(flag);
    if (parsed === undefined) throw new Error(`${redactUrl(url)}/api/v1/status/flags: storage.tsdb.retention.time ${JSON.stringify(flag)} is not a duration`);
    return { seconds: parsed === 0 && !sizeLimit ? 15 * 86_400 : parsed, flag, ...(sizeLimit ? { sizeLimit } : {}) };
}
