/**
 * Each policy with a passing and a violating input, matched by real type strings, asserting the violation text and
 * the enforcement level each stack's pack config gives it (advisory in staging, mandatory in production).
 */
import { expect } from "chai";
import * as P from "../../policy/policies";
import { PolicyInput, runResourcePolicy, runStackPolicy, asPolicyResources, Stack } from "./harness";
import { ROLLBACK_TRIGGER_ALERTS } from "../../lib/monitoring/rules";
import { GUARD_BOUND_LIMIT_SECONDS } from "../../config/thresholds";

const T = P.TYPES;
const container = (edit: Record<string, unknown> = {}) => ({
    name: "speculation", image: "ghcr.io/agenc/speculation:v1.2.3",
    resources: { requests: { cpu: "1", memory: "2Gi" }, limits: { cpu: "2", memory: "4Gi" } },
    livenessProbe: { httpGet: { path: "/health", port: 9090 }, initialDelaySeconds: 30, periodSeconds: 10, failureThreshold: 3 },
    readinessProbe: { httpGet: { path: "/ready", port: 9090 }, initialDelaySeconds: 10, periodSeconds: 5, failureThreshold: 3 },
    env: [{ name: "SPECULATION_ENABLED", value: "false" }, { name: "ADMIN_TOKEN", valueFrom: { secretKeyRef: { name: "agenc-speculation-secrets", key: "ADMIN_TOKEN" } } }],
    ...edit,
});
const deployment = (name: string, c = container(), replicas = 2, labels: Record<string, string> = { app: name }): PolicyInput => ({
    type: T.deployment, name, props: { metadata: { name, labels }, spec: { replicas, selector: { matchLabels: labels }, template: { spec: { containers: [c] } } } },
});
const gate = (thresholds: Record<string, number> = {}, bakeSeconds = 14400): PolicyInput => ({
    type: T.healthGate, name: "stage-1-10pct-gate",
    props: { thresholds: { maxRollbackRate: 0.05, abortRollbackRate: 0.15, maxErrorRate: 0.01, abortErrorRate: 0.1, maxErrorRateBaselineMultiple: 10, maxProofQueueSize: 2000, maxMemoryPercent: 90, maxP99LatencySeconds: 1, abortP99LatencySeconds: 5, maxTailRatio: 2, ...thresholds }, bakeSeconds },
});
/** A gate judged by the error budget (lib/slo): its objective and floor. */
const sloGate = (objective: number, budgetFloor: number): PolicyInput => ({ ...gate(), props: { ...gate().props, slo: { objective, budgetFloor } } });
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
const rollout = (edit: Record<string, unknown> = {}): PolicyInput => ({
    type: T.sshRollout, name: "alys-rollout",
    props: { nodes: [1, 2, 3, 4].map((i) => ({ name: `n${i}`, hostKey: KEY })), batches: [1, 2, 1], maxFailPercentage: 0, ...edit },
});

const spread = (edit: Record<string, unknown> = {}) => ({ maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: { app: "proof-workers" } }, ...edit });
const workers = (podEdit: Record<string, unknown>, c = container({ name: "proof-worker", livenessProbe: { tcpSocket: { port: 9091 }, initialDelaySeconds: 30 }, readinessProbe: { httpGet: { path: "/health", port: 9091 } } })): PolicyInput => {
    const d = deployment("proof-workers", c, 4, { app: "proof-workers" });
    d.props.spec.template = { metadata: { labels: { app: "proof-workers" } }, spec: { containers: [c], topologySpreadConstraints: [spread()], ...podEdit } };
    return d;
};
const ingress = (annotations: Record<string, string>, customTimeouts?: PolicyInput["customTimeouts"]): PolicyInput => ({
    type: T.ingress, name: "canary-ingress", props: { metadata: { name: "agenc-speculation-canary", annotations } }, customTimeouts,
});
/** An Ingress with one rule for speculation.agenc.local: `paths` as [path, pathType, service]. */
const routed = (paths: [string, string | undefined, string][], edit: Record<string, unknown> = {}, annotations: Record<string, string> = {}): PolicyInput => ({
    type: T.ingress, name: "ingress", props: {
        metadata: { name: "agenc-speculation", annotations },
        spec: { ingressClassName: "nginx", rules: [{ host: "speculation.agenc.local", http: { paths: paths.map(([path, pathType, name]) => ({ path, pathType, backend: { service: { name, port: { number: 9090 } } } })) } }], ...edit },
    },
});
const api = routed([["/api", "Prefix", "agenc-speculation"], ["/status", "Exact", "agenc-speculation"]]);
/** A Deployment under Pod Security `restricted` (what lib/k8s.ts restrictedPod builds), with one edit. */
const restricted = (edit: (pod: any) => void = () => undefined): PolicyInput => {
    const c = { ...container(), securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } } };
    const d = deployment("agenc-speculation", c as ReturnType<typeof container>);
    const pod = (d.props as any).spec.template.spec;
    pod.securityContext = { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: "RuntimeDefault" } };
    edit(pod);
    return d;
};
const namespace = (level?: string): PolicyInput => ({
    type: T.namespace, name: "namespace", props: { metadata: { name: "agenc-production", labels: level ? { "pod-security.kubernetes.io/enforce": level } : {} } },
});

