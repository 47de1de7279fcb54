/**
 * The SLO's reads from Prometheus (lib/slo decides): the release's track's errors and operations over a stage's two
 * burn windows, and the recorded share of the budget left.  Every failure is a named ReadFailure.
 */
import { selector, SLI_COUNTERS, SLO_RECORDED, SloSpec } from "../monitoring/slo";
import type { BurnWindows, Counts, SloReading } from "./judge";
import { burnRate } from "./judge";
import { instantVector, queryValue } from "../prometheus/client";
import { fail, Measured } from "../prometheus/read";

/** The PromQL of one window's counts on the release's track. */
export function burnQueries(s: Pick<SloSpec, "releaseTrack">, seconds: number) {
    const w = `[${Math.max(1, Math.round(seconds))}s]`;
    const sel = selector(s.releaseTrack);
    return {
        errors: `sum(increase(${SLI_COUNTERS.errors}${sel}${w}))`,
        operations: `sum(increase(${SLI_COUNTERS.operations}${sel}${w}))`,
    };
}

async function countsOver(prometheusUrl: string, s: SloSpec, seconds: number, timeoutMs: number, atMs?: number): Promise<Measured<Counts>> {
    const q = burnQueries(s, seconds);
    const [e, o] = await Promise.all([q.errors, q.operations].map((expr) => instantVector(prometheusUrl, expr, timeoutMs, { ...(atMs !== undefined ? { atMs } : {}) })));
    if (!e.ok) return e;
    if (!o.ok) return o;
    if (o.value.length === 0) return fail("missing-metric", `${q.operations}: no series`);
    return { ok: true, value: { errors: e.value[0]?.value ?? 0, operations: o.value[0].value } };
}

/** The stage's burn over both windows ending at `atMs` (default now), and the budget left at that instant. */
export async function readSlo(prometheusUrl: string, s: SloSpec, windows: BurnWindows, timeoutMs: number, atMs?: number): Promise<SloReading> {
    const [long, short, budgetRemaining] = await Promise.all([
        countsOver(prometheusUrl, s, windows.longSeconds, timeoutMs, atMs),
        countsOver(prometheusUrl, s, windows.shortSeconds, timeoutMs, atMs),
        // At the windows' end too: a window judged after the fact reads the budget as it was when the bake ended.
        readBudgetRemaining(prometheusUrl, timeoutMs, atMs),
    ]);
    const q = burnQueries(s, windows.longSeconds);
    return {
        windows,
        long: long.ok ? burnRate(long.value, s) : long,
        short: short.ok ? burnRate(short.value, s) : short,
        budgetRemaining,
        query: `${q.errors} / ${q.operations} ÷ ${s.budget} (and over the short window)`,
    };
}

/** The recorded share of the window's budget the service has left (at `atMs`, default now). */
export function readBudgetRemaining(prometheusUrl: string, timeoutMs: number, atMs?: number): Promise<Measured<number>> {
    return queryValue(prometheusUrl, SLO_RECORDED.budgetRemaining, timeoutMs, SLO_RECORDED.budgetRemaining, atMs);
}
