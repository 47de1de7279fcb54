/**
 * The whole stack: read the config once, build the components in dependency order, return the stack outputs.
 * index.ts runs it for the CLI; the Automation API tests and the local stack run it as an inline program.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { CANARY_NAME, CanaryStage, GateFactory, GREEN_NAME } from "./components/CanaryStage";
import { MonitoringStack } from "./components/MonitoringStack";
import { NetworkIsolation } from "./components/NetworkIsolation";
import { NodeRollout, NodeRolloutArgs } from "./components/NodeRollout";
import { ProofWorkers } from "./components/ProofWorkers";
import { SPECULATION_SECRET, SpeculationService } from "./components/SpeculationService";
import { Watchdog, watchdogUrl, WATCHDOG_PORT } from "./components/Watchdog";
import * as path from "path";
import { LoadedConfig, loadStackConfig } from "./config";
import { parseDuration } from "./config/duration";
import { bakeModeOf, GATE_METRICS } from "./config/schema";
import { PROVIDER_MUTABILITY } from "./lib/k8s";
import { CompareSpec } from "./lib/gate/compare";
import { JudgeSettings } from "./lib/judge/judge";
import { AlertSource } from "./lib/gate/measure";
import { RecordSink } from "./lib/records/record";
import { PROOF_WORKERS_JOB, SPECULATION_JOB, SPECULATION_PORT } from "./lib/monitoring/scrape";
import { DEFAULT_STAGE_THRESHOLDS, GO_NO_GO } from "./config/thresholds";
import { canaryReplicas, effectiveThresholds, plannedStages, stageName } from "./lib/plan";
import { nodeAddress } from "./lib/nodes/address";
import { podSecurityLabels } from "./lib/k8s";
import { speculationToml } from "./lib/speculationToml";
import { SentinelSchedule, sentinelSchedule } from "./lib/watchdog/sentinel";
import { sentinelAlertSettings } from "./config/sentinel";
import { BakeWindow } from "./providers/bakeWindow";
import { BenchRun } from "./providers/benchRun";
import { ErrorBaseline } from "./providers/errorBaseline";
import { HealthGate } from "./providers/healthGate";
import { Preflight } from "./providers/preflight";
import { ReleaseSmokeTest } from "./providers/releaseSmoke";
import { Verification } from "./providers/verification";
import { DeploymentRecordResource } from "./providers/deploymentRecord";
import { RollbackDrain } from "./providers/rollbackDrain";
import { TrafficShift } from "./providers/trafficShift";
import { operatorName } from "./lib/records/operator";

export interface ProgramOptions {
    /** How each stage is judged; by default an ErrorBaseline before the shift and a HealthGate after it. */
    gate?: (loaded: LoadedConfig, serviceUrl: string) => GateFactory | undefined;
}

/**
 * What every gate built from `speculation:canary.gate` shares, the stage gates and the gate between node batches
 * alike: where it reads, how often, how long one read may take, what no data means, and its deadline past a bake.
 */
function gateReadings(config: LoadedConfig["config"], serviceUrl: string) {
    const g = config.canary.gate;
    const slackSeconds = parseDuration(g.deadlineSlack);
    return {
        readings: {
            version: config.release.version,
            serviceUrl,
            proofWorkerUrl: g.proofWorkerUrl,
            prometheusUrl: g.prometheusUrl,
            source: g.source,
            pollSeconds: parseDuration(g.pollInterval),
            timeoutMs: parseDuration(g.timeout) * 1000,
            noData: Object.fromEntries(GATE_METRICS.map((m) => [m, g.noDataByMetric[m] ?? g.noData])),
            alerts: alertSource(g),
            ...(g.cusum.enabled ? { cusum: { k: g.cusum.k, h: g.cusum.h, latencySigma: g.cusum.latencySigma } } : {}),
        },
        deadlineAfter: (bakeSeconds: number) => bakeSeconds + slackSeconds,
    };
}

/**
 * Where every gate reads the critical alerts: Prometheus's ALERTS when the gate reads Prometheus, else Alertmanager's
 * API, else the configured Prometheus (the schema requires one of the two).
 */
function alertSource(g: LoadedConfig["config"]["canary"]["gate"]): AlertSource {
    if (g.source === "prometheus" && g.prometheusUrl) return { prometheusUrl: g.prometheusUrl };
    if (g.alertmanagerUrl) return { alertmanagerUrl: g.alertmanagerUrl };
    return { prometheusUrl: g.prometheusUrl! };
}

/** In-cluster address of one of the speculation Services. */
const inCluster = (name: string, namespace: string) => `http://${name}.${namespace}.svc.cluster.local:${SPECULATION_PORT}`;

/**
 * What a stage's gate reads, by shift mode: which address, at which version, compared with which stable track.
 *  - feature-flag: the service, at the release.
 *  - ingress-weight: the canary track at the release, judged against the stable track (serviceUrl) over the same
 *    window (lib/judge).
 *  - blue-green: below 100 % blue keeps serving — `hold` judges blue (the primary Service) at the previous version,
 *    `mirror` judges green (which gets a mirror of the requests) against blue; at 100 % the primary Service, which now
 *    selects green, at the release.
 */
export function gateTarget(loaded: LoadedConfig, serviceUrl: string, percentage: number): { url: string; version: string; compare?: CompareSpec } {
    const { config, namespace } = loaded;
    const judge = config.canary.judge;
    switch (config.canary.shiftMode) {
        case "ingress-weight":
            return { url: config.canary.gate.canaryUrl ?? inCluster(CANARY_NAME, namespace), version: config.release.version, compare: { stableUrl: serviceUrl, ...judge } };
        case "blue-green":
            if (percentage === 100) return { url: serviceUrl, version: config.release.version };
            if (config.canary.blueGreen.lowerSteps === "mirror") {
                return { url: greenUrl(loaded), version: config.release.version, compare: { stableUrl: serviceUrl, ...judge } };
            }
            return { url: serviceUrl, version: config.release.previousVersion };
        default:
            return { url: serviceUrl, version: config.release.version };
    }
}

