/** Types of lib/watchdog/synthetic.js (plain Node, shared by the watchdog's sentinel probes and the smoke suite). */
export interface SyntheticTarget {
    /** The service's base URL (its admin API). */
    serviceUrl: string;
    /** The admin bearer token (a secret: sent, never reported). */
    adminToken: string;
    /** How long each of the two requests may take before the probe fails. */
    timeoutMs: number;
}

/** One synthetic speculation, judged: never throws; a request that fails or cannot be read is `ok: false`. */
export function syntheticSpeculation(target: SyntheticTarget): Promise<{ ok: boolean; observed: string }>;
