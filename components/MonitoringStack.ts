import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { portableYaml as stringify } from "../lib/portableYaml";
import { AlertReceivers } from "../config";
import { SentinelAlertSettings } from "../config/sentinel";
import { StageThresholds } from "../config/thresholds";
import { formatDuration, parseDuration } from "../config/duration";
import { GuardPlan } from "../lib/guard/plan";
import {
    CONFIG_CHECKSUM_ANNOTATION, configChecksum, lintMetadata, NON_ROOT_UID, restrictedPod, spreadAcrossNodes, TMP_DIR, TopologySpread, WritableDir,
} from "../lib/k8s";
import {
    alertmanagerConfig, crdMatchers, KILL_SWITCH_ROUTE_MATCHERS, RECEIVER_SECRET_FILES, ReceiverPresence, WATCHDOG_PATH, WATCHDOG_RECEIVER,
    WATCHDOG_ROUTE_MATCHERS,
} from "../lib/monitoring/alertmanager";
import { dashboards } from "../lib/monitoring/dashboards";
import { alertNames, ruleGroups, RuleGroup } from "../lib/monitoring/rules";
import {
    prometheusConfig, PUSHGATEWAY_AUTH_DIR, PUSHGATEWAY_AUTH_FILES, PUSHGATEWAY_AUTH_SECRET, scrapeJobs, ScrapeJob, staticJobs, WATCHDOG_SCRAPE_JOB,
} from "../lib/monitoring/scrape";

export interface MonitoringStackArgs {
    namespace: pulumi.Input<string>;
    namespaceName: string;
    mode: "operator" | "standalone";
    thresholds: StageThresholds;
    scrapeInterval: string;
    evaluationInterval: string;
    prometheusReleaseLabel: string;
    grafanaDashboardLabel: string;
    /** Bare-metal node hosts scraped by static jobs. */
    nodeHosts: string[];
    /** The Pushgateway of the deployment records (`records.pushgatewayUrl`): scraped with honor_labels. */
    pushgatewayUrl?: string;
    /**
     * speculation:pushgatewayCredentials (a secret): stored in the Secret PUSHGATEWAY_AUTH_SECRET, which the scrape
     * config refers to (operator: the ScrapeConfig's basicAuth key refs; standalone: files mounted into Prometheus).
     */
    pushgatewayCredentials?: pulumi.Output<{ username: string; password: string }>;
    /** Blue-green at 100 %: the primary Service selects green's pods, and green's own Service is not scraped. */
    greenServesPrimary?: boolean;
    receivers: ReceiverPresence;
    receiverSecrets: pulumi.Output<AlertReceivers>;
    /** The watchdog's in-cluster URL (components/Watchdog.ts): rollback triggers are routed to it before paging. */
    watchdogUrl?: string;
    /** The sentinel judgement's window and minimum probes (`watchdog.sentinel`; default: the config defaults). */
    sentinel?: SentinelAlertSettings;
    /**
     * The guard between `up`s (lib/guard/plan.ts): the scrape timeout and the rules' options its bound was computed
     * for, so what is deployed is what the bound describes.
     */
    guard: GuardPlan;
    /** Standalone: how long Prometheus keeps its data (`monitoring.retention`: the longest bake plus a week, at least). */
    retention: string;
    /** Standalone: persistent volumes for Prometheus's TSDB and Alertmanager's notification log and silences. */
    storage: { storageClassName?: string; prometheusSize: string; alertmanagerSize: string };
    /** Standalone: how the monitoring pods spread across nodes (`hardening.topologySpread`, as the workloads). */
    spread: TopologySpread;
}

export const RULE_FILE = "agenc-rules.yml";
export const RECEIVER_SECRET = "agenc-alert-receivers";
const IMAGES = {
    prometheus: "prom/prometheus:v2.53.2",
    alertmanager: "prom/alertmanager:v0.27.0",
    grafana: "grafana/grafana:11.2.0",
};
/**
 * The users the pods run as, for Pod Security `restricted`, each at least MIN_POD_UID: Prometheus and Alertmanager as
 * the images' own `nobody` (65534); Grafana as NON_ROOT_UID, not its image's uid 472 (below MIN_POD_UID): everything it
 * writes is on its emptyDirs, which fsGroup makes writable.
 */
