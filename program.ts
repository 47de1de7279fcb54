/**
 * The whole stack: read the config once, resolve it into the release plan (lib/plan), create the release's steps in
 * the order they run, return the stack outputs.  index.ts runs it for the CLI; the Automation API tests and the local
 * stack run it as an inline program.
 *
 * The release, step by step (defineStack creates them in this order; each waits for the ones before it):
 *  0. The signature verification (docs/signing.md): every image digest the pods will run and the node binary carry a
 *     valid signature from a configured key; every Kubernetes object (through the provider) and the node rollout wait.
 *  1. The Kubernetes side: namespace, monitoring, proof workers, the speculation service, network isolation.  The
 *     workloads change only after step 2.
 *  2. Before any workload changes: seed 000's preflight, then a full or emergency rollback's drain, then an emergency
 *     rollback's stop (the release's pods scaled to 0 and gone before any last-known-good pod is created).
 *  3. The watchdog, which protects a stage between `pulumi up`s.
 *  4. The stable service's smoke tests, then the final bench, before any traffic shifts.
 *  5. The canary stages, each after the one before passed: its gate, or in window bake mode its whole bake window.
 *     How a stage shifts is its shift mode's strategy (lib/shift, components/shift).
 *  6. Blue-green: the primary Service's switch and the mirror to green wait for green's smoke tests (and the switch
 *     for the previous stage's gate and the 100 % stage's baseline).
 *  7. The bare-metal fleet, node by node, beside the Kubernetes side.
 *  8. The verification at 100 %, then the deployment record of the update.
 */
import * as k8s from "@pulumi/kubernetes";
import { createHash } from "crypto";
import { readFileSync } from "fs";
import * as pulumi from "@pulumi/pulumi";
import { CanaryStage, GateFactory } from "./components/CanaryStage";
import { MonitoringStack } from "./components/MonitoringStack";
import { NetworkIsolation } from "./components/NetworkIsolation";
import { NodeRollout, NodeRolloutArgs } from "./components/NodeRollout";
import { ProofWorkers } from "./components/ProofWorkers";
import { ADMIN_TOKEN_KEY, SPECULATION_SECRET, SpeculationService } from "./components/SpeculationService";
import { Watchdog, watchdogUrl, WATCHDOG_PORT } from "./components/Watchdog";
import { staticJobs } from "./lib/monitoring/scrape";
import { Guard } from "./components/Guard";
import { bakeModeOf, judgeReplacesCusum } from "./config/schema";
import { LoadedConfig, loadStackConfig } from "./config";
import { DEFAULT_STAGE_THRESHOLDS, GO_NO_GO } from "./config/thresholds";
import { PROVIDER_MUTABILITY, podSecurityLabels } from "./lib/k8s";
import { JudgeSettings } from "./lib/judge/judge";
import { CompareSpec } from "./lib/gate/compare";
import { StageBudget } from "./lib/slo/judge";
import { effectiveThresholds, imageOf, ReleasePlan, releasePlan, seconds, StagePlan } from "./lib/plan";
import { operatorName } from "./lib/records/operator";
import { nodeAddress } from "./lib/nodes/address";
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
import { EmergencyStop } from "./providers/emergencyStop";
import { TrafficShift } from "./providers/trafficShift";
import { SignatureVerification } from "./providers/signatureVerification";

export interface ProgramOptions {
    /** How each stage is judged; by default an ErrorBaseline before the shift and a HealthGate after it. */
    gate?: (loaded: LoadedConfig, serviceUrl: string) => GateFactory | undefined;
}

/**
 * What every gate built from `speculation:canary.gate` reads, the stage gates and the gate between node batches
 * alike: where it reads, how often, how long one read may take, what no data means (the plan's, in the units the
 * gate's inputs name).
 */
function gateReadings(plan: ReleasePlan) {
    const g = plan.gate;
    return {
        version: g.version,
        serviceUrl: g.serviceUrl,
        proofWorkerUrl: g.proofWorkerUrl,
        prometheusUrl: g.prometheusUrl,
        source: g.source,
        pollSeconds: seconds(g.pollMs),
        timeoutMs: g.timeoutMs,
        noData: g.noData,
        alerts: g.alerts,
        ...(g.cusum ? { cusum: g.cusum } : {}),
    };
}

/** The judge's settings of a comparison (the window reads both tracks by label from Prometheus: no address). */
const judgeSettings = ({ stableUrl: _stable, ...settings }: CompareSpec): JudgeSettings => settings;

/**
 * The default gate of every stage, from `speculation:canary.gate`: the error-rate baseline is measured before the
 * stage shifts, the HealthGate judges the stage after it.  A failing gate reverts (`onFailure: revert`) in
 * feature-flag mode through the admin API, and in ingress-weight mode through the watchdog's action (the canary's
 * weight to 0), when the gate can reach it (`canary.gate.revert.watchdogActionUrl`).  Otherwise — blue-green, or
 * ingress-weight without that URL — the gate only fails the update (the shift strategy's gateFailure says which).
 */
