/**
 * How a health gate judges a canary stage: pure functions, no I/O, so every rule has a table test.
 *
 * A sample is a set of checks; each check is pass, hold or fail:
 *   pass  the check is green;
 *   hold  not green yet, but nothing says abort (a rollback rate between the promote and abort thresholds, a
 *         component that is not healthy, a service not ready yet, a metric with no data whose policy is "hold");
 *         the bake window starts again;
 *   fail  an abort threshold is crossed, or a reading failed (fail closed): the gate stops at once.
 * The gate passes after `requiredSamples` consecutive all-pass samples, one per poll interval, which together cover
 * the bake window; it fails on the first fail sample, or when the deadline comes before that.
 */
import { METRIC_CHECKS, MetricCheck, StageThresholds } from "../../config/thresholds";
import { ERROR_BASELINE_FLOOR } from "../monitoring/rules";
import type { CanaryJudgement } from "../judge/judge";
import type { Measured, ReadFailure } from "../prometheus/read";
import { formatTable } from "../table";

export type Verdict = "pass" | "hold" | "fail";

// What a reading is, and why one can fail: lib/prometheus/read.ts (the measurement side); re-exported for the judges.
export type { Measured, ReadFailure };

/** Failures that mean "no data" (a metric's no-data policy applies); the rest are always a no-go. */
export const NO_DATA_FAILURES: ReadFailure[] = ["missing-metric", "nan", "stale"];

export { METRIC_CHECKS };
export type { MetricCheck };
export type NoDataPolicy = "fail" | "hold";

/** One reading of everything the gate looks at. */
export interface Reading {
    at: string;
    health: Measured<{ status: string; version?: string }>;
    ready: Measured<boolean>;
    components: Measured<Record<string, string>>;
    proofWorkers?: Measured<string>;
    adminToken?: Measured<true>;
    metrics: Record<Exclude<MetricCheck, "errorRateVsBaseline">, Measured<number>>;
    /** The query or scrape each metric came from, for the failure message. */
    queries: Record<Exclude<MetricCheck, "errorRateVsBaseline">, string>;
    /** Critical alerts firing (their names), from Prometheus's ALERTS or Alertmanager's API; any one is a no-go. */
    criticalAlerts?: Measured<string[]>;
    criticalAlertsQuery?: string;
    /** This sample's own counts (since the previous one), for the CUSUM drift check; undefined when there are none. */
    sample?: { errors: number; operations: number; p95?: number };
}

export interface CheckResult {
    check: string;
    query: string;
    observed: string;
    threshold: string;
    verdict: Verdict;
    reason?: string;
    /** A hold because there is no data (the no-data policy said hold, or too few observations), not a bad value. */
    noData?: true;
}

/**
 * The canary judge's verdicts (lib/judge) as checks, one per metric: pass → pass, fail → fail, inconclusive → hold —
 * never a pass.  The live gate (lib/gate/compare.ts) and the bake window (lib/bake/window.ts) both read them this way.
 */
export function judgementChecks(j: CanaryJudgement, query: string): CheckResult[] {
    return j.metrics.map((m) => ({
        check: `canary vs stable: ${m.metric}`,
        query,
        observed: m.observed,
        threshold: m.threshold,
        verdict: m.verdict === "inconclusive" ? "hold" : m.verdict,
        ...(m.verdict === "pass" ? {} : { reason: m.verdict === "inconclusive" ? `inconclusive: ${m.reason}` : m.reason }),
    }));
}

export interface Sample {
    at: string;
    verdict: Verdict;
    checks: CheckResult[];
}

export interface GateLimits {
    thresholds: StageThresholds;
    /** Error rate measured before the shift; the spike check compares against it (floored, see rules.ts). */
    baselineErrorRate: number;
    noData: Record<MetricCheck, NoDataPolicy>;
    /** Version the stage expects /health to report; a mismatch holds (the rollout has not reached it). */
    expectedVersion?: string;
}

const worst = (verdicts: Verdict[]): Verdict =>
    verdicts.includes("fail") ? "fail" : verdicts.includes("hold") ? "hold" : "pass";

/** A reading as tables show it: integers as they are, others to four significant digits. */
export const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toPrecision(4).replace(/\.?0+$/, ""));