const IMAGE_UIDS = { prometheus: 65534, alertmanager: 65534, grafana: NON_ROOT_UID };
/**
 * Standalone replicas.  Grafana keeps no state of its own (dashboards and data source are provisioned from
 * ConfigMaps), so two replicas and a budget keep it up through a drain.  Prometheus and Alertmanager each write one
 * ReadWriteOnce volume (the TSDB the window bake judges; the notification log and silences): one pod, recreated, and
 * a budget that lets a drain evict it (a second Prometheus would be a second, diverging history behind the same
 * Service).  HA monitoring is operator mode's kube-prometheus-stack (docs/kube-score.md).
 */
export const STANDALONE_REPLICAS = { prometheus: 1, alertmanager: 1, grafana: 2 } as const;

/**
 * Scrape jobs, alert rules, Alertmanager routing and Grafana dashboards.  `operator` mode hands them to an
 * existing kube-prometheus-stack (PrometheusRule, AlertmanagerConfig, dashboard ConfigMaps); `standalone` mode
 * runs Prometheus, Alertmanager and Grafana itself.
 */
export class MonitoringStack extends pulumi.ComponentResource {
    static readonly type = "agenc:deploy:MonitoringStack";
    readonly ruleGroups: RuleGroup[];
    readonly alertNames: string[];
    readonly scrapeJobs: ScrapeJob[];
    readonly dashboardNames: string[];
    readonly ruleResourceName: string;
    readonly prometheusConfig: Record<string, unknown>;
    readonly alertmanagerConfig: Record<string, unknown>;
    /** Only when at least one receiver is configured. */
    readonly receiverSecret?: k8s.core.v1.Secret;
    /** Only with records.pushgatewayUrl and speculation:pushgatewayCredentials. */
    readonly pushgatewayAuthSecret?: k8s.core.v1.Secret;