export function healthGates(plan: ReleasePlan, adminToken: pulumi.Input<string>): GateFactory {
    const { gate: g, serviceUrl } = plan;
    const { cusum, ...judged } = gateReadings(plan);
    const { onFailure, leftAs } = g.failure;
    // What a refresh reads back: the admin API's rollout percentage, where that is the traffic (feature-flag).
    const checkRolloutPercentage = plan.shift.refreshReadsRolloutPercentage;
    const revert = {
        target: g.revert.target,
        deadlineSeconds: seconds(g.revert.deadlineMs),
        ...(g.revert.watchdogActionUrl ? { watchdogActionUrl: g.revert.watchdogActionUrl } : {}),
        ...(g.revert.alertmanagerUrl ? { alertmanagerUrl: g.revert.alertmanagerUrl } : {}),
    };
    const window = g.bakeMode === "window";
    const stepSeconds = seconds(g.stepMs);
    const maxGapSeconds = seconds(g.maxGapMs);
    // A gate's revert is recorded like a release: the deployment log and the Pushgateway (the dashboard's reverts).
    const records = plan.records;
    // speculation:pushgatewayCredentials: a secret input of every step that pushes (never inside `records`, which is plain).
    const auth = pushgatewayAuthOf(plan);
    const artifactsDir = g.artifactsDir;
    const stagePlan = (name: string): StagePlan => plan.stages.find((s) => s.name === name)!;
    return (stage, parent, after) => {
        const { target, raisedTrackUrl, deadlineMs } = stagePlan(stage.name).gate;
        // The health check right before the shift: the ErrorBaseline runs it, a TrafficShift raising traffic again too.
        const preShift = {
            serviceUrl, source: judged.source, timeoutMs: judged.timeoutMs, thresholds: stage.thresholds, noData: judged.noData,
            alerts: judged.alerts, windowSeconds: judged.pollSeconds,
            ...(judged.proofWorkerUrl ? { proofWorkerUrl: judged.proofWorkerUrl } : {}),
            ...(judged.prometheusUrl ? { prometheusUrl: judged.prometheusUrl } : {}),
        };
        const baseline = new ErrorBaseline(`${stage.name}-baseline`, {
            stage: stage.name, version: judged.version, percentage: stage.percentage, ...preShift,
            ...(raisedTrackUrl ? { raisedTrackUrl } : {}),
            // SpeculationErrorRateSpike holds the stage to this baseline between ups: pushed where the records go.
            ...(plan.records.pushgatewayUrl ? { publish: { pushgatewayUrl: plan.records.pushgatewayUrl, environment: plan.records.environment } } : {}),
            ...auth,
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
                deadlineSeconds: seconds(deadlineMs),
                onFailure,
                ...(leftAs ? { leftAs } : {}),
                checkRolloutPercentage,
                revert,
                artifactsDir,
                records,
                ...auth,
                slo: g.slo,
                bakeMode: g.bakeMode,
                ...(window ? {
                    entrySeconds: seconds(g.entryMs), stepSeconds, maxGapSeconds,
                    // The bake counts from the moment the shift took (ingress mode: from the gate's start).
                    ...(shift instanceof TrafficShift ? { shiftedAt: shift.appliedAt } : {}),
                } : {}),
            }, { parent, dependsOn: [shift, baseline] }),
            ...(window ? {
                promote: (judgedBy: pulumi.Resource) => new BakeWindow(`${stage.name}-window`, {
                    stage: stage.name, percentage: stage.percentage, version: judged.version,
                    shiftedAt: (judgedBy as HealthGate).shiftedAt, bakeSeconds: stage.bakeSeconds, stepSeconds, maxGapSeconds,
                    prometheusUrl: judged.prometheusUrl!, serviceUrl, adminToken, thresholds: stage.thresholds,
                    baselineErrorRate: baseline.errorRate, noData: judged.noData, timeoutMs: judged.timeoutMs, onFailure,
                    checkRolloutPercentage, artifactsDir, revert, records, ...auth, slo: g.slo, ...(leftAs ? { leftAs } : {}),
                    // Two tracks: the canary judged against stable over the whole bake, not only its entry analysis.
                    ...(target.compare ? { compare: judgeSettings(target.compare) } : {}),
                // Not parented to the stage: a stage's own objects may depend on the stage component (ingress mode's
                // lower stages), and a child that waits for them would close a cycle.
                }, { dependsOn: [judgedBy] }),
            } : {}),
        };
    };
}

/** The Pushgateway's credentials as a step's input (a secret Output), when the stack pushes to one and has them. */
function pushgatewayAuthOf(plan: ReleasePlan): { pushgatewayAuth?: pulumi.Output<{ username: string; password: string }> } {
    const credentials = plan.loaded.secrets.pushgatewayCredentials;
    return plan.records.pushgatewayUrl && credentials ? { pushgatewayAuth: credentials } : {};
}

/** The gate between node batches: the canary gate's checks on the service, with the stack's thresholds. */
function nodeBatchGate(plan: ReleasePlan): NodeRolloutArgs["batchGate"] {
    const batch = plan.nodeBatchGate;
    if (!batch) return undefined;
    return {
        ...gateReadings(plan),
        stage: "alys-nodes", percentage: plan.config.rolloutPercentage, adminToken: "",
        thresholds: effectiveThresholds(plan.config, -1), bakeSeconds: seconds(batch.bakeMs), deadlineSeconds: seconds(batch.deadlineMs),
        onFailure: "fail", checkRolloutPercentage: false,
    };
}


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

