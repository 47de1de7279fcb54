/**
 * The error budget's arithmetic (issue 26): pure, so every rule has a table test.  The checks a gate makes of a
 * reading are lib/gate/slo.ts; reading the windows from Prometheus is ./read.ts.
 *
 * Burn rate = error ratio ÷ budget (1 − objective): 1× spends exactly the window's budget over the window.  A stage is
 * judged by its configured workbook pair (slo.gatePair, default 6×) over its bake: the long window is the bake so far
 * (at most the pair's long window), the short one its last twelfth (the pair's ratio).  Both above the factor: the
 * release's track is burning the budget too fast and the stage does not advance — the live gate holds (the bake
 * starts again, as for every promote threshold), the window judgement at the next `up` is a no-go.  Only the long
 * window above it: a burn that has stopped (a blip the budget absorbs) — the workbook's reset, a pass.
 * Budget left: the share of the window's budget the whole service has not spent (the recorded series, time-sliced);
 * below slo.budgetFloor no stage advances (a hold: nothing is reverted, since the budget may have gone before this release).
 */
import type { Measured } from "../prometheus/read";
import { BurnPair, round, SloSpec } from "../monitoring/slo";

/** The two windows a stage's burn is read over, seconds. */
export interface BurnWindows { longSeconds: number; shortSeconds: number }

/**
 * The windows after `elapsedSeconds` of bake: long = the bake so far, capped at the pair's long window; short = its
 * twelfth (the pair's ratio).  Neither below `minSeconds` (a poll, or the few scrapes a Prometheus increase() needs).
 */
export function gateWindows(pair: Pick<BurnPair, "longSeconds" | "shortSeconds">, elapsedSeconds: number, minSeconds: number): BurnWindows {
    const longSeconds = Math.max(minSeconds, Math.min(elapsedSeconds, pair.longSeconds));
    const shortSeconds = Math.min(longSeconds, Math.max(minSeconds, longSeconds * pair.shortSeconds / pair.longSeconds));
    return { longSeconds: round(longSeconds), shortSeconds: round(shortSeconds) };
}

export interface Counts { errors: number; operations: number }

/** Error ratio ÷ budget of a window's counts; a window without operations has no burn rate (stale). */
export function burnRate(c: Counts, s: Pick<SloSpec, "budget">): Measured<number> {
    if (!(c.operations > 0)) return { ok: false, failure: "stale", detail: "no operations in the window" };
    if (c.errors < 0) return { ok: false, failure: "stale", detail: "the error counter went backwards (a restart)" };
    return { ok: true, value: round(c.errors / c.operations / s.budget) };
}

/** What a gate read for the SLO at one moment. */
export interface SloReading {
    windows: BurnWindows;
    long: Measured<number>;
    short: Measured<number>;
    /** The share of the window's budget left (absent: not read, e.g. no Prometheus). */
    budgetRemaining?: Measured<number>;
    query: string;
}

/** The share of the window's budget a stage spent: its burn rate over its bake × the bake ÷ the window. */
export function budgetSpent(burn: number, seconds: number, windowSeconds: number): number {
    return round(burn * seconds / windowSeconds);
}

/** What a record and the stack outputs say about one stage's budget. */
export interface StageBudget {
    /** Burn rate of the release's track over the bake (the long window). */
    burnRate: number;
    overSeconds: number;
    /** Share of the window's budget the stage spent (burnRate × overSeconds ÷ window). */
    budgetSpent: number;
    /** Share of the window's budget the whole service had left when the stage was judged. */
    budgetRemaining?: number;
}

/** The stage's budget from a reading (undefined when the long window could not be read). */
export function stageBudget(s: SloSpec, r: SloReading): StageBudget | undefined {
    if (!r.long.ok) return undefined;
    return {
        burnRate: r.long.value, overSeconds: r.windows.longSeconds, budgetSpent: budgetSpent(r.long.value, r.windows.longSeconds, s.windowSeconds),
        ...(r.budgetRemaining?.ok ? { budgetRemaining: round(r.budgetRemaining.value) } : {}),
    };
}