    constructor(name: string, args: MonitoringStackArgs, opts?: pulumi.ComponentResourceOptions) {
        super(MonitoringStack.type, name, {}, opts);
        const child = { parent: this };
        const ns = args.namespace;
        const labels = { app: "agenc-monitoring" };

        this.ruleGroups = ruleGroups(args.thresholds, args.evaluationInterval, { ...args.guard.ruleOptions, ...(args.sentinel ? { sentinel: args.sentinel } : {}) });
        this.alertNames = alertNames(this.ruleGroups);
        this.scrapeJobs = [
            ...scrapeJobs(args.nodeHosts, {
                greenServesPrimary: args.greenServesPrimary,
                ...(args.pushgatewayUrl ? { pushgatewayUrl: args.pushgatewayUrl, pushgatewayAuthenticated: args.pushgatewayCredentials !== undefined } : {}),
            }),
            ...(args.watchdogUrl ? [WATCHDOG_SCRAPE_JOB] : []),
        ];
        this.ruleResourceName = "agenc-speculation-rules";
        this.prometheusConfig = prometheusConfig({
            namespace: args.namespaceName,
            scrapeInterval: args.scrapeInterval,
            scrapeTimeout: args.guard.prometheus.scrapeTimeout,
            evaluationInterval: args.evaluationInterval,
            alertmanagerTarget: "alertmanager:9093",
            ruleFiles: [`/etc/prometheus/${RULE_FILE}`],
            jobs: this.scrapeJobs,
        });
        this.alertmanagerConfig = alertmanagerConfig(args.receivers, args.watchdogUrl ? { url: args.watchdogUrl } : undefined);
        const boards = dashboards(args.thresholds, args.guard.ruleOptions.slo);
        this.dashboardNames = Object.values(boards).map((d) => String(d.uid));

        // Receiver secrets live in one Secret; configs refer to its keys or mounted files, never to the values.  With
        // no receiver configured there is no Secret at all: an empty stringData never matches what the API server
        // stores, so the provider would plan a change on every preview.
        if (args.receivers.slack || args.receivers.pagerduty) {
            const receiverData = args.receiverSecrets.apply((r) => ({
                ...(r.slackWebhookUrl ? { "slack-webhook-url": r.slackWebhookUrl } : {}),
                ...(r.pagerdutyRoutingKey ? { "pagerduty-routing-key": r.pagerdutyRoutingKey } : {}),
            }));
            this.receiverSecret = new k8s.core.v1.Secret(`${name}-receivers`, {
                metadata: { name: RECEIVER_SECRET, namespace: ns, labels },
                type: "Opaque",
                stringData: pulumi.secret(receiverData),
            }, child);
        }

        // The Pushgateway's credentials, for the scrape: referred to by key or mounted as files, never written into a config.
        if (args.pushgatewayUrl && args.pushgatewayCredentials) {
            this.pushgatewayAuthSecret = new k8s.core.v1.Secret(`${name}-pushgateway-auth`, {
                metadata: { name: PUSHGATEWAY_AUTH_SECRET, namespace: ns, labels },
                type: "Opaque",
                stringData: pulumi.secret(args.pushgatewayCredentials.apply((c) => ({ username: c.username, password: c.password }))),
            }, child);
        }

        if (args.mode === "operator") {
            new k8s.apiextensions.CustomResource(`${name}-rules`, {
                apiVersion: "monitoring.coreos.com/v1",
                kind: "PrometheusRule",
                metadata: { name: this.ruleResourceName, namespace: ns, labels: { ...labels, release: args.prometheusReleaseLabel } },
                spec: { groups: this.ruleGroups },
            }, child);
            new k8s.apiextensions.CustomResource(`${name}-alertmanagerconfig`, {
                apiVersion: "monitoring.coreos.com/v1alpha1",
                kind: "AlertmanagerConfig",
                metadata: { name: "agenc-speculation", namespace: ns, labels: { ...labels, release: args.prometheusReleaseLabel } },
                spec: operatorAlertmanagerConfig(args.receivers, args.watchdogUrl, this.receiverSecret?.metadata.name ?? RECEIVER_SECRET),
            }, child);
            // Static targets (the bare-metal nodes, the Pushgateway) have no Service for a ServiceMonitor to select:
            // a ScrapeConfig each, which kube-prometheus-stack's Prometheus selects by the same release label.
            for (const j of staticJobs(this.scrapeJobs)) {
                new k8s.apiextensions.CustomResource(`${name}-scrape-${j.job}`, {
                    apiVersion: "monitoring.coreos.com/v1alpha1",
                    kind: "ScrapeConfig",
                    metadata: { name: j.job, namespace: ns, labels: { ...labels, release: args.prometheusReleaseLabel } },
                    spec: {
                        ...(j.honorLabels ? { honorLabels: true } : {}),
                        // The prometheus-operator reads the Secret's keys (same namespace); the values never reach the CR.
                        ...(j.basicAuth ? { basicAuth: { username: { name: PUSHGATEWAY_AUTH_SECRET, key: "username" }, password: { name: PUSHGATEWAY_AUTH_SECRET, key: "password" } } } : {}),
                        scrapeInterval: args.scrapeInterval,
                        scrapeTimeout: args.guard.prometheus.scrapeTimeout,
                        staticConfigs: [{ targets: j.staticTargets, labels: { job: j.job } }],
                    },
                }, { ...child, ...(j.basicAuth && this.pushgatewayAuthSecret ? { dependsOn: [this.pushgatewayAuthSecret] } : {}) });
            }
            for (const [file, board] of Object.entries(boards)) {
                new k8s.core.v1.ConfigMap(`${name}-dashboard-${board.uid}`, {
                    metadata: { name: `dashboard-${board.uid}`, namespace: ns, labels: { ...labels, [args.grafanaDashboardLabel]: "1" } },
                    data: { [file]: JSON.stringify(board) },
                }, child);
            }
        } else {
            this.standalone(name, args, boards, child);
        }
        this.registerOutputs({ alertNames: this.alertNames, dashboardNames: this.dashboardNames, ruleResourceName: this.ruleResourceName });
    }

