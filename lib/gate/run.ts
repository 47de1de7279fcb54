/**
 * The gate loop: measure every poll interval, fold the samples into the bake bookkeeping, stop on pass, fail or the
 * deadline, and (on failure with the revert action) put the rollout percentage back to 0 and confirm it took.
 * The clock is a parameter so the loop's own timing is explicit; the provider passes the real one.
 */
import { StageThresholds } from "../../config/thresholds";
import { readAdminStatus } from "../adminApi";
import { describeTrafficAfter, revertTraffic, RevertOptions, RevertRecord } from "../revert/revert";
import {
    advanceBake, BakeState, Reading, formatChecks, judgeReading, METRIC_CHECKS, MetricCheck, NoDataPolicy, requiredSamples, Sample, startBake,
} from "./decision";
import { DRIFT_START, driftChecks, DriftSettings, DriftState } from "../drift/check";
import { AlertSource, Counters, latencyBetween, measure, MeasureTarget, promQuery, PROMQL } from "./measure";
import { compareChecks, CompareSpec, CompareWindow, openWindow } from "./compare";
import { burnRate, gateWindows, SloReading, stageBudget, StageBudget } from "../slo/judge";
import { sloChecks } from "./slo";
import { SloSpec } from "../monitoring/slo";
import { readBudgetRemaining, readSlo } from "../slo/read";

export interface GateSpec {
    stage: string;
    percentage: number;
    version: string;
    serviceUrl: string;
    proofWorkerUrl?: string;
    prometheusUrl?: string;
    source: "metrics-endpoint" | "prometheus";
    adminToken: string;
    thresholds: StageThresholds;
    baselineErrorRate: number;
    bakeSeconds: number;
    pollSeconds: number;
    /** Counted from the start of the gate; includes the bake. */
    deadlineSeconds: number;
    timeoutMs: number;
    onFailure: "revert" | "fail";
    noData: Partial<Record<MetricCheck, NoDataPolicy>>;
    /** Feature-flag mode: the live rollout percentage must be the stage's own (a revert or an edit out of band is a no-go). */
    checkRolloutPercentage: boolean;
    /** How a revert retries (deadline, watchdog action, Alertmanager for the page): lib/revert. */
    revert?: RevertOptions;
    /** What a failure that does not revert leaves, and how the operator lowers it (the shift mode's own words). */
    leftAs?: string;
    /** Two tracks (ingress-weight, mirrored blue-green): serviceUrl is the canary, judged against this stable track. */
    compare?: CompareSpec;
    /** Where the critical alerts are read; any one firing is a no-go (seed 000).  The stack config requires one. */
    alerts?: AlertSource;
    /** CUSUM drift detection against the pre-shift baseline (seed 003); without it no drift check runs. */
    cusum?: DriftSettings;
    /** The pre-shift p95 operation latency (seconds), the latency CUSUM's reference. */
    baselineP95Seconds?: number;
    /** The SLO (lib/slo): each sample shows the release track's burn over the bake and the budget left. */
    slo?: SloSpec;
}

/**
 * What the gate keeps for the SLO's checks: when the bake started, and (metrics-endpoint source) every sample's
 * counters, so each window's counts are differences of two of them.
 */
export interface SloGateState {
    startedAt: number;
    history: { at: number; errors: number; operations: number }[];
    last?: SloReading;
}

/** The shortest window the gate asks Prometheus for: increase() needs a few scrapes in its range (as the canary judge). */
const MIN_PROMETHEUS_BURN_WINDOW_SECONDS = 60;

/** The SLO's reading at `now`: from Prometheus, or from the counters the gate scraped since the bake started. */
export async function sloReading(spec: GateSpec & { slo: SloSpec }, state: SloGateState, counters: Counters | undefined, now: number): Promise<SloReading> {
    const elapsed = (now - state.startedAt) / 1000;
    if (spec.source === "prometheus") {
        return readSlo(spec.prometheusUrl!, spec.slo, gateWindows(spec.slo.gatePair, elapsed, Math.max(MIN_PROMETHEUS_BURN_WINDOW_SECONDS, spec.pollSeconds)), spec.timeoutMs);
    }
    const windows = gateWindows(spec.slo.gatePair, elapsed, spec.pollSeconds);
    if (counters) state.history.push({ at: now, errors: counters.errors, operations: counters.operations });
    const h = state.history;
    const over = (seconds: number) => {
        if (!counters || h.length < 2) return { ok: false as const, failure: "stale" as const, detail: "no two scrapes of the counters yet" };
        const from = now - seconds * 1000;
        const base = [...h].reverse().find((p) => p.at <= from + 1) ?? h[0];
        const cur = h[h.length - 1];
        return burnRate({ errors: cur.errors - base.errors, operations: cur.operations - base.operations }, spec.slo);
    };
    return {
        windows, long: over(windows.longSeconds), short: over(windows.shortSeconds),
        ...(spec.prometheusUrl ? { budgetRemaining: await readBudgetRemaining(spec.prometheusUrl, spec.timeoutMs) } : {}),
        query: "Δspeculation_errors_total / Δspeculation_operations_total between scrapes, ÷ the budget",
    };
}

