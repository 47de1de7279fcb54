/**
 * Alert and recording rules (SPEC §6), generated from the go/no-go table so alerts, gates and policies agree.
 * The 001 rules are kept with their mistakes corrected: MemoryLeak used rate() on a gauge (deriv() is right),
 * and HighLatency took a quantile over unaggregated buckets (sum by (le) first).
 */
import { SENTINEL_DEFAULTS, SentinelAlertSettings } from "../../config/sentinelDefaults";
import { parseDuration } from "../time/duration";
import { GO_NO_GO, StageThresholds } from "../../config/thresholds";
import { STAGE_BASELINE_SERIES } from "../records/baseline";
import { SLO_ALERTS, sloRuleGroups } from "./sloRules";
import { SLO_RECORDED_NAMES, sloSpec, SloSpec } from "./slo";

export type Severity = "info" | "warning" | "high" | "critical";

export interface AlertRule {
    alert: string;
    expr: string;
    for: string;
    /**
     * rollback_trigger: Alertmanager sends it to the watchdog's revert (rollout to 0 %); kill_switch: to the watchdog's
     * kill switch (speculation disabled and 0 %).  An alert carries at most one of them (the kill switch includes
     * the revert); lib/monitoring/alertmanager.ts routes each to the watchdog once.
     */
    labels: { severity: Severity; component: string; rollback_trigger?: "true"; kill_switch?: "true" };
    annotations: { summary: string; description: string };
}

export interface RecordingRule {
    record: string;
    expr: string;
}

export interface RuleGroup {
    name: string;
    interval?: string;
    rules: (AlertRule | RecordingRule)[];
}

/** The recorded series the gates' PromQL path and the alerts share. */
export const RECORDED = {
    errorRate: "speculation:error_rate:ratio_rate5m",
    rollbackRate: "speculation:rollback_rate:max",
    memoryPercent: "speculation:memory_usage:percent",
    proofQueue: "proof_workers:queue_size:max",
    /** Operation latency (speculation_operation_duration_seconds) over 5 m: p99, and p99 / p95 (the tail ratio). */
    latencyP99: "speculation:operation_latency_seconds:p99_rate5m",
    latencyTailRatio: "speculation:operation_latency:p99_over_p95_rate5m",
} as const;

/** The operation-latency quantiles the recorded latency series are made of. */
const latencyQuantile = (q: number) => `histogram_quantile(${q}, sum by (le, track) (rate(speculation_operation_duration_seconds_bucket[5m])))`;

/**
 * What the watchdog (lib/watchdog/main.ts, the revert action Alertmanager calls between `pulumi up`s) exposes.
 * The last-revert gauge is what the window judgement reads: a value at or after a stage's shift is a revert.
 */
export const WATCHDOG_METRICS = {
    reverts: "agenc_watchdog_reverts_total",
    failures: "agenc_watchdog_revert_failures_total",
    lastRevert: "agenc_watchdog_last_revert_timestamp_seconds",
    killSwitches: "agenc_watchdog_kill_switches_total",
    killSwitchFailures: "agenc_watchdog_kill_switch_failures_total",
    lastKillSwitch: "agenc_watchdog_last_kill_switch_timestamp_seconds",
} as const;

/** What the watchdog's sentinel probes expose (lib/watchdog/main.ts, SENTINEL_INTERVAL_SECONDS). */
export const SENTINEL_METRICS = {
    /** Counter by result="success" | "failure"; both exposed from 0 so increase() sees the first probe. */
    probes: "agenc_sentinel_probes_total",
    lastProbe: "agenc_sentinel_last_probe_timestamp_seconds",
    /** 0 when the watchdog does not probe (the plan is below 100 %, or sentinels are off). */
    interval: "agenc_sentinel_interval_seconds",
} as const;

/** Alerts that pull the kill switch (label kill_switch="true"); a CUSUM drift alarm may join them by its label. */
export const KILL_SWITCH_ALERTS = ["SpeculationSentinelFailing"] as const;

/** The trigger of a canary that cannot be observed (its `for:` is a scrape interval plus an evaluation interval). */
export const UNOBSERVABLE_ALERT = "SpeculationUnobservable";

