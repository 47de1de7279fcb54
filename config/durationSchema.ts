/**
 * The zod schemas of duration keys (config/duration.ts holds the notation and stays free of dependencies).  Every
 * interval, timeout and deadline is a `positiveDuration`: 0s would spin, never wait, or give up at once.  Plain
 * `duration` (0s allowed) is only for a wait whose 0 means "no wait" (the node rollout's grace and pause), and
 * `durationAtLeast` for a key whose consumer has a larger minimum of its own.
 *
 * `{ timer: true }` marks a key the program waits on with one Node timer (setTimeout, AbortSignal.timeout): Node ends
 * a wait longer than 2^31 − 1 ms at once (TimeoutOverflowWarning), so a poll interval of 25d would poll every
 * millisecond and a bench timeout of 25d would kill the bench at start.  Such keys are refused above TIMER_MAX_SECONDS.
 */
import { z } from "zod";
import { formatDuration, isDuration, parseDuration } from "./duration";

/** The longest wait one Node timer keeps: 2^31 − 1 ms, in whole seconds (24d20h31m23s). */
export const TIMER_MAX_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

export interface DurationOptions {
    /** The program waits on this key with one Node timer: refused above TIMER_MAX_SECONDS. */
    timer?: boolean;
}

const checked = (what: string, problem: (seconds: number) => string | undefined) =>
    z.string({ error: `must be a duration string such as 30s, 15m or 4h (${what})` }).superRefine((text, ctx) => {
        if (!isDuration(text)) {
            ctx.addIssue({ code: "custom", message: `must be a duration such as 30s, 15m or 4h (${what})` });
            return;
        }
        const message = problem(parseDuration(text));
        if (message) ctx.addIssue({ code: "custom", message });
    });

const timerProblem = (what: string, seconds: number, options: DurationOptions) =>
    options.timer && seconds > TIMER_MAX_SECONDS
        ? `must be at most ${formatDuration(TIMER_MAX_SECONDS)} (${what}): a Node timer ends a longer wait at once (2^31 − 1 ms)`
        : undefined;

/** A duration that may be 0s (a wait that may be skipped). */
export const duration = (what: string, options: DurationOptions = {}) =>
    checked(what, (seconds) => timerProblem(what, seconds, options));

/** A duration of at least `minSeconds`; `why` says who needs it (appended to the message). */
export const durationAtLeast = (what: string, minSeconds: number, why: string, options: DurationOptions = {}) =>
    checked(what, (seconds) => seconds < minSeconds
        ? `must be at least ${formatDuration(minSeconds)} (${what}): ${why}`
        : timerProblem(what, seconds, options));

/** A duration that must not be zero: an interval, timeout or deadline of 0s would spin, never wait, or give up at once. */
export const positiveDuration = (what: string, options: DurationOptions = {}) =>
    checked(what, (seconds) => seconds <= 0 ? `must be longer than 0s (${what})` : timerProblem(what, seconds, options));
