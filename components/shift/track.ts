/**
 * The new version's workload beside the stable one, shared by the modes that have one (ingress-weight's canary,
 * blue-green's green), and its smoke tests against its own Service.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
    CONFIG_CHECKSUM_ANNOTATION, configChecksum, disruptionBudgetSpec, rollingDeployment, scrapeAnnotations, serviceMonitor,
    speculationContainer, spreadAcrossNodes,
} from "../../lib/k8s";
import { SPECULATION_PORT } from "../../lib/monitoring/scrape";
import { httpProbe, SPECULATION_PROBES } from "../../lib/probes";
import { ReleaseSmokeTest } from "../../providers/releaseSmoke";
import { NewTrack, Owned, ShiftSite } from "./site";

/** The key of the admin token inside the speculation Secret. */
export const SPECULATION_SECRET_KEY = "ADMIN_TOKEN";
const SPECULATION_CONFIGMAP_PREFIX = "speculation-config";

/** The new track's settings, or a refusal naming the mode that needs them. */
export function requireTrack(site: ShiftSite): NewTrack {
    if (!site.track) throw new Error(`CanaryStage: ${site.mode} mode needs args.track`);
    return site.track;
}

/** Deployment, ConfigMap, Service (labelled with its track), PodDisruptionBudget and ServiceMonitor of the new version. */
export function newTrack(site: ShiftSite, name: string, prefix: "canary" | "green", withAliases: Owned) {
    const t = requireTrack(site);
    const labels = { app: name, track: "canary" };
    const configName = `${SPECULATION_CONFIGMAP_PREFIX}-${prefix}`;
    const config = new k8s.core.v1.ConfigMap(`${prefix}-config`, {
        metadata: { name: configName, namespace: site.namespace, labels },
        data: { "speculation.toml": t.configToml },
    }, withAliases(`${prefix}-config`));
    // Built like the stable Deployment (lib/k8s.ts): the same container, a rolling update that never drops below
    // the replicas, the config's checksum (a config edit rolls the pods: the file is read at start-up), the
    // scrape annotations, and the spread across nodes — green serves everything at 100 %.
    const deployment = new k8s.apps.v1.Deployment(`${prefix}-deployment`, rollingDeployment({
        name, namespace: site.namespace, version: t.version, replicas: t.replicas, labels: { track: "canary" },
        annotations: { [CONFIG_CHECKSUM_ANNOTATION]: configChecksum(t.configToml), ...scrapeAnnotations(t.monitoringMode, SPECULATION_PORT) },
        pod: {
            containers: [speculationContainer({
                image: t.image, version: t.version, secretName: t.secretName, secretKey: SPECULATION_SECRET_KEY, resources: t.resources, port: SPECULATION_PORT,
                probes: { liveness: httpProbe(SPECULATION_PROBES.liveness, SPECULATION_PORT), readiness: httpProbe(SPECULATION_PROBES.readiness, SPECULATION_PORT) },
            })],
            volumes: [{ name: "config", configMap: { name: configName } }],
            topologySpreadConstraints: spreadAcrossNodes(name, t.spread),
        },
    }), withAliases(`${prefix}-deployment`, [config]));
    const service = new k8s.core.v1.Service(`${prefix}-service`, {
        metadata: { name, namespace: site.namespace, labels },
        spec: { selector: { app: name }, ports: [{ name: "metrics", port: SPECULATION_PORT, targetPort: SPECULATION_PORT }] },
    }, withAliases(`${prefix}-service`));
    // Like the stable workloads' budgets, and owned like the rest of the track: a drain takes one pod at a time
    // and is never blocked by it, whatever the replicas (disruptionBudgetSpec in lib/k8s.ts).
    new k8s.policy.v1.PodDisruptionBudget(`${prefix}-pdb`, {
        metadata: { name, namespace: site.namespace, labels },
        spec: disruptionBudgetSpec({ app: name }),
    }, withAliases(`${prefix}-pdb`));
    // Blue-green at 100 %: the primary Service selects green's pods and its ServiceMonitor scrapes them (as
    // track="stable", which green now is); green's own would scrape each pod a second time.
    const greenServesPrimary = prefix === "green" && site.step.percentage === 100;
    if (t.monitoringMode === "operator" && !greenServesPrimary) {
        serviceMonitor(`${prefix}-servicemonitor`, {
            namespace: site.namespace, namespaceName: t.namespaceName, app: name, releaseLabel: t.prometheusReleaseLabel, interval: t.scrapeInterval,
            targetLabels: ["track"],
        }, withAliases(`${prefix}-servicemonitor`));
    }
    return { deployment, service };
}

/**
 * Seed 000's smoke tests and the synthetic speculation against a new track's own Service (lib/smoke: the suite the
 * stable service passed before stage 1), at the release version, retried while the track's pods come up.
 */
export function trackSmoke(site: ShiftSite, track: "canary" | "green", withAliases: Owned, after: pulumi.Resource[]): ReleaseSmokeTest | undefined {
    const smoke = site.smoke;
    if (!smoke) return undefined;
    return new ReleaseSmokeTest(`${track}-smoke`, {
        track, version: site.track!.version, serviceUrl: smoke.url, adminToken: site.adminToken, timeoutMs: smoke.timeoutMs,
        artifactsDir: smoke.artifactsDir, expectVersion: true, retry: { deadlineSeconds: smoke.deadlineSeconds, pollSeconds: smoke.pollSeconds },
        ...(smoke.proofWorkerUrl ? { proofWorkerUrl: smoke.proofWorkerUrl } : {}),
    }, withAliases(`${track}-smoke`, after));
}
