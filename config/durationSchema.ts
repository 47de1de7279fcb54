/**
 * The zod schemas of duration keys (config/duration.ts holds the notation and stays free of dependencies).  Every
 * interval, timeout and deadline is a `positiveDuration`: 0s would spin, never wait, or give up at once.  Plain
 * `duration` (0s allowed) is only for a wait whose 0 means "no wait" (the node rollout's grace and pause), and
 * `durationAtLeast` for a key whose consumer has a larger minimum of its own.
 */
import { z } from "zod";
import { formatDuration, isDuration, parseDuration } from "./duration";

const notString = (what: string) => `must be a duration string such as 30s, 15m or 4h (${what})`;
const notDuration = (what: string) => `must be a duration such as 30s, 15m or 4h (${what})`;

/** A duration that may be 0s (a wait that may be skipped). */
export const duration = (what: string) =>
    z.string({ error: notString(what) }).refine(isDuration, { error: notDuration(what) });

/** A duration of at least `minSeconds`; `why` says who needs it (appended to the message). */
export const durationAtLeast = (what: string, minSeconds: number, why: string) =>
    z.string({ error: notString(what) }).superRefine((text, ctx) => {
        if (!isDuration(text)) ctx.addIssue({ code: "custom", message: notDuration(what) });
        else if (parseDuration(text) < minSeconds) ctx.addIssue({ code: "custom", message: `must be at least ${formatDuration(minSeconds)} (${what}): ${why}` });
    });

/** A duration that must not be zero: an interval, timeout or deadline of 0s would spin, never wait, or give up at once. */
export const positiveDuration = (what: string) =>
    z.string({ error: notString(what) }).superRefine((text, ctx) => {
        if (!isDuration(text)) ctx.addIssue({ code: "custom", message: notDuration(what) });
        else if (parseDuration(text) <= 0) ctx.addIssue({ code: "custom", message: `must be longer than 0s (${what})` });
    });
