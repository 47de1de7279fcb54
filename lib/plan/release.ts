/**
 * The release plan: everything one `pulumi up` will do, resolved once from the loaded stack config before any
 * resource exists.  Durations are milliseconds, folders absolute, addresses resolved; each stage carries its gate
 * (what it judges, what its shift raises, its deadline), and the rollback (if this update is one) its target version.
 * program.ts reads only this (and the strategy it names) to create the steps in release order.
 *
 * Pure: where it needs the machine (the working folder, who runs the update) it takes it as an argument.
 */
import * as path from "path";
import { ConfigError, type LoadedConfig } from "../../config";
import { GuardPlan, guardPlan } from "../guard/plan";
import type { PreflightTarget } from "../preflight/checks";
import { parseDuration } from "../../config/duration";
import { BakeMode, bakeModeOf, GATE_METRICS, requiredRetentionSeconds, StackConfig, watchdogPrometheusUrl } from "../../config/schema";
import { GO_NO_GO } from "../../config/thresholds";
import type { AlertSource } from "../gate/measure";
import { PROOF_WORKERS_JOB, SPECULATION_JOB } from "../monitoring/scrape";
import type { RecordSink } from "../records/record";
import { PROOF_WORKER_APP } from "../network/peers";
import {
    CANARY_NAME, GateFailure, GateTarget, GREEN_NAME, inCluster, NewTrackPlan, ShiftContext, shiftStrategy, ShiftStrategy, STABLE_NAME, StableTrack,
} from "../shift";
import { PlannedStage, plannedStages, stageName } from "./stages";
import { sloSpec, SloSpec } from "../monitoring/slo";
import { SigningPlan, signingPlan } from "./signing";

/** A duration of the config in milliseconds (the config writes 30s, 15m, 4h, 1d). */
export const ms = (duration: string): number => parseDuration(duration) * 1000;
/** Milliseconds as the whole seconds a provider's `…Seconds` input takes. */
export const seconds = (milliseconds: number): number => milliseconds / 1000;

/** What the plan needs from the machine: the folder relative paths resolve against, and who runs the update. */
export interface PlanEnvironment {
    cwd: string;
    /** Who the deployment records name (lib/records/operator.ts operatorName). */
    operator: string;
}

/** One declared stage and its gate. */
export interface StagePlan extends PlannedStage {
    bakeMs: number;
    gate: {
        /** What the gate judges: address, version, and the stable track it is compared with (lib/shift). */
        target: GateTarget;
        /** The track the shift raises, where the baseline does not read it: the pre-shift check reads it too. */
        raisedTrackUrl?: string;
        /** The gate gives up (fails closed) this long after it starts: the bake plus canary.gate.deadlineSlack. */
        deadlineMs: number;
    };
    /** Blue-green at 100 %: the stage's shift is the primary Service's selector switch. */
    switchesPrimary: boolean;
}

/** What every gate built from `speculation:canary.gate` shares: the stage gates and the gate between node batches. */
export interface GatePlan {
    version: string;
    serviceUrl: string;
    proofWorkerUrl?: string;
    prometheusUrl?: string;
    source: StackConfig["canary"]["gate"]["source"];
    pollMs: number;
    /** How long one HTTP read may take. */
    timeoutMs: number;
    /** What no data means, per metric. */
    noData: Record<(typeof GATE_METRICS)[number], "fail" | "hold">;
    /** Where every gate reads the critical alerts. */
    alerts: AlertSource;
    cusum?: { k: number; h: number; latencySigma: number };
    /** Past a stage's bake, how long the gate still waits for data. */
    deadlineSlackMs: number;
    bakeMode: BakeMode;
    /** Window mode: the live entry analysis, the history's resolution (the scrape interval) and the longest gap. */
    entryMs: number;
    stepMs: number;
    maxGapMs: number;
    /** How a no-go acts in this shift mode. */
    failure: GateFailure;
    /** How a revert retries (lib/revert). */
    revert: { target: GateFailure["revertTarget"]; deadlineMs: number; watchdogActionUrl?: string; alertmanagerUrl?: string };
    /** Where decision records are written. */
    artifactsDir: string;
    /** The SLO every stage is judged by too (`speculation:slo`, the release's track from the shift mode; lib/slo). */
    slo: SloSpec;
}