/** Which alert stands for each rollback trigger of SPEC §2; the policy pack checks every one is present. */
export const ROLLBACK_TRIGGER_ALERTS = [
    "SpeculationRollbackRateAbort",
    "SpeculationErrorRateAbort",
    "SpeculationErrorRateSpike",
    "SpeculationMemoryCritical",
    "SpeculationCircuitBreakerOpen",
    "ProofQueueOverflow",
    "SpeculationLatencyTailRatio",
    UNOBSERVABLE_ALERT,
    // The fast page-level burn of the error budget on the release's track (lib/monitoring/sloRules.ts).
    SLO_ALERTS.fastBurnRollback,
] as const;

/**
 * The stage's pre-shift error-rate baseline, pushed to the Pushgateway by the stage's ErrorBaseline
 * (providers/errorBaseline.ts) when the stack has `records.pushgatewayUrl`: one series per environment, replaced by each
 * stage's measurement.  SpeculationErrorRateSpike holds every track to it; without it, to ERROR_BASELINE_FLOOR.
 */
export const STAGE_BASELINE_METRIC = STAGE_BASELINE_SERIES;

/** The scrape job of the speculation service's pods (both tracks): SpeculationUnobservable watches its targets. */
export const SPECULATION_SCRAPE_JOB = "agenc-speculation";
/** What the service exposes without which no trigger can be evaluated (absent while up: unobservable too). */
export const OBSERVED_SERIES = ["speculation_rollback_rate", "speculation_operations_total"] as const;

function seconds(s: number): string {
    return s % 60 === 0 ? `${s / 60}m` : `${s}s`;
}

/**
 * The recorded series every gate, window judgement, alert and dashboard reads.  The speculation service's are one
 * series per track (stable, canary: the Service's `track` label; none where nothing sets it): a canary with a tenth
 * of the traffic is judged on its own numbers, not on a blend in which stable's traffic dilutes them (a canary at
 * 5 % errors beside a clean stable would read 0.5 %).  Readers take the worst track (lib/gate/measure.ts,
 * lib/bake/history.ts: the max over the series), and an alert fires for the track that breaches.
 */
export function recordingRules(): RecordingRule[] {
    return [
        {
            record: RECORDED.errorRate,
            expr: "sum by (track) (rate(speculation_errors_total[5m])) / clamp_min(sum by (track) (rate(speculation_operations_total[5m])), 1e-9)",
        },
        { record: RECORDED.rollbackRate, expr: "max by (track) (speculation_rollback_rate)" },
        {
            record: RECORDED.memoryPercent,
            expr: "100 * max by (track) (speculation_memory_usage_bytes / speculation_memory_limit_bytes)",
        },
        { record: RECORDED.proofQueue, expr: "max(proof_queue_size)" },
        { record: RECORDED.latencyP99, expr: latencyQuantile(0.99) },
        // A p95 of 0 has no meaningful ratio; clamp_min keeps the series a number instead of +Inf.
        { record: RECORDED.latencyTailRatio, expr: `${latencyQuantile(0.99)} / clamp_min(${latencyQuantile(0.95)}, 1e-9)` },
    ];
}

/**
 * Floor for the error-rate baseline: with a spotless baseline (0 errors) any single error would be an "infinite"
 * spike, so the baseline counts as at least 0.1 %.
 */
export const ERROR_BASELINE_FLOOR = 0.001;