    private standalone(name: string, args: MonitoringStackArgs, boards: Record<string, Record<string, unknown>>,
        child: pulumi.CustomResourceOptions): void {
        const ns = args.namespace;
        const app = (component: string) => ({ app: component, "app.kubernetes.io/part-of": "agenc-monitoring" });
        // Rendered once: the same text goes into the ConfigMap and into the checksum that rolls the pods.
        const prometheusYaml = stringify(this.prometheusConfig);
        const rulesYaml = stringify({ groups: this.ruleGroups });
        const alertmanagerYaml = stringify(this.alertmanagerConfig);
        const sa = new k8s.core.v1.ServiceAccount(`${name}-prometheus-sa`, { metadata: { name: "prometheus", namespace: ns } }, child);
        const role = new k8s.rbac.v1.Role(`${name}-prometheus-role`, {
            metadata: { name: "prometheus-discovery", namespace: ns },
            rules: [{ apiGroups: [""], resources: ["services", "endpoints", "pods"], verbs: ["get", "list", "watch"] }],
        }, child);
        new k8s.rbac.v1.RoleBinding(`${name}-prometheus-binding`, {
            metadata: { name: "prometheus-discovery", namespace: ns },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
            subjects: [{ kind: "ServiceAccount", name: sa.metadata.name, namespace: ns }],
        }, child);
        const promConfig = new k8s.core.v1.ConfigMap(`${name}-prometheus-config`, {
            metadata: { name: "prometheus-config", namespace: ns, labels: app("prometheus") },
            data: { "prometheus.yml": prometheusYaml, [RULE_FILE]: rulesYaml },
        }, child);
        const amConfig = new k8s.core.v1.ConfigMap(`${name}-alertmanager-config`, {
            metadata: { name: "alertmanager-config", namespace: ns, labels: app("alertmanager") },
            data: { "alertmanager.yml": alertmanagerYaml },
        }, child);
        const grafanaProvisioning = new k8s.core.v1.ConfigMap(`${name}-grafana-provisioning`, {
            metadata: { name: "grafana-provisioning", namespace: ns, labels: app("grafana") },
            data: {
                "datasources.yml": stringify({ apiVersion: 1, datasources: [{ name: "Prometheus", uid: "prometheus", type: "prometheus", url: "http://prometheus:9090", isDefault: true }] }),
                "dashboards.yml": stringify({ apiVersion: 1, providers: [{ name: "agenc", type: "file", options: { path: "/var/lib/grafana/dashboards" } }] }),
            },
        }, child);
        const grafanaDashboards = new k8s.core.v1.ConfigMap(`${name}-grafana-dashboards`, {
            metadata: { name: "grafana-dashboards", namespace: ns, labels: app("grafana") },
            data: Object.fromEntries(Object.entries(boards).map(([file, board]) => [file, JSON.stringify(board)])),
        }, child);

        const workload = (component: string, image: string, port: number, extra: {
            args?: string[]; volumes: k8s.types.input.core.v1.Volume[]; mounts: k8s.types.input.core.v1.VolumeMount[];
            serviceAccountName?: pulumi.Input<string>; checksum: string; dependsOn: pulumi.Resource[];
            /** Folders the process writes to (emptyDirs under a read-only root filesystem). */
            writable: WritableDir[]; uid: number;
            /**
             * Evidence that must outlive the pod (Prometheus's TSDB, Alertmanager's notification log): a
             * PersistentVolumeClaim mounted at `mountPath`.  One pod at a time writes it (ReadWriteOnce), so the
             * Deployment recreates instead of rolling: the old pod lets go of the volume before the new one mounts it.
             */
            persistent?: { mountPath: string; size: string };
        }) => {
            const claim = extra.persistent ? new k8s.core.v1.PersistentVolumeClaim(`${name}-${component}-data`, {
                metadata: { name: `${component}-data`, namespace: ns, labels: app(component) },
                spec: {
                    accessModes: ["ReadWriteOnce"],
                    resources: { requests: { storage: extra.persistent.size } },
                    ...(args.storage.storageClassName ? { storageClassName: args.storage.storageClassName } : {}),
                },
            }, { ...child, protect: false }) : undefined;
            // Liveness is cheaper and looser than readiness, never the same check: Prometheus's and Alertmanager's
            // /-/healthy (the process is up) against /-/ready (it serves queries); Grafana's only health endpoint,
            // /api/health, checks its database, so its liveness is the TCP port (a Grafana whose database is slow
            // leaves the Service, it is not restarted).
            const health = component === "grafana" ? { tcpSocket: { port } } : { httpGet: { path: "/-/healthy", port } };
            const ready = { httpGet: { path: component === "grafana" ? "/api/health" : "/-/ready", port } };
            const replicas = STANDALONE_REPLICAS[component as keyof typeof STANDALONE_REPLICAS];
            const containers = [{
                name: component, image, args: extra.args,
                ports: [{ name: "http", containerPort: port }],
                resources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { cpu: "1", memory: "2Gi" } },
                livenessProbe: { ...health, initialDelaySeconds: 30, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 6 },
                readinessProbe: { ...ready, initialDelaySeconds: 10, periodSeconds: 5, failureThreshold: 3 },
                volumeMounts: [...extra.mounts, ...(claim ? [{ name: "data", mountPath: extra.persistent!.mountPath }] : [])],
            }];
            new k8s.apps.v1.Deployment(`${name}-${component}`, {
                metadata: { name: component, namespace: ns, labels: app(component), ...lintMetadata({ containers }) },
                spec: {
                    replicas,
                    ...(claim ? { strategy: { type: "Recreate" } } : {}),
                    selector: { matchLabels: { app: component } },
                    template: {
                        metadata: { labels: app(component), annotations: { [CONFIG_CHECKSUM_ANNOTATION]: extra.checksum } },
                        spec: restrictedPod({
                            serviceAccountName: extra.serviceAccountName,
                            containers,
                            topologySpreadConstraints: spreadAcrossNodes(component, args.spread),
                            volumes: [...extra.volumes, ...(claim ? [{ name: "data", persistentVolumeClaim: { claimName: claim.metadata.name } }] : [])],
                        }, { writable: extra.writable, uid: extra.uid }),
                    },
                },
            }, { ...child, dependsOn: extra.dependsOn });
            // Several replicas: a drain keeps one up.  One (the single writer of its volume): a drain may evict it.
            new k8s.policy.v1.PodDisruptionBudget(`${name}-${component}-pdb`, {
                metadata: { name: component, namespace: ns, labels: app(component) },
                spec: { ...(replicas > 1 ? { minAvailable: replicas - 1 } : { maxUnavailable: 1 }), selector: { matchLabels: { app: component } } },
            }, child);
            new k8s.core.v1.Service(`${name}-${component}-service`, {
                metadata: { name: component, namespace: ns, labels: app(component) },
                spec: { selector: { app: component }, ports: [{ name: "http", port, targetPort: port }] },
            }, child);
        };