/**
 * A dependency known only later in the release order: a component created early waits for resources created after
 * it (blue-green's primary Service, say, waits for the stages that judge what it will select).  `set` gives them,
 * exactly once; defineStack's last step `check`s that every one was, since a dependency never given hangs the update.
 */
function laterDependency<T>(what: string) {
    let resolve!: (value: T) => void;
    let given = false;
    const promise = new Promise<T>((r) => (resolve = r));
    return {
        promise,
        set(value: T) {
            if (given) throw new Error(`program.ts: ${what} was given twice`);
            given = true;
            resolve(value);
        },
        check() {
            if (!given) throw new Error(`program.ts: ${what} was never given: the update would wait forever`);
        },
    };
}

/**
 * Step 1, the Kubernetes side: namespace, monitoring, proof workers, the speculation service, network isolation
 * (SPEC §1, §6).  Both Deployments wait for what `workloadsAfter` is given (step 2: the runbook steps that must pass
 * before a workload changes); blue-green's primary Service switch and the mirror to green wait for what the stages
 * give `switchAfter` and `mirrorAfter`.  During a rollback both workloads run the rollback's target version; an
 * emergency rollback replaces them delete-first.
 */
function deployKubernetes(plan: ReleasePlan, signatures: SignatureVerification) {
    const { config, namespace: namespaceName, loaded } = plan;
    // Every Kubernetes object goes through this provider, which waits for the signature verification: a release with
    // an image not signed by the configured keys changes no object at all (a failed verification fails the update here).
    const provider = new k8s.Provider("k8s", {
        namespace: namespaceName,
        // ConfigMaps and Secrets update in place: nothing with a fixed name is deleted before its successor exists.
        ...PROVIDER_MUTABILITY,
        ...(config.kubernetes.renderYamlToDirectory ? { renderYamlToDirectory: config.kubernetes.renderYamlToDirectory } : {}),
    }, { dependsOn: [signatures] });
    const namespace = new k8s.core.v1.Namespace("namespace", {
        metadata: { name: namespaceName, labels: podSecurityLabels(config.kubernetes.podSecurity) },
    }, { provider, dependsOn: [signatures] });
    const ns = namespace.metadata.name;
    const providers = { providers: { kubernetes: provider } };
    const stable = plan.stable;

    // The watchdog's URL is known from the namespace, so Alertmanager's route can name it before it exists.
    const monitoring = new MonitoringStack("monitoring", {
        watchdogUrl: config.watchdog.enabled ? watchdogUrl(namespaceName) : undefined,
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
        ...(config.records.pushgatewayUrl && loaded.secrets.pushgatewayCredentials ? { pushgatewayCredentials: loaded.secrets.pushgatewayCredentials } : {}),
        greenServesPrimary: stable.newTrackServesPrimary,
        receivers: loaded.receivers,
        receiverSecrets: loaded.secrets.alertReceivers,
        sentinel: sentinelAlertSettings(config.watchdog.sentinel),
        guard: plan.guard,
        retention: config.monitoring.retention,
        storage: config.monitoring.storage,
        spread: config.hardening.topologySpread,
    }, providers);

    const workloadsAfter = laterDependency<pulumi.Resource>("what the workloads wait for (preflight, a rollback's drain)");
    const proofWorkers = new ProofWorkers("proof-workers", {
        namespace: ns,
        namespaceName,
        version: plan.workloadVersion,
        // A rolled-back version runs its own digest (previousDigest), never the release's.
        image: imageOf(config.release.images.proofWorker, plan.workloadVersion, plan.version),
        replicas: config.proofWorkers.replicas,
        resources: config.proofWorkers.resources,
        monitoringMode: config.monitoring.mode,
        prometheusReleaseLabel: config.monitoring.prometheusReleaseLabel,
        scrapeInterval: config.monitoring.scrapeInterval,
        readinessPath: config.proofWorkers.readinessPath,
        spread: config.hardening.topologySpread,
        dependsOn: [workloadsAfter.promise],
        replaceFirst: config.rollback.mode === "emergency",
    }, providers);

    // The stable track keeps the version its shift mode says (blue: the known-good one), unless this is a rollback.
    const speculationVersion = plan.rollback?.targetVersion ?? stable.version;
    // Blue-green: the primary Service switches only after what the stages name (smoke tests, the previous stage's
    // gate, the 100 % stage's baseline); the primary Ingress mirrors to green only after green's smoke tests passed.
    const switchAfter = laterDependency<pulumi.Resource[]>("what the primary Service's switch waits for");
    const mirrorAfter = laterDependency<pulumi.Resource[]>("what the mirror to green waits for");
    const speculation = new SpeculationService("speculation", {
        namespace: ns,
        namespaceName,
        version: speculationVersion,
        image: imageOf(config.release.images.speculation, speculationVersion, plan.version),
        replicas: config.service.replicas,
        resources: config.service.resources,
        configToml: speculationToml(config, namespaceName, stable.version),
        monitoringMode: config.monitoring.mode,
        prometheusReleaseLabel: config.monitoring.prometheusReleaseLabel,
        scrapeInterval: config.monitoring.scrapeInterval,
        spread: config.hardening.topologySpread,
        dependsOn: [proofWorkers.deployment, workloadsAfter.promise],
        replaceFirst: config.rollback.mode === "emergency",
        ...(loaded.secrets.adminToken ? { adminToken: loaded.secrets.adminToken } : {}),
        ...(stable.primaryIngress ? {
            ingress: {
                host: config.canary.ingress.host, className: config.canary.ingress.className,
                await: { mode: config.canary.ingress.await, timeout: config.canary.ingress.awaitTimeout },
                paths: config.canary.ingress.publicPaths,
                // ingress-nginx mirrors every request to green and discards green's answers (blue-green, mirror).
                ...(stable.mirrorTo ? {
                    annotations: { "nginx.ingress.kubernetes.io/mirror-target": `${stable.mirrorTo}$request_uri` },
                    dependsOn: mirrorAfter.promise,
                } : {}),
            },
        } : {}),
        ...(stable.primarySelects ? { selectApp: stable.primarySelects, serviceDependsOn: switchAfter.promise } : {}),
    }, providers);

    // Default-deny ingress, then only the named peers per workload port (hardening.networkPolicies).
    const isolation = new NetworkIsolation("network", {
        namespace: namespaceName,
        namespaceRef: ns,
        monitoringMode: config.monitoring.mode,
        shiftMode: plan.shift.mode,
        policy: config.hardening.networkPolicies,
        ...(config.watchdog.enabled ? { watchdogPort: WATCHDOG_PORT } : {}),
        // Egress (hardening.networkPolicies.egress): where each workload's destinations outside the namespace are.
        ...(config.preflight.chainRpcUrl ? { chainRpcUrl: config.preflight.chainRpcUrl } : {}),
        ...(plan.watchdog?.prometheusUrl ? { watchdogPrometheusUrl: plan.watchdog.prometheusUrl } : {}),
        staticTargets: staticJobs(monitoring.scrapeJobs).flatMap((j) => j.staticTargets ?? []),
        externalReceivers: loaded.receivers.slack || loaded.receivers.pagerduty,
    }, providers);
    return {
        provider, namespace, ns, monitoring, proofWorkers, speculation, isolation, providers,
        /** Step 2 gives what must pass before either workload changes (or the namespace, when nothing must). */
        workloadsAfter: workloadsAfter.set,
        /** Step 6 gives what blue-green's switch and mirror wait for. */
        switchAfter: switchAfter.set,
        mirrorAfter: mirrorAfter.set,
        /** Every later dependency was given (defineStack's last check). */
        checkDependencies: () => [workloadsAfter, switchAfter, mirrorAfter].forEach((d) => d.check()),
    };
}

