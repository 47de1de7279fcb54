/**
 * The go/no-go table (SPEC §2): the ONE place these numbers live.  Health gates, bench gates, alert rules,
 * dashboards, the CrossGuard pack and the README all read them from here (directly or through the stack config,
 * whose defaults are these values and which may only tighten them).
 */
export const GO_NO_GO = {
    /** Rollback rate below which a canary step may be promoted (000). */
    promoteMaxRollbackRate: 0.05,
    /** Error rate below which a canary step may be promoted (000, 003). */
    promoteMaxErrorRate: 0.01,
    /** Rollback rate that aborts the rollout and reverts traffic (000: > 15 % sustained). */
    abortRollbackRate: 0.15,
    /** How long the abort rollback rate must hold before the alert fires (000: > 5 min). */
    abortRollbackSustainSeconds: 300,
    /** Error rate against the pre-deploy baseline that aborts (000: > 10 x). */
    abortErrorRateBaselineMultiple: 10,
    /** Generic canary failure: absolute error rate that aborts (002). */
    abortErrorRate: 0.1,
    /** How long the absolute abort error rate must hold before the watchdog reverts between `up`s (SpeculationErrorRateAbort). */
    abortErrorRateForSeconds: 60,
    /** Largest proof queue allowed (000: max 2000). */
    maxProofQueueSize: 2000,
    /** Pending speculative operations below which a full rollback may proceed (000). */
    maxPendingOperationsForRollback: 10,
    /** Memory use, percent of the limit, that counts as critical (warning at 80 %, 000 shows 45 % as ok). */
    memoryCriticalPercent: 90,
    memoryWarningPercent: 80,
    /** Bench: p95 latency at most this multiple of the accepted baseline (003). */
    benchMaxP95BaselineMultiple: 1.1,
    /** Tail latency: p99 / p95 at most this, in the bench and in every gate (003: roll back on p99 > 2 × p95 sustained). */
    maxTailRatio: 2.0,
    /** Bench: throughput floor in operations per second (004: 50 K/s testnet). */
    benchMinThroughputPerSecond: 50_000,
    /** Operation p99 latency, seconds, below which a canary step may be promoted (001: p99 < 1 s). */
    promoteMaxP99Seconds: 1,
    /** API p99 latency alert, seconds, held for apiLatencyForSeconds (001). */
    apiLatencyP99Seconds: 1,
    apiLatencyForSeconds: 300,
    /** Paging: error rate and p99 latency (003). */
    pageErrorRate: 0.01,
    pageP99Seconds: 5,
    /** Stake-pool balance, SOL, below which a production release does not start (000). */
    minStakePoolSol: 100,
    /** Seed 000's smoke test 2: more than this many `speculation_*` lines on /metrics. */
    smokeMinSpeculationMetrics: 10,
    /** Sentinel probe success ratio (003). */
    sentinelProbeSuccess: 0.95,
    /** Canary judge: the canary's error rate may exceed stable's by at most this (absolute) over the same window. */
    canaryErrorRateMargin: 0.005,
    /**
     * Canary judge: θ = P(a canary operation is slower than a stable one) may exceed ½ by at most this (Mann-Whitney on
     * the latency histograms; 0.1 allows the canary to be the slower one in 60 % of pairs).
     */
    canaryLatencyMargin: 0.1,
    /** Canary judge: fewer operations than this per track in the window is too little traffic (inconclusive). */
    canaryMinRequests: 500,
    /** The first canary step carries at most this share of traffic. */
    maxFirstStepPercentage: 10,
} as const;

export type GoNoGo = { -readonly [K in keyof typeof GO_NO_GO]: number };

/**
 * Thresholds a single canary stage is judged by.  Defaults come from GO_NO_GO; a stage may tighten them but the
 * schema refuses anything looser (see config/schema.ts), and so does the policy pack.
 */
export interface StageThresholds {
    maxRollbackRate: number;
    abortRollbackRate: number;
    maxErrorRate: number;
    abortErrorRate: number;
    maxErrorRateBaselineMultiple: number;
    maxProofQueueSize: number;
    maxMemoryPercent: number;
    /** Operation p99 latency (seconds): promote below, abort above abortP99LatencySeconds. */
    maxP99LatencySeconds: number;
    abortP99LatencySeconds: number;
    /** p99 / p95 of the operation latency: above it aborts (a tail that grows faster than the body). */
    maxTailRatio: number;
}

export const DEFAULT_STAGE_THRESHOLDS: StageThresholds = {
    maxRollbackRate: GO_NO_GO.promoteMaxRollbackRate,
    abortRollbackRate: GO_NO_GO.abortRollbackRate,
    maxErrorRate: GO_NO_GO.promoteMaxErrorRate,
    abortErrorRate: GO_NO_GO.abortErrorRate,
    maxErrorRateBaselineMultiple: GO_NO_GO.abortErrorRateBaselineMultiple,
    maxProofQueueSize: GO_NO_GO.maxProofQueueSize,
    maxMemoryPercent: GO_NO_GO.memoryCriticalPercent,
    maxP99LatencySeconds: GO_NO_GO.promoteMaxP99Seconds,
    abortP99LatencySeconds: GO_NO_GO.pageP99Seconds,
    maxTailRatio: GO_NO_GO.maxTailRatio,
};

