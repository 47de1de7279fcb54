/**
 * The SLO as the rules, gates and dashboard use it, resolved once from `speculation:slo` (config/slo.ts) and the shift
 * mode.  Pure.
 *
 * The SLI: the share of the service's operations that did not fail, `speculation_errors_total` over
 * `speculation_operations_total` — the counters every gate's error rate already reads.  Rolled-back speculative
 * branches are not errors (speculation_operations_total{result="rolled_back"} is the speculation working as designed;
 * the rollback rate has its own trigger), and the HTTP histogram counts the admin API, probes and scrapes, not the
 * service's work, so neither defines a good event.
 */
import { parseDuration } from "../../config/duration";
import { BURN_RATE_PAIRS, BurnRatePairName, SLI_WINDOWS, SLO_DEFAULTS } from "../../config/thresholds";

/** The service's counters the SLI is made of (reference/speculationService.ts exposes both, per pod). */
export const SLI_COUNTERS = { errors: "speculation_errors_total", operations: "speculation_operations_total" } as const;

export type ShiftModeName = "feature-flag" | "ingress-weight" | "blue-green";

/** One burn-rate pair in seconds. */
export interface BurnPair {
    name: BurnRatePairName;
    factor: number;
    longSeconds: number;
    shortSeconds: number;
    level: "page" | "ticket";
}

/** Everything the SLO's consumers read; plain data, so it travels as a provider input. */
export interface SloSpec {
    objective: number;
    /** 1 − objective: the share of operations allowed to fail. */
    budget: number;
    window: string;
    windowSeconds: number;
    /** The pair a stage is judged by. */
    gatePair: BurnPair;
    budgetFloor: number;
    /**
     * PromQL matcher of the release's track: `track="canary"` (ingress-weight), `track="green"` (blue-green), or ""
     * in feature-flag mode, where the whole service runs the release at the rollout percentage.
     */
    releaseTrack: string;
}

/** The release's track by shift mode (the Service label lib/monitoring/scrape.ts copies onto every series). */
export function releaseTrackMatcher(mode: ShiftModeName): string {
    return mode === "ingress-weight" ? 'track="canary"' : mode === "blue-green" ? 'track="green"' : "";
}

export function burnPair(name: BurnRatePairName): BurnPair {
    const p = BURN_RATE_PAIRS[name];
    if (!p) throw new Error(`unknown burn-rate pair "${name}"; allowed: ${Object.keys(BURN_RATE_PAIRS).join(", ")}`);
    return { name, factor: p.factor, longSeconds: parseDuration(p.long), shortSeconds: parseDuration(p.short), level: p.level };
}

/** The SLO from its config (defaults: SLO_DEFAULTS) and the shift mode. */
export function sloSpec(c: { objective?: number; window?: string; gatePair?: string; budgetFloor?: number } = {}, mode: ShiftModeName = "feature-flag"): SloSpec {
    const objective = c.objective ?? SLO_DEFAULTS.objective;
    const window = c.window ?? SLO_DEFAULTS.window;
    return {
        objective,
        budget: round(1 - objective),
        window,
        windowSeconds: parseDuration(window),
        gatePair: burnPair((c.gatePair ?? SLO_DEFAULTS.gatePair) as BurnRatePairName),
        budgetFloor: c.budgetFloor ?? SLO_DEFAULTS.budgetFloor,
        releaseTrack: releaseTrackMatcher(mode),
    };
}

/** Rounds away float noise (1 − 0.999 = 0.0010000000000000009). */
export const round = (x: number) => Number(x.toPrecision(12));

/** The recorded series (lib/monitoring/sloRules.ts) the alerts, gates and dashboard read. */
export const SLO_RECORDED = {
    /** Error ratio per track over a window: SLO_RECORDED.ratio("1h"). */
    ratio: (w: typeof SLI_WINDOWS[number]) => `speculation:slo_errors:ratio_rate${w}`,
    /** The whole service's error ratio over 5 m (every track, weighted by its traffic). */
    serviceRatio5m: "speculation:slo_errors:service_ratio_rate5m",
    /** The share of the window's error budget left (1: untouched, 0: spent, below 0: the objective is breached). */
    budgetRemaining: "speculation:slo_error_budget:remaining_ratio",
} as const;

/** Every recorded series name of the SLO (the guard's bound counts an alert on one as reading a recorded series). */
export const SLO_RECORDED_NAMES: string[] = [...SLI_WINDOWS.map(SLO_RECORDED.ratio), SLO_RECORDED.serviceRatio5m, SLO_RECORDED.budgetRemaining];

/** `{track="canary"}` or "" for a selector built from a matcher. */
export const selector = (matcher: string) => (matcher ? `{${matcher}}` : "");
