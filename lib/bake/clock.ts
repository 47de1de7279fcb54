/**
 * Whose "now" a bake window is judged at (issue 24: clock skew between the deployer and Prometheus).  A window is
 * [shiftedAt, now], read from Prometheus's history; if `now` comes from this machine's clock and that clock is off,
 * the window is wrong: behind, its last seconds — where a fault that just started shows — are never read; ahead, the
 * bake seems to have elapsed before it has, and the end of the window is a stretch with no data yet.
 *
 * So before a window is judged, this machine's clock is measured against Prometheus's own (`time()` of an instant
 * query, lib/prometheus/client.ts readClock), and:
 *   within the tolerance  the window is judged at Prometheus's time (the end of the window is never this machine's);
 *   beyond it             the window is not judged: the promotion is refused, naming the skew and the tolerance,
 *                         and nothing changes (the stage keeps its traffic; the watchdog, which reads only
 *                         Prometheus's time, still guards it).  Refused, not failed: a skewed clock is the
 *                         deployer's fault, not the release's, and the next `up` judges the whole window from the
 *                         shift again.  Refused rather than worked around: the window's start may have been stamped
 *                         by this machine's clock (the HealthGate stamps it with Prometheus's time when it can read
 *                         it, this machine's otherwise), the preview's bake check reads this machine's clock, and
 *                         a clock that far off is a fault to fix, not to hide;
 *   unread                a failed read, as any unreadable history: a no-go (fail closed).
 * The skew is counted against this machine with the whole round trip of the request (its clock read somewhere
 * between sending and receiving): a slow answer can only make the check stricter.  Pure.
 */
import type { Measured } from "../prometheus/read";
import type { ClockReading } from "../prometheus/client";

export type { ClockReading };

/** How far this machine's clock may be from Prometheus's: one scrape step (the window's own resolution), at least 1 s. */
export function clockToleranceSeconds(stepSeconds: number): number {
    return Math.max(1, stepSeconds);
}

export type ClockJudgement =
    | { verdict: "ok"; nowMs: number; skewSeconds: number; uncertaintySeconds: number; toleranceSeconds: number }
    | { verdict: "skewed"; prometheusMs: number; skewSeconds: number; uncertaintySeconds: number; toleranceSeconds: number; reason: string }
    | { verdict: "unread"; toleranceSeconds: number; reason: string };

const sec = (s: number) => `${Math.abs(s).toFixed(s !== 0 && Math.abs(s) < 10 ? 3 : 1)} s`;

/** How this machine's clock reads against Prometheus's, in words: "600.0 s ahead of", "0.004 s behind". */
export function describeSkew(skewSeconds: number, uncertaintySeconds: number): string {
    const side = skewSeconds > 0 ? "ahead of" : skewSeconds < 0 ? "behind" : "level with";
    return `${skewSeconds === 0 ? "" : `${sec(skewSeconds)} `}${side} Prometheus's (±${sec(uncertaintySeconds)})`;
}

/** Judges one reading of Prometheus's clock (see the file comment). */
export function judgeClock(read: Measured<ClockReading>, toleranceSeconds: number): ClockJudgement {
    if (!read.ok) {
        return { verdict: "unread", toleranceSeconds, reason: `Prometheus's clock could not be read (${read.failure}: ${read.detail}), so the window's end is unknown` };
    }
    const r = read.value;
    // This machine's clock read between sentMs and receivedMs when Prometheus's read prometheusMs.
    const low = (r.sentMs - r.prometheusMs) / 1000;
    const high = (r.receivedMs - r.prometheusMs) / 1000;
    const skewSeconds = (low + high) / 2;
    const uncertaintySeconds = Math.max(0, (high - low) / 2);
    const worst = Math.max(Math.abs(low), Math.abs(high));
    if (worst <= toleranceSeconds) return { verdict: "ok", nowMs: r.prometheusMs, skewSeconds, uncertaintySeconds, toleranceSeconds };
    const behind = skewSeconds < 0;
    if (Math.abs(skewSeconds) <= toleranceSeconds) {
        return {
            verdict: "skewed", prometheusMs: r.prometheusMs, skewSeconds, uncertaintySeconds, toleranceSeconds,
            reason: `Prometheus answered too slowly (a round trip of ${sec(2 * uncertaintySeconds)}) to tell this machine's clock from its own within the ` +
                `${toleranceSeconds} s allowed (this machine reads ${describeSkew(skewSeconds, uncertaintySeconds)}), so the window's end is not known well enough. ` +
                "Run pulumi up again when Prometheus answers promptly",
        };
    }
    return {
        verdict: "skewed", prometheusMs: r.prometheusMs, skewSeconds, uncertaintySeconds, toleranceSeconds,
        reason: `this machine's clock is ${describeSkew(skewSeconds, uncertaintySeconds)}, more than the ${toleranceSeconds} s allowed ` +
            `(one scrape step, at least 1 s): a window computed from this machine's now would ${behind
                ? `end ${sec(skewSeconds)} early and never read its latest data`
                : `end ${sec(skewSeconds)} in Prometheus's future and count a bake that has not elapsed`}, ` +
            "and no window is judged on a clock that disagrees with Prometheus's by more than that. Set this machine's clock right (NTP) and run pulumi up again",
    };
}