type Kubernetes = ReturnType<typeof deployKubernetes>;

/** Step 3: what protects a stage between `pulumi up`s: rollback triggers → Alertmanager → the watchdog's revert. */
function watchdog(plan: ReleasePlan, kube: Kubernetes): Watchdog | undefined {
    const { config, namespace: namespaceName } = plan;
    if (!plan.watchdog) return undefined;
    return new Watchdog("watchdog", {
        namespace: kube.ns,
        namespaceName,
        serviceUrl: plan.watchdog.serviceUrl,
        adminTokenSecret: { name: kube.speculation.secret.metadata.name, key: ADMIN_TOKEN_KEY },
        image: config.watchdog.image,
        replicas: config.watchdog.replicas,
        timings: plan.guard.watchdog,
        prometheusUrl: plan.watchdog.prometheusUrl,
        spread: config.hardening.topologySpread,
        ...sentinelOf(config, plan.topPercentage),
        // Ingress-weight mode: a revert takes the canary's weight to 0 (the admin API is not its traffic path).
        ...(plan.shift.watchdogLowersIngress ? { canaryIngress: plan.shift.watchdogLowersIngress } : {}),
        monitoringMode: config.monitoring.mode,
        prometheusReleaseLabel: config.monitoring.prometheusReleaseLabel,
        scrapeInterval: config.monitoring.scrapeInterval,
    }, { ...kube.providers, dependsOn: [kube.namespace] });
}

/**
/**
 * Step 0, before anything runs what the release ships (providers/signatureVerification.ts, docs/signing.md): every
 * image digest the update's pods run and the node binary carry a valid signature from a configured key.  The
 * Kubernetes provider and the node rollout wait for it; a rollback's drain and stop do not (they only lower traffic).
 * Registered in every stack: with signing.required false it records `off`, which the policy pack refuses in production.
 */