export function speculationAlerts(t: StageThresholds): AlertRule[] {
    const abortFor = seconds(GO_NO_GO.abortRollbackSustainSeconds);
    return [
        {
            alert: "SpeculationRollbackRateHigh",
            expr: `${RECORDED.rollbackRate} > ${t.maxRollbackRate}`,
            for: "5m",
            labels: { severity: "warning", component: "speculation" },
            annotations: {
                summary: "Speculation rollback rate above the promotion threshold",
                description: `Rollback rate {{ $value | humanizePercentage }} is above ${t.maxRollbackRate * 100} %: do not promote the canary.`,
            },
        },
        {
            alert: "SpeculationRollbackRateAbort",
            expr: `${RECORDED.rollbackRate} > ${t.abortRollbackRate}`,
            for: abortFor,
            labels: { severity: "critical", component: "speculation", rollback_trigger: "true" },
            annotations: {
                summary: "Speculation rollback rate above the abort threshold",
                description: `Rollback rate {{ $value | humanizePercentage }} above ${t.abortRollbackRate * 100} % for ${abortFor}: set rollout_percentage to 0.`,
            },
        },
        {
            alert: "SpeculationErrorRateHigh",
            expr: `${RECORDED.errorRate} > ${GO_NO_GO.pageErrorRate}`,
            for: "5m",
            labels: { severity: "high", component: "speculation" },
            annotations: {
                summary: "Speculation error rate above 1 %",
                description: `Error rate {{ $value | humanizePercentage }} is above ${GO_NO_GO.pageErrorRate * 100} %.`,
            },
        },
        {
            // 002's generic canary failure, absolute: needs no history, so a new or restarted Prometheus has it from its
            // first evaluations (the relative spike below needs a baseline).
            alert: "SpeculationErrorRateAbort",
            expr: `${RECORDED.errorRate} > ${t.abortErrorRate}`,
            for: seconds(GO_NO_GO.abortErrorRateForSeconds),
            labels: { severity: "critical", component: "speculation", rollback_trigger: "true" },
            annotations: {
                summary: "Speculation error rate above the abort threshold",
                description: `Error rate {{ $value | humanizePercentage }} above ${t.abortErrorRate * 100} %: set rollout_percentage to 0.`,
            },
        },
        {
            alert: "SpeculationErrorRateSpike",
            // Each track against the stage's own pre-shift baseline (the ErrorBaseline's measurement, pushed to the
            // Pushgateway), never against `offset 1h`, which is empty on a young Prometheus.  No baseline known: the
            // floor is the baseline (errs toward less traffic).
            expr: `${RECORDED.errorRate} / on() group_left() clamp_min(max(${STAGE_BASELINE_METRIC}) or on() vector(0), ${ERROR_BASELINE_FLOOR}) > ${t.maxErrorRateBaselineMultiple}`,
            for: "2m",
            labels: { severity: "critical", component: "speculation", rollback_trigger: "true" },
            annotations: {
                summary: "Speculation error rate spiked against the stage's pre-shift baseline",
                description: `Error rate is {{ $value | humanize }}x the stage's pre-shift baseline (more than ${t.maxErrorRateBaselineMultiple}x; a baseline under ${ERROR_BASELINE_FLOOR * 100} % counts as ${ERROR_BASELINE_FLOOR * 100} %): roll back.`,
            },
        },
        {
            alert: "SpeculationMemoryCritical",
            expr: `${RECORDED.memoryPercent} > ${t.maxMemoryPercent}`,
            for: "2m",
            labels: { severity: "critical", component: "speculation", rollback_trigger: "true" },
            annotations: {
                summary: "Speculation memory use critical",
                description: `Memory at {{ $value | humanize }} % of the limit (critical above ${t.maxMemoryPercent} %).`,
            },
        },
        {
            alert: "SpeculationCircuitBreakerOpen",
            expr: "max(speculation_circuit_breaker_open) == 1",
            for: "1m",
            labels: { severity: "critical", component: "speculation", rollback_trigger: "true" },
            annotations: {
                summary: "Speculation circuit breaker tripped",
                description: "The speculation circuit breaker has been open for 1 minute: roll back.",
            },
        },
        {
            alert: "ProofQueueOverflow",
            expr: `${RECORDED.proofQueue} > ${t.maxProofQueueSize}`,
            for: "5m",
            labels: { severity: "critical", component: "proof-workers", rollback_trigger: "true" },
            annotations: {
                summary: "Proof queue above its maximum",
                description: `Proof queue holds {{ $value }} proofs (max ${t.maxProofQueueSize}): add proof workers or roll back.`,
            },
        },
        {
            // 003 pages on p99 > 5 s: the gates' abort limit for the same recorded series.
            alert: "SpeculationLatencyP99Page",
            expr: `${RECORDED.latencyP99} > ${t.abortP99LatencySeconds}`,
            for: "5m",
            labels: { severity: "critical", component: "speculation" },
            annotations: {
                summary: `Speculation operation p99 latency above ${t.abortP99LatencySeconds} s`,
                description: "P99 operation latency is {{ $value | humanize }}s.",
            },
        },
        {
            // 003's rollback trigger "P99 latency > 2 × P95 sustained": the gates' tail-ratio limit, held for 5 m.
            alert: "SpeculationLatencyTailRatio",
            expr: `${RECORDED.latencyTailRatio} > ${t.maxTailRatio}`,
            for: "5m",
            labels: { severity: "critical", component: "speculation", rollback_trigger: "true" },
            annotations: {
                summary: "Speculation tail latency out of control",
                description: `Operation p99 is {{ $value | humanize }} × p95 (limit ${t.maxTailRatio}) for 5 minutes: set rollout_percentage to 0.`,
            },
        },
    ];
}