/** A metric with a promote limit (green at or below... strictly below) and an abort limit (fail above). */
export function checkMetric(check: MetricCheck, query: string, measured: Measured<number>, promoteBelow: number,
    abortAbove: number, noData: NoDataPolicy): CheckResult {
    const threshold = promoteBelow === abortAbove ? `≤ ${fmt(abortAbove)}` : `< ${fmt(promoteBelow)} to promote, > ${fmt(abortAbove)} aborts`;
    if (!measured.ok) {
        // Too little data is inconclusive whatever the policy: it holds (the deadline fails it), it never passes.
        if (measured.failure === "sparse") return { check, query, observed: "too few observations", threshold, verdict: "hold", reason: `inconclusive: ${measured.detail}`, noData: true };
        const isNoData = NO_DATA_FAILURES.includes(measured.failure);
        const verdict: Verdict = isNoData && noData === "hold" ? "hold" : "fail";
        return { check, query, observed: `no data (${measured.failure})`, threshold, verdict, reason: `${measured.failure}: ${measured.detail}`, ...(verdict === "hold" ? { noData: true as const } : {}) };
    }
    const v = measured.value;
    if (Number.isNaN(v)) {
        return noData === "hold"
            ? { check, query, observed: "NaN", threshold, verdict: "hold", reason: "nan: the metric is NaN", noData: true }
            : { check, query, observed: "NaN", threshold, verdict: "fail", reason: "nan: the metric is NaN" };
    }
    if (v > abortAbove) return { check, query, observed: fmt(v), threshold, verdict: "fail", reason: `above the abort threshold ${fmt(abortAbove)}` };
    if (promoteBelow !== abortAbove && v >= promoteBelow) {
        return { check, query, observed: fmt(v), threshold, verdict: "hold", reason: `not below the promote threshold ${fmt(promoteBelow)}` };
    }
    return { check, query, observed: fmt(v), threshold, verdict: "pass" };
}

/** The error-rate limit that counts as a spike: the baseline (floored) times the configured multiple. */
export function spikeLimit(baselineErrorRate: number, multiple: number): number {
    return Math.max(baselineErrorRate, ERROR_BASELINE_FLOOR) * multiple;
}

function checkProbe<T>(check: string, query: string, measured: Measured<T> | undefined, green: (v: T) => boolean,
    show: (v: T) => string, expected: string): CheckResult | undefined {
    if (!measured) return undefined;
    if (!measured.ok) return { check, query, observed: `no answer (${measured.failure})`, threshold: expected, verdict: "fail", reason: `${measured.failure}: ${measured.detail}` };
    const ok = green(measured.value);
    return { check, query, observed: show(measured.value), threshold: expected, verdict: ok ? "pass" : "hold", ...(ok ? {} : { reason: `expected ${expected}` }) };
}

/** Seed 000: any critical alert firing is a rollback.  An answer that cannot be read is a no-go too (fail closed). */
export function checkCriticalAlerts(alerts: Measured<string[]>, query: string): CheckResult {
    const check = "critical alerts";
    const threshold = "none firing";
    if (!alerts.ok) return { check, query, observed: `no answer (${alerts.failure})`, threshold, verdict: "fail", reason: `${alerts.failure}: ${alerts.detail}` };
    if (alerts.value.length === 0) return { check, query, observed: "none", threshold, verdict: "pass" };
    const names = [...new Set(alerts.value)].sort();
    return { check, query, observed: names.join(", "), threshold, verdict: "fail", reason: `critical alert firing: ${names.join(", ")}` };
}

export function checkReading(reading: Reading, limits: GateLimits): Sample {
    const t = limits.thresholds;
    const q = reading.queries;
    const checks: CheckResult[] = [];
    const push = (c: CheckResult | undefined) => { if (c) checks.push(c); };
    push(checkProbe("admin-token", "GET /admin/config (bearer)", reading.adminToken, () => true, () => "accepted", "accepted"));
    push(checkProbe("health", "GET /health", reading.health,
        (h) => h.status === "healthy" && (!limits.expectedVersion || h.version === limits.expectedVersion),
        (h) => `${h.status}${h.version ? ` ${h.version}` : ""}`, `healthy${limits.expectedVersion ? ` ${limits.expectedVersion}` : ""}`));
    push(checkProbe("ready", "GET /ready", reading.ready, (r) => r, String, "true"));
    if (reading.components.ok) {
        for (const [name, status] of Object.entries(reading.components.value)) {
            push(checkProbe(`component ${name}`, "GET /health/detailed", { ok: true, value: status }, (s) => s === "healthy", String, "healthy"));
        }
    } else {
        push(checkProbe("components", "GET /health/detailed", reading.components, () => true, String, "all healthy"));
    }
    push(checkProbe("proof workers", "GET proof-worker /health", reading.proofWorkers, (s) => s === "healthy", String, "healthy"));

    const m = reading.metrics;
    checks.push(checkMetric("rollbackRate", q.rollbackRate, m.rollbackRate, t.maxRollbackRate, t.abortRollbackRate, limits.noData.rollbackRate));
    checks.push(checkMetric("errorRate", q.errorRate, m.errorRate, t.maxErrorRate, t.abortErrorRate, limits.noData.errorRate));
    const spike = spikeLimit(limits.baselineErrorRate, t.maxErrorRateBaselineMultiple);
    checks.push(checkMetric("errorRateVsBaseline", `${q.errorRate} vs baseline ${fmt(limits.baselineErrorRate)}`, m.errorRate,
        spike, spike, limits.noData.errorRateVsBaseline));
    checks.push(checkMetric("proofQueue", q.proofQueue, m.proofQueue, t.maxProofQueueSize, t.maxProofQueueSize, limits.noData.proofQueue));
    checks.push(checkMetric("memoryPercent", q.memoryPercent, m.memoryPercent, t.maxMemoryPercent, t.maxMemoryPercent, limits.noData.memoryPercent));
    checks.push(checkMetric("latencyP99", q.latencyP99, m.latencyP99, t.maxP99LatencySeconds, t.abortP99LatencySeconds, limits.noData.latencyP99));
    checks.push(checkMetric("latencyTailRatio", q.latencyTailRatio, m.latencyTailRatio, t.maxTailRatio, t.maxTailRatio, limits.noData.latencyTailRatio));
    if (reading.criticalAlerts) checks.push(checkCriticalAlerts(reading.criticalAlerts, reading.criticalAlertsQuery ?? "critical alerts"));
    return { at: reading.at, verdict: worst(checks.map((c) => c.verdict)), checks };
}