function signatureVerification(plan: ReleasePlan, registryCredentials: pulumi.Input<Record<string, { username: string; password: string }>> | undefined): SignatureVerification {
    const s = plan.signing;
    const sha256 = (file: string) => {
        try { return createHash("sha256").update(readFileSync(file)).digest("hex"); } catch { return "unreadable"; }
    };
    // The file and its signature as they are now: either changing verifies them again.
    const blob = s.required && s.nodeBinary
        ? [{ ...s.nodeBinary, sha256: sha256(s.nodeBinary.path), signatureSha256: sha256(s.nodeBinary.signaturePath) }] : [];
    return new SignatureVerification("signatures", {
        required: s.required,
        subjects: s.required ? [...s.images, ...blob] : [],
        publicKeys: s.publicKeys,
        insecureRegistries: s.insecureRegistries,
        cosign: s.cosign,
        timeoutMs: s.timeoutMs,
        artifactsDir: plan.artifactsDir,
        ...(registryCredentials ? { registryCredentials } : {}),
    });
}

/**
 * Step 2: seed 000's prerequisites before the release changes anything (providers/preflight.ts), when
 * `speculation:preflight.chainRpcUrl` is set: chain health, stake-pool balance, the secret, and Prometheus
 * scraping both workloads when the gates read Prometheus.
 */
function preflight(plan: ReleasePlan,
    secret: { secret: k8s.core.v1.Secret; keys: readonly string[] } | { adminToken: pulumi.Input<string> }): Preflight | undefined {
    const p = plan.preflight;
    if (!p) return undefined;
    // The Secret's keys are the ones the program writes (its `stringData` output does not exist under the real
    // provider, which folds it into `data`: reading it made every preview plan a change).
    const secretSource = "secret" in secret
        ? secret.secret.metadata.name.apply((name) => ({ kind: "kubernetes" as const, name, keys: [...secret.keys] }))
        : { kind: "admin-api" as const, serviceUrl: plan.serviceUrl };
    return new Preflight("preflight", {
        trigger: p.trigger,
        chainRpcUrl: p.chainRpcUrl,
        stakePoolAddress: p.stakePoolAddress,
        minStakeSol: p.minStakeSol,
        secretSource,
        ...("adminToken" in secret ? { adminToken: secret.adminToken } : {}),
        ...(p.prometheus ? { prometheus: p.prometheus } : {}),
        ...(p.retention ? { retention: p.retention } : {}),
        timeoutMs: p.timeoutMs,
        artifactsDir: plan.artifactsDir,
    }, "secret" in secret ? { dependsOn: [secret.secret] } : {});
}

/**
 * Step 2, a full or emergency rollback's first steps (providers/rollbackDrain.ts), before either workload changes:
 * disable speculation, then (full) drain pending operations below the threshold.
 */
function rollbackDrain(plan: ReleasePlan, adminToken: pulumi.Input<string>, after?: pulumi.Resource): RollbackDrain | undefined {
    const r = plan.rollback;
    if (!r) return undefined;
    return new RollbackDrain(`rollback-${r.mode}`, {
        mode: r.mode,
        targetVersion: r.targetVersion,
        serviceUrl: plan.serviceUrl,
        adminToken,
        maxPending: r.drain.maxPending,
        pollSeconds: seconds(r.drain.pollMs),
        deadlineSeconds: seconds(r.drain.deadlineMs),
        timeoutMs: plan.gate.timeoutMs,
        artifactsDir: plan.artifactsDir,
    }, { dependsOn: after ? [after] : [] });
}

/**
 * Step 2, an emergency rollback's stop (providers/emergencyStop.ts), after speculation is disabled: every Deployment
 * running the release goes to 0 replicas and its pods terminate before either workload is replaced, so no
 * last-known-good pod runs beside a release pod.  An explicit step, because the engine replaces the two Deployments one
 * after the other (delete, create, delete, create), not both deletes first.
 */
function emergencyStop(plan: ReleasePlan, after?: pulumi.Resource): EmergencyStop | undefined {
    const stop = plan.rollback?.stop;
    if (!stop) return undefined;
    return new EmergencyStop("emergency-stop", {
        namespace: plan.namespace,
        deployments: stop.deployments,
        targetVersion: plan.rollback!.targetVersion,
        deadlineSeconds: seconds(stop.deadlineMs),
        pollSeconds: seconds(stop.pollMs),
        artifactsDir: plan.artifactsDir,
    }, { dependsOn: after ? [after] : [] });
}

/**
 * Step 4: seed 000's smoke tests and the synthetic speculation against the stable service (providers/releaseSmoke.ts),
 * once it is ready and before stage 1 shifts traffic (`speculation:smoke.enabled`, on by default).
 */
function smokeTests(plan: ReleasePlan, adminToken: pulumi.Input<string>, serviceReady: pulumi.Resource[],
    configChecksum?: string): ReleaseSmokeTest | undefined {
    const s = plan.smoke;
    if (!s) return undefined;
    return new ReleaseSmokeTest("smoke-stable", {
        track: "stable",
        version: s.version,
        serviceUrl: plan.serviceUrl,
        proofWorkerUrl: s.proofWorkerUrl,
        adminToken,
        timeoutMs: s.timeoutMs,
        ...(configChecksum ? { trigger: configChecksum } : {}),
        artifactsDir: plan.artifactsDir,
    }, { dependsOn: serviceReady });
}