/** A full or emergency rollback: the version both workloads go back to, and how the drain before it polls. */
export interface RollbackPlan {
    mode: "full" | "emergency";
    targetVersion: string;
    drain: { maxPending: number; pollMs: number; deadlineMs: number };
    /**
     * Emergency, with a cluster to apply to: the Deployments that run the release, scaled to 0 (and their pods gone)
     * before any is replaced (lib/rollback/stop.ts).
     */
    stop?: { deployments: string[]; pollMs: number; deadlineMs: number };
}

/**
 * Every Deployment that can run the release: both workloads and either shift mode's new track (the ones a stack does
 * not have are skipped by the stop).
 */
export const RELEASE_DEPLOYMENTS = [PROOF_WORKER_APP, STABLE_NAME, CANARY_NAME, GREEN_NAME] as const;

/** How often the emergency stop counts the release's pods that are left. */
export const EMERGENCY_STOP_POLL_MS = 2000;

export interface ReleasePlan {
    /** The loaded config with a rollback's implications applied (applyRollback): what every step reads. */
    loaded: LoadedConfig;
    config: StackConfig;
    namespace: string;
    version: string;
    previousVersion: string;
    /** Whether the stack deploys the Kubernetes side (false: it drives a service running elsewhere). */
    kubernetes: boolean;
    /** How traffic moves (lib/shift), and what it reads. */
    shift: ShiftStrategy;
    shiftContext: ShiftContext;
    /** Where the gates reach the stable service. */
    serviceUrl: string;
    /** The stable side as the shift mode shapes it at the top declared stage. */
    stable: StableTrack;
    /** The version the workloads run: the rollback's target, else the release (the stable track may run the previous). */
    workloadVersion: string;
    rollback?: RollbackPlan;
    /** Seed 000's prerequisites, when `preflight.chainRpcUrl` is set and this is not a rollback. */
    preflight?: Omit<PreflightTarget, "secret"> & {
        /** Any release edit runs the checks again (providers/preflight.ts). */
        trigger: string;
    };
    /** The stable service's smoke tests (`smoke.enabled`), at the version the workloads run. */
    smoke?: { version: string; proofWorkerUrl?: string; timeoutMs: number };
    /** The final bench (`bench.enabled`). */
    bench?: {
        command: string;
        resultsDir: string;
        workingDir: string;
        /** The gates, and how many repeats they judge the median of (`bench.repeats`, `bench.maxSpread`). */
        limits: {
            maxP95BaselineMultiple: number; maxTailRatio: number; minThroughputPerSecond: number; extraGates: StackConfig["bench"]["extraGates"];
            repeats: number; maxSpread: number;
        };
        timeoutMs: number;
        /** Run on this node over SSH. */
        onNode?: StackConfig["nodes"]["hosts"][number];
    };
    gate: GatePlan;
    /** The declared stages, in order, each with its gate. */
    stages: StagePlan[];
    /** Every step of the plan, declared or not (ownership aliases; the policy pack judges the whole plan). */
    steps: { names: string[]; percentages: number[] };
    /** The top declared stage's percentage (0: none declared). */
    topPercentage: number;
    /** The new version's workload (ingress-weight, blue-green) and its smoke tests' retry. */
    newTrack?: NewTrackPlan & { smoke: { timeoutMs: number; deadlineMs: number; pollMs: number } };
    /** Post-deployment verification, when the plan reaches 100 % (`verify.enabled`). */
    verify?: { timeoutMs: number };
    /** The gate between node batches (`nodes.batchGate.enabled`, with hosts). */
    nodeBatchGate?: { bakeMs: number; deadlineMs: number };
    /** Where every deployment record goes: the release's at the end of an update, and each gate's revert. */
    records: RecordSink;
    /** Folder of the runbook steps' artifacts (records.artifactsDir). */
    artifactsDir: string;
    /**
     * The watchdog (`watchdog.enabled`, Kubernetes only): how long a revert tries, where it reaches the service, and
     * where it reads the firing triggers (watchdog.prometheusUrl, else the standalone Prometheus in the namespace, else
     * the gates'): always one, since the guard's bound counts on that read (the config refuses a watchdog with none).
     */
    watchdog?: { revertDeadlineMs: number; serviceUrl: string; prometheusUrl: string };
    /** The guard between `up`s: its timings and the bound they give (lib/guard/plan.ts). */
    guard: GuardPlan;
    /** Signed releases (lib/plan/signing.ts): what is verified against which keys before anything runs it. */
    signing: SigningPlan;
}