        workload("prometheus", IMAGES.prometheus, 9090, {
            args: ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", `--storage.tsdb.retention.time=${prometheusDuration(args.retention)}`],
            serviceAccountName: sa.metadata.name,
            volumes: [
                { name: "config", configMap: { name: "prometheus-config" } },
                ...(this.pushgatewayAuthSecret ? [{ name: "secrets", secret: { secretName: PUSHGATEWAY_AUTH_SECRET, items: [
                    { key: "username", path: PUSHGATEWAY_AUTH_FILES.username.split("/").pop()! },
                    { key: "password", path: PUSHGATEWAY_AUTH_FILES.password.split("/").pop()! },
                ] } }] : []),
            ],
            mounts: [
                { name: "config", mountPath: "/etc/prometheus" },
                ...(this.pushgatewayAuthSecret ? [{ name: "secrets", mountPath: PUSHGATEWAY_AUTH_DIR, readOnly: true }] : []),
            ],
            checksum: configChecksum(prometheusYaml + rulesYaml),
            dependsOn: [promConfig, ...(this.pushgatewayAuthSecret ? [this.pushgatewayAuthSecret] : [])],
            // The TSDB on its own volume: a restarted Prometheus keeps the history the next up judges the bake on.
            writable: [TMP_DIR], uid: IMAGE_UIDS.prometheus,
            persistent: { mountPath: "/prometheus", size: args.storage.prometheusSize },
        });
        workload("alertmanager", IMAGES.alertmanager, 9093, {
            args: ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"],
            volumes: [
                { name: "config", configMap: { name: "alertmanager-config" } },
                ...(this.receiverSecret ? [{ name: "secrets", secret: { secretName: RECEIVER_SECRET, items: [
                    { key: "slack-webhook-url", path: RECEIVER_SECRET_FILES.slackWebhookUrl.split("/").pop()! },
                    { key: "pagerduty-routing-key", path: RECEIVER_SECRET_FILES.pagerdutyRoutingKey.split("/").pop()! },
                ].filter((item) => item.key === "slack-webhook-url" ? args.receivers.slack : args.receivers.pagerduty) } }] : []),
            ],
            mounts: [
                { name: "config", mountPath: "/etc/alertmanager" },
                ...(this.receiverSecret ? [{ name: "secrets", mountPath: "/etc/alertmanager/secrets", readOnly: true }] : []),
            ],
            checksum: configChecksum(alertmanagerYaml),
            dependsOn: [amConfig, ...(this.receiverSecret ? [this.receiverSecret] : [])],
            // Silences and the notification log, on their own volume.
            writable: [TMP_DIR], uid: IMAGE_UIDS.alertmanager,
            persistent: { mountPath: "/alertmanager", size: args.storage.alertmanagerSize },
        });
        workload("grafana", IMAGES.grafana, 3000, {
            volumes: [
                { name: "provisioning", configMap: { name: "grafana-provisioning", items: [
                    { key: "datasources.yml", path: "datasources/datasources.yml" }, { key: "dashboards.yml", path: "dashboards/dashboards.yml" }] } },
                { name: "dashboards", configMap: { name: "grafana-dashboards" } },
            ],
            mounts: [{ name: "provisioning", mountPath: "/etc/grafana/provisioning" }, { name: "dashboards", mountPath: "/var/lib/grafana/dashboards" }],
            checksum: configChecksum(JSON.stringify(boards)),
            dependsOn: [grafanaProvisioning, grafanaDashboards],
            // Its database, plugins and logs (GF_PATHS_DATA /var/lib/grafana, GF_PATHS_LOGS /var/log/grafana).
            writable: [TMP_DIR, { name: "data", mountPath: "/var/lib/grafana" }, { name: "logs", mountPath: "/var/log/grafana" }],
            uid: IMAGE_UIDS.grafana,
        });
    }
}