/** Step 4: the final bench runs against the release before its first stage may shift traffic (SPEC §7). */
function finalBench(plan: ReleasePlan, sshPrivateKey: pulumi.Output<string> | undefined, after: pulumi.Resource[]): BenchRun | undefined {
    const b = plan.bench;
    if (!b) return undefined;
    const onNode = b.onNode;
    return new BenchRun("final-bench", {
        version: plan.version,
        command: b.command,
        resultsDir: b.resultsDir,
        workingDir: b.workingDir,
        limits: b.limits,
        targetUrl: plan.serviceUrl,
        timeoutSeconds: seconds(b.timeoutMs),
        ...(onNode ? {
            remote: pulumi.all([sshPrivateKey!]).apply(([privateKey]) => ({ node: nodeAddress(onNode), privateKey })),
        } : {}),
    }, { dependsOn: after });
}

/**
 * Step 5: the canary stages in order, each after the one before passed and after everything the first waits for.
 * The top declared stage owns the new track's workload (ingress-weight's canary, blue-green's green).
 */
function canaryStages(plan: ReleasePlan, args: {
    kube?: Kubernetes; adminToken: pulumi.Input<string>; gate?: GateFactory; dependsOn: pulumi.Resource[];
}): CanaryStage[] {
    const { config, namespace: namespaceName } = plan;
    const { kube } = args;
    const track = plan.newTrack;
    const stages: CanaryStage[] = [];
    for (const stage of plan.stages) {
        stages.push(new CanaryStage(stage.name, {
            stage,
            declaredStages: plan.stages,
            allStageNames: plan.steps.names,
            planPercentages: plan.steps.percentages,
            strategy: plan.shift,
            namespace: kube?.ns ?? namespaceName,
            serviceUrl: plan.serviceUrl,
            adminToken: args.adminToken,
            previous: stages[stages.length - 1],
            ingress: {
                host: config.canary.ingress.host,
                className: config.canary.ingress.className,
                await: { mode: config.canary.ingress.await, timeout: config.canary.ingress.awaitTimeout },
                paths: config.canary.ingress.publicPaths,
            },
            track: kube && track ? {
                version: plan.version,
                // The canary is sized to its share (lib/shift); green is a full copy of blue, since it takes all traffic at 100 %.
                replicas: track.replicas,
                image: imageOf(config.release.images.speculation, plan.version, plan.version),
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
            smoke: track ? {
                url: track.url,
                timeoutMs: track.smoke.timeoutMs,
                deadlineSeconds: seconds(track.smoke.deadlineMs), pollSeconds: seconds(track.smoke.pollMs),
                artifactsDir: plan.artifactsDir,
            } : undefined,
            primarySwitch: stage.switchesPrimary ? kube?.speculation.service : undefined,
            gate: args.gate,
            dependsOn: args.dependsOn,
        }, kube?.providers));
    }
    return stages;
}

/**
 * Step 6, blue-green: at 100 % the selector switch waits for green's smoke tests, the previous stage's gate and this
 * stage's baseline; below 100 % (or on the way back) it waits for nothing.  The mirror to green waits for green's
 * smoke tests.
 */
function orderTheSwitch(plan: ReleasePlan, kube: Kubernetes, stages: CanaryStage[]): void {
    const full = stages.find((_, i) => plan.stages[i].switchesPrimary);
    const greenOwner = stages[stages.length - 1];
    kube.switchAfter(full ? [
        ...(greenOwner?.smokeTest ? [greenOwner.smokeTest] : []), ...full.beforeShift,
        ...(stages.length > 1 ? [stages[stages.length - 2].promotion] : []),
    ] : []);
    kube.mirrorAfter(greenOwner?.smokeTest ? [greenOwner.smokeTest] : []);
}

/**
 * Step 8: seed 000's post-deployment verification once the plan reaches 100 % and the top stage's gate passed
 * (providers/verification.ts), recorded (`speculation:verify.enabled`, on by default).
 */
function verification(plan: ReleasePlan, stages: CanaryStage[], kube?: Kubernetes): Verification | undefined {
    const top = stages[stages.length - 1];
    if (!plan.verify || !top) return undefined;
    const readiness = (d: k8s.apps.v1.Deployment, name: string) =>
        pulumi.all([d.spec, d.status]).apply(([spec, status]) => ({ name, ready: status?.readyReplicas ?? 0, desired: spec?.replicas ?? 0 }));
    const thresholds = top.stage.thresholds;
    return new Verification("verify-100pct", {
        version: plan.version,
        serviceUrl: plan.serviceUrl,
        proofWorkerUrl: plan.gate.proofWorkerUrl,
        timeoutMs: plan.verify.timeoutMs,
        // Every Deployment that serves at 100 %: blue-green's green behind the primary Service, ingress-weight's canary.
        pods: kube ? pulumi.all([
            readiness(kube.proofWorkers.deployment, "proof-workers"), readiness(kube.speculation.deployment, "agenc-speculation"),
            ...(top.trackDeployment && plan.newTrack ? [readiness(top.trackDeployment, plan.newTrack.name)] : []),
        ]) : [],
        // What a refresh reads back where the admin API's percentage is the traffic (feature-flag).
        ...(plan.shift.refreshReadsRolloutPercentage ? { expectRolloutPercentage: 100 } : {}),
        limits: {
            minSpeculationMetrics: GO_NO_GO.smokeMinSpeculationMetrics, maxRollbackRate: thresholds.maxRollbackRate,
            maxMemoryPercent: thresholds.maxMemoryPercent, maxProofQueueSize: thresholds.maxProofQueueSize,
        },
        artifactsDir: plan.artifactsDir,
    }, { dependsOn: [top.promotion] });
}

/**
 * Step 8: the deployment record of this update (providers/deploymentRecord.ts), after every step it names: appended
 * to `<records.artifactsDir>/deployments.log` and pushed to `records.pushgatewayUrl` when set.
 */
function deploymentRecord(plan: ReleasePlan, startedAt: string, steps: {
    preflight?: Preflight; drain?: RollbackDrain; smoke?: ReleaseSmokeTest; bench?: BenchRun; canaryStages: CanaryStage[]; verified?: Verification;
    nodes?: pulumi.CustomResource & { record: pulumi.Output<{ status: string }> }; signatures: SignatureVerification;
}): DeploymentRecordResource {
    const { config } = plan;
    const verdicts: Record<string, pulumi.Input<string>> = { signatures: steps.signatures.verdict };
    if (steps.preflight) verdicts.preflight = steps.preflight.verdict;
    if (steps.drain) verdicts.drain = steps.drain.verdict;
    if (steps.smoke) verdicts.smoke = steps.smoke.verdict;
    if (steps.bench) verdicts.bench = steps.bench.verdict;
    const budgets: Record<string, pulumi.Input<StageBudget | undefined>> = {};
    for (const stage of steps.canaryStages) {
        if (stage.promotion instanceof HealthGate) verdicts[stage.stage.name] = stage.promotion.verdict;
        if (stage.promotion instanceof HealthGate) budgets[stage.stage.name] = stageBudgetOf(stage);
    }
    if (steps.verified) verdicts.verify = steps.verified.verdict;
    if (steps.nodes) verdicts.nodes = steps.nodes.record.apply((r) => r?.status ?? "not run");
    const waitFor = [steps.signatures, steps.preflight, steps.drain, steps.smoke, steps.bench, ...steps.canaryStages.map((s) => s.promotion), steps.verified, steps.nodes]
        .filter((r): r is pulumi.Resource => r !== undefined);
    return new DeploymentRecordResource("deployment-record", {
        ...plan.records,
        ...pushgatewayAuthOf(plan),
        version: plan.version,
        outcome: config.rollback.mode === "none" ? "released" : `rollback-${config.rollback.mode}`,
        stagesReached: steps.canaryStages.map((s) => ({ name: s.stage.name, percentage: s.percentage })),
        rolloutPercentage: steps.canaryStages[steps.canaryStages.length - 1]?.percentage ?? 0,
        verdicts,
        errorBudget: pulumi.all(budgets).apply((b) => Object.fromEntries(Object.entries(b).filter(([, v]) => v !== undefined)) as Record<string, StageBudget>),
        signatures: signedBy(steps.signatures),
        startedAt,
    }, { dependsOn: waitFor });
}

export function defineStack(original: LoadedConfig = loadStackConfig(), options: ProgramOptions = {}) {
    // When this run of the program started: the deployment record's duration runs from here.
    const startedAt = new Date().toISOString();
    const plan = releasePlan(original, { cwd: process.cwd(), operator: operatorName(original.config.records.operator) });
    const { config, secrets } = plan.loaded;

    // 0. The signatures of what the release ships, before anything runs it (Kubernetes objects, node batches).
    const signatures = signatureVerification(plan, secrets.registryCredentials);

    // 1. The Kubernetes side (kubernetes.enabled: false — the local stack — drives a service running elsewhere).
    const kube = plan.kubernetes ? deployKubernetes(plan, signatures) : undefined;
    const adminToken: pulumi.Input<string> = kube ? kube.speculation.adminToken : secrets.adminToken!;

    // 2. Before any workload (or, without Kubernetes, anything) changes: preflight, then a rollback's drain.  Without
    //    Kubernetes the preflight checks the admin token against the running service.
    const pre = preflight(plan, kube ? { secret: kube.speculation.secret, keys: kube.speculation.secretKeys } : { adminToken });
    const drain = rollbackDrain(plan, adminToken, pre);
    const stopped = emergencyStop(plan, drain);
    const checked = stopped ?? drain ?? pre;
    kube?.workloadsAfter(checked ?? kube.namespace);

    // 3. The watchdog, and the guard it makes between ups: its floor and the computed bound (preview shows both).
    const guard = kube ? watchdog(plan, kube) : undefined;
    const between = new Guard("guard", {
        environment: config.environment, bakeMode: bakeModeOf(config), plan: plan.guard, onFailure: config.canary.gate.onFailure,
        // Without Kubernetes the watchdog runs beside the service (the local stack's monitoring loop), not from here.
        watchdog: { enabled: config.watchdog.enabled, sentinels: config.watchdog.sentinel.enabled, replicas: config.watchdog.replicas },
        driftDetection: config.canary.gate.cusum.enabled ? "cusum" : judgeReplacesCusum(config) ? "canary-judge" : "off",
        errorBaseline: config.records.pushgatewayUrl !== undefined,
    });

    // 4. The stable service ready (blue-green: not its primary Service, whose switch waits for the stages), its smoke
    //    tests, then the final bench.
    //    Without Kubernetes nothing this stack deploys waits for the signatures but the nodes: the release's smoke
    //    tests, bench and stages wait for them here (with Kubernetes, the workloads already did).
    const serviceReady: pulumi.Resource[] = kube
        ? [kube.speculation.deployment, ...(plan.stable.primarySelects ? [] : [kube.speculation.service])]
        : [signatures, ...(checked ? [checked] : [])];
    const smoke = smokeTests(plan, adminToken, serviceReady, kube?.speculation.configChecksum);
    const smoked: pulumi.Resource[] = [...serviceReady, ...(smoke ? [smoke] : [])];
    const gate = options.gate ? options.gate(plan.loaded, plan.serviceUrl) : healthGates(plan, adminToken);
    const bench = finalBench(plan, secrets.sshPrivateKey, smoked);

    // 5. The canary stages, each judged by `gate`.
    const stages = canaryStages(plan, { kube, adminToken, gate, dependsOn: [...smoked, ...(bench ? [bench] : [])] });

    // 6. Blue-green's switch and mirror.
    if (kube) orderTheSwitch(plan, kube, stages);

    // 7. The bare-metal fleet (seed 001) rolls out beside the Kubernetes side, node by node.
    const nodes = config.nodes.hosts.length > 0
        ? new NodeRollout("alys-nodes", {
            version: plan.version, nodes: config.nodes, privateKey: secrets.sshPrivateKey!,
            batchGate: nodeBatchGate(plan),
            ...(plan.signing.required ? { signature: { file: plan.signing.nodeBinary!.signaturePath, keys: plan.signing.publicKeys } } : {}),
            dependsOn: [signatures, ...(checked ? [checked] : [])],
        })
        : undefined;

    // 8. The verification at 100 %, then the record of the update.
    const verified = verification(plan, stages, kube);
    const record = deploymentRecord(plan, startedAt, {
        preflight: pre, drain, smoke, bench, canaryStages: stages, verified, nodes: nodes?.rollout, signatures,
    });
    kube?.checkDependencies();

    // The stack outputs.  Kubernetes outputs only where there is a Kubernetes side (an undefined output is a warning
    // under the engine).
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
        sentinels: guard ? sentinelStatus(config, plan.topPercentage) : "off: watchdog.enabled is false",
    } : {};
    return {
        environment: config.environment,
        version: plan.version,
        previousVersion: plan.previousVersion,
        rolloutPercentage: plan.topPercentage,
        rolloutMode: plan.shift.mode,
        stages: stages.map(stageOutput),
        gateVerdicts: stages.map((s) => s.promotion).filter((r): r is HealthGate => r instanceof HealthGate)
            .map((g) => g.verdict),
        ...(bench ? { benchVerdict: bench.verdict } : {}),
        ...(pre ? { preflightVerdict: pre.verdict } : {}),
        ...(drain ? { rollback: drain.report } : {}),
        ...(smoke ? { smokeVerdict: smoke.verdict } : {}),
        ...(verified ? { verification: verified.report } : {}),
        deploymentRecord: record.record,
        guard: between.summary,
        // What is verified against which key (known in a preview), and after an up who signed each digest.
        signing: plan.signing.summary,
        signatures: signedBy(signatures),
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
    return pulumi.all([gate.shiftedAt, gate.bakeEndsAt, gate.phase, gate.current, window, stageBudgetOf(c)]).apply(([shiftedAt, bakeEndsAt, phase, current, promoted, errorBudget]) => ({
        ...plan,
        ...(shiftedAt ? { shiftedAt } : {}),
        ...(bakeEndsAt ? { bakeEndsAt } : {}),
        ...(errorBudget ? { errorBudget } : {}),
        verdict: promoted === "pass" ? "promoted" : promoted === "fail" ? "failed" : current?.verdict === "fail" ? "failed"
            : current ? `${phase ?? "baking"} (refresh: ${current.verdict})` : (phase ?? "pending"),
    }));
}

/**
 * The error budget a stage spent (lib/slo/judge.ts StageBudget, shown in `pulumi stack output stages` and the
 * deployment record): from its window judgement once the next `up` judged the whole bake, else from its live gate.
 */
function stageBudgetOf(c: CanaryStage): pulumi.Output<StageBudget | undefined> {
    const gate = c.promotion instanceof HealthGate ? c.promotion : undefined;
    if (!gate) return pulumi.output(undefined);
    const window = c.windowJudgement instanceof BakeWindow ? c.windowJudgement.judgement : pulumi.output(undefined);
    return pulumi.all([gate.decision, window]).apply(([decision, judgement]) => judgement?.slo ?? decision?.slo);
}

/** Subject → `<reference> signed by <key>` from the verification's record (empty when it is off). */
function signedBy(step: SignatureVerification): pulumi.Output<Record<string, string>> {
    return step.verified.apply((v) => Object.fromEntries((v ?? []).map((s) => [s.subject, `${s.ref} signed by ${s.signer}`])));
}

export type StackOutputs = ReturnType<typeof defineStack>;