/**
 * A canary that cannot be observed is a no-go: the service's scrape fails (`up == 0`: down, hung, or answering slower
 * than the scrape timeout), its target is gone, or it answers without the series every trigger reads — while the
 * last traffic Prometheus saw is above 0.  Every other trigger reads series that would simply stop arriving, so
 * without this one a hung canary would keep its traffic.  `for:` one scrape plus one evaluation: a single missed
 * scrape (up == 0 until the next one, at most a scrape interval and an evaluation later) never fires it; two in a row do.
 */
export function observabilityAlerts(scrapeIntervalSeconds: number, evaluationIntervalSeconds: number): AlertRule[] {
    const job = `job="${SPECULATION_SCRAPE_JOB}"`;
    const blind = [
        `min(up{${job}}) == 0`,
        `absent(up{${job}})`,
        ...OBSERVED_SERIES.map((m) => `(absent(${m}) and on() max(up{${job}}) == 1)`),
    ].join(" or on() ");
    // The traffic last seen: the service's own gauges, however old (an unobservable service exposes nothing newer);
    // with two tracks (ingress-weight, blue-green) a canary or green target is traffic at risk too (its weight is the
    // Ingress's, which Prometheus does not see; the watchdog finds it already 0 when it is).
    const last = (m: string) => `max(last_over_time(${m}[${UNOBSERVABLE_LOOKBACK}]))`;
    const traffic = `(${last("speculation_rollout_percentage")} * on() ${last("speculation_enabled")} > 0) or on() count(up{${job},track=~"canary|green"}) > 0`;
    return [{
        alert: UNOBSERVABLE_ALERT,
        expr: `(${blind}) and on() (${traffic})`,
        for: seconds(scrapeIntervalSeconds + evaluationIntervalSeconds),
        labels: { severity: "critical", component: "speculation", rollback_trigger: "true" },
        annotations: {
            summary: "The speculation service cannot be observed while it carries traffic",
            description: `A speculation target is down, too slow for the scrape timeout, or no longer exposes ${OBSERVED_SERIES.join(" / ")}, ` +
                "while the last traffic seen is above 0 %: no trigger can see a failure, so traffic goes to 0 %.",
        },
    }];
}

/** How far back SpeculationUnobservable looks for the last traffic Prometheus saw. */
export const UNOBSERVABLE_LOOKBACK = "1h";

/** How long each watchdog action's alert stays firing after the action (a rehearsal shortens it). */
export const WATCHDOG_ALERT_WINDOW = "15m";

/**
 * Every revert the watchdog makes is an alert of its own; a revert it could not confirm pages as critical.  A kill
 * switch's alert is critical, so for `window` after it every pre-shift check refuses to raise traffic again.
 */
export function watchdogAlerts(window = WATCHDOG_ALERT_WINDOW): AlertRule[] {
    // Fires for `window` after a watchdog counter moves: each action is visible as an alert of its own.
    const counterAlert = (alert: string, counter: keyof typeof WATCHDOG_METRICS, severity: "high" | "critical", summary: string, description: string): AlertRule => ({
        alert, expr: `increase(${WATCHDOG_METRICS[counter]}[${window}]) > 0`, for: "0s",
        labels: { severity, component: "watchdog" }, annotations: { summary, description },
    });
    return [
        counterAlert("SpeculationWatchdogReverted", "reverts", "high",
            "The watchdog reverted speculation traffic to 0 %",
            "A rollback trigger fired between pulumi updates and the watchdog set rollout_percentage to 0: run pulumi refresh to see it, fix the cause, then pulumi up."),
        counterAlert("SpeculationKillSwitchActivated", "killSwitches", "critical",
            "The watchdog pulled the kill switch: speculation disabled, traffic at 0 %",
            "A kill-switch alert (sentinel probes below target, or a drift alarm) fired and the watchdog disabled speculation and confirmed it. Speculation stays off until an operator re-enables it: see the README (watchdog, kill switch)."),
        counterAlert("SpeculationKillSwitchFailed", "killSwitchFailures", "critical",
            "The watchdog could not confirm the kill switch",
            "A kill-switch alert fired and the admin API never read back speculation disabled at 0 % before the deadline: disable speculation by hand now."),
        counterAlert("SpeculationWatchdogRevertFailed", "failures", "critical",
            "The watchdog could not confirm a revert",
            "A rollback trigger fired and neither the admin API nor the kill switch confirmed 0 %: set it by hand now."),
    ];
}