/** The version both workloads go back to during a rollback (undefined in normal operation). */
export function rollbackTarget(config: StackConfig): string | undefined {
    const r = config.rollback;
    if (r.mode === "full") return config.release.previousVersion;
    if (r.mode === "emergency") return r.lastKnownGood ?? config.release.previousVersion;
    return undefined;
}

/**
 * `speculation:rollback.mode full | emergency` is one config edit: it implies a 0 % target (every stage is removed,
 * each handing back no more than is live) and speculation disabled, with no bench (nothing is being promoted).
 */
export function applyRollback(loaded: LoadedConfig): LoadedConfig {
    const { config } = loaded;
    if (config.rollback.mode === "none") return loaded;
    return {
        ...loaded,
        config: {
            ...config, rolloutPercentage: 0,
            service: { ...config.service, speculationEnabled: false },
            bench: { ...config.bench, enabled: false },
        },
    };
}

/**
 * Where every gate reads the critical alerts: Prometheus's ALERTS when the gate reads Prometheus, else Alertmanager's
 * API, else the configured Prometheus (the schema requires one of the two).
 */
/**
 * How often the new track's smoke tests are retried while its pods come up (for as long as a gate waits past its
 * bake): every 10 s, or twice the read timeout when a read may take longer, and never slower than the gate's own poll.
 * Derived, not a key: the gate's timeout is already below its poll interval (config/semantics.ts), so this stays above
 * one read by construction (2 × timeout, 10 s and pollInterval are each above it), and no timeout the gate accepts
 * is refused for a constant the operator cannot set.  (The local rehearsal, exempt from the poll rule, polls at its 1 s.)
 */
export function newTrackSmokePollMs(timeoutMs: number, pollIntervalMs: number): number {
    return Math.min(pollIntervalMs, Math.max(10_000, 2 * timeoutMs));
}

function alertSource(g: StackConfig["canary"]["gate"]): AlertSource {
    if (g.source === "prometheus" && g.prometheusUrl) return { prometheusUrl: g.prometheusUrl };
    if (g.alertmanagerUrl) return { alertmanagerUrl: g.alertmanagerUrl };
    return { prometheusUrl: g.prometheusUrl! };
}

