/**
 * The sentinel probes' defaults and the alert rule's settings, without dependencies (lib/monitoring/rules.ts and the
 * policy pack read them; config/sentinel.ts holds the schema).
 */
import { GO_NO_GO } from "./thresholds";

/**
 * The fewest probes in a window for which one failed probe alone cannot put the ratio below the target
 * (1 / (1 − 0.95) = 20): a single unlucky probe never pulls the kill switch.
 */
export const SENTINEL_MIN_PROBES_DEFAULT = Math.round(1 / (1 - GO_NO_GO.sentinelProbeSuccess));

/** What the alert rule needs (lib/monitoring/rules.ts sentinelAlerts); the defaults are the config defaults. */
export interface SentinelAlertSettings {
    /** The window the success ratio is measured over, seconds. */
    windowSeconds: number;
    /** The fewest probes in the window before the ratio is judged at all. */
    minProbes: number;
}

export const SENTINEL_DEFAULTS = { interval: "1m", window: "1h", timeout: "10s", minProbes: SENTINEL_MIN_PROBES_DEFAULT } as const;