/**
 * The track a stage's shift gives more traffic, where that is not the service the baseline reads: its pre-shift
 * check reads it too.  Ingress-weight past the first stage: the canary exists (the previous stage's gate judged it)
 * and its weight rises; stage 1's canary is new, and its smoke tests come first.  Blue-green at 100 %: the switch
 * hands green all traffic, while the primary Service still selects blue — green's smoke tests may be days old.
 */
function raisedTrack(loaded: LoadedConfig, stage: { percentage: number; previousPercentage: number }, targetUrl: string): string | undefined {
    const mode = loaded.config.canary.shiftMode;
    if (mode === "ingress-weight" && stage.previousPercentage > 0) return targetUrl;
    if (mode === "blue-green" && stage.percentage === 100) return greenUrl(loaded);
    return undefined;
}

/** The judge's settings of a comparison (the window reads both tracks by label from Prometheus: no address). */
const judgeSettings = ({ stableUrl: _stable, ...settings }: CompareSpec): JudgeSettings => settings;

const greenUrl = (loaded: LoadedConfig) => loaded.config.canary.blueGreen.greenUrl ?? inCluster(GREEN_NAME, loaded.namespace);

/**
 * The default gate of every stage, from `speculation:canary.gate`: the error-rate baseline is measured before the
 * stage shifts, the HealthGate judges the stage after it.  A failing gate reverts (`onFailure: revert`) in
 * feature-flag mode through the admin API, and in ingress-weight mode through the watchdog's action (the canary's
 * weight to 0), when the gate can reach it (`canary.gate.revert.watchdogActionUrl`).  Otherwise — blue-green, or
 * ingress-weight without that URL — the gate only fails the update.
 */
export function healthGates(loaded: LoadedConfig, serviceUrl: string, adminToken: pulumi.Input<string>): GateFactory {
    const { config } = loaded;
    const g = config.canary.gate;
    const featureFlag = config.canary.shiftMode === "feature-flag";
    const ingressWeight = config.canary.shiftMode === "ingress-weight";
    // The canary's weight is ours to lower only where the stack deploys the canary Ingress and the watchdog that may
    // patch it (kubernetes.enabled); elsewhere whoever runs the ingress owns the weight.
    const canLowerWeight = ingressWeight && config.kubernetes.enabled && config.watchdog.enabled && !!g.revert.watchdogActionUrl;
    const { readings, deadlineAfter } = gateReadings(config, serviceUrl);
    const bakeMode = bakeModeOf(config);
    const stepSeconds = parseDuration(config.monitoring.scrapeInterval);
    const maxGapSeconds = parseDuration(g.maxGap);
    const onFailure = featureFlag || canLowerWeight ? g.onFailure : "fail";
    const leftAs = onFailure === "revert" ? undefined : notRevertedWords(config);
    const artifactsDir = path.resolve(g.artifactsDir);
    // A gate's revert is recorded like a release: the deployment log and the Pushgateway (the dashboard's reverts).
    const records = recordSink(config);
    const revertOptions = {
        target: ingressWeight ? "canary-weight" as const : "rollout-percentage" as const,
        deadlineSeconds: parseDuration(g.revert.deadline),
        ...(g.revert.watchdogActionUrl ? { watchdogActionUrl: g.revert.watchdogActionUrl } : {}),
        ...(g.alertmanagerUrl ? { alertmanagerUrl: g.alertmanagerUrl } : {}),
    };
    const { cusum, ...judged } = readings;
    return (stage, parent, after) => {
        // The health check right before the shift: the ErrorBaseline runs it, a TrafficShift raising traffic again too.
        const preShift = {
            serviceUrl, source: readings.source, timeoutMs: readings.timeoutMs, thresholds: stage.thresholds, noData: readings.noData,
            alerts: readings.alerts, windowSeconds: readings.pollSeconds,
            ...(readings.proofWorkerUrl ? { proofWorkerUrl: readings.proofWorkerUrl } : {}),
            ...(readings.prometheusUrl ? { prometheusUrl: readings.prometheusUrl } : {}),
        };
        const target = gateTarget(loaded, serviceUrl, stage.percentage);
        const raisedTrackUrl = raisedTrack(loaded, stage, target.url);
        const baseline = new ErrorBaseline(`${stage.name}-baseline`, {
            stage: stage.name, version: readings.version, percentage: stage.percentage, ...preShift,
            ...(raisedTrackUrl ? { raisedTrackUrl } : {}),
        }, { parent, dependsOn: after });
        return {
            beforeShift: [baseline],
            preShift,
            checkedAt: baseline.measuredAt,
            judge: (shift) => new HealthGate(`${stage.name}-gate`, {
                ...judged,
                // Two tracks (ingress-weight, mirrored blue-green): the canary judge compares the canary with stable over
                // the same window, which is what CUSUM's pre-shift baseline (stable's) would approximate — it replaces it.
                ...(cusum && !target.compare ? { cusum } : {}),
                serviceUrl: target.url, version: target.version, ...(target.compare ? { compare: target.compare } : {}),
                stage: stage.name,
                percentage: stage.percentage,
                adminToken,
                thresholds: stage.thresholds,
                baselineErrorRate: baseline.errorRate,
                baselineP95Seconds: baseline.p95Seconds,
                bakeSeconds: stage.bakeSeconds,
                deadlineSeconds: deadlineAfter(stage.bakeSeconds),
                onFailure,
                ...(leftAs ? { leftAs } : {}),
                checkRolloutPercentage: featureFlag,
                revert: revertOptions,
                artifactsDir,
                records,
                bakeMode,
                ...(bakeMode === "window" ? {
                    entrySeconds: parseDuration(g.entryAnalysis), stepSeconds, maxGapSeconds,
                    // The bake counts from the moment the shift took (ingress mode: from the gate's start).
                    ...(shift instanceof TrafficShift ? { shiftedAt: shift.appliedAt } : {}),
                } : {}),
            }, { parent, dependsOn: [shift, baseline] }),
            ...(bakeMode === "window" ? {
                promote: (judged: pulumi.Resource) => new BakeWindow(`${stage.name}-window`, {
                    stage: stage.name, percentage: stage.percentage, version: readings.version,
                    shiftedAt: (judged as HealthGate).shiftedAt, bakeSeconds: stage.bakeSeconds, stepSeconds, maxGapSeconds,
                    prometheusUrl: readings.prometheusUrl!, serviceUrl, adminToken, thresholds: stage.thresholds,
                    baselineErrorRate: baseline.errorRate, noData: readings.noData, timeoutMs: readings.timeoutMs, onFailure,
                    checkRolloutPercentage: featureFlag, artifactsDir, revert: revertOptions, records, ...(leftAs ? { leftAs } : {}),
                    // Two tracks: the canary judged against stable over the whole bake, not only its entry analysis.
                    ...(target.compare ? { compare: judgeSettings(target.compare) } : {}),
                // Not parented to the stage: a stage's own objects may depend on the stage component (ingress mode's
                // lower stages), and a child that waits for them would close a cycle.
                }, { dependsOn: [judged] }),
            } : {}),
        };
    };
}

