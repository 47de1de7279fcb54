/**
 * The whole stack: read the config once, build the components in dependency order, return the stack outputs.
 * index.ts runs it for the CLI; the Automation API tests and the local stack run it as an inline program.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { CanaryStage, GateFactory } from "./components/CanaryStage";
import { MonitoringStack } from "./components/MonitoringStack";
import { NetworkIsolation } from "./components/NetworkIsolation";
import { NodeRollout, NodeRolloutArgs } from "./components/NodeRollout";
import { ProofWorkers } from "./components/ProofWorkers";
import { SpeculationService } from "./components/SpeculationService";
import * as path from "path";
import { LoadedConfig, loadStackConfig } from "./config";
import { parseDuration } from "./config/duration";
import { GATE_METRICS } from "./config/schema";
import { DEFAULT_STAGE_THRESHOLDS } from "./config/thresholds";
import { PROVIDER_MUTABILITY } from "./lib/k8s";
import { SPECULATION_PORT } from "./lib/monitoring/scrape";
import { effectiveThresholds, plannedStages, stageName } from "./lib/plan";
import { nodeAddress } from "./lib/nodes/address";
import { speculationToml } from "./lib/speculationToml";
import { BenchRun } from "./providers/benchRun";
import { ErrorBaseline } from "./providers/errorBaseline";
import { HealthGate } from "./providers/healthGate";

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
        },
        deadlineAfter: (bakeSeconds: number) => bakeSeconds + slackSeconds,
    };
}

/**
 * The default gate of every stage, from `speculation:canary.gate`: the error-rate baseline is measured before the
 * stage shifts, the HealthGate judges the stage after it.  Ingress-weight mode cannot revert through the admin API,
 * so its gates only fail the update.
 */
