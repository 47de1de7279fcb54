/**
 * The whole stack: read the config once, build the components in dependency order, return the stack outputs.
 * index.ts runs it for the CLI; the Automation API tests and the local stack run it as an inline program.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { CanaryStage, GateFactory } from "./components/CanaryStage";
import { MonitoringStack } from "./components/MonitoringStack";
import { ProofWorkers } from "./components/ProofWorkers";
import { SpeculationService } from "./components/SpeculationService";
import { LoadedConfig, loadStackConfig } from "./config";
import { DEFAULT_STAGE_THRESHOLDS } from "./config/thresholds";
import { SPECULATION_PORT } from "./lib/monitoring/scrape";
import { effectiveThresholds, plannedStages, stageName } from "./lib/plan";
import { speculationToml } from "./lib/speculationToml";

export interface ProgramOptions {
    /** The health-gate seam: how each stage is judged (providers/healthGate.ts). */
    gate?: (loaded: LoadedConfig) => GateFactory | undefined;
}

export function defineStack(loaded: LoadedConfig = loadStackConfig(), options: ProgramOptions = {}) {
    const { config, namespace: namespaceName, secrets } = loaded;
    const provider = new k8s.Provider("k8s", {
        namespace: namespaceName,
        ...(config.kubernetes.renderYamlToDirectory ? { renderYamlToDirectory: config.kubernetes.renderYamlToDirectory } : {}),
    });
    const k8sOpts = { provider };
    const namespace = new k8s.core.v1.Namespace("namespace", { metadata: { name: namespaceName } }, k8sOpts);
    const ns = namespace.metadata.name;

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
    }, { providers: { kubernetes: provider } });

    const stages = plannedStages(config);
    const ingressMode = config.canary.shiftMode === "ingress-weight";
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
    }, { providers: { kubernetes: provider } });

    // In ingress-weight mode the stable Deployment keeps the known-good version until the plan reaches 100 %.
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
        dependsOn: [proofWorkers.deployment],
    }, { providers: { kubernetes: provider } });

    const serviceUrl = config.canary.gate.serviceUrl ?? `http://agenc-speculation.${namespaceName}.svc.cluster.local:${SPECULATION_PORT}`;
    const gate = options.gate?.(loaded);
    const canaryStages: CanaryStage[] = [];
    for (const stage of stages) {
        canaryStages.push(new CanaryStage(stage.name, {
            stage,
            declaredStages: stages,
            allStageNames: config.canary.steps.map((step, i) => stageName(step.percentage, i)),
            shiftMode: config.canary.shiftMode,
            namespace: ns,
            serviceUrl,
            adminToken: speculation.adminToken,
            previous: canaryStages[canaryStages.length - 1],
            ingress: ingressMode ? {
                host: config.canary.ingress.host,
                className: config.canary.ingress.className,
                version: config.release.version,
                image: config.release.images.speculation,
                resources: config.service.resources,
            } : undefined,
            gate,
            dependsOn: [speculation.deployment, speculation.service],
        }, { providers: { kubernetes: provider } }));
    }

    const top = stages[stages.length - 1];
    return {
        environment: config.environment,
        namespace: ns,
        version: config.release.version,
        previousVersion: config.release.previousVersion,
        speculationServiceName: speculation.serviceName,
        proofWorkersServiceName: proofWorkers.serviceName,
        configMapName: speculation.configMap.metadata.name,
        configChecksum: speculation.configChecksum,
        rolloutPercentage: top?.percentage ?? 0,
        rolloutMode: config.canary.shiftMode,
        stages: stages.map((s) => ({ name: s.name, percentage: s.percentage, bake: s.bake })),
        adminToken: speculation.adminToken,
        monitoringMode: config.monitoring.mode,
        alertRules: monitoring.alertNames,
        ruleResourceName: monitoring.ruleResourceName,
        dashboards: monitoring.dashboardNames,
    };
}

export type StackOutputs = ReturnType<typeof defineStack>;