/**
 * What a no-go that does not revert says it left and how to lower it, in the shift mode's words (undefined:
 * feature-flag with onFailure fail, whose default sentence says it).
 */
function notRevertedWords(config: LoadedConfig["config"]): string | undefined {
    const g = config.canary.gate;
    if (config.canary.shiftMode === "blue-green") {
        return "Traffic left as it is (blue-green: traffic moves only with the switch). Back to blue: `pulumi config set speculation:rolloutPercentage <below 100> && pulumi up`.";
    }
    if (config.canary.shiftMode !== "ingress-weight") return undefined;
    const lower = "Lower it: `pulumi config set speculation:rolloutPercentage <a lower step, or 0> && pulumi up`; the watchdog sets it to 0 if a rollback trigger fires.";
    if (g.onFailure !== "revert") return `Traffic left as it is (onFailure: fail): the canary keeps its weight. ${lower}`;
    const why = !config.kubernetes.enabled ? "kubernetes.enabled is false: whoever runs the ingress owns the weight"
        : !config.watchdog.enabled ? "watchdog.enabled is false"
            : "ingress-weight mode without canary.gate.revert.watchdogActionUrl";
    return `Traffic left as it is: the canary keeps its weight. The gate cannot reach it (${why}); ${lower}`;
}

/** The gate between node batches: the canary gate's checks on the service, with the stack's thresholds. */
function nodeBatchGate(loaded: LoadedConfig, serviceUrl: string): NonNullable<NodeRolloutArgs["batchGate"]> {
    const { config } = loaded;
    const { readings, deadlineAfter } = gateReadings(config, serviceUrl);
    const bakeSeconds = parseDuration(config.nodes.batchGate.bake);
    return {
        ...readings,
        stage: "alys-nodes", percentage: config.rolloutPercentage, adminToken: "",
        thresholds: effectiveThresholds(config, -1), bakeSeconds, deadlineSeconds: deadlineAfter(bakeSeconds),
        onFailure: "fail", checkRolloutPercentage: false,
    };
}

/** A version's own image: the release's digest for the release, previousDigest (or none) for the previous version. */
function imageOf(image: LoadedConfig["config"]["release"]["images"]["speculation"], version: string, release: string) {
    const digest = version === release ? image.digest : image.previousDigest;
    return { repository: image.repository, ...(digest ? { digest } : {}) };
}


/** A value supplied after it is used: lets a workload wait for a runbook step that needs the program's Secret. */
/** The watchdog's sentinel schedule once the plan has reached 100 % (lib/watchdog/sentinel.ts says when and why). */
function sentinelOf(config: LoadedConfig["config"], topPercentage: number): { sentinel?: SentinelSchedule } {
    const s = sentinelSchedule({
        sentinel: config.watchdog.sentinel, topPercentage, speculationEnabled: config.service.speculationEnabled, rollbackMode: config.rollback.mode,
    });
    return "schedule" in s ? { sentinel: s.schedule } : {};
}

/** What `pulumi stack output sentinels` says: the watchdog's probes and their judgement, or why it does not probe. */
function sentinelStatus(config: LoadedConfig["config"], topPercentage: number): string {
    const s = config.watchdog.sentinel;
    const { sentinel } = sentinelOf(config, topPercentage);
    if (!sentinel) {
        const off = sentinelSchedule({ sentinel: s, topPercentage, speculationEnabled: config.service.speculationEnabled, rollbackMode: config.rollback.mode });
        return `off: ${"off" in off ? off.off : "no schedule"}`;
    }
    return `probing every ${s.interval}; below ${GO_NO_GO.sentinelProbeSuccess * 100} % success over ${s.window} ` +
        `(at least ${s.minProbes} probes) SpeculationSentinelFailing pulls the kill switch`;
}

