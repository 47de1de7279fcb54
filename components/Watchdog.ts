import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { WatchdogTimings } from "../lib/guard/plan";
import { configChecksum, CONFIG_CHECKSUM_ANNOTATION, lintMetadata, MonitoringMode, restrictedPod, serviceMonitor, spreadAcrossNodes, TopologySpread } from "../lib/k8s";
import { networkRole } from "../lib/network/peers";
import { watchdogProbes } from "../lib/probes";
import { watchdogBundle, WATCHDOG_FILE } from "../lib/watchdog/bundle";
import { SentinelSchedule } from "../lib/watchdog/sentinel";

/** The port the watchdog listens on: Alertmanager's webhook and Prometheus's scrape. */
export const WATCHDOG_PORT = 9095;
export const WATCHDOG_APP = "speculation-watchdog";
/**
 * A stock image, pinned by digest: the watchdog is one bundled plain-Node file with no dependencies, mounted from a
 * ConfigMap, so no image has to be built; it runs as NON_ROOT_UID (lib/k8s.ts).  Override with `watchdog.image`.
 */
export const WATCHDOG_IMAGE = "docker.io/library/node:22-alpine@sha256:8094c002d08262dba12645a3b4a15cd6cd627d30bc782f53229a2ec13ee22a00";
/** The watchdog's in-cluster URL (Alertmanager posts to it; the route is written before the watchdog exists). */
export const watchdogUrl = (namespace: string) => `http://${WATCHDOG_APP}.${namespace}.svc.cluster.local:${WATCHDOG_PORT}`;
/** Where the bundled watchdog (lib/watchdog/bundle.ts) is mounted in its container. */
export const WATCHDOG_MOUNT = "/etc/watchdog";

export interface WatchdogArgs {
    /** The Namespace resource's name output: everything here is created after the Namespace. */
    namespace: pulumi.Input<string>;
    namespaceName: string;
    /** Where the watchdog reaches the speculation service's admin API, inside the cluster. */
    serviceUrl: string;
    /** The Secret and key that hold the admin token (the speculation service's own). */
    adminTokenSecret: { name: pulumi.Input<string>; key: string };
    /** The image that runs the script; a stock Node image pinned by digest. */
    image: string;
    replicas: number;
    /**
     * The watchdog's schedule (lib/guard/plan.ts, from watchdog.*): how long one revert or kill switch keeps trying,
     * each attempt's request timeout growing to the admin API's, the backoff, and how often it reads the firing triggers
     * from Prometheus — exactly what the guard's bound is computed from.
     */
    timings: WatchdogTimings;
    /**
     * Where it reads the firing triggers itself (`watchdog.prometheusUrl`, the standalone Prometheus, or the gates'):
     * always set, since the guard's bound counts on this read (config/schema.ts refuses a watchdog with none).
     */
    prometheusUrl: string;
    /** How its replicas spread across nodes (`hardening.topologySpread`): the one revert path between ups survives a node. */
    spread: TopologySpread;
    /**
     * The sentinel probes' schedule (lib/watchdog/sentinel.ts: once the plan has reached 100 %); without it the
     * watchdog does not probe (SENTINEL_INTERVAL_SECONDS=0) but still pulls the kill switch for any kill-switch alert.
     */
    sentinel?: SentinelSchedule;
    /**
     * Ingress-weight mode: the canary Ingress whose `canary-weight` a revert sets to 0 (Flagger's answer to a failed
     * analysis).  The watchdog then gets a service account whose Role may only get and patch that one Ingress.
     */
    canaryIngress?: string;
    monitoringMode: MonitoringMode;
    prometheusReleaseLabel: string;
    scrapeInterval: string;
}

/**
 * What protects a stage between `pulumi up`s (window bake mode, and after 100 %): the revert action Alertmanager
 * calls for every rollback-trigger alert and the kill switch it calls for every kill-switch alert
 * (lib/monitoring/alertmanager.ts routes them here before paging), and after 100 % the sentinel probes.  The
 * script is lib/watchdog/main.ts bundled into one file (lib/watchdog/bundle.ts), mounted from a ConfigMap into a stock
 * Node image; the admin token reaches it only
 * through the Secret.  Its pods carry the `watchdog` network role, so the NetworkPolicies admit them to the admin
 * port; Prometheus scrapes it (ServiceMonitor, or the standalone `speculation-watchdog` job), so every revert is a
 * metric, a log line and an alert, and the next `pulumi up` or `refresh` reads it from Prometheus.
 */
export class Watchdog extends pulumi.ComponentResource {
    static readonly type = "agenc:deploy:Watchdog";
    readonly deployment: k8s.apps.v1.Deployment;
    readonly service: k8s.core.v1.Service;
    readonly configMap: k8s.core.v1.ConfigMap;
    /** In-cluster URL Alertmanager posts to (without the /alerts path). */
    readonly url: string;

