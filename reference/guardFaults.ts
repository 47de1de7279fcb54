/**
 * The guard between `up`s under fault, on real parts: the reference service and proof worker, Debian's Prometheus
 * evaluating the stack's rules, Debian's Alertmanager with the stack's routes, and the watchdog
 * (lib/watchdog/main.ts) — everything reference/localMonitoring.ts starts for the local stack, with the timings of a
 * guard plan (lib/guard/plan.ts).  No Pulumi process runs: this is the time between two `up`s.
 *
 * Each scenario starts a fresh loop (a young Prometheus, as after a restart), puts traffic at 10 %, injects its fault
 * and measures from the moment the rollback condition became true to the watchdog's confirmed read-back of 0 %:
 *   - a gauge's condition is true when the fault is set (the service exposes it at its next scrape);
 *   - a rate's (error rate, tail latency) at the first scrape whose samples make the rule's expression true, found
 *     afterwards with a fine range query of the raw expression (a sample's timestamp is its scrape's start);
 *   - "unobservable" when the scrapes start to hang.
 * Used by test/e2e/guard.e2e.ts (asserts measured ≤ bound) and scripts/bench-guard.ts (prints the table).
 */
import { setRolloutPercentage } from "../lib/adminApi";
import { GuardPlan } from "../lib/guard/plan";
import { RECORDED, recordingRules, speculationAlerts } from "../lib/monitoring/rules";
import { SLO_RECORDED, sloSpec } from "../lib/monitoring/slo";
import { burnLimit, SLO_ALERTS, sloRecordingRules } from "../lib/monitoring/sloRules";
import { publishStageBaseline, STAGE_BASELINE_SERIES } from "../lib/records/baseline";
import { instantVector, rangeQuery } from "../lib/prometheus/client";
import { BURN_RATE_PAIRS, DEFAULT_STAGE_THRESHOLDS } from "../config/thresholds";
import { startLocalMonitoring, LocalMonitoring } from "./localMonitoring";
import { startProofWorker, RunningProofWorker } from "./proofWorker";
import { Faults, RunningSpeculationService, startSpeculationService } from "./speculationService";

export interface GuardScenario {
    /** Short name, as the tables print it. */
    name: string;
    /** What goes wrong, in an operator's words. */
    fault: string;
    /** The rollback trigger that must take the traffic away (its bound is the one that applies). */
    trigger: string;
    /** One of the four classes the watchdog missed before (issue 22), or an ordinary firing of a trigger. */
    kind: "fault-class" | "trigger";
    inject(env: GuardEnv): Promise<void> | void;
    /**
     * For a rate: the raw expression whose first true sample is the condition's start (default: the injection); a
     * function when it depends on the plan (the SLO's objective and windows).
     */
    condition?: string | ((plan: GuardPlan) => string);
    /**
     * An edit of the stack config (keys as in Pulumi.<stack>.yaml) this scenario runs with, when another trigger would
     * otherwise take the traffic first: the plan, and so the rules Prometheus evaluates and the bound, come from the
     * edited config (planFor).
     */
    config?: (c: Record<string, any>) => void;
}

export interface GuardEnv {
    service: RunningSpeculationService;
    worker: RunningProofWorker;
    monitoring: LocalMonitoring;
    /** Waits until the watchdog has confirmed a revert (or kill switch) after `since`; returns when, epoch ms. */
    confirmedAfter(since: number, timeoutMs: number): Promise<number>;
    /** How long a scenario may wait for a revert: twice the plan's worst bound, at least a minute. */
    waitMs: number;
}

export interface GuardMeasurement {
    scenario: string;
    trigger: string;
    injectedAt: number;
    conditionAt: number;
    confirmedAt: number;
    /** Seconds from the condition to 0 % confirmed. */
    seconds: number;
    boundSeconds: number;
    /** What traffic reads at the end (the service's own state). */
    finalPercentage: number;
    /** The watchdog's record of the action: alerts, path, attempts (from GET /reverts). */
    action: { alerts: string[]; path?: string; attempts: number };
}

const recorded = (name: string) => recordingRules().find((r) => r.record === name)!.expr;
const t = DEFAULT_STAGE_THRESHOLDS;
const setFaults = (f: Partial<Faults>) => (env: GuardEnv) => { env.service.setFaults(f); };