function later<T>() {
    let resolve!: (value: T) => void;
    const promise = new Promise<T>((r) => (resolve = r));
    return { promise, resolve };
}

/**
 * The Kubernetes side: namespace, monitoring, proof workers, the speculation service (SPEC §1, §6).  Both
 * Deployments wait for `beforeWorkloads` (the runbook steps that must pass before a workload changes: preflight, a
 * rollback's drain), which is given the speculation service (its Secret and admin token).  During a rollback both
 * workloads run the rollback's target version; an emergency rollback replaces them delete-first.
 */
function deployKubernetes(loaded: LoadedConfig,
    beforeWorkloads: (speculation: SpeculationService) => pulumi.Resource | undefined = () => undefined) {
    const { config, namespace: namespaceName, secrets } = loaded;
    const provider = new k8s.Provider("k8s", {
        namespace: namespaceName,
        // ConfigMaps and Secrets update in place: nothing with a fixed name is deleted before its successor exists.
        ...PROVIDER_MUTABILITY,
        ...(config.kubernetes.renderYamlToDirectory ? { renderYamlToDirectory: config.kubernetes.renderYamlToDirectory } : {}),
    });
    const namespace = new k8s.core.v1.Namespace("namespace", {
        metadata: { name: namespaceName, labels: podSecurityLabels(config.kubernetes.podSecurity) },
    }, { provider });
    const ns = namespace.metadata.name;
    const providers = { providers: { kubernetes: provider } };

    const mode = config.canary.shiftMode;
    const top = plannedStages(config).at(-1)?.percentage ?? 0;
    // The watchdog's URL is known from the namespace, so Alertmanager's route can name it before it exists.
    const watchdogAt = config.watchdog.enabled ? watchdogUrl(namespaceName) : undefined;
    const monitoring = new MonitoringStack("monitoring", {
        watchdogUrl: watchdogAt,
        namespace: ns,
        namespaceName,
        mode: config.monitoring.mode,
        thresholds: { ...DEFAULT_STAGE_THRESHOLDS, ...effectiveThresholds(config, -1) },
        scrapeInterval: config.monitoring.scrapeInterval,
        evaluationInterval: config.monitoring.evaluationInterval,
        prometheusReleaseLabel: config.monitoring.prometheusReleaseLabel,
        grafanaDashboardLabel: config.monitoring.grafanaDashboardLabel,
        nodeHosts: config.nodes.hosts.map((h) => h.host),
        ...(config.records.pushgatewayUrl ? { pushgatewayUrl: config.records.pushgatewayUrl } : {}),
        greenServesPrimary: mode === "blue-green" && top === 100,
        receivers: loaded.receivers,
        receiverSecrets: secrets.alertReceivers,
        sentinel: sentinelAlertSettings(config.watchdog.sentinel),
    }, providers);

    const workloadsMayChange = later<pulumi.Resource>();
    const target = rollbackTarget(config);
    const proofWorkers = new ProofWorkers("proof-workers", {
        namespace: ns,
        namespaceName,
        version: target ?? config.release.version,
        // A rolled-back version runs its own digest (previousDigest), never the release's.
        image: imageOf(config.release.images.proofWorker, target ?? config.release.version, config.release.version),
        replicas: config.proofWorkers.replicas,
        resources: config.proofWorkers.resources,
        monitoringMode: config.monitoring.mode,
        prometheusReleaseLabel: config.monitoring.prometheusReleaseLabel,
        scrapeInterval: config.monitoring.scrapeInterval,
        readinessPath: config.proofWorkers.readinessPath,
        spread: config.hardening.topologySpread,
        dependsOn: [workloadsMayChange.promise],
        replaceFirst: config.rollback.mode === "emergency",
    }, providers);

    // The stable track (blue) keeps the known-good version: in ingress-weight mode until the plan reaches 100 %, in
    // blue-green mode until the next release (green takes the primary Service at 100 %; blue stays for the switch back).
    const stableVersion = mode === "blue-green" || (mode === "ingress-weight" && top < 100) ? config.release.previousVersion : config.release.version;
    const mirrorToGreen = mode === "blue-green" && config.canary.blueGreen.lowerSteps === "mirror" && top > 0 && top < 100;
    // Blue-green: the primary Service switches only after what program.ts names once the stages exist (smoke tests,
    // the previous stage's gate, the 100 % stage's baseline).
    const switchAfter = later<pulumi.Resource[]>();
    // Blue-green, mirror: the primary Ingress starts mirroring to green only after green's smoke tests passed.
    const mirrorAfter = later<pulumi.Resource[]>();
    const speculation = new SpeculationService("speculation", {
        namespace: ns,
        namespaceName,
        version: target ?? stableVersion,
        image: imageOf(config.release.images.speculation, target ?? stableVersion, config.release.version),
        replicas: config.service.replicas,
        resources: config.service.resources,
        configToml: speculationToml(config, namespaceName, stableVersion),
        monitoringMode: config.monitoring.mode,
        prometheusReleaseLabel: config.monitoring.prometheusReleaseLabel,
        scrapeInterval: config.monitoring.scrapeInterval,
        spread: config.hardening.topologySpread,
        dependsOn: [proofWorkers.deployment, workloadsMayChange.promise],
        replaceFirst: config.rollback.mode === "emergency",
        ...(mode === "feature-flag" ? {} : {
            ingress: {
                host: config.canary.ingress.host, className: config.canary.ingress.className,
                await: { mode: config.canary.ingress.await, timeout: config.canary.ingress.awaitTimeout },
                paths: config.canary.ingress.publicPaths,
                // ingress-nginx mirrors every request to green and discards green's answers (blue-green, mirror).
                ...(mirrorToGreen ? {
                    annotations: { "nginx.ingress.kubernetes.io/mirror-target": `${inCluster(GREEN_NAME, namespaceName)}$request_uri` },
                    dependsOn: mirrorAfter.promise,
                } : {}),
            },
        }),
        ...(mode === "blue-green" ? { selectApp: top === 100 ? GREEN_NAME : "agenc-speculation", serviceDependsOn: switchAfter.promise } : {}),
    }, providers);

    // Default-deny ingress, then only the named peers per workload port (hardening.networkPolicies).
    const isolation = new NetworkIsolation("network", {
        namespace: namespaceName,
        namespaceRef: ns,
        monitoringMode: config.monitoring.mode,
        shiftMode: config.canary.shiftMode,
        policy: config.hardening.networkPolicies,
        ...(config.watchdog.enabled ? { watchdogPort: WATCHDOG_PORT } : {}),
    }, providers);
    const runbookGate = beforeWorkloads(speculation);
    workloadsMayChange.resolve(runbookGate ?? namespace);
    // What protects a stage between `pulumi up`s: rollback triggers → Alertmanager → the watchdog's revert.
    const watchdog = config.watchdog.enabled ? new Watchdog("watchdog", {
        namespace: ns,
        namespaceName,
        serviceUrl: inCluster("agenc-speculation", namespaceName),
        adminTokenSecret: { name: speculation.secret.metadata.name, key: "ADMIN_TOKEN" },
        image: config.watchdog.image,
        replicas: config.watchdog.replicas,
        revertDeadlineSeconds: parseDuration(config.watchdog.revertDeadline),
        ...sentinelOf(config, top),
        // Ingress-weight mode: a revert takes the canary's weight to 0 (the admin API is not its traffic path).
        ...(mode === "ingress-weight" ? { canaryIngress: CANARY_NAME } : {}),
        monitoringMode: config.monitoring.mode,
        prometheusReleaseLabel: config.monitoring.prometheusReleaseLabel,
        scrapeInterval: config.monitoring.scrapeInterval,
    }, { ...providers, dependsOn: [namespace] }) : undefined;
    return { provider, ns, monitoring, proofWorkers, speculation, isolation, watchdog, providers, switchAfter: switchAfter.resolve, mirrorAfter: mirrorAfter.resolve, runbookGate };
}