    constructor(name: string, args: WatchdogArgs, opts?: pulumi.ComponentResourceOptions) {
        super(Watchdog.type, name, {}, opts);
        const child = { parent: this };
        const labels = { app: WATCHDOG_APP };
        const script = watchdogBundle();
        this.url = watchdogUrl(args.namespaceName);
        // Ingress-weight mode: its own identity, allowed exactly what a revert needs and nothing else.
        const account = args.canaryIngress ? canaryRevertAccess(name, args.namespace, args.canaryIngress, labels, child) : undefined;
        this.configMap = new k8s.core.v1.ConfigMap(`${name}-script`, {
            metadata: { name: WATCHDOG_APP, namespace: args.namespace, labels },
            data: { [WATCHDOG_FILE]: script },
        }, child);
        this.deployment = new k8s.apps.v1.Deployment(`${name}-deployment`, {
            metadata: { name: WATCHDOG_APP, namespace: args.namespace, labels, ...lintMetadata({ containers: [{ name: "watchdog", image: args.image }] }) },
            spec: {
                replicas: args.replicas,
                selector: { matchLabels: labels },
                template: {
                    metadata: { labels: { ...labels, ...networkRole("watchdog") }, annotations: { [CONFIG_CHECKSUM_ANNOTATION]: configChecksum(script) } },
                    // Pod Security restricted (lib/k8s.ts restrictedPod) as NON_ROOT_UID, not node:22-alpine's `node`
                    // user (uid 1000, below MIN_POD_UID): the script needs no home, only to read its ConfigMap.
                    spec: restrictedPod({
                        topologySpreadConstraints: spreadAcrossNodes(WATCHDOG_APP, args.spread),
                        // The API server's token only where a revert needs it (ingress-weight mode).
                        // Named in every mode: left out, server-side apply would drop serviceAccountName but keep the
                        // deprecated serviceAccount the API server mirrors it into, and a stack moved off ingress-weight
                        // would keep pointing its pods at the account it just deleted (the next rollout then fails).
                        ...(account ? { serviceAccountName: account.metadata.name, automountServiceAccountToken: true }
                            : { serviceAccountName: "default", automountServiceAccountToken: false }),
                        containers: [{
                            name: "watchdog",
                            image: args.image,
                            command: ["node", `${WATCHDOG_MOUNT}/${WATCHDOG_FILE}`],
                            ports: [{ name: "metrics", containerPort: WATCHDOG_PORT }],
                            env: [
                                { name: "SERVICE_URL", value: args.serviceUrl },
                                { name: "ADMIN_TOKEN", valueFrom: { secretKeyRef: { name: args.adminTokenSecret.name, key: args.adminTokenSecret.key } } },
                                { name: "PORT", value: String(WATCHDOG_PORT) },
                                { name: "REVERT_DEADLINE_SECONDS", value: String(args.timings.revertDeadlineSeconds) },
                                { name: "ATTEMPT_TIMEOUT_MS", value: String(args.timings.attemptTimeoutMs) },
                                { name: "ADMIN_API_TIMEOUT_MS", value: String(args.timings.adminApiTimeoutMs) },
                                { name: "BACKOFF_INITIAL_MS", value: String(args.timings.initialBackoffMs) },
                                { name: "BACKOFF_MAX_MS", value: String(args.timings.maxBackoffMs) },
                                { name: "PROMETHEUS_URL", value: args.prometheusUrl },
                                { name: "POLL_INTERVAL_SECONDS", value: String(args.timings.pollIntervalSeconds) },
                                { name: "POLL_TIMEOUT_MS", value: String(args.timings.pollTimeoutMs) },
                                { name: "SENTINEL_INTERVAL_SECONDS", value: String(args.sentinel?.intervalSeconds ?? 0) },
                                ...(args.sentinel ? [{ name: "SENTINEL_TIMEOUT_MS", value: String(args.sentinel.timeoutMs) }] : []),
                                ...(args.canaryIngress ? [{ name: "CANARY_INGRESS", value: args.canaryIngress }] : []),
                            ],
                            resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "200m", memory: "128Mi" } },
                            ...watchdogProbes(WATCHDOG_PORT),
                            volumeMounts: [{ name: "script", mountPath: WATCHDOG_MOUNT, readOnly: true }],
                        }],
                        volumes: [{ name: "script", configMap: { name: this.configMap.metadata.name } }],
                    }),
                },
            },
        }, child);
        this.service = new k8s.core.v1.Service(`${name}-service`, {
            metadata: { name: WATCHDOG_APP, namespace: args.namespace, labels },
            spec: { selector: labels, ports: [{ name: "metrics", port: WATCHDOG_PORT, targetPort: WATCHDOG_PORT }] },
        }, child);
        // A drain keeps one watchdog up (with one replica the budget would block every drain of its node: none then).
        if (args.replicas > 1) {
            new k8s.policy.v1.PodDisruptionBudget(`${name}-pdb`, {
                metadata: { name: WATCHDOG_APP, namespace: args.namespace, labels },
                spec: { minAvailable: 1, selector: { matchLabels: labels } },
            }, child);
        }
        if (args.monitoringMode === "operator") {
            serviceMonitor(`${name}-servicemonitor`, {
                namespace: args.namespace, namespaceName: args.namespaceName, app: WATCHDOG_APP,
                releaseLabel: args.prometheusReleaseLabel, interval: args.scrapeInterval,
            }, child);
        }
        this.registerOutputs({ url: this.url });
    }
}

/**
 * The watchdog's service account in ingress-weight mode, and a Role that lets it get and patch the canary Ingress
 * by name: nothing else in the namespace, no list, no delete (the revert's read-back is a get).
 */
function canaryRevertAccess(name: string, namespace: pulumi.Input<string>, ingress: string, labels: Record<string, string>,
    opts: pulumi.CustomResourceOptions): k8s.core.v1.ServiceAccount {
    const account = new k8s.core.v1.ServiceAccount(`${name}-account`, {
        metadata: { name: WATCHDOG_APP, namespace, labels },
    }, opts);
    const role = new k8s.rbac.v1.Role(`${name}-role`, {
        metadata: { name: WATCHDOG_APP, namespace, labels },
        rules: [{ apiGroups: ["networking.k8s.io"], resources: ["ingresses"], resourceNames: [ingress], verbs: ["get", "patch"] }],
    }, opts);
    new k8s.rbac.v1.RoleBinding(`${name}-rolebinding`, {
        metadata: { name: WATCHDOG_APP, namespace, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
        subjects: [{ kind: "ServiceAccount", name: account.metadata.name, namespace }],
    }, opts);
    return account;
}