export function healthGates(loaded: LoadedConfig, serviceUrl: string, adminToken: pulumi.Input<string>): GateFactory {
    const { config } = loaded;
    const g = config.canary.gate;
    const featureFlag = config.canary.shiftMode === "feature-flag";
    const { readings, deadlineAfter } = gateReadings(config, serviceUrl);
    return (stage, parent, after) => {
        const baseline = new ErrorBaseline(`${stage.name}-baseline`, {
            stage: stage.name, version: readings.version, serviceUrl, prometheusUrl: readings.prometheusUrl, source: readings.source,
            windowSeconds: readings.pollSeconds, timeoutMs: readings.timeoutMs,
        }, { parent, dependsOn: after });
        return {
            beforeShift: [baseline],
            judge: (shift) => new HealthGate(`${stage.name}-gate`, {
                ...readings,
                stage: stage.name,
                percentage: stage.percentage,
                adminToken,
                thresholds: stage.thresholds,
                baselineErrorRate: baseline.errorRate,
                bakeSeconds: stage.bakeSeconds,
                deadlineSeconds: deadlineAfter(stage.bakeSeconds),
                onFailure: featureFlag ? g.onFailure : "fail",
                checkRolloutPercentage: featureFlag,
                revert: {
                    deadlineSeconds: parseDuration(g.revert.deadline),
                    ...(g.revert.watchdogActionUrl ? { watchdogActionUrl: g.revert.watchdogActionUrl } : {}),
                    ...(g.revert.alertmanagerUrl ? { alertmanagerUrl: g.revert.alertmanagerUrl } : {}),
                },
                artifactsDir: path.resolve(g.artifactsDir),
            }, { parent, dependsOn: [shift, baseline] }),
        };
    };
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

/** The Kubernetes side: namespace, monitoring, proof workers, the speculation service (SPEC §1, §6). */
function deployKubernetes(loaded: LoadedConfig) {
    const { config, namespace: namespaceName, secrets } = loaded;
    const provider = new k8s.Provider("k8s", {
        namespace: namespaceName,
        // ConfigMaps and Secrets update in place: nothing with a fixed name is deleted before its successor exists.
        ...PROVIDER_MUTABILITY,
        ...(config.kubernetes.renderYamlToDirectory ? { renderYamlToDirectory: config.kubernetes.renderYamlToDirectory } : {}),
    });
    const namespace = new k8s.core.v1.Namespace("namespace", { metadata: { name: namespaceName } }, { provider });
    const ns = namespace.metadata.name;
    const providers = { providers: { kubernetes: provider } };

    const monitoring = new MonitoringStack("monitoring", {
        namespace: ns,
        namespaceName,
        mode: config.monitoring.mode,
        thresholds: { ...DEFAULT_STAGE_THRESHOLDS, ...effectiveThresholds(config, -1) },
        scrapeInterval: config.monitoring.scrapeInterval,
        evaluationInterval: config.monitoring.evaluationInterval,
        prometheusReleaseLabel: config.monitoring.prometheusReleaseLabel,
        grafanaDashboardLabel: config.monitoring.grafanaDashboardLabel,
        nodeHosts: config.nodes.hosts.map((h) => h.host),
        receivers: loaded.receivers,
        receiverSecrets: secrets.alertReceivers,
    }, providers);

    const proofWorkers = new ProofWorkers("proof-workers", {
        namespace: ns,
        namespaceName,
        version: config.release.version,
        image: config.release.images.proofWorker,
        replicas: config.proofWorkers.replicas,
        resources: config.proofWorkers.resources,
        monitoringMode: config.monitoring.mode,
        prometheusReleaseLabel: config.monitoring.prometheusReleaseLabel,
        scrapeInterval: config.monitoring.scrapeInterval,
        readinessPath: config.proofWorkers.readinessPath,
        spread: config.hardening.topologySpread,
    }, providers);

    // In ingress-weight mode the stable Deployment keeps the known-good version until the plan reaches 100 %.
    const ingressMode = config.canary.shiftMode === "ingress-weight";
    const stableVersion = ingressMode && config.rolloutPercentage < 100 ? config.release.previousVersion : config.release.version;
    const speculation = new SpeculationService("speculation", {
        namespace: ns,
        namespaceName,
        version: stableVersion,
        image: config.release.images.speculation,
        replicas: config.service.replicas,
        resources: config.service.resources,
        configToml: speculationToml(config, namespaceName),
        monitoringMode: config.monitoring.mode,
        prometheusReleaseLabel: config.monitoring.prometheusReleaseLabel,
        scrapeInterval: config.monitoring.scrapeInterval,
        spread: config.hardening.topologySpread,
        dependsOn: [proofWorkers.deployment],
    }, providers);

    // Default-deny ingress, then only the named peers per workload port (hardening.networkPolicies).
    const isolation = new NetworkIsolation("network", {
        namespace: namespaceName,
        namespaceRef: ns,
        monitoringMode: config.monitoring.mode,
        shiftMode: config.canary.shiftMode,
        policy: config.hardening.networkPolicies,
    }, providers);
    return { provider, ns, monitoring, proofWorkers, speculation, isolation, providers };
}

export function defineStack(loaded: LoadedConfig = loadStackConfig(), options: ProgramOptions = {}) {
    const { config, namespace: namespaceName, secrets } = loaded;
    // kubernetes.enabled: false (the local stack) drives a service running elsewhere: no cluster objects at all.
    const kube = config.kubernetes.enabled ? deployKubernetes(loaded) : undefined;
    const adminToken: pulumi.Input<string> = kube ? kube.speculation.adminToken : secrets.adminToken!;
    const serviceReady: pulumi.Resource[] = kube ? [kube.speculation.deployment, kube.speculation.service] : [];
    const stages = plannedStages(config);
    const ingressMode = config.canary.shiftMode === "ingress-weight";

    const serviceUrl = config.canary.gate.serviceUrl ?? `http://agenc-speculation.${namespaceName}.svc.cluster.local:${SPECULATION_PORT}`;
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
    }, { dependsOn: serviceReady }) : undefined;
    const canaryStages: CanaryStage[] = [];
    for (const stage of stages) {
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
            ingress: ingressMode ? {
                host: config.canary.ingress.host,
                className: config.canary.ingress.className,
                await: { mode: config.canary.ingress.await, timeout: config.canary.ingress.awaitTimeout },
                version: config.release.version,
                image: config.release.images.speculation,
                resources: config.service.resources,
            } : undefined,
            gate,
            dependsOn: [...serviceReady, ...(bench ? [bench] : [])],
        }, kube?.providers));
    }

    // The bare-metal fleet (seed 001) rolls out beside the Kubernetes side, node by node.
    const nodes = config.nodes.hosts.length > 0
        ? new NodeRollout("alys-nodes", {
            version: config.release.version, nodes: config.nodes, privateKey: secrets.sshPrivateKey!,
            batchGate: config.nodes.batchGate.enabled ? nodeBatchGate(loaded, serviceUrl) : undefined,
        })
        : undefined;

    const top = stages[stages.length - 1];
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
    } : {};
    return {
        environment: config.environment,
        version: config.release.version,
        previousVersion: config.release.previousVersion,
        rolloutPercentage: top?.percentage ?? 0,
        rolloutMode: config.canary.shiftMode,
        stages: stages.map((s) => ({ name: s.name, percentage: s.percentage, bake: s.bake })),
        gateVerdicts: canaryStages.map((s) => s.promotion).filter((r): r is HealthGate => r instanceof HealthGate)
            .map((g) => g.verdict),
        ...(bench ? { benchVerdict: bench.verdict } : {}),
        ...(nodes ? { nodeDeployment: nodes.rollout.record } : {}),
        ...kubernetesOutputs,
    };
}

export type StackOutputs = ReturnType<typeof defineStack>;