/**
 * Seed 000's prerequisites before the release changes anything (providers/preflight.ts), when
 * `speculation:preflight.chainRpcUrl` is set: chain health, stake-pool balance, the secret, and Prometheus
 * scraping both workloads when the gates read Prometheus.
 */
function preflight(loaded: LoadedConfig, serviceUrl: string,
    secret: { secret: k8s.core.v1.Secret } | { adminToken: pulumi.Input<string> }): Preflight | undefined {
    const { config } = loaded;
    const p = config.preflight;
    // A rollback is never held back by a release's prerequisites: traffic errs toward less.
    if (!p.chainRpcUrl || config.rollback.mode !== "none") return undefined;
    const g = config.canary.gate;
    const secretSource = "secret" in secret
        ? pulumi.all([secret.secret.metadata.name, secret.secret.data, secret.secret.stringData]).apply(([name, data, stringData]) => ({
            kind: "kubernetes" as const, name, keys: [...new Set([...Object.keys(data ?? {}), ...Object.keys(stringData ?? {})])],
        }))
        : { kind: "admin-api" as const, serviceUrl };
    return new Preflight("preflight", {
        // Any release edit (version, target, rollback) runs the checks again before it changes anything, except one
        // that only lowers the target (providers/preflight.ts): a kill switch is never held back by a chain outage.
        trigger: JSON.stringify({ version: config.release.version, previousVersion: config.release.previousVersion,
            rolloutPercentage: config.rolloutPercentage, rollback: config.rollback.mode }),
        chainRpcUrl: p.chainRpcUrl,
        stakePoolAddress: p.stakePoolAddress!,
        minStakeSol: p.minStakeSol,
        secretSource,
        ...("adminToken" in secret ? { adminToken: secret.adminToken } : {}),
        ...(g.source === "prometheus" ? { prometheus: { url: g.prometheusUrl!, jobs: [SPECULATION_JOB, PROOF_WORKERS_JOB] } } : {}),
        timeoutMs: parseDuration(p.timeout) * 1000,
        artifactsDir: path.resolve(config.records.artifactsDir),
    }, "secret" in secret ? { dependsOn: [secret.secret] } : {});
}

/**
 * Seed 000's smoke tests and the synthetic speculation against the stable service (providers/releaseSmoke.ts), once it
 * is ready and before stage 1 shifts traffic (`speculation:smoke.enabled`, on by default).
 */
function smokeTests(loaded: LoadedConfig, serviceUrl: string, adminToken: pulumi.Input<string>, serviceReady: pulumi.Resource[],
    configChecksum?: string): ReleaseSmokeTest | undefined {
    const { config } = loaded;
    if (!config.smoke.enabled) return undefined;
    return new ReleaseSmokeTest("smoke-stable", {
        track: "stable",
        // After a rollback the suite verifies the version the workloads went back to.
        version: rollbackTarget(config) ?? config.release.version,
        serviceUrl,
        proofWorkerUrl: config.canary.gate.proofWorkerUrl,
        adminToken,
        timeoutMs: parseDuration(config.smoke.timeout) * 1000,
        ...(configChecksum ? { trigger: configChecksum } : {}),
        artifactsDir: path.resolve(config.records.artifactsDir),
    }, { dependsOn: serviceReady });
}

/**
 * Seed 000's post-deployment verification once the plan reaches 100 % and the top stage's gate passed
 * (providers/verification.ts), recorded (`speculation:verify.enabled`, on by default).
 */