export interface Clock {
    now(): number;
    sleep(ms: number): Promise<void>;
}

export const REAL_CLOCK: Clock = {
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface SampleSummary {
    at: string;
    verdict: Sample["verdict"];
    notGreen: string[];
}

export interface DecisionRecord {
    stage: string;
    percentage: number;
    version: string;
    source: GateSpec["source"];
    startedAt: string;
    finishedAt: string;
    /** interrupted: the engine went away mid-gate (a killed `pulumi up`); the record says only what was sampled. */
    verdict: "pass" | "fail" | "interrupted";
    reason: string;
    requiredSamples: number;
    pollSeconds: number;
    bakeSeconds: number;
    baselineErrorRate: number;
    /** The most recent samples (at most SAMPLES_KEPT; the artifact file has them all). */
    samples: SampleSummary[];
    sampleCount: number;
    /** The sample that decided the verdict, with every check's query, observed value and threshold. */
    decisive: Sample;
    /** Every attempt of the revert (onFailure: revert), its status and, when unconfirmed, the alert. */
    revert?: RevertRecord;
    /** A failure without a revert: what traffic was left at, and how to lower it. */
    leftAs?: string;
    /** The error budget over the bake (the last sample's reading): burn rate, share of the window's budget spent, left. */
    slo?: StageBudget;
}

export const SAMPLES_KEPT = 50;

function summary(s: Sample): SampleSummary {
    return { at: s.at, verdict: s.verdict, notGreen: s.checks.filter((c) => c.verdict !== "pass").map((c) => `${c.check}: ${c.observed}`) };
}

function target(spec: GateSpec): MeasureTarget {
    return {
        serviceUrl: spec.serviceUrl,
        proofWorkerUrl: spec.proofWorkerUrl,
        prometheusUrl: spec.prometheusUrl,
        source: spec.source,
        timeoutMs: spec.timeoutMs,
        adminToken: spec.onFailure === "revert" ? spec.adminToken : undefined,
        // A sample older than three poll intervals (and at least the usual 60 s of a 15 s scrape) is stale.
        maxSampleAgeSeconds: Math.max(60, 3 * spec.pollSeconds),
        ...(spec.alerts ? { alerts: spec.alerts } : {}),
        ...(spec.cusum ? { sampleSeconds: spec.pollSeconds } : {}),
    };
}

export function noDataPolicies(spec: Pick<GateSpec, "noData">): Record<MetricCheck, NoDataPolicy> {
    return Object.fromEntries(METRIC_CHECKS.map((k) => [k, spec.noData[k] ?? "fail"])) as Record<MetricCheck, NoDataPolicy>;
}

/** One judged sample: the probes and metrics, plus the live rollout percentage in feature-flag mode. */
export async function takeSample(spec: GateSpec, previous: Counters | undefined, clock: Clock, window?: CompareWindow,
    drift: DriftState = DRIFT_START, slo?: SloGateState): Promise<{ sample: Sample; counters?: Counters; drift: DriftState }> {
    const { reading, counters } = await measure(target(spec), previous, () => new Date(clock.now()));
    const sample = judgeReading(reading, {
        thresholds: spec.thresholds, baselineErrorRate: spec.baselineErrorRate, noData: noDataPolicies(spec), expectedVersion: spec.version,
    });
    if (spec.compare && window) {
        sample.checks.push(...await compareChecks({ ...spec, compare: spec.compare }, window, clock.now()));
        sample.verdict = sample.checks.some((c) => c.verdict === "fail") ? "fail" : sample.checks.some((c) => c.verdict === "hold") ? "hold" : "pass";
    }
    if (spec.cusum) {
        const folded = driftChecks(drift, reading.sample, { errorRate: spec.baselineErrorRate, p95Seconds: spec.baselineP95Seconds }, spec.cusum);
        drift = folded.state;
        sample.checks.push(...folded.checks);
        if (folded.checks.some((c) => c.verdict === "fail")) sample.verdict = "fail";
    }
    if (spec.slo && slo) {
        slo.last = await sloReading({ ...spec, slo: spec.slo }, slo, counters, clock.now());
        sample.checks.push(...sloChecks(spec.slo, slo.last, "hold"));
        sample.verdict = sample.checks.some((c) => c.verdict === "fail") ? "fail" : sample.checks.some((c) => c.verdict === "hold") ? "hold" : "pass";
    }
    if (spec.checkRolloutPercentage) {
        const check = { check: "rollout percentage", query: "GET /admin/status", threshold: `= ${spec.percentage}` };
        try {
            const status = await readAdminStatus(spec.serviceUrl, spec.timeoutMs);
            const ok = status.rolloutPercentage === spec.percentage && status.enabled;
            sample.checks.unshift({
                ...check, observed: `${status.rolloutPercentage}${status.enabled ? "" : " (speculation disabled)"}`, verdict: ok ? "pass" : "fail",
                ...(ok ? {} : { reason: "the live percentage is not this stage's (reverted or changed out of band: run `pulumi refresh`, then `pulumi up`)" }),
            });
        } catch (e) {
            sample.checks.unshift({ ...check, observed: "no answer", verdict: "fail", reason: (e as Error).message });
        }
        if (sample.checks[0].verdict === "fail") sample.verdict = "fail";
    }
    return { sample, counters, drift };
}

/**
 * Runs the gate to a verdict. Never throws for a no-go: the record says why.  `interrupt` is asked before each
 * sample: once it names a reason (the engine is gone), the gate stops there with verdict `interrupted`, reverts
 * nothing (a green stage is not undone because a terminal closed; the watchdog guards it) and claims nothing more
 * than the samples it took.
 */
export async function runGate(spec: GateSpec, clock: Clock = REAL_CLOCK, onSample?: (s: Sample, b: BakeState) => void,
    interrupt: () => string | undefined = () => undefined): Promise<{ record: DecisionRecord; all: Sample[] }> {
    const started = clock.now();
    const deadline = started + spec.deadlineSeconds * 1000;
    const required = requiredSamples(spec.bakeSeconds, spec.pollSeconds);
    let bake = startBake(required);
    const all: Sample[] = [];
    // The error rate over the metrics endpoint is a difference of counters, so the first scrape only primes them.
    let counters: Counters | undefined;
    if (spec.source === "metrics-endpoint") counters = (await measure(target(spec), undefined)).counters;
    const slo: SloGateState | undefined = spec.slo
        ? { startedAt: clock.now(), history: counters ? [{ at: clock.now(), errors: counters.errors, operations: counters.operations }] : [] }
        : undefined;
    const window = spec.compare ? await openWindow({ ...spec, compare: spec.compare }, clock.now()) : undefined;
    let last: Sample | undefined;
    let drift = DRIFT_START;
    let interrupted: string | undefined;
    while (bake.status === "baking") {
        const wait = Math.min(spec.pollSeconds * 1000, Math.max(0, deadline - clock.now()));
        await clock.sleep(wait);
        interrupted = interrupt();
        if (interrupted) break;
        const taken = await takeSample(spec, counters, clock, window, drift, slo);
        counters = taken.counters ?? counters;
        drift = taken.drift;
        last = taken.sample;
        all.push(last);
        bake = advanceBake(bake, last, clock.now() >= deadline);
        onSample?.(last, bake);
    }
    const record: DecisionRecord = {
        stage: spec.stage,
        percentage: spec.percentage,
        version: spec.version,
        source: spec.source,
        startedAt: new Date(started).toISOString(),
        finishedAt: new Date(clock.now()).toISOString(),
        verdict: interrupted ? "interrupted" : bake.status === "passed" ? "pass" : "fail",
        reason: interrupted
            ? `interrupted after ${all.length} sample(s) (${bake.consecutivePasses} of ${required} consecutive green): ${interrupted}; nothing reverted, the stage's traffic is as it was`
            : bake.reason ?? "",
        requiredSamples: required,
        pollSeconds: spec.pollSeconds,
        bakeSeconds: spec.bakeSeconds,
        baselineErrorRate: spec.baselineErrorRate,
        samples: all.slice(-SAMPLES_KEPT).map(summary),
        sampleCount: all.length,
        decisive: bake.decisive ?? last ?? { at: new Date(clock.now()).toISOString(), verdict: "hold", checks: [] },
    };
    const budget = spec.slo && slo?.last ? stageBudget(spec.slo, slo.last) : undefined;
    if (budget) record.slo = budget;
    if (record.verdict === "fail" && spec.onFailure === "revert") {
        record.revert = await revertTraffic({
            ...spec.revert, stage: spec.stage, percentage: spec.percentage, version: spec.version, serviceUrl: spec.serviceUrl,
            adminToken: spec.adminToken, reason: record.reason, timeoutMs: spec.timeoutMs,
        }, clock);
    } else if (record.verdict === "fail" && spec.leftAs) {
        record.leftAs = spec.leftAs;
    }
    return { record, all };
}

/** The message a failed gate fails `pulumi up` with. */
export function failureMessage(record: DecisionRecord, artifact?: string): string {
    const revert = describeTrafficAfter(record.revert, record.leftAs);
    return [
        `health gate ${record.stage} (${record.percentage} %, ${record.version}) failed after ${record.sampleCount} sample(s): ${record.reason}`,
        revert,
        formatChecks(record.decisive),
        ...(artifact ? [`decision record: ${artifact}`] : []),
    ].join("\n");
}

/**
 * The error rate before the shift, which the spike check compares against.  Measured over one window; a reading
 * that fails (or a service with no traffic) is an error, so the stage never shifts without a baseline.
 */
export async function captureBaseline(spec: Pick<GateSpec, "serviceUrl" | "prometheusUrl" | "source" | "timeoutMs"> & { proofWorkerUrl?: string }, windowSeconds: number,
    clock: Clock = REAL_CLOCK): Promise<BaselineReading> {
    if (spec.source === "prometheus") {
        const maxAge = Math.max(60, 3 * windowSeconds);
        const m = await promQuery(spec.prometheusUrl!, PROMQL.errorRate, spec.timeoutMs, maxAge);
        if (!m.ok) throw new Error(`cannot capture the error-rate baseline (${m.failure}): ${m.detail}`);
        const p95 = await promQuery(spec.prometheusUrl!, BASELINE_P95_PROMQL, spec.timeoutMs, maxAge);
        return {
            errorRate: m.value, measuredAt: new Date(clock.now()).toISOString(), query: PROMQL.errorRate,
            ...(p95.ok && Number.isFinite(p95.value) && p95.value > 0 ? { p95Seconds: p95.value } : {}),
        };
    }
    const t: MeasureTarget = { serviceUrl: spec.serviceUrl, proofWorkerUrl: spec.proofWorkerUrl, source: "metrics-endpoint", timeoutMs: spec.timeoutMs, maxSampleAgeSeconds: 60 };
    const first = await measure(t, undefined);
    if (!first.counters) {
        const f = first.reading.metrics.errorRate;
        throw new Error(`cannot capture the error-rate baseline (${f.ok ? "no counters" : `${f.failure}: ${f.detail}`})`);
    }
    await clock.sleep(windowSeconds * 1000);
    const second = await measure(t, first.counters);
    const m = second.reading.metrics.errorRate;
    if (!m.ok) throw new Error(`cannot capture the error-rate baseline (${m.failure}: ${m.detail})`);
    const q = second.counters?.latency ? latencyBetween(first.counters.latency, second.counters.latency) : undefined;
    return {
        errorRate: m.value, measuredAt: new Date(clock.now()).toISOString(), query: "Δspeculation_errors_total / Δspeculation_operations_total",
        ...(q?.ok && q.value.p95 > 0 ? { p95Seconds: q.value.p95 } : {}),
        reading: second.reading,
    };
}

/** What a baseline capture measured: the error rate (and p95) the gate compares against, and the reading itself. */
export interface BaselineReading {
    errorRate: number;
    measuredAt: string;
    query: string;
    /** The p95 operation latency before the shift, seconds (the latency CUSUM's reference), when it could be read. */
    p95Seconds?: number;
    /** Metrics-endpoint source: the full second reading, which the pre-shift health check judges. */
    reading?: Reading;
}

/** The p95 operation latency over 5 m, the latency CUSUM's pre-shift reference (Prometheus source). */
export const BASELINE_P95_PROMQL = "histogram_quantile(0.95, sum by (le) (rate(speculation_operation_duration_seconds_bucket[5m])))";