/** Waits until Prometheus answers `expr` with a series (what it has scraped, not the clock). */
async function untilPrometheusHas(env: GuardEnv, expr: string, what: string): Promise<void> {
    const until = Date.now() + env.waitMs;
    for (;;) {
        const r = await instantVector(env.monitoring.prometheusUrl, expr, 10_000);
        if (!r.ok) throw new Error(r.detail);
        if (r.value.length > 0) return;
        if (Date.now() > until) throw new Error(`Prometheus did not have ${what} within ${env.waitMs / 1000} s (${expr})`);
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
}

/**
 * Pushes a stage baseline as the stage's ErrorBaseline does, under an environment label of the harness's own (the rule
 * holds every track to the highest baseline it has: a record another run pushes to a reused port cannot lower this
 * one), and waits until Prometheus has it — the spike must hold the stage to it before the errors rise.
 */
async function pushBaseline(env: GuardEnv, errorRate: number): Promise<void> {
    const pushed = await publishStageBaseline(env.monitoring.pushgatewayUrl, "guard-harness", "stage-1-10pct", errorRate, 5000);
    if (pushed.startsWith("WARNING")) throw new Error(pushed);
    await untilPrometheusHas(env, `max(${STAGE_BASELINE_SERIES}) >= ${errorRate}`, "the stage's baseline");
}

/** SpeculationErrorRateSpike's own expression, raw: the error rate over the highest stage baseline (floor 0.1 %). */
const spikeCondition = () => {
    const rule = speculationAlerts(DEFAULT_STAGE_THRESHOLDS).find((a) => a.alert === "SpeculationErrorRateSpike")!;
    return rule.expr.replace(RECORDED.errorRate, `(${recordedExpr(RECORDED.errorRate)})`);
};

/**
 * The raw expression of the error budget's fast burn (SLO_ALERTS.fastBurnRollback): the workbook's 14.4× pair, the
 * error ratio over its long (1 h) and short (5 m) windows both above 14.4 × the budget, as the SLO's recording rules
 * compute it from the counters.  Feature-flag mode: the whole service is the release's track.
 */
function fastBurnCondition(plan: GuardPlan): string {
    const slo = plan.ruleOptions.slo ?? sloSpec();
    if (slo.releaseTrack) throw new Error(`error-budget-fast-burn: written for feature-flag mode (the release's track is the whole service), not ${slo.releaseTrack}`);
    const rules = sloRecordingRules(slo, plan.prometheus.evaluationInterval);
    const pair = BURN_RATE_PAIRS["14.4x"];
    const ratio = (w: typeof pair.long | typeof pair.short) => rules.find((r) => r.record === SLO_RECORDED.ratio(w))!.expr;
    const limit = burnLimit(pair.factor, slo);
    return `(${ratio(pair.long)}) > ${limit} and (${ratio(pair.short)}) > ${limit}`;
}

/**
 * The error budget's fast burn alone takes the traffic away: a stage whose pre-shift baseline is 1 % (pushed to the
 * Pushgateway as the stage's ErrorBaseline pushes it) goes to 5 % errors — 5× its baseline, under SpeculationErrorRateSpike's 10×
 * and SpeculationErrorRateAbort's 10 %, so neither fires — but 50× the 99.9 % objective's budget over both the 1 h and
 * the 5 m window: SpeculationErrorBudgetFastBurn (for: 0s, on the SLO's recorded ratios) is the one trigger that sees it.
 */
export const ERROR_BUDGET_FAST_BURN: GuardScenario = {
    name: "error-budget-fast-burn", kind: "trigger", trigger: SLO_ALERTS.fastBurnRollback,
    fault: "error rate 5 % on a stage whose pre-shift baseline is 1 % (under the spike's 10x and the 10 % abort; 50x the 99.9 % objective's budget)",
    inject: async (env) => {
        // The spike must hold the stage to its 1 % baseline before the errors rise (with no baseline it uses its 0.1 % floor).
        await pushBaseline(env, 0.01);
        env.service.setFaults({ errorRate: 0.05 });
    },
    condition: fastBurnCondition,
};

/** The plan a scenario runs with: `planOf` (the stack's, from its config) with the scenario's own config edit, if any. */
export function planFor(s: GuardScenario, planOf: (edit?: (c: Record<string, any>) => void) => GuardPlan): GuardPlan {
    return planOf(s.config);
}

/**
 * SpeculationErrorRateSpike alone: 8 % errors on a stage whose baseline is 0.5 % (16×, above the spike's 10×) and whose
 * SLO objective is 99 % (the fast burn's 14.4× is 14.4 %, which otherwise, with no for:, takes the traffic before the
 * spike's for: ends), under the 10 % abort.
 */
export const ERROR_RATE_SPIKE_ALONE: GuardScenario = {
    name: "error-rate-spike-alone", kind: "trigger", trigger: "SpeculationErrorRateSpike",
    fault: "error rate 8 % on a stage with a 0.5 % baseline and a 99 % SLO objective (16x the baseline; under the 10 % abort and the budget's 14.4x)",
    config: (c) => { c["speculation:slo"] = { ...c["speculation:slo"], objective: 0.99 }; },
    inject: async (env) => {
        await pushBaseline(env, 0.005);
        env.service.setFaults({ errorRate: 0.08 });
    },
    condition: () => spikeCondition(),
};

/**
 * SpeculationErrorRateAbort alone: 12 % errors on a stage whose baseline is 2 % (the spike's 10× is 20 %) and whose SLO
 * objective is 99 % (the fast burn's 14.4× is 14.4 %): only the absolute 10 % abort sees it.
 */
export const ERROR_RATE_ABORT_ALONE: GuardScenario = {
    name: "error-rate-abort-alone", kind: "trigger", trigger: "SpeculationErrorRateAbort",
    fault: "error rate 12 % on a stage with a 2 % baseline and a 99 % SLO objective (above the 10 % abort; under the spike's 10x and the budget's 14.4x)",
    config: (c) => { c["speculation:slo"] = { ...c["speculation:slo"], objective: 0.99 }; },
    inject: async (env) => {
        await pushBaseline(env, 0.02);
        env.service.setFaults({ errorRate: 0.12 });
    },
    condition: `(${recordedExpr(RECORDED.errorRate)}) > ${DEFAULT_STAGE_THRESHOLDS.abortErrorRate}`,
};

/** A recording rule's expression (the raw form of its series), for a scenario's condition. */
function recordedExpr(name: string): string {
    return recordingRules().find((r) => r.record === name)!.expr;
}

/** The four fault classes of issue 22, then every rollback trigger's ordinary firing. */
export const GUARD_SCENARIOS: GuardScenario[] = [
    {
        name: "young-prometheus-error-spike", kind: "fault-class", trigger: "SpeculationErrorRateAbort",
        fault: "error rate 0.3 at 10 % on a Prometheus seconds old (no offset 1h history)",
        inject: setFaults({ errorRate: 0.3 }),
        condition: `(${recorded(RECORDED.errorRate)}) > ${t.abortErrorRate}`,
    },
    {
        name: "refire-after-revert", kind: "fault-class", trigger: "SpeculationRollbackRateAbort",
        fault: "rollback rate 0.2; the watchdog reverts; traffic is turned back on at 10 % with the fault still there",
        inject: async (env) => {
            env.service.setFaults({ rollbackRate: 0.2 });
            // The first revert, then the operator's 10 % again: what is measured starts here.
            await env.confirmedAfter(Date.now(), env.waitMs);
            await setRolloutPercentage(env.service.url, TOKEN, 10);
        },
    },
    {
        name: "unscrapable-service", kind: "fault-class", trigger: "SpeculationUnobservable",
        fault: "rollback rate 0.2 and /metrics answering after 30 s (the scrape times out; the admin API still answers)",
        inject: setFaults({ rollbackRate: 0.2, metricsDelayMs: 30_000 }),
    },
    {
        name: "slow-admin-api", kind: "fault-class", trigger: "SpeculationRollbackRateAbort",
        fault: "rollback rate 0.2 and every admin API answer 5 s late",
        inject: setFaults({ rollbackRate: 0.2, adminDelayMs: 5000 }),
    },
    { name: "rollback-rate", kind: "trigger", trigger: "SpeculationRollbackRateAbort", fault: "rollback rate 0.3", inject: setFaults({ rollbackRate: 0.3 }) },
    {
        name: "error-rate-spike", kind: "trigger", trigger: "SpeculationErrorRateSpike", fault: "error rate 0.05 (50x the 0.1 % floor, under the 10 % abort)",
        inject: setFaults({ errorRate: 0.05 }),
        condition: `(${recorded(RECORDED.errorRate)}) / 0.001 > ${t.maxErrorRateBaselineMultiple}`,
    },
    { name: "memory", kind: "trigger", trigger: "SpeculationMemoryCritical", fault: "memory at 95 % of the limit", inject: setFaults({ memoryPercent: 95 }) },
    { name: "circuit-breaker", kind: "trigger", trigger: "SpeculationCircuitBreakerOpen", fault: "circuit breaker open (rollback rate 0.6)", inject: setFaults({ rollbackRate: 0.6 }) },
    { name: "proof-queue", kind: "trigger", trigger: "ProofQueueOverflow", fault: "proof queue at 2500 (max 2000)", inject: (env) => { env.worker.faults.queueSize = 2500; } },
    {
        name: "tail-latency", kind: "trigger", trigger: "SpeculationLatencyTailRatio", fault: "p99 / p95 above 2 (a fat tail: 3 % of operations 400 ms slower)",
        inject: setFaults({ tailLatencyMs: 400 }),
        condition: `(${recorded(RECORDED.latencyTailRatio)}) > ${t.maxTailRatio}`,
    },
    ERROR_BUDGET_FAST_BURN,
    ERROR_RATE_SPIKE_ALONE,
    ERROR_RATE_ABORT_ALONE,
];

const TOKEN = "guard-faults-admin-token-0123456789";

/** The first sample time (epoch ms) in [from, to] at which `expr` holds, from a range query at 50 ms. */
export async function firstTrue(prometheusUrl: string, expr: string, from: number, to: number): Promise<number | undefined> {
    const r = await rangeQuery({ prometheusUrl, timeoutMs: 10_000, stepSeconds: 0.05 }, expr, from / 1000, to / 1000);
    if (!r.ok) throw new Error(r.detail);
    const times = r.value.flatMap((s) => s.points.map((p) => p.t * 1000));
    return times.length > 0 ? Math.min(...times) : undefined;
}

interface WatchdogAction { at: string; action: string; alerts: string[]; path?: string; failed?: boolean; attempts: unknown[] }

/** Runs one scenario on a fresh loop with the plan's timings. */
export async function runGuardScenario(s: GuardScenario, plan: GuardPlan, log: (line: string) => void = () => undefined): Promise<GuardMeasurement> {
    const service = await startSpeculationService({ adminToken: TOKEN, version: "v1.2.4" });
    const worker = await startProofWorker({ adminToken: TOKEN });
    const monitoring = await startLocalMonitoring({ serviceUrl: service.url, proofWorkerUrl: worker.url, adminToken: TOKEN, guard: plan });
    const actions = async (): Promise<WatchdogAction[]> => ((await (await fetch(`${monitoring.watchdogUrl}/reverts`)).json()) as { reverts: WatchdogAction[] }).reverts;
    const confirmedAfter = async (since: number, timeoutMs: number): Promise<number> => {
        const until = Date.now() + timeoutMs;
        for (;;) {
            const done = (await actions()).filter((a) => !a.failed && Date.parse(a.at) >= since);
            if (done.length > 0) return Date.parse(done[0].at);
            if (Date.now() > until) throw new Error(`no confirmed revert within ${timeoutMs / 1000} s; the watchdog said:\n${monitoring.watchdogLog().slice(-3000)}`);
            await new Promise((r) => setTimeout(r, 50));
        }
    };
    const env: GuardEnv = { service, worker, monitoring, confirmedAfter, waitMs: Math.max(60_000, (plan.worst.seconds + 60) * 2000) };
    const bound = plan.triggers.find((x) => x.alert === s.trigger);
    if (!bound) throw new Error(`${s.name}: ${s.trigger} is not a rollback trigger of this plan`);
    try {
        await setRolloutPercentage(service.url, TOKEN, 10);
        // Prometheus has seen traffic at 10 % and a healthy worker before anything goes wrong (its service discovery
        // delivers the targets a few seconds after it starts: wait on what it has scraped, not on the clock).
        const scrape = plan.timings.scrapeIntervalSeconds * 1000;
        const seenUntil = Date.now() + 60_000;
        const seen = 'max(speculation_rollout_percentage{job="agenc-speculation"}) == 10 and on() max(proof_queue_size) >= 0';
        for (;;) {
            const scraped = await instantVector(monitoring.prometheusUrl, seen, 10_000);
            if (!scraped.ok) throw new Error(scraped.detail);
            if (scraped.value.length > 0) break;
            if (Date.now() > seenUntil) throw new Error("Prometheus did not scrape the service at 10 % within 60 s");
            await new Promise((r) => setTimeout(r, 100));
        }
        const injectedAt = Date.now();
        log(`[guard ${s.name}] injecting: ${s.fault}`);
        await s.inject(env);
        // For the re-fire scenario the clock starts when traffic is back on (inject returns then).
        const measuredFrom = s.name === "refire-after-revert" ? Date.now() : injectedAt;
        const confirmedAt = await confirmedAfter(measuredFrom, env.waitMs);
        const condition = typeof s.condition === "function" ? s.condition(plan) : s.condition;
        const conditionAt = condition
            ? (await firstTrue(monitoring.prometheusUrl, condition, injectedAt - scrape, confirmedAt)) ?? measuredFrom
            : measuredFrom;
        const action = (await actions()).find((a) => !a.failed && Date.parse(a.at) === confirmedAt)!;
        const m: GuardMeasurement = {
            scenario: s.name, trigger: s.trigger, injectedAt, conditionAt, confirmedAt,
            seconds: (confirmedAt - conditionAt) / 1000, boundSeconds: bound.seconds,
            finalPercentage: service.state.rolloutPercentage,
            action: { alerts: action.alerts, path: action.path, attempts: action.attempts.length },
        };
        log(`[guard ${s.name}] 0 % confirmed ${m.seconds.toFixed(2)} s after the condition (bound ${bound.seconds} s) by ${action.alerts.join(", ")}`);
        return m;
    } finally {
        await monitoring.stop();
        await worker.close();
        await service.close();
    }
}
