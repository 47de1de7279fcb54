/**
 * Smoke tests against green's own Service, before it gets any traffic (seed 002: "Test Green: verify green
 * environment is healthy"; seed 000's smoke test: health, readiness, more than 10 speculation_* series).
 * The minimal suite until lib/smoke lands: each check is retried until it passes or the deadline comes.
 */
import { fetchWithin } from "../http";
import { parseExposition } from "../gate/measure";

export interface SmokeSpec {
    url: string;
    version: string;
    timeoutMs: number;
    deadlineSeconds: number;
    pollSeconds: number;
}

export interface SmokeCheck { check: string; ok: boolean; observed: string }

/** The seed's smoke test needs more than this many speculation_* series on /metrics. */
export const MIN_SPECULATION_SERIES = 10;

export async function smokeOnce(spec: SmokeSpec): Promise<SmokeCheck[]> {
    const get = (path: string) => fetchWithin(`${spec.url}${path}`, {}, spec.timeoutMs);
    const [health, ready, metrics] = await Promise.all([get("/health"), get("/ready"), get("/metrics")]);
    const json = (r: Awaited<ReturnType<typeof get>>) => {
        if (!r.ok) return { error: r.why };
        try { return { status: r.status, body: JSON.parse(r.text) }; } catch { return { status: r.status, error: "not JSON" }; }
    };
    const h = json(health);
    const rd = json(ready);
    const why = (r: ReturnType<typeof json>) => `no answer (${"error" in r && r.error ? r.error : `HTTP ${(r as { status?: number }).status}`})`;
    const checks: SmokeCheck[] = [];
    const hb = (h as { body?: { status?: unknown; version?: unknown } }).body;
    const hasHealth = !!hb && typeof hb.status === "string";
    checks.push({
        check: `GET /health is healthy at ${spec.version}`,
        ok: hasHealth && hb!.status === "healthy" && hb!.version === spec.version,
        observed: hasHealth ? `${hb!.status} ${String(hb!.version)}` : why(h),
    });
    const rb = (rd as { body?: { ready?: unknown } }).body;
    const hasReady = !!rb && typeof rb.ready === "boolean";
    checks.push({ check: "GET /ready is ready", ok: hasReady && rb!.ready === true, observed: hasReady ? String(rb!.ready) : why(rd) });
    const families = metrics.ok && metrics.status === 200 ? parseExposition(metrics.text) : undefined;
    const series = families ? families.filter((f) => f.name.startsWith("speculation_")).length : 0;
    checks.push({
        check: `GET /metrics has more than ${MIN_SPECULATION_SERIES} speculation_* series`,
        ok: series > MIN_SPECULATION_SERIES,
        observed: families ? `${series} series` : `no answer (${metrics.ok ? `HTTP ${metrics.status}` : metrics.why})`,
    });
    return checks;
}

/** Runs the smoke tests until all pass (ok) or the deadline comes (the last attempt's checks say what failed). */
export async function smokeUntilGreen(spec: SmokeSpec, log: (s: string) => void = () => undefined,
    sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms))): Promise<{ ok: boolean; attempts: number; checks: SmokeCheck[] }> {
    const deadline = Date.now() + spec.deadlineSeconds * 1000;
    let attempts = 0;
    for (;;) {
        attempts++;
        const checks = await smokeOnce(spec);
        const failing = checks.filter((c) => !c.ok);
        log(`[smoke] ${spec.url} attempt ${attempts}: ${failing.length === 0 ? "all green" : failing.map((c) => `${c.check}: ${c.observed}`).join("; ")}`);
        if (failing.length === 0) return { ok: true, attempts, checks };
        if (Date.now() + spec.pollSeconds * 1000 > deadline) return { ok: false, attempts, checks };
        await sleep(spec.pollSeconds * 1000);
    }
}