/**
 * The sentinel probes' judgement (seed 003: success > 95 %), from the go/no-go table: below the target over the
 * window, with at least `minProbes` probes in it, the kill switch is pulled.  No `for:` — the window and the
 * minimum count are the debounce, and a `for:` would only add its length to the detection delay.  Probes of every
 * watchdog replica count together (each replica probes on its own schedule).  A watchdog that should probe and has
 * not in three intervals pages (high): the sentinels are blind, which is not a reason to kill.
 */
export function sentinelAlerts(s: SentinelAlertSettings = { windowSeconds: parseDuration(SENTINEL_DEFAULTS.window), minProbes: SENTINEL_DEFAULTS.minProbes }): AlertRule[] {
    const w = seconds(s.windowSeconds);
    const probes = (result?: string) => `sum(increase(${SENTINEL_METRICS.probes}{result=${result ? `"${result}"` : '~"success|failure"'}}[${w}]))`;
    const target = GO_NO_GO.sentinelProbeSuccess;
    return [
        {
            alert: "SpeculationSentinelFailing",
            expr: `(${probes("success")} / clamp_min(${probes()}, 1)) < ${target} and ${probes()} >= ${s.minProbes}`,
            for: "0s",
            labels: { severity: "critical", component: "sentinel", kill_switch: "true" },
            annotations: {
                summary: "Sentinel probes below their success target: kill switch",
                description: `The synthetic speculation succeeded in {{ $value | humanizePercentage }} of the probes over the last ${w} ` +
                    `(target ${target * 100} %, at least ${s.minProbes} probes): the watchdog disables speculation and sets traffic to 0 %.`,
            },
        },
        {
            alert: "SpeculationSentinelsStale",
            expr: `(time() - max(${SENTINEL_METRICS.lastProbe})) > 3 * max(${SENTINEL_METRICS.interval}) and max(${SENTINEL_METRICS.interval}) > 0`,
            for: "0s",
            labels: { severity: "high", component: "sentinel" },
            annotations: {
                summary: "The sentinel probes stopped",
                description: "The watchdog should probe but its last probe is {{ $value | humanize }}s old: the kill switch is blind until it probes again.",
            },
        },
    ];
}

/** Seed 001's rules for the Alys nodes, corrected. */
export function nodeAlerts(): AlertRule[] {
    return [
        {
            alert: "ConsensusHalted",
            expr: "rate(alys_blocks_produced[5m]) == 0",
            for: "2m",
            labels: { severity: "critical", component: "consensus" },
            annotations: { summary: "Block production halted", description: "No blocks produced in the last 2 minutes" },
        },
        {
            alert: "ConsensusDesync",
            expr: "stddev(alys_chain_height) > 2",
            for: "5m",
            labels: { severity: "critical", component: "consensus" },
            annotations: { summary: "Nodes are desynced", description: "Chain height differs by more than 2 blocks across nodes" },
        },
        {
            alert: "ActorMailboxOverflow",
            expr: "actor_mailbox_size > 10000",
            for: "1m",
            labels: { severity: "warning", component: "actors" },
            annotations: { summary: "Actor mailbox overflow", description: "Actor {{ $labels.actor }} has {{ $value }} messages in mailbox" },
        },
        {
            alert: "ActorPanics",
            expr: "rate(actor_panics_total[5m]) > 0",
            for: "1m",
            labels: { severity: "critical", component: "actors" },
            annotations: { summary: "Actor panicking", description: "Actor {{ $labels.actor }} is panicking" },
        },
        {
            alert: "GovernanceDisconnected",
            expr: "governance_stream_connected == 0",
            for: "5m",
            labels: { severity: "critical", component: "governance" },
            annotations: { summary: "Governance stream disconnected", description: "Node {{ $labels.instance }} disconnected from governance" },
        },
        {
            alert: "SignatureMismatch",
            expr: "rate(signature_mismatches_total[5m]) > 0.001",
            for: "10m",
            labels: { severity: "warning", component: "governance" },
            annotations: { summary: "Signature validation mismatches", description: "Signature mismatch rate: {{ $value | humanize }}/s" },
        },
        {
            alert: "HighLatency",
            expr: `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m]))) > ${GO_NO_GO.apiLatencyP99Seconds}`,
            for: seconds(GO_NO_GO.apiLatencyForSeconds),
            labels: { severity: "warning", component: "api" },
            annotations: { summary: "High API latency", description: "P99 latency is {{ $value | humanize }}s" },
        },
        {
            // 001 wrote rate() over a gauge, which Prometheus evaluates as nonsense for a value that can go down.
            alert: "MemoryLeak",
            expr: "deriv(process_resident_memory_bytes[1h]) > 0 and process_resident_memory_bytes > 8e9",
            for: "30m",
            labels: { severity: "warning", component: "system" },
            annotations: { summary: "Possible memory leak", description: "Memory usage growing and exceeds 8GB" },
        },
    ];
}

