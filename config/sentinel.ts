/**
 * The watchdog's sentinel probes (seed 003, issue 14): once the plan has reached 100 % the watchdog
 * (lib/watchdog/main.ts) runs seed 000's synthetic speculation every `interval`.  Prometheus judges the success
 * ratio over `window` against the go/no-go table's `sentinelProbeSuccess` (95 %) and, below it with at least
 * `minProbes` probes in the window, fires SpeculationSentinelFailing, which Alertmanager routes to the watchdog's
 * kill switch (speculation disabled and traffic at 0 %).  Key `speculation:watchdog.sentinel`.
 */
import { z } from "zod";
import { isDuration, parseDuration } from "./duration";
import { positiveDuration } from "./durationSchema";
import { SENTINEL_DEFAULTS, SentinelAlertSettings } from "./sentinelDefaults";

export { SENTINEL_DEFAULTS, SENTINEL_MIN_PROBES_DEFAULT, SentinelAlertSettings } from "./sentinelDefaults";

export const sentinelSchema = z.object({
    /** Probe once the plan has reached 100 % (false: never). */
    enabled: z.boolean({ error: "must be true or false" }).default(true),
    /** Time between two probes (each probe is one synthetic speculation: a POST and a GET). */
    interval: positiveDuration("time between two sentinel probes", { timer: true }).default(SENTINEL_DEFAULTS.interval),
    /** The success ratio is measured over this window. */
    window: positiveDuration("the window the sentinel success ratio is measured over").default(SENTINEL_DEFAULTS.window),
    /** Below this many probes in the window the ratio is not judged (too few to say anything). */
    minProbes: z.number({ error: "must be a whole number from 1 to 10000" }).int({ error: "must be a whole number from 1 to 10000" })
        .min(1, { error: "must be from 1 to 10000" }).max(10_000, { error: "must be from 1 to 10000" }).default(SENTINEL_DEFAULTS.minProbes),
    /** How long each of a probe's two requests may take before the probe fails (fail closed). */
    timeout: positiveDuration("longest wait for one sentinel request", { timer: true }).default(SENTINEL_DEFAULTS.timeout),
}).strict().superRefine((s, ctx) => {
    // A window or interval that is no duration, or 0s, is already refused on its own key.
    if (!isDuration(s.window) || !isDuration(s.interval) || parseDuration(s.window) <= 0 || parseDuration(s.interval) <= 0) return;
    const fits = Math.floor(parseDuration(s.window) / parseDuration(s.interval));
    if (fits < s.minProbes) {
        ctx.addIssue({
            code: "custom", path: ["window"],
            message: `holds only ${fits} probe(s) at interval ${s.interval}, fewer than minProbes (${s.minProbes}): the alert could never fire; ` +
                `make the window at least ${s.minProbes} × interval, shorten the interval, or lower minProbes`,
        });
    }
}).prefault({});

export type SentinelConfig = z.infer<typeof sentinelSchema>;

/** The rule's settings from the stack config (seconds and a count). */
export function sentinelAlertSettings(s: Pick<SentinelConfig, "window" | "minProbes">): SentinelAlertSettings {
    return { windowSeconds: parseDuration(s.window), minProbes: s.minProbes };
}