/** The name checkReading had: lib/gate/run.ts still imports it.  @deprecated Use checkReading. */
export const judgeReading = checkReading;

/** How many consecutive green samples, one per poll interval, cover the bake window. */
export function requiredSamples(bakeSeconds: number, pollSeconds: number): number {
    if (!(pollSeconds > 0)) throw new Error("pollSeconds must be greater than 0");
    return Math.max(1, Math.ceil(bakeSeconds / pollSeconds - 1e-9));
}

export type GateStatus = "baking" | "passed" | "failed";

export interface BakeState {
    status: GateStatus;
    consecutivePasses: number;
    required: number;
    samples: number;
    reason?: string;
    /** The sample that decided a failure (or the last one at the deadline). */
    decisive?: Sample;
}

export function startBake(required: number): BakeState {
    return { status: "baking", consecutivePasses: 0, required, samples: 0 };
}

/** Folds one sample into the bake bookkeeping. `pastDeadline` says the deadline has come with this sample. */
export function advanceBake(state: BakeState, sample: Sample, pastDeadline: boolean): BakeState {
    if (state.status !== "baking") return state;
    const samples = state.samples + 1;
    if (sample.verdict === "fail") {
        const failed = sample.checks.filter((c) => c.verdict === "fail").map((c) => `${c.check} (${c.reason})`);
        return { ...state, samples, status: "failed", consecutivePasses: 0, reason: `no-go: ${failed.join("; ")}`, decisive: sample };
    }
    const consecutivePasses = sample.verdict === "pass" ? state.consecutivePasses + 1 : 0;
    if (consecutivePasses >= state.required) return { ...state, samples, consecutivePasses, status: "passed", reason: `${consecutivePasses} consecutive green samples` };
    if (pastDeadline) {
        const holding = sample.checks.filter((c) => c.verdict === "hold").map((c) => `${c.check} (${c.reason})`);
        return {
            ...state, samples, consecutivePasses, status: "failed", decisive: sample,
            reason: `deadline: ${consecutivePasses} of ${state.required} consecutive green samples when the deadline came` +
                (holding.length ? `; not green: ${holding.join("; ")}` : ""),
        };
    }
    return { ...state, samples, consecutivePasses };
}

/** Error rate between two counter readings; no advance means no data (stale), never a zero error rate. */
export function errorRateBetween(prev: { errors: number; operations: number } | undefined,
    cur: { errors: number; operations: number }): Measured<number> {
    if (!prev) return { ok: false, failure: "stale", detail: "no earlier scrape to compare with" };
    const ops = cur.operations - prev.operations;
    const errors = cur.errors - prev.errors;
    if (ops < 0 || errors < 0) return { ok: false, failure: "stale", detail: "counters went backwards (the service restarted)" };
    if (ops === 0) return { ok: false, failure: "stale", detail: "speculation_operations_total did not advance between samples" };
    return { ok: true, value: errors / ops };
}

/** The table a failed gate prints: one row per check of the decisive sample. */
export function formatChecks(sample: Sample): string {
    return formatTable([["check", "query", "observed", "threshold", "verdict"],
        ...sample.checks.map((c) => [c.check, c.query, c.observed, c.threshold, c.verdict.toUpperCase()])]);
}