/**
 * The metric checks of every health gate (live and window), each of which may declare what no data means
 * (`canary.gate.noDataByMetric`).  Here rather than in lib/gate so the config schema does not import from lib/.
 */
export const METRIC_CHECKS = [
    "rollbackRate", "errorRate", "errorRateVsBaseline", "proofQueue", "memoryPercent", "latencyP99", "latencyTailRatio",
] as const;
export type MetricCheck = typeof METRIC_CHECKS[number];

/**
 * CUSUM drift detection in the gates (seed 003; lib/drift/cusum.ts): the allowance k and decision interval h in
 * standard deviations, and the relative spread σᵣ one sample of p95 latency is expected to have.  k = 0.5, h = 5 is
 * Montgomery's textbook pair: an in-control average run length of about 465 samples, a 1σ shift caught in about 10.
 */
export const CUSUM_DEFAULTS = { k: 0.5, h: 5, latencySigma: 0.1 } as const;

/**
 * The error budget (issue 26; seed 001: "99.9 % uptime achieved in first week").  The SLI is the share of the service's
 * operations that did not fail (speculation_errors_total over speculation_operations_total, lib/monitoring/slo.ts SLI_COUNTERS); the
 * objective is its target over the window, the budget is 1 − objective.  `gatePair` names the burn-rate pair a stage
 * is judged by (BURN_RATE_PAIRS); below `budgetFloor` of the window's budget left, no stage advances.
 */
export const SLO_DEFAULTS = { objective: 0.999, window: "7d", gatePair: "6x", budgetFloor: 0.5 } as const;
/**
 * The lowest and highest objective and budget floor any stack may set (config/slo.ts's schema) and the policy pack's
 * slo-bounds allows by default (policy/policies.ts); production's are narrower (PRODUCTION_RULES).
 */
export const SLO_OBJECTIVE_RANGE = { min: 0.9, max: 0.99999 } as const;
export const SLO_BUDGET_FLOOR_RANGE = { min: 0, max: 1 } as const;
/** The windows an objective may be measured over: the seed's first week, or four weeks. */
export const SLO_WINDOWS = ["7d", "28d"] as const;
/** The error-ratio windows the SLO's recording rules keep (the workbook's alert windows). */
export const SLI_WINDOWS = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"] as const;

/**
 * The Google SRE Workbook's multiwindow, multi-burn-rate alerts ("Alerting on SLOs", table 5-8): each pair fires when
 * the error ratio over both its long and its short window exceeds `factor` × the budget.  The short window is 1/12 of
 * the long one in every pair; it makes an alert reset soon after a burn stops.  Page: 14.4× and 6×; ticket: 3× and 1×.
 */
export const BURN_RATE_PAIRS = {
    "14.4x": { factor: 14.4, long: "1h", short: "5m", level: "page" },
    "6x": { factor: 6, long: "6h", short: "30m", level: "page" },
    "3x": { factor: 3, long: "1d", short: "2h", level: "ticket" },
    "1x": { factor: 1, long: "3d", short: "6h", level: "ticket" },
} as const;
export type BurnRatePairName = keyof typeof BURN_RATE_PAIRS;
export const BURN_RATE_PAIR_NAMES = Object.keys(BURN_RATE_PAIRS) as BurnRatePairName[];

/** For each stage threshold, which direction is "looser": all of them are upper bounds. */
export const STAGE_THRESHOLD_KEYS = Object.keys(DEFAULT_STAGE_THRESHOLDS) as (keyof StageThresholds)[];

/**
 * The guard between `up`s: the longest worst-case time from a rollback condition to 0 % confirmed (lib/guard/bound.ts)
 * a stack accepts, by default (7 min).  The one source of two defaults: the stack's own limit
 * (`speculation:watchdog.maxGuardBound`, which a production stack's config load holds its bound to) and the policy
 * pack's ceiling on that limit (guard-bound `maxGuardBoundSeconds`).  Raising the limit takes both: the stack's key, and
 * the pack's ceiling where the pack is mandatory.
 */
export const GUARD_BOUND_LIMIT_SECONDS = 420;

/**
 * Rules only production has.  The schema refuses a production stack that breaks one before anything is registered;
 * the policy pack (policy/config/production.json, kept equal by test/config) checks them again on the resources.
 */
export const PRODUCTION_RULES = {
    /** proof-workers-min-replicas */
    minProofWorkerReplicas: 4,
    /** gate-thresholds: every stage bakes at least this long (seed 000's first stage: 4 h). */
    minBakeSeconds: 14_400,
    /** images-pinned: a sha256 digest on every image. */
    requireImageDigest: true,
    /** every-stage-gated: a final bench before stage 1. */
    requireBench: true,
    /** node-rollout-limits: no node may fail. */
    maxFailPercentage: 0,
    /** topology-spread: replicas spread over nodes with whenUnsatisfiable DoNotSchedule. */
    requireHardSpread: true,
    /** slo-bounds: the objective at least seed 001's 99.9 % and at most 99.99 % (a budget of 0.01 %: above it one error is a breach). */
    minSloObjective: 0.999,
    maxSloObjective: 0.9999,
    /** slo-bounds: the budget floor at least a quarter of the window's budget, and at most 90 % (1 would refuse every stage after one error). */
    minBudgetFloor: 0.25,
    maxBudgetFloor: 0.9,
} as const;