/** The plan of one update of the stack: `original` as loaded, with a rollback's implications applied here. */
export function releasePlan(original: LoadedConfig, env: PlanEnvironment): ReleasePlan {
    const loaded = applyRollback(original);
    const { config, namespace } = loaded;
    const resolve = (p: string) => path.resolve(env.cwd, p);
    const g = config.canary.gate;
    const shift = shiftStrategy(config.canary.shiftMode);
    // kubernetes.enabled: false (the local stack) drives a service running elsewhere: the gates reach it at serviceUrl.
    const serviceUrl = g.serviceUrl ?? inCluster(STABLE_NAME, namespace);
    const ctx: ShiftContext = { config, namespace, serviceUrl };
    const artifactsDir = resolve(config.records.artifactsDir);
    const target = rollbackTarget(config);
    const declared = plannedStages(config);
    const topPercentage = declared.at(-1)?.percentage ?? 0;
    const deadlineSlackMs = ms(g.deadlineSlack);
    const failure = shift.gateFailure(ctx);

    const stages: StagePlan[] = declared.map((stage) => {
        const gateTarget = shift.gateTarget(ctx, stage.percentage);
        const raisedTrackUrl = shift.raisedTrack(ctx, stage, gateTarget.url);
        return {
            ...stage,
            bakeMs: stage.bakeSeconds * 1000,
            gate: { target: gateTarget, ...(raisedTrackUrl ? { raisedTrackUrl } : {}), deadlineMs: stage.bakeSeconds * 1000 + deadlineSlackMs },
            switchesPrimary: shift.switchesPrimary(stage.percentage),
        };
    });
    const newTrack = shift.newTrack(ctx, topPercentage);
    const p = config.preflight;
    const bench = config.bench;
    const batchBakeMs = ms(config.nodes.batchGate.bake);
    const guard = guardPlan(config);
    if (guard.refusals.length > 0) throw new ConfigError(guard.refusals.map((r) => `speculation:${r.key}: ${r.message}`));
    // Where the watchdog reads the firing triggers itself: the configured URL, else the stack's own (standalone)
    // Prometheus, else the one the gates read (operator mode's kube-prometheus-stack, in-cluster in production).
    // (config/schema.ts refuses a watchdog with none: the guard's bound counts on this read.)
    const watchdogPrometheus = watchdogPrometheusUrl(config, namespace);

    const stable = shift.stable(ctx, topPercentage);
    const workloadVersion = target ?? config.release.version;
    return {
        loaded, config, namespace,
        version: config.release.version,
        previousVersion: config.release.previousVersion,
        kubernetes: config.kubernetes.enabled,
        shift, shiftContext: ctx, serviceUrl,
        stable,
        workloadVersion,
        ...(target ? {
            rollback: {
                mode: config.rollback.mode as RollbackPlan["mode"], targetVersion: target,
                drain: { maxPending: GO_NO_GO.maxPendingOperationsForRollback, pollMs: ms(config.rollback.drainPollInterval), deadlineMs: ms(config.rollback.drainTimeout) },
                ...(config.rollback.mode === "emergency" && config.kubernetes.enabled && !config.kubernetes.renderYamlToDirectory ? {
                    stop: { deployments: [...RELEASE_DEPLOYMENTS], pollMs: EMERGENCY_STOP_POLL_MS, deadlineMs: ms(config.rollback.stopTimeout) },
                } : {}),
            },
        } : {}),
        // A rollback is never held back by a release's prerequisites: traffic errs toward less.
        ...(p.chainRpcUrl && config.rollback.mode === "none" ? {
            preflight: {
                // Any release edit (version, target, rollback) runs the checks again before it changes anything, except
                // one that only lowers the target (providers/preflight.ts): a kill switch is never held back by a chain outage.
                trigger: JSON.stringify({ version: config.release.version, previousVersion: config.release.previousVersion,
                    rolloutPercentage: config.rolloutPercentage, rollback: config.rollback.mode }),
                chainRpcUrl: p.chainRpcUrl,
                stakePoolAddress: p.stakePoolAddress!,
                minStakeSol: p.minStakeSol,
                ...(g.source === "prometheus" ? { prometheus: { url: g.prometheusUrl!, jobs: [SPECULATION_JOB, PROOF_WORKERS_JOB] } } : {}),
                // Window bakes are judged from this Prometheus's history: it must keep the longest bake and a week more.
                ...(bakeModeOf(config) === "window" && g.prometheusUrl ? {
                    retention: { url: g.prometheusUrl, minSeconds: requiredRetentionSeconds(config.canary.steps) },
                } : {}),
                timeoutMs: ms(p.timeout),
            },
        } : {}),
        ...(config.smoke.enabled ? {
            // After a rollback the suite verifies the version the workloads went back to.
            smoke: { version: target ?? config.release.version, proofWorkerUrl: g.proofWorkerUrl, timeoutMs: ms(config.smoke.timeout) },
        } : {}),
        ...(bench.enabled ? {
            bench: {
                command: bench.command!,
                resultsDir: resolve(bench.resultsDir),
                workingDir: env.cwd,
                limits: {
                    maxP95BaselineMultiple: bench.maxP95BaselineMultiple, maxTailRatio: bench.maxTailRatio,
                    minThroughputPerSecond: bench.minThroughputPerSecond, extraGates: bench.extraGates,
                    repeats: bench.repeats, maxSpread: bench.maxSpread,
                },
                timeoutMs: ms(bench.timeout),
                ...(bench.onNode ? { onNode: config.nodes.hosts.find((h) => h.name === bench.onNode)! } : {}),
            },
        } : {}),
        gate: {
            version: config.release.version,
            serviceUrl,
            proofWorkerUrl: g.proofWorkerUrl,
            prometheusUrl: g.prometheusUrl,
            source: g.source,
            pollMs: ms(g.pollInterval),
            timeoutMs: ms(g.timeout),
            noData: Object.fromEntries(GATE_METRICS.map((m) => [m, g.noDataByMetric[m] ?? g.noData])) as GatePlan["noData"],
            alerts: alertSource(g),
            ...(g.cusum.enabled ? { cusum: { k: g.cusum.k, h: g.cusum.h, latencySigma: g.cusum.latencySigma } } : {}),
            deadlineSlackMs,
            bakeMode: bakeModeOf(config),
            entryMs: ms(g.entryAnalysis),
            stepMs: ms(config.monitoring.scrapeInterval),
            maxGapMs: ms(g.maxGap),
            failure,
            revert: {
                target: failure.revertTarget,
                deadlineMs: ms(g.revert.deadline),
                ...(g.revert.watchdogActionUrl ? { watchdogActionUrl: g.revert.watchdogActionUrl } : {}),
                ...(g.alertmanagerUrl ? { alertmanagerUrl: g.alertmanagerUrl } : {}),
            },
            artifactsDir: resolve(g.artifactsDir),
            slo: sloSpec(config.slo, config.canary.shiftMode),
        },
        stages,
        steps: {
            names: config.canary.steps.map((step, i) => stageName(step.percentage, i)),
            percentages: config.canary.steps.map((step) => step.percentage),
        },
        topPercentage,
        ...(newTrack ? {
            newTrack: {
                ...newTrack,
                smoke: { timeoutMs: ms(g.timeout), deadlineMs: deadlineSlackMs, pollMs: newTrackSmokePollMs(ms(g.timeout), ms(g.pollInterval)) },
            },
        } : {}),
        ...(config.verify.enabled && topPercentage === 100 ? { verify: { timeoutMs: ms(g.timeout) } } : {}),
        ...(config.nodes.hosts.length > 0 && config.nodes.batchGate.enabled
            ? { nodeBatchGate: { bakeMs: batchBakeMs, deadlineMs: batchBakeMs + deadlineSlackMs } } : {}),
        records: {
            environment: config.environment, previousVersion: config.release.previousVersion, operator: env.operator,
            logFile: path.resolve(artifactsDir, "deployments.log"), timeoutMs: ms(g.timeout),
            ...(config.records.pushgatewayUrl ? { pushgatewayUrl: config.records.pushgatewayUrl } : {}),
        },
        artifactsDir,
        guard,
        signing: signingPlan(config, {
            proofWorker: workloadVersion, speculation: target ?? stable.version, ...(newTrack ? { newTrack: config.release.version } : {}),
        }, env, ms(config.signing.timeout)),
        ...(config.kubernetes.enabled && config.watchdog.enabled ? {
            watchdog: {
                revertDeadlineMs: ms(config.watchdog.revertDeadline), serviceUrl: inCluster(STABLE_NAME, namespace),
                prometheusUrl: watchdogPrometheus ?? unreachable("a watchdog with no Prometheus to read passed config/schema.ts's guardProblems"),
            },
        } : {}),
    };
}

/** A state the config refuses before any plan is made: a bug if reached. */
function unreachable(what: string): never {
    throw new Error(`internal error: ${what}`);
}