function verification(loaded: LoadedConfig, serviceUrl: string, canaryStages: CanaryStage[],
    kube?: ReturnType<typeof deployKubernetes>): Verification | undefined {
    const { config } = loaded;
    const top = canaryStages[canaryStages.length - 1];
    if (!config.verify.enabled || !top || top.percentage !== 100) return undefined;
    const readiness = (d: k8s.apps.v1.Deployment, name: string) =>
        pulumi.all([d.spec, d.status]).apply(([spec, status]) => ({ name, ready: status?.readyReplicas ?? 0, desired: spec?.replicas ?? 0 }));
    const thresholds = effectiveThresholds(config, top.stage.index);
    return new Verification("verify-100pct", {
        version: config.release.version,
        serviceUrl,
        proofWorkerUrl: config.canary.gate.proofWorkerUrl,
        timeoutMs: parseDuration(config.canary.gate.timeout) * 1000,
        // Every Deployment that serves at 100 %: blue-green's green behind the primary Service, ingress-weight's canary.
        pods: kube ? pulumi.all([
            readiness(kube.proofWorkers.deployment, "proof-workers"), readiness(kube.speculation.deployment, "agenc-speculation"),
            ...(top.trackDeployment ? [readiness(top.trackDeployment, config.canary.shiftMode === "blue-green" ? GREEN_NAME : CANARY_NAME)] : []),
        ]) : [],
        ...(config.canary.shiftMode === "feature-flag" ? { expectRolloutPercentage: 100 } : {}),
        limits: {
            minSpeculationMetrics: GO_NO_GO.smokeMinSpeculationMetrics, maxRollbackRate: thresholds.maxRollbackRate,
            maxMemoryPercent: thresholds.maxMemoryPercent, maxProofQueueSize: thresholds.maxProofQueueSize,
        },
        artifactsDir: path.resolve(config.records.artifactsDir),
    }, { dependsOn: [top.promotion] });
}

/**
 * The deployment record of this update (providers/deploymentRecord.ts), after every step it names: appended to
 * `<records.artifactsDir>/deployments.log` and pushed to `records.pushgatewayUrl` when set.
 */
function deploymentRecord(loaded: LoadedConfig, startedAt: string, steps: {
    preflight?: Preflight; drain?: RollbackDrain; smoke?: ReleaseSmokeTest; bench?: BenchRun; canaryStages: CanaryStage[]; verified?: Verification;
    nodes?: pulumi.CustomResource & { record: pulumi.Output<{ status: string }> };
}): DeploymentRecordResource {
    const { config } = loaded;
    const verdicts: Record<string, pulumi.Input<string>> = {};
    if (steps.preflight) verdicts.preflight = steps.preflight.verdict;
    if (steps.drain) verdicts.drain = steps.drain.verdict;
    if (steps.smoke) verdicts.smoke = steps.smoke.verdict;
    if (steps.bench) verdicts.bench = steps.bench.verdict;
    for (const stage of steps.canaryStages) {
        if (stage.promotion instanceof HealthGate) verdicts[stage.stage.name] = stage.promotion.verdict;
    }
    if (steps.verified) verdicts.verify = steps.verified.verdict;
    if (steps.nodes) verdicts.nodes = steps.nodes.record.apply((r) => r?.status ?? "not run");
    const waitFor = [steps.preflight, steps.drain, steps.smoke, steps.bench, ...steps.canaryStages.map((s) => s.promotion), steps.verified, steps.nodes]
        .filter((r): r is pulumi.Resource => r !== undefined);
    return new DeploymentRecordResource("deployment-record", {
        ...recordSink(config),
        version: config.release.version,
        outcome: config.rollback.mode === "none" ? "released" : `rollback-${config.rollback.mode}`,
        stagesReached: steps.canaryStages.map((s) => ({ name: s.stage.name, percentage: s.percentage })),
        rolloutPercentage: steps.canaryStages[steps.canaryStages.length - 1]?.percentage ?? 0,
        verdicts,
        startedAt,
    }, { dependsOn: waitFor });
}

/** Where every deployment record goes (`records.*`): the release's at the end of an update, and each gate's revert. */
function recordSink(config: LoadedConfig["config"]): RecordSink {
    return {
        environment: config.environment, previousVersion: config.release.previousVersion,
        operator: operatorName(config.records.operator), logFile: path.resolve(config.records.artifactsDir, "deployments.log"),
        timeoutMs: parseDuration(config.canary.gate.timeout) * 1000, ...(config.records.pushgatewayUrl ? { pushgatewayUrl: config.records.pushgatewayUrl } : {}),
    };
}

/** The version both workloads go back to during a rollback (undefined in normal operation). */
function rollbackTarget(config: LoadedConfig["config"]): string | undefined {
    const r = config.rollback;
    if (r.mode === "full") return config.release.previousVersion;
    if (r.mode === "emergency") return r.lastKnownGood ?? config.release.previousVersion;
    return undefined;
}

/**
 * `speculation:rollback.mode full | emergency` is one config edit: it implies a 0 % target (every stage is removed,
 * each handing back no more than is live) and speculation disabled, with no bench (nothing is being promoted).
 */