const role = (rules: unknown[]): PolicyInput => ({ type: T.role, name: "watchdog-role", props: { metadata: { name: "speculation-watchdog" }, rules } });
const SENTINEL_RULE = { alert: "SpeculationSentinelFailing", labels: { severity: "critical", kill_switch: "true" } };
interface Row { policy: P.ResourcePolicyLike; ok: PolicyInput; bad: PolicyInput; message: RegExp; stack?: Stack }
/** A Guard as the program records it (components/Guard.ts): the floor and the computed bound. */
const guardRes = (floor: Record<string, unknown> = {}, boundSeconds = 410.75, edit: Record<string, unknown> = {}): PolicyInput => ({
    type: T.guard, name: "guard", props: {
        environment: "production", boundSeconds, worstTrigger: "SpeculationRollbackRateAbort", formula: "scrape 25s + … + revert 35.75s", maxBoundSeconds: 420,
        floor: { enabled: true, sentinels: true, replicas: 2, driftDetection: "cusum", onFailure: "revert", bakeMode: "window", errorBaseline: true, ...floor },
        ...edit,
    },
});
/** The signature verification as the program registers it (providers/signatureVerification.ts). */
const DIGEST = `sha256:${"ab".repeat(32)}`;
const signatures = (edit: Record<string, unknown> = {}): PolicyInput => ({
    type: T.signatureVerification, name: "signatures", props: {
        required: true, publicKeys: [{ name: "release", pem: "-----BEGIN PUBLIC KEY-----\n…\n-----END PUBLIC KEY-----\n" }],
        subjects: [{ kind: "image", name: "speculation v1.2.3", repository: "ghcr.io/agenc/speculation", digest: DIGEST, configKey: "release.images.speculation.digest" }], ...edit,
    },
});
const rows: [string, Row][] = [
    ["signature verification off in production", { policy: P.signedReleases, ok: signatures(), bad: signatures({ required: false }), stack: "production",
        message: /^signatures: signature verification is off \(speculation:signing\.required is false\); this stack requires it\.$/ }],
    ["a production verification without keys", { policy: P.signedReleases, ok: signatures(), bad: signatures({ publicKeys: [] }), stack: "production",
        message: /^signatures: no public key to verify with \(speculation:signing\.publicKeys is empty\)\.$/ }],
    ["an image verified by tag in production", { policy: P.signedReleases, ok: signatures(), stack: "production",
        bad: signatures({ subjects: [{ kind: "image", name: "speculation v1.2.3", repository: "ghcr.io/agenc/speculation", tag: "v1.2.3", configKey: "release.images.speculation.digest" }] }),
        message: /^signatures: image speculation v1\.2\.3 ghcr\.io\/agenc\/speculation:v1\.2\.3 is verified by tag; this stack requires a digest \(release\.images\.speculation\.digest\)\.$/ }],
    ["proof workers below the minimum", { policy: P.proofWorkersMinReplicas, ok: deployment("proof-workers", container(), 4, { app: "proof-workers" }), bad: deployment("proof-workers", container(), 3, { app: "proof-workers" }), message: /^Deployment proof-workers has 3 replicas; the minimum is 4\.$/, stack: "production" }],
    ["a container without limits", { policy: P.containerResources, ok: deployment("agenc-speculation"), bad: deployment("agenc-speculation", container({ resources: { requests: { cpu: "1", memory: "1Gi" } } })), message: /^agenc-speculation container speculation has no limits\.cpu, limits\.memory\.$/ }],
    ["a readiness probe off the seed's timing", { policy: P.speculationProbes, ok: deployment("agenc-speculation"), bad: deployment("agenc-speculation", container({ readinessProbe: { httpGet: { path: "/ready", port: 9090 }, initialDelaySeconds: 10, periodSeconds: 30, failureThreshold: 3 } })), message: /^agenc-speculation readinessProbe\.periodSeconds is 30; the seed's value is 5\.$/ }],
    ["an image tagged latest", { policy: P.imagesPinned, ok: deployment("agenc-speculation"), bad: deployment("agenc-speculation", container({ image: "ghcr.io/agenc/speculation:latest" })), message: /image ghcr\.io\/agenc\/speculation:latest is not pinned/, stack: "staging" }],
    ["a tag without digest in production", { policy: P.imagesPinned, ok: deployment("agenc-speculation", container({ image: `ghcr.io/agenc/speculation:v1.2.3@sha256:${"a".repeat(64)}` })), bad: deployment("agenc-speculation"), message: /has no sha256 digest; this stack requires one/, stack: "production" }],
    ["a config that boots speculation enabled", { policy: P.speculationBootsDisabled, ok: { type: T.configMap, name: "cm", props: { metadata: { name: "speculation-config" }, data: { "speculation.toml": "[speculation]\nenabled = false\n\n[speculation.features]\nrollout_percentage = 0\n" } } }, bad: { type: T.configMap, name: "cm", props: { metadata: { name: "speculation-config" }, data: { "speculation.toml": "[speculation]\nenabled = true\n\n[speculation.features]\nrollout_percentage = 0\n" } } }, message: /enables speculation; it must boot disabled/ }],
    ["an admin token as a literal", { policy: P.adminTokenFromSecret, ok: deployment("agenc-speculation"), bad: deployment("agenc-speculation", container({ env: [{ name: "ADMIN_TOKEN", value: "hunter2" }] })), message: /^agenc-speculation container speculation sets ADMIN_TOKEN as a literal; use valueFrom\.secretKeyRef\.$/ }],
    ["a canary plan that does not end at 100", { policy: P.canaryPlan, ok: { type: T.canaryStage, name: "stage-1-10pct", props: { plan: [10, 25, 50, 100] } }, bad: { type: T.canaryStage, name: "stage-1-10pct", props: { plan: [10, 25, 50] } }, message: /^Canary plan \[10, 25, 50\] ends at 50 %; it must end at 100\.$/ }],
    ["a canary plan whose first step is too big", { policy: P.canaryPlan, ok: { type: T.canaryStage, name: "s", props: { plan: [5, 100] } }, bad: { type: T.canaryStage, name: "s", props: { plan: [20, 100] } }, message: /starts at 20 %; the first step may carry at most 10 %/ }],
    ["a canary plan that goes down", { policy: P.canaryPlan, ok: { type: T.canaryStage, name: "s", props: { plan: [10, 50, 100] } }, bad: { type: T.canaryStage, name: "s", props: { plan: [10, 50, 25, 100] } }, message: /step 3 \(25 %\) does not exceed step 2 \(50 %\)/ }],
    ["a gate looser than the table", { policy: P.gateThresholds, ok: gate(), bad: gate({ maxRollbackRate: 0.08 }), message: /^Health gate stage-1-10pct-gate maxRollbackRate is 0\.08; it may not be looser than 0\.05\.$/ }],
    ["a production bake below the minimum", { policy: P.gateThresholds, ok: gate({}, 14400), bad: gate({}, 900), message: /bakes 900 s; this stack requires at least 14400 s/, stack: "production" }],
    ["a node without a pinned host key", { policy: P.nodesPinnedAndBounded, ok: rollout(), bad: rollout({ nodes: [{ name: "n1", hostKey: KEY }, { name: "n2" }], batches: [1] }), message: /^Node n2 of alys-rollout has no pinned host key\.$/ }],
    ["a first batch bigger than one node", { policy: P.nodesPinnedAndBounded, ok: rollout(), bad: rollout({ batches: [2, 2] }), message: /the first batch has 2 nodes; at most 1/ }],
    ["window bakes with the watchdog off", { policy: P.guardFloor, ok: guardRes(), bad: guardRes({ enabled: false }), message: /no guard between ups where it matters: the watchdog is off \(watchdog\.enabled\)/, stack: "production" }],
    ["window bakes with no error baseline for the relative trigger", { policy: P.guardFloor, ok: guardRes(), bad: guardRes({ errorBaseline: false }), message: /error baseline reaches Prometheus.*records\.pushgatewayUrl/, stack: "production" }],
    ["window bakes with sentinels off, no drift detection and onFailure fail", { policy: P.guardFloor, ok: guardRes({ driftDetection: "canary-judge" }), bad: guardRes({ sentinels: false, driftDetection: "off", onFailure: "fail" }), message: /sentinel probes are off.*drift detection is off.*onFailure: fail/, stack: "production" }],
    ["a guard bound over the stack's own 7 min limit", { policy: P.guardBound, ok: guardRes(), bad: guardRes({}, 431), message: /^The guard's bound is 431 s \(SpeculationRollbackRateAbort: .*\), above the stack's watchdog\.maxGuardBound \(420 s\)\.$/ }],
    ["a watchdog of one replica (no PodDisruptionBudget, no spread)", { policy: P.guardFloor, ok: guardRes(), bad: guardRes({ replicas: 1 }), message: /^The watchdog runs 1 replica \(watchdog\.replicas; allowed 2 to 5\): no PodDisruptionBudget and no spread over nodes/ }],
    ["a watchdog of one replica in watch bake mode too (after 100 % it is the only revert path)", { policy: P.guardFloor, ok: guardRes({ bakeMode: "watch", sentinels: false }), bad: guardRes({ bakeMode: "watch", replicas: 1 }), message: /^The watchdog runs 1 replica/ }],
    ["a failure budget in production", { policy: P.nodesPinnedAndBounded, ok: rollout(), bad: rollout({ maxFailPercentage: 25 }), message: /maxFailPercentage is 25; at most 0/, stack: "production" }],
    ["a PrometheusRule without every rollback trigger", { policy: P.rollbackTriggerAlerts, ok: { type: T.prometheusRule, name: "r", props: { metadata: { name: "agenc-speculation-rules" }, spec: { groups: [{ rules: [...["SpeculationRollbackRateAbort", "SpeculationErrorRateAbort", "SpeculationErrorRateSpike", "SpeculationMemoryCritical", "SpeculationCircuitBreakerOpen", "ProofQueueOverflow", "SpeculationLatencyTailRatio", "SpeculationUnobservable", "SpeculationErrorBudgetFastBurn"].map((alert) => ({ alert })), SENTINEL_RULE] }] } } }, bad: { type: T.prometheusRule, name: "r", props: { metadata: { name: "agenc-speculation-rules" }, spec: { groups: [{ rules: [{ alert: "SpeculationRollbackRateAbort" }, SENTINEL_RULE] }] } } }, message: /lacks the rollback-trigger alerts SpeculationErrorRateAbort, SpeculationErrorRateSpike, SpeculationMemoryCritical, SpeculationCircuitBreakerOpen, ProofQueueOverflow, SpeculationLatencyTailRatio, SpeculationUnobservable, SpeculationErrorBudgetFastBurn/ }],
    ["a PrometheusRule whose sentinel alert does not pull the kill switch", { policy: P.rollbackTriggerAlerts, ok: { type: T.prometheusRule, name: "r", props: { metadata: { name: "agenc-speculation-rules" }, spec: { groups: [{ rules: [...ROLLBACK_TRIGGER_ALERTS.map((alert) => ({ alert })), SENTINEL_RULE] }] } } }, bad: { type: T.prometheusRule, name: "r", props: { metadata: { name: "agenc-speculation-rules" }, spec: { groups: [{ rules: [...ROLLBACK_TRIGGER_ALERTS.map((alert) => ({ alert })), { alert: "SpeculationSentinelFailing", labels: { severity: "critical" } }] }] } } }, message: /^agenc-speculation-rules: SpeculationSentinelFailing lacks the label kill_switch="true"/ }],
    ["a PrometheusRule without the sentinel alert", { policy: P.rollbackTriggerAlerts, ok: { type: T.prometheusRule, name: "r", props: { metadata: { name: "agenc-speculation-rules" }, spec: { groups: [{ rules: [...ROLLBACK_TRIGGER_ALERTS.map((alert) => ({ alert })), SENTINEL_RULE] }] } } }, bad: { type: T.prometheusRule, name: "r", props: { metadata: { name: "agenc-speculation-rules" }, spec: { groups: [{ rules: ROLLBACK_TRIGGER_ALERTS.map((alert) => ({ alert })) }] } } }, message: /lacks the kill-switch alerts SpeculationSentinelFailing\.$/ }],
    ["a workload without a spread over nodes", { policy: P.topologySpread, ok: workers({}), bad: workers({ topologySpreadConstraints: [spread({ topologyKey: "topology.kubernetes.io/zone" })] }), message: /^Deployment proof-workers has no topology spread constraint over kubernetes\.io\/hostname selecting its own pods; every replica may land on one node\.$/ }],
    ["a spread that selects other pods", { policy: P.topologySpread, ok: workers({}), bad: workers({ topologySpreadConstraints: [spread({ labelSelector: { matchLabels: { app: "agenc-speculation" } } })] }), message: /has no topology spread constraint over kubernetes\.io\/hostname selecting its own pods/ }],
    ["a soft spread in production", { policy: P.topologySpread, ok: workers({}), bad: workers({ topologySpreadConstraints: [spread({ whenUnsatisfiable: "ScheduleAnyway" })] }), message: /^Deployment proof-workers spreads with whenUnsatisfiable ScheduleAnyway; this stack requires DoNotSchedule\.$/, stack: "production" }],
    ["a skew above 1", { policy: P.topologySpread, ok: workers({}), bad: workers({ topologySpreadConstraints: [spread({ maxSkew: 3 })] }), message: /spreads with maxSkew 3; at most 1/ }],
    ["proof workers probing the same thing twice", { policy: P.proofWorkerProbes, ok: workers({}), bad: workers({}, container({ name: "proof-worker", livenessProbe: { httpGet: { path: "/health", port: 9091 }, initialDelaySeconds: 30 }, readinessProbe: { httpGet: { path: "/health", port: 9091 }, initialDelaySeconds: 10 } })), message: /^proof-workers container proof-worker checks the same thing for liveness and readiness .*; a readiness failure would become a restart\.$/ }],
    ["an Ingress without an await policy", { policy: P.ingressAwait, ok: ingress({ "pulumi.com/skipAwait": "true" }), bad: ingress({ "nginx.ingress.kubernetes.io/canary": "true" }), message: /^Ingress agenc-speculation-canary has no await policy: set pulumi\.com\/skipAwait or customTimeouts/ }],
    ["an Ingress awaited without a timeout", { policy: P.ingressAwait, ok: ingress({}, { createSeconds: 180, updateSeconds: 180, deleteSeconds: 0 }), bad: ingress({}, { createSeconds: 180, updateSeconds: 0, deleteSeconds: 0 }), message: /has no await policy/ }],
    ["an Ingress routing / to the speculation service", { policy: P.ingressPublicPathsOnly, ok: api, bad: routed([["/", "Prefix", "agenc-speculation"]]), message: /^Ingress agenc-speculation routes speculation\.agenc\.local\/ \(Prefix\) to agenc-speculation, which reaches \/admin: list only the service's public paths \(speculation:canary\.ingress\.publicPaths\), never "\/" or \/admin, \/metrics\.$/ }],
    ["an Ingress routing /admin to the canary", { policy: P.ingressPublicPathsOnly, ok: routed([["/api", "Prefix", "agenc-speculation-canary"]]), bad: routed([["/api", "Prefix", "agenc-speculation-canary"], ["/Admin/config", "Exact", "agenc-speculation-canary"]]), message: /^Ingress agenc-speculation routes speculation\.agenc\.local\/Admin\/config \(Exact\) to agenc-speculation-canary, which reaches \/admin/ }],
    ["an Ingress routing /metrics to green", { policy: P.ingressPublicPathsOnly, ok: routed([["/api/v1", "Prefix", "agenc-speculation-green"]]), bad: routed([["/metrics", "Exact", "agenc-speculation-green"]]), message: /which reaches \/metrics/ }],
    ["an ImplementationSpecific path that is nginx's string prefix of /admin", { policy: P.ingressPublicPathsOnly, ok: api, bad: routed([["/ad", "ImplementationSpecific", "agenc-speculation"]]), message: /routes speculation\.agenc\.local\/ad \(ImplementationSpecific\) to agenc-speculation, which reaches \/admin/ }],
    ["an ImplementationSpecific public path", { policy: P.ingressPublicPathsOnly, ok: api, bad: routed([["/api", "ImplementationSpecific", "agenc-speculation"]]), message: /^Ingress agenc-speculation routes speculation\.agenc\.local\/api \(ImplementationSpecific\) to agenc-speculation: use pathType Prefix or Exact/ }],
    ["a catch-all default backend to the speculation service", { policy: P.ingressPublicPathsOnly, ok: api, bad: routed([["/api", "Prefix", "agenc-speculation"]], { defaultBackend: { service: { name: "agenc-speculation", port: { number: 9090 } } } }), message: /^Ingress agenc-speculation sends every request no rule matches \(including \/admin, \/metrics\) to agenc-speculation \(defaultBackend\)\.$/ }],
    ["use-regex on an Ingress of the speculation service", { policy: P.ingressPublicPathsOnly, ok: api, bad: routed([["/api", "Prefix", "agenc-speculation"]], {}, { "nginx.ingress.kubernetes.io/use-regex": "true" }), message: /^Ingress agenc-speculation sets nginx\.ingress\.kubernetes\.io\/use-regex: ingress-nginx then matches every path of its host as a case-insensitive regular expression/ }],
    ["a pod spec without a security context", { policy: P.podSecurityRestricted, ok: restricted(), bad: deployment("agenc-speculation"), message: /^agenc-speculation: container speculation does not set runAsNonRoot: true\.\nagenc-speculation: container speculation has seccompProfile unset; RuntimeDefault or Localhost\.\nagenc-speculation: container speculation does not set allowPrivilegeEscalation: false\.\nagenc-speculation: container speculation does not drop ALL capabilities\.\nagenc-speculation: container speculation does not set readOnlyRootFilesystem: true\.$/ }],
    ["a container that runs as root", { policy: P.podSecurityRestricted, ok: restricted(), bad: restricted((pod) => { pod.containers[0].securityContext = { ...pod.containers[0].securityContext, runAsUser: 0 }; }), message: /^agenc-speculation: container speculation runs as UID 0\.$/ }],
    ["a writable root filesystem", { policy: P.podSecurityRestricted, ok: restricted(), bad: restricted((pod) => { pod.containers[0].securityContext = { ...pod.containers[0].securityContext, readOnlyRootFilesystem: false }; }), message: /^agenc-speculation: container speculation does not set readOnlyRootFilesystem: true\.$/ }],
    ["a hostPath volume and an added capability", { policy: P.podSecurityRestricted, ok: restricted(), bad: restricted((pod) => { pod.volumes = [{ name: "host", hostPath: { path: "/" } }]; pod.containers[0].securityContext = { ...pod.containers[0].securityContext, capabilities: { drop: ["ALL"], add: ["SYS_ADMIN"] } }; }), message: /volume host is of type hostPath\.\n.*adds capabilities SYS_ADMIN\./ }],
    ["a namespace that enforces only baseline", { policy: P.podSecurityRestricted, ok: namespace("restricted"), bad: namespace("baseline"), message: /^Namespace agenc-production enforces Pod Security baseline \(label pod-security\.kubernetes\.io\/enforce\); this stack requires restricted \(set speculation:kubernetes\.podSecurity\)\.$/ }],
    ["a Role that may patch every Ingress", { policy: P.rbacLeastPrivilege, ok: role([{ apiGroups: ["networking.k8s.io"], resources: ["ingresses"], resourceNames: ["agenc-speculation-canary"], verbs: ["get", "patch"] }, { apiGroups: [""], resources: ["services", "endpoints", "pods"], verbs: ["get", "list", "watch"] }]), bad: role([{ apiGroups: ["networking.k8s.io"], resources: ["ingresses"], verbs: ["get", "patch"] }]), message: /^Role speculation-watchdog rule 1 may patch any ingresses: name the objects \(resourceNames\)\.$/ }],
    ["a Role with a wildcard that reads Secrets", { policy: P.rbacLeastPrivilege, ok: role([{ apiGroups: [""], resources: ["pods"], verbs: ["get"] }]), bad: role([{ apiGroups: [""], resources: ["secrets"], verbs: ["*"] }]), message: /rule 1 grants "\*" in verbs: name them\.\n.*rule 1 reaches Secrets/ }],
    ["a ClusterRole", { policy: P.rbacLeastPrivilege, ok: role([]), bad: { type: T.clusterRole, name: "c", props: { metadata: { name: "agenc-all" }, rules: [] } }, message: /^ClusterRole agenc-all: the stack grants nothing cluster-wide; use a Role in its namespace\.$/ }],
    ["a namespace without Pod Security labels", { policy: P.podSecurityRestricted, ok: namespace("restricted"), bad: namespace(), message: /enforces Pod Security nothing/ }],
    ["a gate with no error budget", { policy: P.sloBounds, ok: sloGate(0.999, 0.5), bad: gate(), message: /^stage-1-10pct-gate judges no error budget \(slo\); every stage is judged by it\.$/ }],
    ["a production gate at 99 % with a 10 % floor", { policy: P.sloBounds, ok: sloGate(0.999, 0.5), bad: sloGate(0.99, 0.1), stack: "production",
        message: /^stage-1-10pct-gate uses the objective 0\.99; this stack allows 0\.999 to 0\.9999 \(slo\.objective\)\.\nstage-1-10pct-gate uses the budget floor 0\.1; this stack allows 0\.25 to 0\.9 \(slo\.budgetFloor\)\.$/ }],
];

describe("policy pack: each resource policy", () => {
    for (const [name, row] of rows) {
        for (const stack of row.stack ? [row.stack] : ["staging", "production"] as Stack[]) {
            it(`${row.policy.name} (${stack}): passes a good input and reports ${name}`, () => {
                expect(runResourcePolicy(row.policy, row.ok, stack)).to.deep.equal([]);
                const violations = runResourcePolicy(row.policy, row.bad, stack);
                expect(violations.map((v) => v.message).join("\n")).to.match(row.message);
                expect(violations.every((v) => v.level === (stack === "production" ? "mandatory" : "advisory"))).to.equal(true);
            });
        }
    }
    describe("guard-bound: the stack's limit (watchdog.maxGuardBound) and the pack's ceiling (maxGuardBoundSeconds), one default", () => {
        it("both default to GUARD_BOUND_LIMIT_SECONDS: the pack's schema default is the key's, and production's pack config does not repeat it", () => {
            const props = (P.guardBound.configSchema as { properties: Record<string, { default: number }> }).properties;
            expect(props.maxGuardBoundSeconds.default).to.equal(GUARD_BOUND_LIMIT_SECONDS);
        });
        it("a stack that raises its limit above the pack's ceiling is refused in production until the pack raises it too", () => {
            const raised = guardRes({}, 471, { maxBoundSeconds: 480 });
            const refused = runResourcePolicy(P.guardBound, raised, "production");
            expect(refused.map((v) => v.message)).to.deep.equal([
                "The stack's watchdog.maxGuardBound is 480 s, above this pack's guard-bound maxGuardBoundSeconds (420 s): lower the key, or raise the pack's limit.",
                "The guard's bound is 471 s (SpeculationRollbackRateAbort: scrape 25s + … + revert 35.75s), above 420 s.",
            ]);
            expect(refused.every((v) => v.level === "mandatory")).to.equal(true);
            expect(runResourcePolicy(P.guardBound, raised, "production", { "guard-bound": { maxGuardBoundSeconds: 480 } })).to.deep.equal([]);
            // The pack raised alone changes nothing for a stack whose own limit stays at 7 min.
            expect(runResourcePolicy(P.guardBound, guardRes({}, 471), "production", { "guard-bound": { maxGuardBoundSeconds: 600 } }).map((v) => v.message))
                .to.deep.equal(["The guard's bound is 471 s (SpeculationRollbackRateAbort: scrape 25s + … + revert 35.75s), above the stack's watchdog.maxGuardBound (420 s)."]);
        });
        it("a stack that lowers its limit below its bound is reported (advisory in staging); a guard with no recorded limit is held to the pack's", () => {
            const tight = runResourcePolicy(P.guardBound, guardRes({}, 410.75, { maxBoundSeconds: 360 }), "staging");
            expect(tight.map((v) => `${v.level}: ${v.message}`)).to.deep.equal([
                "advisory: The guard's bound is 410.75 s (SpeculationRollbackRateAbort: scrape 25s + … + revert 35.75s), above the stack's watchdog.maxGuardBound (360 s).",
            ]);
            expect(runResourcePolicy(P.guardBound, guardRes({}, 431, { maxBoundSeconds: undefined }), "production").map((v) => v.message))
                .to.deep.equal(["The guard's bound is 431 s (SpeculationRollbackRateAbort: scrape 25s + … + revert 35.75s), above 420 s."]);
        });
    });
    it("ingress-public-paths-only leaves an Ingress of another service alone, even at /", () => {
        expect(runResourcePolicy(P.ingressPublicPathsOnly, routed([["/", "Prefix", "grafana"]], {}, { "nginx.ingress.kubernetes.io/use-regex": "true" }), "production")).to.deep.equal([]);
    });
    it("does not match other types (no isType stub that matches everything)", () => {
        expect(runResourcePolicy(P.gateThresholds, { ...gate({ maxRollbackRate: 0.5 }), type: T.trafficShift }, "production")).to.deep.equal([]);
        expect(runResourcePolicy(P.proofWorkersMinReplicas, { ...deployment("proof-workers", container(), 1, { app: "proof-workers" }), type: T.statefulSet }, "production")).to.deep.equal([]);
    });
    it("takes its thresholds from the program's table (one source of truth)", () => {
        const defaults = (P.gateThresholds.configSchema as { properties: Record<string, { default: number }> }).properties;
        expect(defaults.maxRollbackRate.default).to.equal(0.05);
        expect(defaults.abortRollbackRate.default).to.equal(0.15);
        expect(defaults.maxErrorRate.default).to.equal(0.01);
    });
});

describe("policy pack: stack policies", () => {
    const res = (type: string, name: string, props: Record<string, unknown>, parent?: string, deps: string[] = []) =>
        ({ type, name, inputs: props, outputs: props, urn: `urn:${type}::${name}`, parent: parent ? `urn:${T.canaryStage}::${parent}` : undefined, dependencies: deps });
    it("every-stage-gated reports a stage without a gate, and production without a bench before stage 1", () => {
        const registered = [
            res(T.canaryStage, "stage-1-10pct", { percentage: 10 }),
            res(T.errorBaseline, "stage-1-10pct-baseline", {}, "stage-1-10pct"),
            res(T.trafficShift, "stage-1-10pct-shift", {}, "stage-1-10pct"),
        ];
        const staging = runStackPolicy(P.everyStageGated, asPolicyResources(registered, false), "staging");
        expect(staging.map((v) => [v.message, v.level])).to.deep.equal([["Canary stage stage-1-10pct has no health gate.", "advisory"]]);
        const prod = runStackPolicy(P.everyStageGated, asPolicyResources(registered, false), "production");
        expect(prod.map((v) => v.message)).to.include("This stack requires a passed bench run before the first canary stage, and none is declared (set speculation:bench.enabled).");
        expect(prod.every((v) => v.level === "mandatory")).to.equal(true);
        const withBench = [res(T.benchRun, "final-bench", {}), ...registered.map((r) => r.name === "stage-1-10pct-baseline" ? { ...r, dependencies: [`urn:${T.benchRun}::final-bench`] } : r),
            res(T.healthGate, "stage-1-10pct-gate", {}, "stage-1-10pct")];
        expect(runStackPolicy(P.everyStageGated, asPolicyResources(withBench, false), "production")).to.deep.equal([]);
    });
    it("pod-disruption-budgets reports a Deployment no PDB selects", () => {
        const d = deployment("agenc-speculation");
        const registered = [res(T.deployment, "d", d.props), res(T.pdb, "p", { spec: { selector: { matchLabels: { app: "other" } } } })];
        expect(runStackPolicy(P.pdbsExist, asPolicyResources(registered, false), "staging").map((v) => v.message))
            .to.deep.equal(['Deployment agenc-speculation has no PodDisruptionBudget selecting {"app":"agenc-speculation"}.']);
    });
    it("pod-disruption-budgets accepts the one-pod canary's budget of one eviction, refuses one that blocks drains, and checks green like stable", () => {
        const pdbOf = (app: string, spec: Record<string, unknown>) => res(T.pdb, `${app}-pdb`, { metadata: { name: app }, spec: { selector: { matchLabels: { app } }, ...spec } });
        const canary = deployment("agenc-speculation-canary", container(), 1);
        expect(runStackPolicy(P.pdbsExist, asPolicyResources([res(T.deployment, "c", canary.props), pdbOf("agenc-speculation-canary", { maxUnavailable: 1 })], false), "production")).to.deep.equal([]);
        expect(runStackPolicy(P.pdbsExist, asPolicyResources([res(T.deployment, "c", canary.props), pdbOf("agenc-speculation-canary", { minAvailable: 1 })], false), "production").map((v) => v.message))
            .to.deep.equal(["PodDisruptionBudget agenc-speculation-canary lets no pod of Deployment agenc-speculation-canary be evicted; every node drain would block."]);
        expect(runStackPolicy(P.pdbsExist, asPolicyResources([res(T.deployment, "c", canary.props)], false), "production").map((v) => v.message))
            .to.deep.equal(['Deployment agenc-speculation-canary has no PodDisruptionBudget selecting {"app":"agenc-speculation-canary"}.']);
        const green = deployment("agenc-speculation-green", container(), 1);
        expect(runStackPolicy(P.pdbsExist, asPolicyResources([res(T.deployment, "g", green.props), pdbOf("agenc-speculation-green", { maxUnavailable: 1 })], false), "production").map((v) => v.message))
            .to.deep.equal(["PodDisruptionBudget agenc-speculation-green lets a drain evict all 1 pod(s) of Deployment agenc-speculation-green at once; run at least 2 replicas."]);
    });
    it("pod-disruption-budgets reports a budget that lets a drain evict every pod, or none", () => {
        const pdb = (spec: Record<string, unknown>) => res(T.pdb, "p", { metadata: { name: "agenc-speculation" }, spec: { selector: { matchLabels: { app: "agenc-speculation" } }, ...spec } });
        const one = deployment("agenc-speculation", container(), 1);
        expect(runStackPolicy(P.pdbsExist, asPolicyResources([res(T.deployment, "d", one.props), pdb({ maxUnavailable: 1 })], false), "production").map((v) => [v.message, v.level]))
            .to.deep.equal([["PodDisruptionBudget agenc-speculation lets a drain evict all 1 pod(s) of Deployment agenc-speculation at once; run at least 2 replicas.", "mandatory"]]);
        const two = deployment("agenc-speculation", container(), 2);
        expect(runStackPolicy(P.pdbsExist, asPolicyResources([res(T.deployment, "d", two.props), pdb({ maxUnavailable: 1 })], false), "production")).to.deep.equal([]);
        expect(runStackPolicy(P.pdbsExist, asPolicyResources([res(T.deployment, "d", two.props), pdb({ minAvailable: 2 })], false), "production").map((v) => v.message))
            .to.deep.equal(["PodDisruptionBudget agenc-speculation lets no pod of Deployment agenc-speculation be evicted; every node drain would block."]);
    });
    it("network-isolation wants a default deny and no rule that admits everyone", () => {
        const np = (name: string, spec: Record<string, unknown>) => res(T.networkPolicy, name, { metadata: { name }, spec });
        const deny = np("default-deny-ingress", { podSelector: {}, policyTypes: ["Ingress"] });
        const admin = (from: unknown[]) => np("agenc-speculation-admin", { podSelector: { matchLabels: { app: "agenc-speculation" } }, policyTypes: ["Ingress"], ingress: [{ from, ports: [{ protocol: "TCP", port: 9090 }] }] });
        const d = res(T.deployment, "d", deployment("agenc-speculation").props);
        const ok = [d, deny, admin([{ podSelector: { matchLabels: { "agenc.io/network-role": "watchdog" } } }])];
        expect(runStackPolicy(P.networkIsolation, asPolicyResources(ok, false), "production")).to.deep.equal([]);
        expect(runStackPolicy(P.networkIsolation, asPolicyResources([d], false), "staging").map((v) => [v.message, v.level])).to.deep.equal([
            ["The namespace has no default-deny NetworkPolicy (podSelector {}, policyTypes [Ingress], no rules): every pod in the cluster can reach the admin API.", "advisory"],
            ["No NetworkPolicy agenc-speculation-admin admits the monitoring stack, the watchdog and the gate to port 9090.", "advisory"],
        ]);
        const open = [d, deny, admin([{}, { ipBlock: { cidr: "0.0.0.0/0" } }, { namespaceSelector: {} }])];
        expect(runStackPolicy(P.networkIsolation, asPolicyResources(open, false), "production").map((v) => v.message)).to.deep.equal([
            "NetworkPolicy agenc-speculation-admin rule 1 has an empty peer, which admits every pod of the namespace.",
            "NetworkPolicy agenc-speculation-admin rule 1 admits 0.0.0.0/0.",
            "NetworkPolicy agenc-speculation-admin rule 1 admits every pod of every namespace.",
        ]);
        const noFrom = [d, deny, np("agenc-speculation-admin", { podSelector: {}, policyTypes: ["Ingress"], ingress: [{ ports: [{ port: 9090 }] }] })];
        expect(runStackPolicy(P.networkIsolation, asPolicyResources(noFrom, false), "production").map((v) => v.message))
            .to.deep.equal(["NetworkPolicy agenc-speculation-admin rule 1 admits traffic from everywhere (no from)."]);
        const egress = (rules: unknown[]) => [d, deny, admin([{ podSelector: { matchLabels: { app: "prometheus" } } }]),
            np("agenc-speculation-egress", { podSelector: { matchLabels: { app: "agenc-speculation" } }, policyTypes: ["Egress"], egress: rules })];
        expect(runStackPolicy(P.networkIsolation, asPolicyResources(egress([{ ports: [{ protocol: "TCP", port: 443 }] }]), false), "production")).to.deep.equal([]);
        expect(runStackPolicy(P.networkIsolation, asPolicyResources(egress([{}, { to: [{ ipBlock: { cidr: "0::/0" } }], ports: [{ port: 443 }] },
            { to: [{ ipBlock: { cidr: "0.0.0.0/1" } }, { ipBlock: { cidr: "128.0.0.0/1" } }], ports: [{ port: 443 }] }]), false), "production").map((v) => v.message)).to.deep.equal([
            "NetworkPolicy agenc-speculation-egress egress rule 1 lets the pods reach every address on every port (no to, no ports).",
            "NetworkPolicy agenc-speculation-egress egress rule 2 reaches 0::/0 (::/0).",
            "NetworkPolicy agenc-speculation-egress egress rule 3 reaches 0.0.0.0/1, wider than /8.",
            "NetworkPolicy agenc-speculation-egress egress rule 3 reaches 128.0.0.0/1, wider than /8.",
            "NetworkPolicy agenc-speculation-egress reaches 0.0.0.0/1 + 128.0.0.0/1, which together admit every IPv4 address (the entries' union is the whole IPv4 space, as 0.0.0.0/0 would): list the destinations' own networks only.",
        ]);
    });
    it("signed-releases-cover: with the verification on, a release Deployment running an image it did not verify, or not waiting for it, and a rollout without the node check are reported", () => {
        const step = res(T.signatureVerification, "signatures", signatures().props);
        const runs = (image: string, deps: string[] = [step.urn]) => res(T.deployment, "d", deployment("agenc-speculation", container({ image })).props, undefined, deps);
        const ok = [step, runs(`ghcr.io/agenc/speculation:v1.2.3@${DIGEST}`), res(T.sshRollout, "alys-nodes-ssh", { signature: { file: "/alys.sig" } }, undefined, [step.urn])];
        expect(runStackPolicy(P.signedReleasesCover, asPolicyResources(ok, false), "production")).to.deep.equal([]);
        const other = `sha256:${"cd".repeat(32)}`;
        const bad = [step, runs(`ghcr.io/agenc/speculation:v1.2.3@${other}`, []), res(T.sshRollout, "alys-nodes-ssh", {}, undefined, [])];
        expect(runStackPolicy(P.signedReleasesCover, asPolicyResources(bad, false), "production").map((v) => [v.message, v.level])).to.deep.equal([
            [`Deployment agenc-speculation container speculation runs ghcr.io/agenc/speculation:v1.2.3@${other}, which the signature verification does not verify.`, "mandatory"],
            ["Deployment agenc-speculation does not wait for the signature verification.", "mandatory"],
            ["alys-nodes-ssh does not wait for the signature verification.", "mandatory"],
            ["alys-nodes-ssh does not check the binary's signature on the nodes before the swap.", "mandatory"],
        ]);
        // Off (staging as shipped): nothing to cover.
        const off = [res(T.signatureVerification, "signatures", { ...signatures().props, required: false }), runs(`ghcr.io/agenc/speculation:v1.2.3@${other}`, [])];
        expect(runStackPolicy(P.signedReleasesCover, asPolicyResources(off, false), "staging")).to.deep.equal([]);
    });
    it("verdicts-recorded skips gates that have not run (preview) and reports a failed one after an update", () => {
        const preview = [res(T.healthGate, "g", {})];
        expect(runStackPolicy(P.verdictsRecorded, asPolicyResources(preview, true), "production")).to.deep.equal([]);
        const failed = [res(T.healthGate, "g", { verdict: "fail", decision: { reason: "no-go: rollbackRate (above the abort threshold 0.15)" } })];
        expect(runStackPolicy(P.verdictsRecorded, asPolicyResources(failed, true), "production").map((v) => [v.message, v.level]))
            .to.deep.equal([["HealthGate g recorded verdict fail: no-go: rollbackRate (above the abort threshold 0.15).", "mandatory"]]);
    });
});