/**
 * The rule groups.  `rehearsalFor` replaces every speculation alert's `for:` — only the local rehearsal uses it, so
 * that a bake of seconds meets alerts of seconds; a deployed stack always has the seeds' durations.  `sentinel` is
 * the sentinel judgement's window and minimum probe count (`watchdog.sentinel`; default: the config defaults).
 */
export interface RuleOptions {
    /** A rehearsal (the local stack, tests): replaces every speculation alert's `for:` so it is met in seconds. */
    rehearsalFor?: string;
    /** The sentinel judgement's window and minimum probes (`watchdog.sentinel`; default: the config defaults). */
    sentinel?: SentinelAlertSettings;
    /** A rehearsal: how long a watchdog action's alert fires after it (default WATCHDOG_ALERT_WINDOW). */
    watchdogAlertWindow?: string;
    /** Prometheus's scrape interval (default: the evaluation interval): SpeculationUnobservable tolerates one missed scrape. */
    scrapeInterval?: string;
    /** The SLO (lib/monitoring/slo.ts, from `speculation:slo` and the shift mode); default: SLO_DEFAULTS, every track. */
    slo?: SloSpec;
}

export function ruleGroups(t: StageThresholds, evaluationInterval: string, o: RuleOptions = {}): RuleGroup[] {
    const { rehearsalFor, sentinel } = o;
    // The rehearsal shortens the seeds' `for:`s; SpeculationUnobservable's is already scrape-sized and keeps its tolerance.
    const alerts = [
        ...speculationAlerts(t).map((a) => (rehearsalFor ? { ...a, for: rehearsalFor } : a)),
        ...observabilityAlerts(parseDuration(o.scrapeInterval ?? evaluationInterval), parseDuration(evaluationInterval)),
    ];
    return [
        { name: "agenc-speculation.recording", interval: evaluationInterval, rules: recordingRules() },
        { name: "agenc-speculation.alerts", interval: evaluationInterval, rules: alerts },
        { name: "agenc-speculation.watchdog", interval: evaluationInterval, rules: watchdogAlerts(o.watchdogAlertWindow) },
        { name: "agenc-speculation.sentinel", interval: evaluationInterval, rules: sentinelAlerts(sentinel) },
        ...sloRuleGroups(o.slo ?? sloSpec(), evaluationInterval),
        { name: "alys-nodes.alerts", interval: evaluationInterval, rules: nodeAlerts() },
    ];
}

/**
 * The rollback triggers as the guard's bound needs them (lib/guard/bound.ts): each one's `for:` as the groups have it,
 * and whether it reads a recorded series (one more evaluation between the scrape and the alert).
 */
export function rollbackTriggerTimings(groups: RuleGroup[]): { alert: string; forSeconds: number; recorded: boolean }[] {
    const recorded = [...Object.values(RECORDED), ...SLO_RECORDED_NAMES] as string[];
    return groups.flatMap((g) => g.rules)
        .filter((r): r is AlertRule => "alert" in r && r.labels.rollback_trigger === "true")
        .map((r) => ({ alert: r.alert, forSeconds: parseDuration(r.for), recorded: recorded.some((name) => r.expr.includes(name)) }));
}

export function alertNames(groups: RuleGroup[]): string[] {
    return groups.flatMap((g) => g.rules.filter((r): r is AlertRule => "alert" in r).map((r) => r.alert));
}