/** Prometheus's durations want their units from the longest to the shortest (1d12h, not 12h1d): normalised. */
function prometheusDuration(d: string): string {
    return formatDuration(parseDuration(d));
}

/** The same routing as lib/monitoring/alertmanager.ts, in the AlertmanagerConfig CRD's shape (secret key refs). */
function operatorAlertmanagerConfig(r: ReceiverPresence, watchdogUrl: string | undefined, secretName: pulumi.Input<string>): Record<string, unknown> {
    const slack = r.slack ? [{ apiURL: { name: secretName, key: "slack-webhook-url" }, channel: "#agenc-alerts", sendResolved: true }] : undefined;
    const pagerduty = r.pagerduty ? [{ routingKey: { name: secretName, key: "pagerduty-routing-key" }, severity: "critical" }] : undefined;
    const receivers: Record<string, unknown>[] = [{ name: "null" }];
    if (slack) receivers.push({ name: "slack", slackConfigs: slack });
    if (slack || pagerduty) receivers.push({ name: "pager", ...(pagerduty ? { pagerdutyConfigs: pagerduty } : {}), ...(slack ? { slackConfigs: slack } : {}) });
    const pager = slack || pagerduty ? "pager" : "null";
    const match = (severity: string) => [{ name: "severity", value: severity, matchType: "=" }];
    if (watchdogUrl) receivers.push({ name: WATCHDOG_RECEIVER, webhookConfigs: [{ url: `${watchdogUrl}${WATCHDOG_PATH}`, sendResolved: false }] });
    return {
        route: {
            receiver: "null",
            groupBy: ["alertname", "component"],
            routes: [
                // Every kill-switch alert reaches the watchdog's kill switch, every other rollback trigger its revert,
                // first (continue: the page follows); the same routes as the standalone config.
                ...(watchdogUrl ? [KILL_SWITCH_ROUTE_MATCHERS, WATCHDOG_ROUTE_MATCHERS].map((m) => ({
                    receiver: WATCHDOG_RECEIVER, matchers: crdMatchers(m), continue: true,
                    groupBy: ["alertname"], groupWait: "0s", groupInterval: "10s", repeatInterval: "5m",
                })) : []),
                { receiver: pager, matchers: match("critical") },
                { receiver: pager, matchers: match("high") },
                { receiver: slack ? "slack" : "null", matchers: match("warning") },
                { receiver: "null", matchers: match("info") },
            ],
        },
        receivers,
    };
}
