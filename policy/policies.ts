/**
 * The go/no-go rules as CrossGuard policies.  Thresholds are imported from the program's own table
 * (config/thresholds.ts) — never copied — and each is configurable per stack through --policy-pack-config
 * (policy/config/<stack>.json), validated by the policy's JSON schema.
 *
 * Matching: Kubernetes resources by their type token; dynamic resources by their dynamic type string
 * (`validateResourceOfType` never matches a dynamic.Resource subclass); components by their type token.
 * Resource policies judge inputs before anything changes; stack policies see the whole plan at the end of a
 * preview or an update.
 */
import { PolicyResource, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { DEFAULT_STAGE_THRESHOLDS, GO_NO_GO, GUARD_BOUND_LIMIT_SECONDS, SLO_BUDGET_FLOOR_RANGE, SLO_OBJECTIVE_RANGE, StageThresholds } from "../config/thresholds";
import { cidrProblem, coverageProblem, DEFAULT_MIN_CIDR_PREFIX, familiesCovered, parseCidr } from "../config/cidr";
import { KILL_SWITCH_ALERTS, ROLLBACK_TRIGGER_ALERTS } from "../lib/monitoring/rules";
import { PINNED_HOST_KEY } from "../lib/nodes/address";
import { SPECULATION_PROBES } from "../lib/probes";
import { ingressExposure, PRIVATE_PATHS } from "../lib/ingress/routes";
import { ADMIN_PORT, ADMIN_POLICY, PROOF_WORKER_APP, SPECULATION_APPS } from "../lib/network/peers";
import { atLeast, ENFORCE_LABEL, LEVELS, PodSecurityLevel, restrictedViolations } from "../lib/podSecurity";

export const TYPES = {
    namespace: "kubernetes:core/v1:Namespace",
    pod: "kubernetes:core/v1:Pod",
    deployment: "kubernetes:apps/v1:Deployment",
    statefulSet: "kubernetes:apps/v1:StatefulSet",
    daemonSet: "kubernetes:apps/v1:DaemonSet",
    pdb: "kubernetes:policy/v1:PodDisruptionBudget",
    configMap: "kubernetes:core/v1:ConfigMap",
    networkPolicy: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
    ingress: "kubernetes:networking.k8s.io/v1:Ingress",
    role: "kubernetes:rbac.authorization.k8s.io/v1:Role",
    clusterRole: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
    clusterRoleBinding: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
    prometheusRule: "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
    canaryStage: "agenc:deploy:CanaryStage",
    healthGate: "pulumi-nodejs:dynamic/agenc:HealthGate",
    bakeWindow: "pulumi-nodejs:dynamic/agenc:BakeWindow",
    errorBaseline: "pulumi-nodejs:dynamic/agenc:ErrorBaseline",
    trafficShift: "pulumi-nodejs:dynamic/agenc:TrafficShift",
    benchRun: "pulumi-nodejs:dynamic/agenc:BenchRun",
    sshRollout: "pulumi-nodejs:dynamic/agenc:SshRollout",
    signatureVerification: "pulumi-nodejs:dynamic/agenc:SignatureVerification",
    guard: "agenc:deploy:Guard",
} as const;

const WORKLOADS: string[] = [TYPES.deployment, TYPES.statefulSet, TYPES.daemonSet];
const SPECULATION_DEPLOYMENTS = ["agenc-speculation", "agenc-speculation-canary", "agenc-speculation-green"];
/**
 * The one Deployment a drain may empty: the ingress-weight canary (sized to its share: one pod at low weights).  While it has no ready
 * pod, ingress-nginx sends its share to the primary backend, so evicting it costs no request; a budget that forbade
 * it would block every drain of its node for the whole bake.
 */
const MAY_BE_EMPTIED = ["agenc-speculation-canary"];

/** Defaults of every configurable value: the program's table, plus the staging-level environment choices. */
export const POLICY_DEFAULTS = {
    minProofWorkerReplicas: 2,
    requireImageDigest: false,
    maxFirstStepPercentage: GO_NO_GO.maxFirstStepPercentage,
    minBakeSeconds: 60,
    requireBench: false,
    maxBatchPercentage: 50,
    maxFirstBatch: 1,
    maxFailPercentage: 20,
    requireHardSpread: false,
    maxSpreadSkew: 1,
    /**
     * guard-bound: the longest limit a stack may set on its guard's bound (`watchdog.maxGuardBound`), and so the longest
     * bound it may have; the same 7 min as the key's default (GUARD_BOUND_LIMIT_SECONDS, one source).
     */
    maxGuardBoundSeconds: GUARD_BOUND_LIMIT_SECONDS,
    /** slo-bounds: the objective and the budget floor a gate may use (production: PRODUCTION_RULES; elsewhere the schema's range). */
    minSloObjective: SLO_OBJECTIVE_RANGE.min as number,
    maxSloObjective: SLO_OBJECTIVE_RANGE.max as number,
    minBudgetFloor: SLO_BUDGET_FLOOR_RANGE.min as number,
    maxBudgetFloor: SLO_BUDGET_FLOOR_RANGE.max as number,
    /**
     * network-isolation: the widest ipBlock prefix it accepts, per family: the loader's own default
     * (DEFAULT_MIN_CIDR_PREFIX).  A stack that sets hardening.networkPolicies.minCidrPrefix gives its pack config the same
     * numbers, so the loader and the pack judge its CIDRs alike (test/config/semantics.test.ts checks the stack files).
     */
    minCidrPrefixIpv4: DEFAULT_MIN_CIDR_PREFIX.ipv4,
    minCidrPrefixIpv6: DEFAULT_MIN_CIDR_PREFIX.ipv6,
    /** signed-releases: the release is verified against configured keys before anything runs it (production). */
    requireSignatures: false,
    ...DEFAULT_STAGE_THRESHOLDS,
};
export type PolicyConfig = typeof POLICY_DEFAULTS;

const num = (description: string, minimum = 0) => ({ type: "number" as const, minimum, description });
const configOf = <K extends keyof PolicyConfig>(args: { getConfig<T extends object>(): T }, keys: K[]): Pick<PolicyConfig, K> => {
    const given = args.getConfig<Partial<PolicyConfig>>() ?? {};
    return Object.fromEntries(keys.map((k) => [k, given[k] ?? POLICY_DEFAULTS[k]])) as Pick<PolicyConfig, K>;
};
const schema = <K extends keyof PolicyConfig>(props: Record<K, { type: "number" | "boolean"; description: string; minimum?: number }>) => ({
    properties: Object.fromEntries(Object.entries(props).map(([k, v]) => [k, { ...(v as object), default: POLICY_DEFAULTS[k as K] }])),
});

const k8sName = (props: Record<string, any>): string => props?.metadata?.name ?? "(unnamed)";
const podSpec = (props: Record<string, any>) => props?.spec?.template?.spec;
const containersOf = (props: Record<string, any>): any[] => [...(podSpec(props)?.containers ?? []), ...(podSpec(props)?.initContainers ?? [])];

function resourcePolicy(name: string, description: string, types: string[],
    check: (args: ResourceValidationArgs, report: ReportViolation) => void,
    configSchema?: ResourceValidationPolicy["configSchema"]): ResourceValidationPolicy {
    return {
        name, description, configSchema,
        validateResource: (args, report) => {
            if (types.includes(args.type)) check(args, report);
        },
    };
}

export const proofWorkersMinReplicas = resourcePolicy(
    "proof-workers-min-replicas",
    "Proof workers run at least the minimum number of pods (2; production 4): fewer cannot keep the proof queue under 2000.",
    [TYPES.deployment],
    (args, report) => {
        if (args.props?.metadata?.labels?.app !== "proof-workers" && k8sName(args.props) !== "proof-workers") return;
        const { minProofWorkerReplicas } = configOf(args, ["minProofWorkerReplicas"]);
        const replicas = args.props?.spec?.replicas ?? 1;
        if (replicas < minProofWorkerReplicas) report(`Deployment ${k8sName(args.props)} has ${replicas} replicas; the minimum is ${minProofWorkerReplicas}.`);
    },
    schema({ minProofWorkerReplicas: num("Fewest proof-worker pods allowed", 1) }),
);

export const containerResources = resourcePolicy(
    "containers-have-resources",
    "Every container declares CPU and memory requests and limits, so the scheduler and the OOM killer behave predictably.",
    WORKLOADS,
    (args, report) => {
        for (const c of containersOf(args.props)) {
            const missing = ["requests.cpu", "requests.memory", "limits.cpu", "limits.memory"].filter((p) => {
                const [kind, res] = p.split(".");
                return !c?.resources?.[kind]?.[res];
            });
            if (missing.length > 0) report(`${k8sName(args.props)} container ${c?.name ?? "(unnamed)"} has no ${missing.join(", ")}.`);
        }
    },
);

export const speculationProbes = resourcePolicy(
    "speculation-probes",
    "The speculation service has the seed's probes: liveness GET /health (30 s delay, every 10 s, 3 failures), readiness GET /ready (10 s, 5 s, 3).",
    [TYPES.deployment],
    (args, report) => {
        if (!SPECULATION_DEPLOYMENTS.includes(k8sName(args.props))) return;
        for (const c of podSpec(args.props)?.containers ?? []) {
            for (const [kind, want] of [["livenessProbe", SPECULATION_PROBES.liveness], ["readinessProbe", SPECULATION_PROBES.readiness]] as const) {
                const p = c?.[kind];
                if (!p) { report(`${k8sName(args.props)} container ${c?.name} has no ${kind}; expected GET ${want.path}.`); continue; }
                const got = { path: p.httpGet?.path, initialDelaySeconds: p.initialDelaySeconds, periodSeconds: p.periodSeconds, failureThreshold: p.failureThreshold };
                for (const [key, value] of Object.entries(want)) {
                    if (got[key as keyof typeof got] !== value) report(`${k8sName(args.props)} ${kind}.${key} is ${got[key as keyof typeof got]}; the seed's value is ${value}.`);
                }
            }
        }
    },
);

export const imagesPinned = resourcePolicy(
    "images-pinned",
    "Images are pinned: a tag that is not `latest` (production: a sha256 digest), so a restart can never change the code.",
    WORKLOADS,
    (args, report) => {
        const { requireImageDigest } = configOf(args, ["requireImageDigest"]);
        for (const c of containersOf(args.props)) {
            const image = String(c?.image ?? "");
            const digest = /@sha256:[0-9a-f]{64}$/.test(image);
            const tag = /:([\w][\w.-]{0,127})$/.exec(image.split("@")[0].replace(/^[^/]*:\d+\//, ""))?.[1];
            if (!digest && (!tag || tag === "latest")) report(`${k8sName(args.props)} container ${c?.name} image ${image} is not pinned (no tag, or latest).`);
            else if (requireImageDigest && !digest) report(`${k8sName(args.props)} container ${c?.name} image ${image} has no sha256 digest; this stack requires one.`);
        }
    },
    schema({ requireImageDigest: { type: "boolean", description: "Require image@sha256 digests (production)" } }),
);

export const speculationBootsDisabled = resourcePolicy(
    "speculation-boots-disabled",
    "The service's config boots speculation disabled at 0 %: only a canary stage turns it on, so a restart errs towards less traffic.",
    [TYPES.configMap, TYPES.deployment],
    (args, report) => {
        if (args.type === TYPES.configMap) {
            if (k8sName(args.props) !== "speculation-config") return;
            for (const [file, text] of Object.entries<string>(args.props?.data ?? {})) {
                const section = /\[speculation\]([\s\S]*?)(?:\n\[(?!speculation\.)|$)/.exec(String(text))?.[1] ?? "";
                if (/^\s*enabled\s*=\s*true/m.test(section)) report(`ConfigMap speculation-config ${file} enables speculation; it must boot disabled (enabled = false).`);
                const pct = /rollout_percentage\s*=\s*(\d+)/.exec(String(text))?.[1];
                if (pct !== undefined && pct !== "0") report(`ConfigMap speculation-config ${file} boots at rollout_percentage ${pct}; it must boot at 0.`);
            }
            return;
        }
        if (!SPECULATION_DEPLOYMENTS.includes(k8sName(args.props))) return;
        for (const c of podSpec(args.props)?.containers ?? []) {
            const env = (c?.env ?? []).find((e: any) => e?.name === "SPECULATION_ENABLED");
            if (env && env.value !== "false") report(`${k8sName(args.props)} sets SPECULATION_ENABLED=${env.value}; it must boot disabled.`);
        }
    },
);

export const adminTokenFromSecret = resourcePolicy(
    "admin-token-from-secret",
    "The speculation service reads its admin token from a Secret, never from a literal in the pod spec.",
    [TYPES.deployment],
    (args, report) => {
        if (!SPECULATION_DEPLOYMENTS.includes(k8sName(args.props))) return;
        for (const c of podSpec(args.props)?.containers ?? []) {
            for (const e of c?.env ?? []) {
                if (/TOKEN|SECRET|PASSWORD/i.test(e?.name ?? "") && (e.value !== undefined || !e.valueFrom?.secretKeyRef)) {
                    report(`${k8sName(args.props)} container ${c?.name} sets ${e.name} as a literal; use valueFrom.secretKeyRef.`);
                }
            }
        }
    },
);

export const canaryPlan = resourcePolicy(
    "canary-plan",
    "The canary plan's step percentages strictly increase and end at 100, and the first step carries at most 10 % of traffic.",
    [TYPES.canaryStage],
    (args, report) => {
        const { maxFirstStepPercentage } = configOf(args, ["maxFirstStepPercentage"]);
        const plan: number[] = args.props?.plan ?? [];
        if (plan.length === 0) { report(`Canary stage ${args.name} records no plan.`); return; }
        plan.forEach((p, i) => {
            if (i > 0 && p <= plan[i - 1]) report(`Canary plan [${plan.join(", ")}]: step ${i + 1} (${p} %) does not exceed step ${i} (${plan[i - 1]} %).`);
        });
        if (plan[plan.length - 1] !== 100) report(`Canary plan [${plan.join(", ")}] ends at ${plan[plan.length - 1]} %; it must end at 100.`);
        if (plan[0] > maxFirstStepPercentage) report(`Canary plan [${plan.join(", ")}] starts at ${plan[0]} %; the first step may carry at most ${maxFirstStepPercentage} %.`);
    },
    schema({ maxFirstStepPercentage: num("Largest share of traffic the first step may carry", 1) }),
);

const THRESHOLD_KEYS = Object.keys(DEFAULT_STAGE_THRESHOLDS) as (keyof StageThresholds)[];

export const gateThresholds = resourcePolicy(
    "gate-thresholds",
    "Every health gate's thresholds are no looser than the go/no-go table (rollback rate below 5 % to promote, error rate below 1 %, abort above 15 %), and its bake is at least the stack's minimum.",
    [TYPES.healthGate],
    (args, report) => {
        const limits = configOf(args, [...THRESHOLD_KEYS, "minBakeSeconds"]);
        const t: Partial<StageThresholds> = args.props?.thresholds ?? {};
        for (const key of THRESHOLD_KEYS) {
            const v = t[key];
            if (typeof v !== "number") report(`Health gate ${args.name} has no ${key}; the limit is ${limits[key]}.`);
            else if (v > limits[key]) report(`Health gate ${args.name} ${key} is ${v}; it may not be looser than ${limits[key]}.`);
        }
        const bake = args.props?.bakeSeconds;
        if (typeof bake === "number" && bake < limits.minBakeSeconds) report(`Health gate ${args.name} bakes ${bake} s; this stack requires at least ${limits.minBakeSeconds} s.`);
    },
    schema({
        ...Object.fromEntries(THRESHOLD_KEYS.map((k) => [k, num(`Loosest ${k} a gate may use`)])) as Record<keyof StageThresholds, ReturnType<typeof num>>,
        minBakeSeconds: num("Shortest bake a stage may have, seconds"),
    }),
);

export const nodesPinnedAndBounded = resourcePolicy(
    "node-rollout-limits",
    "Every bare-metal node has a pinned host key; the first batch is a single canary node, no batch exceeds the largest share of the fleet, and the failure budget is within the limit.",
    [TYPES.sshRollout],
    (args, report) => {
        const limits = configOf(args, ["maxBatchPercentage", "maxFirstBatch", "maxFailPercentage"]);
        const nodes: { name?: string; hostKey?: string }[] = args.props?.nodes ?? [];
        for (const n of nodes) {
            if (!PINNED_HOST_KEY.test(n.hostKey ?? "")) {
                report(`Node ${n.name ?? "(unnamed)"} of ${args.name} has no pinned host key.`);
            }
        }
        const batches: number[] = args.props?.batches ?? [];
        if (batches.length > 0 && batches[0] > limits.maxFirstBatch) report(`${args.name}: the first batch has ${batches[0]} nodes; at most ${limits.maxFirstBatch}.`);
        const largest = nodes.length > 0 ? Math.max(...batches, 0) : 0;
        if (nodes.length > 1 && largest / nodes.length * 100 > limits.maxBatchPercentage) {
            report(`${args.name}: a batch of ${largest} of ${nodes.length} nodes is ${Math.round(largest / nodes.length * 100)} %; at most ${limits.maxBatchPercentage} %.`);
        }
        const fail = args.props?.maxFailPercentage ?? 0;
        if (fail > limits.maxFailPercentage) report(`${args.name}: maxFailPercentage is ${fail}; at most ${limits.maxFailPercentage}.`);
    },
    schema({
        maxBatchPercentage: num("Largest batch, percent of the nodes", 1),
        maxFirstBatch: num("Largest first batch, nodes", 1),
        maxFailPercentage: num("Largest failure budget, percent of the nodes"),
    }),
);

export const rollbackTriggerAlerts: ResourceValidationPolicy = resourcePolicy(
    "rollback-trigger-alerts",
    `An alert rule exists for every rollback trigger (${ROLLBACK_TRIGGER_ALERTS.join(", ")}) and every kill-switch alert ` +
    `(${KILL_SWITCH_ALERTS.join(", ")}, labelled kill_switch="true" so Alertmanager routes it to the watchdog's kill switch).`,
    [TYPES.prometheusRule, TYPES.configMap],
    (args, report) => {
        let alerts: string[];
        if (args.type === TYPES.prometheusRule) {
            const rules: any[] = (args.props?.spec?.groups ?? []).flatMap((g: any) => g?.rules ?? []);
            alerts = rules.map((r) => r?.alert).filter(Boolean);
            const unlabelled = KILL_SWITCH_ALERTS.filter((a) => rules.some((r) => r?.alert === a && r?.labels?.kill_switch !== "true"));
            if (unlabelled.length > 0) report(`${k8sName(args.props)}: ${unlabelled.join(", ")} lacks the label kill_switch="true": it would never reach the kill switch.`);
        } else {
            if (k8sName(args.props) !== "prometheus-config") return;
            const text = Object.values<string>(args.props?.data ?? {}).join("\n");
            alerts = [...text.matchAll(/^\s*-?\s*alert:\s*"?([\w]+)"?\s*$/gm)].map((m) => m[1]);
        }
        const missing = ROLLBACK_TRIGGER_ALERTS.filter((a) => !alerts.includes(a));
        if (missing.length > 0) report(`${k8sName(args.props)} lacks the rollback-trigger alerts ${missing.join(", ")}.`);
        const noKill = KILL_SWITCH_ALERTS.filter((a) => !alerts.includes(a));
        if (noKill.length > 0) report(`${k8sName(args.props)} lacks the kill-switch alerts ${noKill.join(", ")}.`);
    },
);

/** The two workloads that must survive losing a node: spread across nodes, budgeted, probed apart. */
const HARDENED_WORKLOADS = [PROOF_WORKER_APP, "agenc-speculation"];
const podLabels = (props: Record<string, any>): Record<string, string> => props?.spec?.template?.metadata?.labels ?? props?.spec?.selector?.matchLabels ?? {};
const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
    !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

export const topologySpread = resourcePolicy(
    "topology-spread",
    "The speculation service and the proof workers spread their pods across nodes (topologySpreadConstraints on kubernetes.io/hostname), so losing one node cannot take every replica; production requires the hard form (DoNotSchedule).",
    [TYPES.deployment],
    (args, report) => {
        const name = k8sName(args.props);
        if (!HARDENED_WORKLOADS.includes(name)) return;
        const { requireHardSpread, maxSpreadSkew } = configOf(args, ["requireHardSpread", "maxSpreadSkew"]);
        const constraints: any[] = podSpec(args.props)?.topologySpreadConstraints ?? [];
        const overNodes = constraints.filter((c) => c?.topologyKey === "kubernetes.io/hostname" && selects(c?.labelSelector?.matchLabels, podLabels(args.props)));
        if (overNodes.length === 0) { report(`Deployment ${name} has no topology spread constraint over kubernetes.io/hostname selecting its own pods; every replica may land on one node.`); return; }
        for (const c of overNodes) {
            if (c.maxSkew > maxSpreadSkew) report(`Deployment ${name} spreads with maxSkew ${c.maxSkew}; at most ${maxSpreadSkew}.`);
            if (requireHardSpread && c.whenUnsatisfiable !== "DoNotSchedule") report(`Deployment ${name} spreads with whenUnsatisfiable ${c.whenUnsatisfiable}; this stack requires DoNotSchedule.`);
        }
    },
    schema({
        requireHardSpread: { type: "boolean", description: "Require whenUnsatisfiable: DoNotSchedule (production)" },
        maxSpreadSkew: num("Largest maxSkew allowed", 1),
    }),
);

export const proofWorkerProbes = resourcePolicy(
    "proof-worker-probes",
    "The proof workers have a liveness and a readiness probe, and they differ: a worker that is not ready leaves the Service instead of being restarted.",
    [TYPES.deployment],
    (args, report) => {
        if (k8sName(args.props) !== PROOF_WORKER_APP) return;
        for (const c of podSpec(args.props)?.containers ?? []) {
            if (!c?.livenessProbe || !c?.readinessProbe) { report(`proof-workers container ${c?.name} lacks a ${!c?.livenessProbe ? "liveness" : "readiness"} probe.`); continue; }
            const probe = (p: any) => JSON.stringify({ httpGet: p.httpGet, tcpSocket: p.tcpSocket, exec: p.exec, grpc: p.grpc });
            if (probe(c.livenessProbe) === probe(c.readinessProbe)) {
                report(`proof-workers container ${c?.name} checks the same thing for liveness and readiness (${probe(c.readinessProbe)}); a readiness failure would become a restart.`);
            }
        }
    },
);

export const ingressAwait = resourcePolicy(
    "ingress-await",
    "Every Ingress states its await policy: pulumi.com/skipAwait, or customTimeouts on create and update — never the provider's silent 10-minute wait for a load balancer address.",
    [TYPES.ingress],
    (args, report) => {
        const skip = args.props?.metadata?.annotations?.["pulumi.com/skipAwait"] === "true";
        const t = args.opts?.customTimeouts;
        if (!skip && !(t?.createSeconds > 0 && t?.updateSeconds > 0)) {
            report(`Ingress ${k8sName(args.props)} has no await policy: set pulumi.com/skipAwait or customTimeouts (speculation:canary.ingress.await).`);
        }
    },
);

export const ingressPublicPathsOnly = resourcePolicy(
    "ingress-public-paths-only",
    `An Ingress routes only public paths (Prefix or Exact) to the speculation service: never "/", ${PRIVATE_PATHS.join(" or ")} (the admin API moves the rollout percentage), no catch-all default backend, no regex annotations that widen every path of the host.`,
    [TYPES.ingress],
    (args, report) => {
        for (const line of ingressExposure(args.props ?? {}, SPECULATION_APPS)) report(line);
    },
);

/** Verbs that change the cluster: a rule granting one must name the objects it may change. */
const WRITE_VERBS = ["create", "update", "patch", "delete", "deletecollection", "escalate", "bind", "impersonate"];

export const rbacLeastPrivilege = resourcePolicy(
    "rbac-least-privilege",
    "The stack grants only what its workloads need, in its own namespace: no ClusterRole or ClusterRoleBinding, no wildcard, no access to Secrets, and every rule that may change an object names it (resourceNames) — the watchdog may patch the canary Ingress and nothing else.",
    [TYPES.role, TYPES.clusterRole, TYPES.clusterRoleBinding],
    (args, report) => {
        const name = k8sName(args.props);
        if (args.type !== TYPES.role) {
            report(`${args.type.split(":").pop()} ${name}: the stack grants nothing cluster-wide; use a Role in its namespace.`);
            return;
        }
        for (const [i, rule] of ((args.props?.rules ?? []) as any[]).entries()) {
            const where = `Role ${name} rule ${i + 1}`;
            const lists = { apiGroups: rule.apiGroups ?? [], resources: rule.resources ?? [], verbs: rule.verbs ?? [] } as Record<string, string[]>;
            for (const [field, values] of Object.entries(lists)) if (values.includes("*")) report(`${where} grants "*" in ${field}: name them.`);
            if ((rule.resources ?? []).some((r: string) => r === "secrets" || r.startsWith("secrets/"))) report(`${where} reaches Secrets: the admin token is mounted, never read through the API.`);
            const writes = (rule.verbs ?? []).filter((v: string) => WRITE_VERBS.includes(v));
            if (writes.length > 0 && !(rule.resourceNames?.length > 0)) report(`${where} may ${writes.join(", ")} any ${(rule.resources ?? []).join(", ")}: name the objects (resourceNames).`);
        }
    },
);

export const podSecurityRestricted = resourcePolicy(
    "pod-security-restricted",
    "Every workload runs under Pod Security `restricted` (non-root, seccomp RuntimeDefault, all capabilities dropped, no privilege escalation) with a read-only root filesystem, and the namespace enforces at least the configured level (restricted).",
    [...WORKLOADS, TYPES.pod, TYPES.namespace],
    (args, report) => {
        if (args.type === TYPES.namespace) {
            const given = args.getConfig<{ minimumLevel?: PodSecurityLevel }>() ?? {};
            const minimum = given.minimumLevel ?? "restricted";
            const level = args.props?.metadata?.labels?.[ENFORCE_LABEL];
            if (!atLeast(level, minimum)) {
                report(`Namespace ${k8sName(args.props)} enforces Pod Security ${level ?? "nothing"} (label ${ENFORCE_LABEL}); this stack requires ${minimum} (set speculation:kubernetes.podSecurity).`);
            }
            return;
        }
        const spec = args.type === TYPES.pod ? args.props?.spec : podSpec(args.props);
        for (const v of restrictedViolations(spec)) report(`${k8sName(args.props)}: ${v}.`);
    },
    { properties: { minimumLevel: { type: "string", enum: [...LEVELS], default: "restricted", description: "Weakest Pod Security level the namespace may enforce" } } },
);

const byType = (resources: PolicyResource[], type: string) => resources.filter((r) => r.type === type);
const childrenOf = (resources: PolicyResource[], parent: PolicyResource) => resources.filter((r) => r.parent?.urn === parent.urn);
const dependsOnTransitively = (r: PolicyResource, target: PolicyResource, seen = new Set<string>()): boolean => {
    for (const d of r.dependencies ?? []) {
        if (d.urn === target.urn) return true;
        if (!seen.has(d.urn)) { seen.add(d.urn); if (dependsOnTransitively(d, target, seen)) return true; }
    }
    return false;
};

export const pdbsExist: StackValidationPolicy = {
    name: "pod-disruption-budgets",
    description: "Every Deployment of the service (stable, canary, green) and the proof workers has a PodDisruptionBudget selecting its pods, and the budget is meaningful: a drain may evict some pods but never all (one replica is refused; the one-pod canary excepted, whose share falls back to stable), nor none.",
    validateStack: (args, report) => {
        const pdbs = byType(args.resources, TYPES.pdb);
        for (const d of byType(args.resources, TYPES.deployment)) {
            const labels = d.props?.spec?.selector?.matchLabels ?? {};
            if (!["proof-workers", ...SPECULATION_DEPLOYMENTS].includes(k8sName(d.props))) continue;
            const covered = pdbs.some((p) => {
                const sel = p.props?.spec?.selector?.matchLabels ?? {};
                return Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => labels[k] === v);
            });
            if (!covered) { report(`Deployment ${k8sName(d.props)} has no PodDisruptionBudget selecting ${JSON.stringify(labels)}.`); continue; }
            // Meaningful: a drain may evict some pods but never all of them, and never none (a budget that blocks
            // every drain).
            const replicas = d.props?.spec?.replicas ?? 1;
            for (const p of pdbs.filter((x) => selects(x.props?.spec?.selector?.matchLabels, labels))) {
                const { maxUnavailable, minAvailable } = p.props?.spec ?? {};
                const evictable = typeof maxUnavailable === "number" ? maxUnavailable
                    : typeof minAvailable === "number" ? replicas - minAvailable : undefined;
                if (evictable === undefined) continue;
                if (evictable >= replicas && !MAY_BE_EMPTIED.includes(k8sName(d.props))) {
                    report(`PodDisruptionBudget ${k8sName(p.props)} lets a drain evict all ${replicas} pod(s) of Deployment ${k8sName(d.props)} at once; run at least ${evictable + 1} replicas.`);
                } else if (evictable < 1) {
                    report(`PodDisruptionBudget ${k8sName(p.props)} lets no pod of Deployment ${k8sName(d.props)} be evicted; every node drain would block.`);
                }
            }
        }
    },
};

/**
 * What one ipBlock CIDR admits beyond what the loader allows (config/cidr.ts, the loader's own check with the same
 * minimum prefixes: the pack's minCidrPrefixIpv4/Ipv6, by default the loader's /8 and /32), as the rest of a
 * "… admits <cidr>" line; undefined when it is fine.  The whole space however spelled (10.0.0.0/0, 0::/0 are read as
 * 0.0.0.0/0 and ::/0), wider than the minimum prefix, or no CIDR at all.
 */
export function openCidr(cidr: string, minPrefix: Readonly<Record<"ipv4" | "ipv6", number>> = DEFAULT_MIN_CIDR_PREFIX): string | undefined {
    const parsed = parseCidr(cidr);
    if (typeof parsed === "string") return `${cidr} (${parsed})`;
    if (!cidrProblem(cidr, minPrefix)) return undefined;
    const spelled = parsed.normalised === cidr ? cidr : `${cidr} (${parsed.normalised})`;
    return parsed.prefix === 0 ? spelled : `${spelled}, wider than /${minPrefix[parsed.family]}`;
}

const isEmpty = (o: unknown) => !o || (typeof o === "object" && Object.keys(o as object).length === 0);

export const networkIsolation: StackValidationPolicy = {
    name: "network-isolation",
    description: `The namespace denies ingress by default, and the admin port ${ADMIN_PORT} of the speculation service admits only named peers (the monitoring stack, the watchdog, the gate's origin): no NetworkPolicy rule admits everyone.`,
    configSchema: schema({
        minCidrPrefixIpv4: { ...num("Widest IPv4 ipBlock prefix admitted (hardening.networkPolicies.minCidrPrefix.ipv4 of the stacks it guards)", 1) },
        minCidrPrefixIpv6: { ...num("Widest IPv6 ipBlock prefix admitted (hardening.networkPolicies.minCidrPrefix.ipv6 of the stacks it guards)", 1) },
    }),
    validateStack: (args, report) => {
        const limits = configOf(args, ["minCidrPrefixIpv4", "minCidrPrefixIpv6"]);
        const minPrefix = { ipv4: limits.minCidrPrefixIpv4, ipv6: limits.minCidrPrefixIpv6 };
        const openCidrOf = (cidr: string) => openCidr(cidr, minPrefix);
        const workloads = byType(args.resources, TYPES.deployment).filter((d) => [...SPECULATION_APPS, PROOF_WORKER_APP].includes(k8sName(d.props)));
        if (workloads.length === 0) return;
        const policies = byType(args.resources, TYPES.networkPolicy);
        const denyAll = policies.some((p) => isEmpty(p.props?.spec?.podSelector) && (p.props?.spec?.policyTypes ?? []).includes("Ingress")
            && (p.props?.spec?.ingress ?? []).length === 0);
        if (!denyAll) report("The namespace has no default-deny NetworkPolicy (podSelector {}, policyTypes [Ingress], no rules): every pod in the cluster can reach the admin API.");
        const admin = policies.find((p) => k8sName(p.props) === ADMIN_POLICY);
        if (!admin) report(`No NetworkPolicy ${ADMIN_POLICY} admits the monitoring stack, the watchdog and the gate to port ${ADMIN_PORT}.`);
        for (const p of policies) {
            (p.props?.spec?.ingress ?? []).forEach((rule: any, i: number) => {
                const where = `NetworkPolicy ${k8sName(p.props)} rule ${i + 1}`;
                if (!Array.isArray(rule?.from) || rule.from.length === 0) { report(`${where} admits traffic from everywhere (no from).`); return; }
                if (!Array.isArray(rule?.ports) || rule.ports.length === 0) report(`${where} admits every port (no ports).`);
                for (const peer of rule.from) {
                    if (isEmpty(peer)) report(`${where} has an empty peer, which admits every pod of the namespace.`);
                    else if (peer.ipBlock) { const open = openCidrOf(String(peer.ipBlock.cidr)); if (open) report(`${where} admits ${open}.`); }
                    else if (peer.namespaceSelector && isEmpty(peer.namespaceSelector) && isEmpty(peer.podSelector)) report(`${where} admits every pod of every namespace.`);
                }
            });
            // The ipBlocks of the whole policy together: two halves in two rules admit everyone as surely as one /0.
            const cidrs: string[] = (p.props?.spec?.ingress ?? []).flatMap((rule: any) => (Array.isArray(rule?.from) ? rule.from : [])
                .map((peer: any) => peer?.ipBlock?.cidr).filter((c: unknown): c is string => typeof c === "string"));
            // A single entry that is already a whole family was reported above; the union names the split ones.
            const split = cidrs.filter((c) => { const parsed = parseCidr(c); return typeof parsed !== "string" && parsed.prefix > 0; });
            for (const family of familiesCovered(split)) report(`NetworkPolicy ${k8sName(p.props)} admits ${split.join(" + ")}, which ${coverageProblem(family)}.`);
            // Egress (hardening.networkPolicies.egress): a rule may leave `to` out (any address) only on named ports,
            // and its ipBlocks get the same checks as the ingress ones.
            (p.props?.spec?.egress ?? []).forEach((rule: any, i: number) => {
                const where = `NetworkPolicy ${k8sName(p.props)} egress rule ${i + 1}`;
                const to: any[] = Array.isArray(rule?.to) ? rule.to : [];
                if (to.length === 0 && (!Array.isArray(rule?.ports) || rule.ports.length === 0)) report(`${where} lets the pods reach every address on every port (no to, no ports).`);
                for (const peer of to) {
                    if (peer?.ipBlock) { const open = openCidrOf(String(peer.ipBlock.cidr)); if (open) report(`${where} reaches ${open}.`); }
                }
            });
            const egressCidrs: string[] = (p.props?.spec?.egress ?? []).flatMap((rule: any) => (Array.isArray(rule?.to) ? rule.to : [])
                .map((peer: any) => peer?.ipBlock?.cidr).filter((c: unknown): c is string => typeof c === "string"))
                .filter((c: string) => { const parsed = parseCidr(c); return typeof parsed !== "string" && parsed.prefix > 0; });
            for (const family of familiesCovered(egressCidrs)) report(`NetworkPolicy ${k8sName(p.props)} reaches ${egressCidrs.join(" + ")}, which ${coverageProblem(family, "the destinations' own networks")}.`);
        }
    },
};

export const everyStageGated: StackValidationPolicy = {
    name: "every-stage-gated",
    description: "Every canary stage has a health gate (and an error-rate baseline) of its own; with bench required, a bench run precedes the first stage.",
    configSchema: schema({ requireBench: { type: "boolean", description: "Require a BenchRun before the first canary stage (production)" } }),
    validateStack: (args, report) => {
        const { requireBench } = configOf(args, ["requireBench"]);
        const stages = byType(args.resources, TYPES.canaryStage);
        for (const stage of stages) {
            const children = childrenOf(args.resources, stage).map((c) => c.type);
            if (!children.includes(TYPES.healthGate)) report(`Canary stage ${stage.name} has no health gate.`);
            if (!children.includes(TYPES.errorBaseline)) report(`Canary stage ${stage.name} has no error-rate baseline before its shift.`);
        }
        if (!requireBench || stages.length === 0) return;
        const benches = byType(args.resources, TYPES.benchRun);
        if (benches.length === 0) { report("This stack requires a passed bench run before the first canary stage, and none is declared (set speculation:bench.enabled)."); return; }
        const first = stages.find((s) => s.props?.percentage === Math.min(...stages.map((x) => x.props?.percentage ?? 100)))!;
        const firstShift = childrenOf(args.resources, first).filter((c) => c.type === TYPES.trafficShift || c.type === TYPES.errorBaseline);
        if (!firstShift.some((r) => benches.some((b) => dependsOnTransitively(r, b)))) {
            report(`Canary stage ${first.name} does not wait for the bench run.`);
        }
    },
};

export const verdictsRecorded: StackValidationPolicy = {
    name: "verdicts-recorded",
    description: "After an update, every health gate and bench run recorded a passing verdict (during a preview they have not run yet).",
    validateStack: (args, report) => {
        for (const r of [...byType(args.resources, TYPES.healthGate), ...byType(args.resources, TYPES.benchRun)]) {
            const verdict = r.props?.verdict;
            if (verdict === undefined) continue; // not run yet (preview): judged after the update
            if (verdict !== "pass") report(`${r.type.split(":").pop()} ${r.name} recorded verdict ${verdict}: ${r.props?.decision?.reason ?? "see its decision record"}.`);
        }
    },
};

/**
 * The floor under the guard between `up`s: with window bakes the watchdog is the only thing between a failing canary
 * and its traffic for days, so it must run, with its sentinels after 100 %, drift detection in the gates, and a gate
 * that reverts; and a watchdog that runs (any bake mode: after 100 % it is the only revert path) runs two replicas or
 * more, which get a PodDisruptionBudget and a spread over nodes.  Mandatory in production (the config refuses the same
 * first); advisory in staging, which may relax it.
 */
export const guardFloor: ResourceValidationPolicy = {
    name: "guard-floor",
    description: "A running watchdog has at least 2 replicas (a PodDisruptionBudget and a spread over nodes); in window bake mode the watchdog runs, its sentinels may probe after 100 %, the gates detect drift (CUSUM, or the canary judge with two tracks), a failing gate reverts and each stage's error baseline reaches Prometheus (records.pushgatewayUrl).",
    validateResource: (args, report) => {
        if (args.type !== TYPES.guard) return;
        const floor = args.props?.floor;
        if (!floor) return;
        if (floor.enabled && typeof floor.replicas === "number" && floor.replicas < 2) {
            report(`The watchdog runs ${floor.replicas} replica (watchdog.replicas; allowed 2 to 5): no PodDisruptionBudget and no spread over nodes, so a drain or a node failure leaves no revert path between ups.`);
        }
        if (floor.bakeMode !== "window") return;
        const gaps = [
            ...(floor.enabled ? [] : ["the watchdog is off (watchdog.enabled)"]),
            ...(floor.sentinels ? [] : ["the sentinel probes are off (watchdog.sentinel.enabled)"]),
            ...(floor.driftDetection === "off" ? ["drift detection is off (canary.gate.cusum.enabled)"] : []),
            ...(floor.onFailure === "revert" ? [] : [`a failing gate leaves traffic on (canary.gate.onFailure: ${floor.onFailure})`]),
            // Absent in a Guard recorded before the key existed: only an explicit false is a gap.
            ...(floor.errorBaseline === false ? ["no stage's error baseline reaches Prometheus, so the relative error-rate trigger has only its floor (records.pushgatewayUrl)"] : []),
        ];
        if (gaps.length > 0) report(`Window bake mode with no guard between ups where it matters: ${gaps.join("; ")}.`);
    },
};

/**
 * The computed bound (lib/guard/bound.ts) from a rollback condition to 0 % confirmed, held to the stack's own limit
 * (`watchdog.maxGuardBound`, recorded by the Guard as maxBoundSeconds), and that limit to this pack's
 * maxGuardBoundSeconds: a stack loosens its limit with its key, and only as far as the pack allows.
 */
export const guardBound: ResourceValidationPolicy = {
    name: "guard-bound",
    description: "The worst-case time from a rollback condition becoming true to traffic at 0 % confirmed, computed from the stack's intervals, for:s and the watchdog's schedule, is within the stack's watchdog.maxGuardBound, and that limit within the pack's maxGuardBoundSeconds.",
    configSchema: schema({ maxGuardBoundSeconds: num("Longest limit a stack may set on the time from a rollback condition to 0 % confirmed (watchdog.maxGuardBound), seconds", 1) }),
    validateResource: (args, report) => {
        if (args.type !== TYPES.guard) return;
        const { maxGuardBoundSeconds } = configOf(args, ["maxGuardBoundSeconds"]);
        const bound = args.props?.boundSeconds;
        if (typeof bound !== "number") { report("The guard records no computed bound."); return; }
        const own = args.props?.maxBoundSeconds;
        const why = `${args.props?.worstTrigger}: ${args.props?.formula}`;
        if (typeof own === "number" && own > maxGuardBoundSeconds) {
            report(`The stack's watchdog.maxGuardBound is ${own} s, above this pack's guard-bound maxGuardBoundSeconds (${maxGuardBoundSeconds} s): lower the key, or raise the pack's limit.`);
        }
        if (typeof own === "number" && bound > own) {
            report(`The guard's bound is ${bound} s (${why}), above the stack's watchdog.maxGuardBound (${own} s).`);
        } else if (bound > maxGuardBoundSeconds) {
            report(`The guard's bound is ${bound} s (${why}), above ${maxGuardBoundSeconds} s.`);
        }
    },
};

/**
 * The SLO every gate judges by (lib/slo, issue 26): its objective and budget floor within the stack's bounds
 * (production: seed 001's 99.9 % at least, and a floor of at least a quarter of the budget; PRODUCTION_RULES).
 */
export const sloBounds = resourcePolicy(
    "slo-bounds",
    "Every health gate and bake window judges the stage by the error budget, with an objective and a budget floor within the stack's bounds.",
    [TYPES.healthGate, TYPES.bakeWindow],
    (args, report) => {
        const b = configOf(args, ["minSloObjective", "maxSloObjective", "minBudgetFloor", "maxBudgetFloor"]);
        const slo = args.props?.slo;
        if (!slo || typeof slo.objective !== "number" || typeof slo.budgetFloor !== "number") {
            report(`${args.name} judges no error budget (slo); every stage is judged by it.`);
            return;
        }
        if (slo.objective < b.minSloObjective || slo.objective > b.maxSloObjective) {
            report(`${args.name} uses the objective ${slo.objective}; this stack allows ${b.minSloObjective} to ${b.maxSloObjective} (slo.objective).`);
        }
        if (slo.budgetFloor < b.minBudgetFloor || slo.budgetFloor > b.maxBudgetFloor) {
            report(`${args.name} uses the budget floor ${slo.budgetFloor}; this stack allows ${b.minBudgetFloor} to ${b.maxBudgetFloor} (slo.budgetFloor).`);
        }
    },
    schema({
        minSloObjective: num("Lowest SLO objective a gate may use"), maxSloObjective: num("Highest SLO objective a gate may use"),
        minBudgetFloor: num("Lowest error-budget floor a gate may use"), maxBudgetFloor: num("Highest error-budget floor a gate may use"),
    }),
);

/**
 * Signed releases (issue 27, docs/signing.md): in production the signature verification is on, with at least one key,
 * and it verifies images by digest — judged on the step's inputs, so a stack with verification off is refused before
 * anything changes (the config refuses it first).
 */
export const signedReleases = resourcePolicy(
    "signed-releases",
    "The release's image digests and node binary are verified against configured public keys before anything runs them (production: required).",
    [TYPES.signatureVerification],
    (args, report) => {
        const { requireSignatures } = configOf(args, ["requireSignatures"]);
        if (!requireSignatures) return;
        const p = args.props ?? {};
        if (p.required !== true) { report(`${args.name}: signature verification is off (speculation:signing.required is ${p.required}); this stack requires it.`); return; }
        if (!Array.isArray(p.publicKeys) || p.publicKeys.length === 0) report(`${args.name}: no public key to verify with (speculation:signing.publicKeys is empty).`);
        for (const s of Array.isArray(p.subjects) ? p.subjects : []) {
            if (s?.kind === "image" && !s.digest) report(`${args.name}: image ${s.name} ${s.repository}:${s.tag} is verified by tag; this stack requires a digest (${s.configKey}).`);
        }
    },
    schema({ requireSignatures: { type: "boolean", description: "Require the signature verification on, with keys and digests (production)" } }),
);

/**
 * What the verification covers (with it on): every release Deployment runs an image it verified, and waits for it; the
 * node rollout waits for it and checks the binary's signature on every node.  A stack policy: it needs the whole graph.
 */
export const signedReleasesCover: StackValidationPolicy = {
    name: "signed-releases-cover",
    description: "With signature verification on, every release Deployment runs an image it verified and waits for it, and the node rollout waits for it and checks the binary on every node before the swap.",
    validateStack: (args, report) => {
        const step = byType(args.resources, TYPES.signatureVerification).find((r) => r.props?.required === true);
        if (!step) return;
        const refs = new Set((Array.isArray(step.props.subjects) ? step.props.subjects : []).filter((s: any) => s?.kind === "image")
            .map((s: any) => (s.digest ? `${s.repository}@${s.digest}` : `${s.repository}:${s.tag}`)));
        const verifiesImages = refs.size > 0;
        for (const d of byType(args.resources, TYPES.deployment)) {
            const name = k8sName(d.props);
            if (!SPECULATION_DEPLOYMENTS.includes(name) && name !== PROOF_WORKER_APP) continue;
            if (!verifiesImages) { report(`Deployment ${name} runs release images, and the signature verification verifies none (speculation:signing.images).`); continue; }
            for (const c of containersOf(d.props)) {
                const image = String(c?.image ?? "").replace(/:[\w][\w.-]{0,127}@sha256:/, "@sha256:");
                if (!refs.has(image)) report(`Deployment ${name} container ${c?.name} runs ${c?.image}, which the signature verification does not verify.`);
            }
            if (!dependsOnTransitively(d, step) && !providerWaits(args.resources, d, step)) report(`Deployment ${name} does not wait for the signature verification.`);
        }
        for (const r of byType(args.resources, TYPES.sshRollout)) {
            if (!dependsOnTransitively(r, step)) report(`${r.name} does not wait for the signature verification.`);
            if (!r.props?.signature) report(`${r.name} does not check the binary's signature on the nodes before the swap.`);
        }
    },
};

/** Whether `r`'s provider resource waits (transitively) for `target`: the Kubernetes objects do through it. */
function providerWaits(resources: PolicyResource[], r: PolicyResource, target: PolicyResource): boolean {
    const ref = (r as PolicyResource & { provider?: { urn?: string } }).provider?.urn;
    const provider = ref ? resources.find((x) => x.urn === ref) : undefined;
    return !!provider && dependsOnTransitively(provider, target);
}

export type ResourcePolicyLike = ResourceValidationPolicy;
export const resourcePolicies: ResourceValidationPolicy[] = [
    proofWorkersMinReplicas, containerResources, speculationProbes, imagesPinned, speculationBootsDisabled,
    adminTokenFromSecret, canaryPlan, gateThresholds, nodesPinnedAndBounded, rollbackTriggerAlerts,
    topologySpread, proofWorkerProbes, ingressAwait, ingressPublicPathsOnly, podSecurityRestricted, rbacLeastPrivilege,
    guardFloor, guardBound, sloBounds, signedReleases,
];
export const stackPolicies: StackValidationPolicy[] = [pdbsExist, networkIsolation, everyStageGated, verdictsRecorded, signedReleasesCover];
export const policies = [...resourcePolicies, ...stackPolicies];