function applyRollback(loaded: LoadedConfig): LoadedConfig {
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
 * A full or emergency rollback's first steps (providers/rollbackDrain.ts), before either workload changes: disable
 * speculation, then (full) drain pending operations below the threshold.
 */
function rollbackDrain(loaded: LoadedConfig, serviceUrl: string, adminToken: pulumi.Input<string>, after?: pulumi.Resource): RollbackDrain | undefined {
    const { config } = loaded;
    const mode = config.rollback.mode;
    if (mode === "none") return undefined;
    return new RollbackDrain(`rollback-${mode}`, {
        mode,
        targetVersion: rollbackTarget(config)!,
        serviceUrl,
        adminToken,
        maxPending: GO_NO_GO.maxPendingOperationsForRollback,
        pollSeconds: parseDuration(config.rollback.drainPollInterval),
        deadlineSeconds: parseDuration(config.rollback.drainTimeout),
        timeoutMs: parseDuration(config.canary.gate.timeout) * 1000,
        artifactsDir: path.resolve(config.records.artifactsDir),
    }, { dependsOn: after ? [after] : [] });
}

export function defineStack(original: LoadedConfig = loadStackConfig(), options: ProgramOptions = {}) {
    // When this run of the program started: the deployment record's duration runs from here.
    const startedAt = new Date().toISOString();
    const loaded = applyRollback(original);
    const { config, namespace: namespaceName, secrets } = loaded;
    // kubernetes.enabled: false (the local stack) drives a service running elsewhere: no cluster objects at all.
    const serviceUrl = config.canary.gate.serviceUrl ?? `http://agenc-speculation.${namespaceName}.svc.cluster.local:${SPECULATION_PORT}`;
    // What must pass before a workload (or, without Kubernetes, anything) changes: preflight, then a rollback's drain.
    let pre: Preflight | undefined;
    let drain: RollbackDrain | undefined;
    const beforeRelease = (secret: { secret: k8s.core.v1.Secret } | { adminToken: pulumi.Input<string> }, token: pulumi.Input<string>) => {
        pre = preflight(loaded, serviceUrl, secret);
        drain = rollbackDrain(loaded, serviceUrl, token, pre);
        return drain ?? pre;
    };
    const kube = config.kubernetes.enabled
        ? deployKubernetes(loaded, (speculation) => beforeRelease({ secret: speculation.secret }, speculation.adminToken))
        : undefined;
    const adminToken: pulumi.Input<string> = kube ? kube.speculation.adminToken : secrets.adminToken!;
    const mode = config.canary.shiftMode;
    // Without Kubernetes the preflight checks the admin token against the running service.
    const checked = kube ? kube.runbookGate : beforeRelease({ adminToken }, adminToken);
    // Blue-green: the stages do not wait for the primary Service, whose switch waits for them.
    const serviceReady: pulumi.Resource[] = kube
        ? [kube.speculation.deployment, ...(mode === "blue-green" ? [] : [kube.speculation.service])]
        : (checked ? [checked] : []);
    const smoke = smokeTests(loaded, serviceUrl, adminToken, serviceReady, kube?.speculation.configChecksum);
    const smoked: pulumi.Resource[] = [...serviceReady, ...(smoke ? [smoke] : [])];
    const stages = plannedStages(config);

    const gate = options.gate ? options.gate(loaded, serviceUrl) : healthGates(loaded, serviceUrl, adminToken);
    // The final bench runs against the release before its first stage may shift traffic (SPEC §7).
    const bench = config.bench.enabled ? new BenchRun("final-bench", {
        version: config.release.version,
        command: config.bench.command!,
        resultsDir: path.resolve(config.bench.resultsDir),
        workingDir: process.cwd(),
        limits: {
            maxP95BaselineMultiple: config.bench.maxP95BaselineMultiple,
            maxTailRatio: config.bench.maxTailRatio,
            minThroughputPerSecond: config.bench.minThroughputPerSecond,
            extraGates: config.bench.extraGates,
        },
        targetUrl: serviceUrl,
        timeoutSeconds: parseDuration(config.bench.timeout),
        ...(config.bench.onNode ? {
            remote: pulumi.all([secrets.sshPrivateKey!]).apply(([privateKey]) => {
                return { node: nodeAddress(config.nodes.hosts.find((h) => h.name === config.bench.onNode)!), privateKey };
            }),
        } : {}),
    }, { dependsOn: smoked }) : undefined;
    const canaryStages: CanaryStage[] = [];
    for (const stage of stages) {
        // The previous stage's window judgement is registered before this stage's component, so a refusal (bake not
        // elapsed) stops the update before anything of this stage is recorded.
        canaryStages[canaryStages.length - 1]?.promotionForNext();
        canaryStages.push(new CanaryStage(stage.name, {
            stage,
            declaredStages: stages,
            allStageNames: config.canary.steps.map((step, i) => stageName(step.percentage, i)),
            planPercentages: config.canary.steps.map((step) => step.percentage),
            shiftMode: config.canary.shiftMode,
            namespace: kube?.ns ?? namespaceName,
            serviceUrl,
            adminToken,
            previous: canaryStages[canaryStages.length - 1],
            ingress: mode === "ingress-weight" ? {
                host: config.canary.ingress.host,
                className: config.canary.ingress.className,
                await: { mode: config.canary.ingress.await, timeout: config.canary.ingress.awaitTimeout },
                paths: config.canary.ingress.publicPaths,
            } : undefined,
            track: kube && mode !== "feature-flag" ? {
                version: config.release.version,
                // The canary is sized to its share (lib/plan.ts); green is a full copy of blue, since it takes all traffic at 100 %.
                replicas: mode === "blue-green" ? config.service.replicas : canaryReplicas(config.service.replicas, stages[stages.length - 1].percentage),
                image: imageOf(config.release.images.speculation, config.release.version, config.release.version),
                resources: config.service.resources,
                configToml: speculationToml(config, namespaceName),
                secretName: SPECULATION_SECRET,
                namespaceName,
                monitoringMode: config.monitoring.mode,
                prometheusReleaseLabel: config.monitoring.prometheusReleaseLabel,
                scrapeInterval: config.monitoring.scrapeInterval,
                spread: config.hardening.topologySpread,
            } : undefined,
            // The new track's smoke tests before it gets traffic (the suite the stable service passed), retried while its
            // pods come up: green's own Service, or the canary's (the gate's canary address).
            smoke: mode === "blue-green" || mode === "ingress-weight" ? {
                url: mode === "blue-green" ? greenUrl(loaded) : (config.canary.gate.canaryUrl ?? inCluster(CANARY_NAME, loaded.namespace)),
                timeoutMs: parseDuration(config.canary.gate.timeout) * 1000,
                deadlineSeconds: parseDuration(config.canary.gate.deadlineSlack), pollSeconds: Math.min(10, parseDuration(config.canary.gate.pollInterval)),
                artifactsDir: path.resolve(config.records.artifactsDir),
            } : undefined,
            primarySwitch: mode === "blue-green" && stage.percentage === 100 ? kube?.speculation.service : undefined,
            gate,
            dependsOn: [...smoked, ...(bench ? [bench] : [])],
        }, kube?.providers));
    }
    // Blue-green at 100 %: the selector switch waits for green's smoke tests, the previous stage's gate and this
    // stage's baseline; below 100 % (or on the way back) it waits for nothing.
    const full = mode === "blue-green" ? canaryStages.find((s) => s.percentage === 100) : undefined;
    const greenOwner = canaryStages[canaryStages.length - 1];
    kube?.switchAfter(full ? [
        ...(greenOwner?.smokeTest ? [greenOwner.smokeTest] : []), ...full.beforeShift,
        ...(canaryStages.length > 1 ? [canaryStages[canaryStages.length - 2].promotion] : []),
    ] : []);
    kube?.mirrorAfter(greenOwner?.smokeTest ? [greenOwner.smokeTest] : []);

    // The bare-metal fleet (seed 001) rolls out beside the Kubernetes side, node by node.
    const nodes = config.nodes.hosts.length > 0
        ? new NodeRollout("alys-nodes", {
            version: config.release.version, nodes: config.nodes, privateKey: secrets.sshPrivateKey!,
            batchGate: config.nodes.batchGate.enabled ? nodeBatchGate(loaded, serviceUrl) : undefined,
            dependsOn: checked ? [checked] : [],
        })
        : undefined;

    const top = stages[stages.length - 1];
    const verified = verification(loaded, serviceUrl, canaryStages, kube);
    const record = deploymentRecord(loaded, startedAt, {
        preflight: pre, drain, smoke, bench, canaryStages, verified, nodes: nodes?.rollout,
    });
    // Kubernetes outputs only where there is a Kubernetes side (an undefined output is a warning under the engine).
    const kubernetesOutputs = kube ? {
        namespace: kube.ns,
        speculationServiceName: kube.speculation.serviceName,
        proofWorkersServiceName: kube.proofWorkers.serviceName,
        configMapName: kube.speculation.configMap.metadata.name,
        configChecksum: kube.speculation.configChecksum,
        adminToken: kube.speculation.adminToken,
        monitoringMode: config.monitoring.mode,
        alertRules: kube.monitoring.alertNames,
        ruleResourceName: kube.monitoring.ruleResourceName,
        dashboards: kube.monitoring.dashboardNames,
        sentinels: kube.watchdog ? sentinelStatus(config, top?.percentage ?? 0) : "off: watchdog.enabled is false",
    } : {};
    return {
        environment: config.environment,
        version: config.release.version,
        previousVersion: config.release.previousVersion,
        rolloutPercentage: top?.percentage ?? 0,
        rolloutMode: config.canary.shiftMode,
        stages: canaryStages.map(stageOutput),
        gateVerdicts: canaryStages.map((s) => s.promotion).filter((r): r is HealthGate => r instanceof HealthGate)
            .map((g) => g.verdict),
        ...(bench ? { benchVerdict: bench.verdict } : {}),
        ...(pre ? { preflightVerdict: pre.verdict } : {}),
        ...(drain ? { rollback: drain.report } : {}),
        ...(smoke ? { smokeVerdict: smoke.verdict } : {}),
        ...(verified ? { verification: verified.report } : {}),
        deploymentRecord: record.record,
        ...(nodes ? { nodeDeployment: nodes.rollout.record } : {}),
        ...kubernetesOutputs,
    };
}

/**
 * A stage as the stack outputs show it: its plan, and — where a HealthGate judges it — when it shifted, when its
 * bake ends, and the verdict so far (promoted when the next stage's window judgement passed; else the gate's phase,
 * or what the last `pulumi refresh` found).
 */
function stageOutput(c: CanaryStage) {
    const plan = { name: c.stage.name, percentage: c.stage.percentage, bake: c.stage.bake };
    const gate = c.promotion instanceof HealthGate ? c.promotion : undefined;
    if (!gate) return pulumi.output(plan);
    const window = c.windowJudgement instanceof BakeWindow ? c.windowJudgement.verdict : pulumi.output(undefined);
    return pulumi.all([gate.shiftedAt, gate.bakeEndsAt, gate.phase, gate.current, window]).apply(([shiftedAt, bakeEndsAt, phase, current, promoted]) => ({
        ...plan,
        ...(shiftedAt ? { shiftedAt } : {}),
        ...(bakeEndsAt ? { bakeEndsAt } : {}),
        verdict: promoted === "pass" ? "promoted" : promoted === "fail" ? "failed" : current?.verdict === "fail" ? "failed"
            : current ? `${phase ?? "baking"} (refresh: ${current.verdict})` : (phase ?? "pending"),
    }));
}

export type StackOutputs = ReturnType<typeof defineStack>;
