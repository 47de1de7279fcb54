/**
 * The typed stack configuration: everything an operator sets per stack, with the seeds' values as defaults.
 *
 * Every top-level property here is one Pulumi config key in the `speculation` namespace
 * (`speculation:release`, `speculation:canary`, …).  Structured keys are set with
 * `pulumi config set --path 'speculation:canary.steps[1].bake' 8h`.
 */
import { posix } from "path";
import { z } from "zod";
import { formatDuration, isDuration, parseDuration } from "./duration";
import { duration, durationAtLeast, positiveDuration, TIMER_MAX_SECONDS } from "./durationSchema";
import { PINNED_HOST_KEY } from "./hostKey";
import { DEFAULT_PUBLIC_ROUTES, PRIVATE_PATHS, privatePathReached, PUBLIC_PATH_PATTERN, PUBLIC_PATH_TYPES } from "./ingress";
import { CUSUM_DEFAULTS, DEFAULT_STAGE_THRESHOLDS, GO_NO_GO, GUARD_BOUND_LIMIT_SECONDS, METRIC_CHECKS, PRODUCTION_RULES, STAGE_THRESHOLD_KEYS, StageThresholds } from "./thresholds";
import { preflightSchema, recordsSchema, rollbackSchema, smokeSchema, verifySchema } from "./runbook";
import { sentinelSchema } from "./sentinel";
import { signingSchema } from "./signing";
import { sloProblems, sloSchema } from "./slo";
import { cidrProblem, coverageProblem, DEFAULT_MIN_CIDR_PREFIX, familiesCovered, parseCidr } from "./cidr";
import { hostProblem, localPath, NUMBER_LIMITS, OPERATOR_NAME, plainUrl, quantityAtMost, quantityValue, semanticProblems, shellCommand, SIZE_LIMITS, SYSTEMD_UNIT } from "./semantics";

export const CONFIG_NAMESPACE = "speculation";

/**
 * The shortest revert deadline the watchdog starts with: lib/watchdog/main.ts exits (and its pod crash-loops) when
 * REVERT_DEADLINE_SECONDS is below it.  Here, not read from lib/, so config/ imports nothing from lib/; a test runs the
 * script on both sides of it.
 */
export const WATCHDOG_MIN_REVERT_DEADLINE_SECONDS = 1;

export const ENVIRONMENTS = ["local", "staging", "production"] as const;
export const SHIFT_MODES = ["feature-flag", "ingress-weight", "blue-green"] as const;
export const BLUE_GREEN_LOWER_STEPS = ["hold", "mirror"] as const;
/** How an Ingress is awaited (lib/k8s.ts ingressAwait): skip the provider's wait, or wait for the load balancer. */
export const INGRESS_AWAIT_MODES = ["skip", "load-balancer"] as const;
export const MONITORING_MODES = ["operator", "standalone"] as const;
export const SPECULATION_MODES = ["conservative", "aggressive"] as const;
export const GATE_ACTIONS = ["revert", "fail"] as const;
export const METRIC_SOURCES = ["metrics-endpoint", "prometheus"] as const;
export const NO_DATA_POLICIES = ["fail", "hold"] as const;
export const COMPARATORS = ["lt", "le", "gt", "ge"] as const;
export const SPREAD_MODES = ["DoNotSchedule", "ScheduleAnyway"] as const;
/** Pod Security Standards levels, weakest first (the same list as lib/podSecurity.ts LEVELS). */
export const POD_SECURITY_LEVELS = ["privileged", "baseline", "restricted"] as const;
/** The metric checks of a health gate, each of which may declare what no data means. */
export const GATE_METRICS = METRIC_CHECKS;
export const BENCH_METRICS = ["p50_ms", "p95_ms", "p99_ms", "throughput_per_s", "error_rate"] as const;

const VERSION = /^v\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
/**
 * What the retention must hold beyond the longest bake: the time an operator has to run the next `up`, which judges
 * the whole bake from Prometheus history (a week).
 */
export const RETENTION_MARGIN_SECONDS = 7 * 86_400;

/**
 * The history Prometheus must keep for these steps, seconds: the longest bake plus RETENTION_MARGIN_SECONDS (0 without
 * a bake).  One rule for the config's refusal and the preflight's reading of a running Prometheus.  Bakes that are not
 * durations count as 0 (their own key reports them).
 */
export function requiredRetentionSeconds(steps: readonly { bake: string }[]): number {
    const longestBake = Math.max(0, ...steps.map((s) => (isDuration(s.bake) ? parseDuration(s.bake) : 0)));
    return longestBake > 0 ? longestBake + RETENTION_MARGIN_SECONDS : 0;
}

const K8S_QUANTITY_CPU = /^(?:\d+(?:\.\d+)?|\d+m)$/;
const K8S_QUANTITY_MEMORY = /^\d+(?:\.\d+)?(?:Ki|Mi|Gi|Ti|k|M|G|T)?$/;
const DNS_LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
/**
 * An image repository as the distribution reference grammar names one, without tag or digest: an optional registry
 * host (with a dot or a port, or localhost) and lower-case path components.
 */
const REGISTRY_HOST = /^(?:localhost|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*)(?::\d+)?$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const SERIAL_PERCENT = /^(?:[1-9]\d?|100)%$/;
const LABEL_KEY = /^(?:[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

/** Why an image repository is not one, naming a tag or digest written into it; undefined when it is fine. */
export function imageRepositoryProblem(repository: string): string | undefined {
    const generic = "must be an image repository such as ghcr.io/agenc/speculation (lower-case path, optional registry host[:port], no tag or digest)";
    const at = repository.indexOf("@");
    const withoutDigest = at >= 0 ? repository.slice(0, at) : repository;
    const parts = withoutDigest.split("/");
    const host = parts.length > 1 && (/[.:]/.test(parts[0]) || parts[0] === "localhost") ? parts.shift()! : undefined;
    const last = parts[parts.length - 1] ?? "";
    const colon = last.indexOf(":");
    const tag = colon >= 0 ? last.slice(colon) : undefined;
    if (tag !== undefined) parts[parts.length - 1] = last.slice(0, colon);
    const name = [host, ...parts].filter((p) => p !== undefined).join("/");
    const valid = (host === undefined || REGISTRY_HOST.test(host)) && parts.length > 0 && parts.every((p) => PATH_COMPONENT.test(p));
    if (!valid) return generic;
    if (at >= 0) {
        return `must not carry a ${tag ? "tag or a " : ""}digest ("${tag ?? ""}${repository.slice(at)}"): the digest goes in the digest key beside it, ` +
            `the repository alone here (${name})`;
    }
    if (tag !== undefined) return `must not carry a tag ("${tag}"): the tag comes from release.version; the repository alone here (${name})`;
    return undefined;
}

const cpu = z.string({ error: "must be a CPU quantity string such as \"500m\" or \"4\"" })
    .regex(K8S_QUANTITY_CPU, { error: "must be a CPU quantity such as \"500m\" or \"4\"" })
    .refine(...quantityAtMost(SIZE_LIMITS.cpuCores, `${SIZE_LIMITS.cpuCores} cores`));
const memory = z.string({ error: "must be a memory quantity string such as \"512Mi\" or \"8Gi\"" })
    .regex(K8S_QUANTITY_MEMORY, { error: "must be a memory quantity such as \"512Mi\" or \"8Gi\"" })
    .refine(...quantityAtMost(SIZE_LIMITS.memoryBytes, "1Ti"));
/** A persistent volume's size: a memory quantity, at most 64Ti. */
const volumeSize = z.string({ error: "must be a size such as \"50Gi\"" })
    .regex(K8S_QUANTITY_MEMORY, { error: "must be a size such as \"50Gi\"" })
    .refine(...quantityAtMost(SIZE_LIMITS.volumeBytes, "64Ti"));

/** A list of CIDRs, each parsed (a prefix of 0 refused here; the minimum prefix and coverage by the object holding it). */
const cidrList = z.array(z.string({ error: "must be a CIDR such as 10.20.0.0/24" }).superRefine((c, ctx) => {
    const parsed = parseCidr(c);
    if (typeof parsed === "string") ctx.addIssue({ code: "custom", message: parsed });
    else if (parsed.prefix === 0) ctx.addIssue({ code: "custom", message: cidrProblem(c)! });
}));

const resources = (defaults: { requests: { cpu: string; memory: string }; limits: { cpu: string; memory: string } }) =>
    z.object({
        requests: z.object({ cpu: cpu.default(defaults.requests.cpu), memory: memory.default(defaults.requests.memory) })
            .strict().prefault({}),
        limits: z.object({ cpu: cpu.default(defaults.limits.cpu), memory: memory.default(defaults.limits.memory) })
            .strict().prefault({}),
    }).strict().superRefine((r, ctx) => {
        // The API server refuses a request above its limit, but only when it applies the workload, after others.
        for (const kind of ["cpu", "memory"] as const) {
            if (quantityValue(r.requests[kind]) > quantityValue(r.limits[kind])) {
                ctx.addIssue({ code: "custom", path: ["requests", kind], message: `must be at most limits.${kind} (${r.limits[kind]}): Kubernetes refuses a request above its limit` });
            }
        }
    }).prefault({});

/** A stage may tighten any go/no-go threshold; loosening one is refused here and by the policy pack. */
const stageThresholdOverrides = z.object(
    Object.fromEntries(STAGE_THRESHOLD_KEYS.map((key) => [
        key,
        z.number({ error: "must be a number" }).positive({ error: "must be greater than 0" })
            .max(DEFAULT_STAGE_THRESHOLDS[key], {
                error: `must not be looser than the go/no-go table (at most ${DEFAULT_STAGE_THRESHOLDS[key]})`,
            }).optional(),
    ])) as Record<keyof StageThresholds, z.ZodOptional<z.ZodNumber>>,
).strict();

const labels = (what: string) => z.record(
    z.string().regex(LABEL_KEY, { error: `must be a Kubernetes label key (${what})` }),
    z.string({ error: `must be a label value (${what})` }).regex(LABEL_VALUE, { error: `must be a Kubernetes label value (${what})` }),
    { error: `must be a map of pod labels (${what})` },
);

/**
 * What an SRE team expects around the workloads (issue 17).  Each is on by default and checked by a policy of the
 * pack; lib/network/peers.ts turns the network part into NetworkPolicies.
 */
const hardeningSchema = z.object({
    networkPolicies: z.object({
        /** Default-deny ingress in the namespace, then allow only the peers below to each workload's port. */
        enabled: z.boolean({ error: "must be true or false" }).default(true),
        /** Operator mode: the namespace kube-prometheus-stack's Prometheus runs in, and its pods' labels. */
        monitoringNamespace: z.string().regex(DNS_LABEL, { error: "must be a namespace name" }).default("monitoring"),
        prometheusPodLabels: labels("kube-prometheus-stack's Prometheus pods").default({ "app.kubernetes.io/name": "prometheus" }),
        /** Operator mode: the labels of kube-prometheus-stack's Alertmanager pods (they call the watchdog). */
        alertmanagerPodLabels: labels("kube-prometheus-stack's Alertmanager pods").default({ "app.kubernetes.io/name": "alertmanager" }),
        /**
         * The gate's origin — where `pulumi up` runs when it reaches the admin API: pods labelled
         * agenc.io/network-role=gate in gateNamespace (default: the stack's namespace), and these CIDRs.
         */
        gateNamespace: z.string().regex(DNS_LABEL, { error: "must be a namespace name" }).optional(),
        gateCidrs: cidrList.default([]),
        /**
         * The widest gate CIDR allowed, per family (unset: /8 for IPv4, /32 for IPv6, DEFAULT_MIN_CIDR_PREFIX); every entry is also refused
         * when the entries together cover a whole family.  lib/network/peers.ts writes each normalised (normaliseCidr).
         */
        minCidrPrefix: z.object({
            ipv4: z.number({ error: "must be a whole number from 1 to 32" }).int({ error: "must be a whole number from 1 to 32" })
                .min(1, { error: "must be from 1 to 32" }).max(32, { error: "must be from 1 to 32" }).default(DEFAULT_MIN_CIDR_PREFIX.ipv4),
            ipv6: z.number({ error: "must be a whole number from 1 to 128" }).int({ error: "must be a whole number from 1 to 128" })
                .min(1, { error: "must be from 1 to 128" }).max(128, { error: "must be from 1 to 128" }).default(DEFAULT_MIN_CIDR_PREFIX.ipv6),
        }).strict().optional(),
        /** Ingress-weight mode: the ingress controller that routes to the stable and canary pods. */
        ingressControllerNamespace: z.string().regex(DNS_LABEL, { error: "must be a namespace name" }).default("ingress-nginx"),
        /**
         * Egress: each workload may reach only what it needs (lib/network/peers.ts egressPolicies): DNS, and the
         * speculation service the proof workers and the chain RPC; the watchdog the admin API, Prometheus and (in
         * ingress-weight mode) the API server; standalone monitoring its targets, Alertmanager the watchdog and the
         * receivers.  Pods the stack does not run (a gate pod in the namespace) are not restricted.
         */
        egress: z.object({
            enabled: z.boolean({ error: "must be true or false" }).default(true),
            /** Where the cluster's DNS runs, and its pods' labels (every workload may reach it on port 53). */
            dnsNamespace: z.string().regex(DNS_LABEL, { error: "must be a namespace name" }).default("kube-system"),
            dnsPodLabels: labels("the cluster DNS pods").default({ "k8s-app": "kube-dns" }),
            /**
             * Where the destinations outside the namespace's peers are (the chain RPC, the API server, the alert
             * receivers, bare-metal nodes): their rules admit these CIDRs only, on each destination's ports.  Empty:
             * any address, on those ports only.  The same checks as gateCidrs (minCidrPrefix, no whole family).
             */
            externalCidrs: cidrList.default([]),
        }).strict().prefault({}),
    }).strict().superRefine((n, ctx) => {
        for (const [key, list] of [["gateCidrs", n.gateCidrs], ["externalCidrs", n.egress.externalCidrs]] as const) {
            const path = key === "gateCidrs" ? [key] : ["egress", key];
            list.forEach((c, i) => {
                const parsed = parseCidr(c);
                if (typeof parsed === "string" || parsed.prefix === 0) return;
                const problem = cidrProblem(c, n.minCidrPrefix ?? DEFAULT_MIN_CIDR_PREFIX);
                if (problem) ctx.addIssue({ code: "custom", path: [...path, i], message: problem });
            });
            for (const family of familiesCovered(list)) {
                ctx.addIssue({ code: "custom", path, message: coverageProblem(family, key === "gateCidrs" ? undefined : "the destinations' own networks") });
            }
        }
    }).prefault({}),
    topologySpread: z.object({
        /** Spread the service's and the proof workers' pods across nodes (topologySpreadConstraints). */
        enabled: z.boolean({ error: "must be true or false" }).default(true),
        topologyKey: z.string().min(1).default("kubernetes.io/hostname"),
        maxSkew: z.number({ error: "must be a whole number from 1 to 5" }).int({ error: "must be a whole number from 1 to 5" })
            .min(1, { error: "must be at least 1" }).max(5, { error: "must be at most 5" }).default(1),
        whenUnsatisfiable: z.enum(SPREAD_MODES, { error: `must be one of: ${SPREAD_MODES.join(", ")}` }).default("DoNotSchedule"),
    }).strict().prefault({}),
}).strict();

const imageSchema = z.object({
    repository: z.string({ error: "must be an image repository such as ghcr.io/agenc/speculation" }).superRefine((repository, ctx) => {
        const problem = imageRepositoryProblem(repository);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
    digest: z.string().regex(DIGEST, { error: "must be an image digest of the form sha256:<64 hex digits>" }).optional(),
    /**
     * The digest of release.previousVersion's image, which the stable (blue) track runs in ingress-weight and
     * blue-green modes; without it the stable track runs the previous tag unpinned (never the new version's digest).
     */
    previousDigest: z.string().regex(DIGEST, { error: "must be an image digest of the form sha256:<64 hex digits>" }).optional(),
}).strict();

const canaryStepSchema = z.object({
    percentage: z.number({ error: "must be a number from 1 to 100" }).int({ error: "must be a whole number from 1 to 100" })
        .min(1, { error: "must be at least 1" }).max(100, { error: "must be at most 100" }),
    bake: positiveDuration("how long the step soaks before its gate may pass"),
    thresholds: stageThresholdOverrides.optional(),
}).strict();

/** Seed 000: 10 % → 25 % → 50 % → 100 %, soaking 4 h, 8 h, 24 h, then ongoing. */
export const DEFAULT_CANARY_STEPS = [
    { percentage: 10, bake: "4h" },
    { percentage: 25, bake: "8h" },
    { percentage: 50, bake: "24h" },
    { percentage: 100, bake: "24h" },
];

const nodeSchema = z.object({
    name: z.string({ error: "must be a node name" }).regex(DNS_LABEL, { error: "must be a DNS label (lower-case letters, digits, -)" }),
    host: z.string({ error: "must be a host name or IP address" }).min(1, { error: "must not be empty" }).superRefine((host, ctx) => {
        const problem = hostProblem(host);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
    port: z.number({ error: "must be a TCP port number" }).int().min(1, { error: "must be from 1 to 65535" })
        .max(65535, { error: "must be from 1 to 65535" }).default(22),
    user: z.string({ error: "must be a user name" }).regex(/^[a-z_][a-z0-9_-]{0,31}$/, { error: "must be a POSIX user name (lower-case letters, digits, _ and -, not starting with - or a digit, at most 32)" }),
    hostKey: z.string({ error: "must be the node's pinned public host key (\"ssh-ed25519 AAAA…\")" })
        .regex(PINNED_HOST_KEY, { error: "must be a pinned public host key such as \"ssh-ed25519 AAAA…\" (type and base64 key, no host name)" })
        .superRefine((hostKey, ctx) => {
            if (!PINNED_HOST_KEY.test(hostKey)) return;
            const problem = hostKeyProblem(hostKey);
            if (problem) ctx.addIssue({ code: "custom", message: problem });
        }),
}).strict();

/**
 * Decodes a pinned host key with ssh2's own key parser (the one the rollout verifies the node's key with) and checks
 * that the key inside is of the stated type: a key of another type, or a blob that is no key at all, is refused here
 * instead of failing at connect time.  The parser reads the fields it needs and ignores the rest, but the rollout
 * compares the node's key with the whole decoded blob (lib/nodes/ssh.ts pinnedKeyBlob), so the blob must be exactly
 * the key's own public blob (no bytes appended, no field the parser skipped over) and written as its canonical base64
 * (what ssh-keyscan prints: Node's decoder would also take missing or extra padding and stray low bits in the last
 * character, so a hand-edited key could pass while reading differently from the one checked out of band).
 */
export function hostKeyProblem(hostKey: string): string | undefined {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { utils } = require("ssh2") as typeof import("ssh2");
    const [stated, blob] = hostKey.split(" ");
    const keyscan = `ssh-keyscan -t ${stated.replace(/^ssh-|-sha2-nistp\d+$/g, "")} <host>, checked out of band`;
    const parsed = utils.parseKey(hostKey);
    if (!(parsed instanceof Error)) {
        const key = Array.isArray(parsed) ? parsed[0] : parsed;
        if (key.type !== stated) return `the key inside is ${key.type}, not ${stated}`;
        const own = key.getPublicSSH();
        const decoded = Buffer.from(blob, "base64");
        if (decoded.length > own.length && decoded.subarray(0, own.length).equals(own)) {
            return `holds ${decoded.length - own.length} byte(s) after the ${stated} key itself (the base64 part is longer than the key: ` +
                `two keys run together, or text appended?): copy the node's ${stated} key alone (${keyscan})`;
        }
        if (!decoded.equals(own)) {
            return `is not exactly a ${stated} public key (the base64 part holds fields that are not the key's own): copy the node's ${stated} key (${keyscan})`;
        }
        const canonical = own.toString("base64");
        if (blob !== canonical) {
            return `is not the canonical base64 of the ${stated} key it holds (padding or the last characters differ: ` +
                `ssh-keyscan writes it ending "…${canonical.slice(-8)}", here "…${blob.slice(-8)}"): copy the key exactly as ssh-keyscan prints it`;
        }
        return undefined;
    }
    const types = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"];
    const actual = types.find((t) => t !== stated && !(utils.parseKey(`${t} ${blob}`) instanceof Error));
    return actual
        ? `the key inside is ${actual}, not ${stated}: copy the node's ${stated} key (${keyscan})`
        : `is not a decodable ${stated} public key (the base64 part is truncated or not an SSH key)`;
}

/**
 * A folder on the nodes.  The rollout writes it into shell commands inside double quotes (lib/nodes/rollout.ts), where
 * $, `, " and \ would still be read by the shell: `/opt/$(reboot)` would run on every node.  Only plain path
 * characters are allowed.
 */
const nodeFolder = (what: string) => z.string({ error: `must be an absolute path (${what})` }).regex(/^\/[A-Za-z0-9._+@:,\/-]*$/, {
    error: `must be an absolute path of letters, digits and . _ - + @ : , / (${what}; it is written into the node's shell commands)`,
});

const SERIAL_ERROR = "each batch must be a node count (1, 5) or a percentage of the nodes (\"20%\")";
const serialEntry = z.union([
    z.number({ error: SERIAL_ERROR }).int({ error: SERIAL_ERROR }).min(1, { error: SERIAL_ERROR }),
    z.string({ error: SERIAL_ERROR }).regex(SERIAL_PERCENT, { error: SERIAL_ERROR }),
], { error: SERIAL_ERROR });

/** How a stage's bake is judged (see gateSchema.bakeMode). */
export const BAKE_MODES = ["watch", "window"] as const;
export type BakeMode = typeof BAKE_MODES[number];

const gateSchema = z.object({
    /** Where the gate reaches the speculation service (from the operator's machine or CI runner). */
    serviceUrl: plainUrl().optional(),
    /**
     * Ingress-weight mode: where the gate reaches the canary track (default: the canary Service's in-cluster address);
     * serviceUrl is then the stable track it is compared with.
     */
    canaryUrl: plainUrl().optional(),
    /** Where the gate reaches the proof workers' metrics. */
    proofWorkerUrl: plainUrl().optional(),
    prometheusUrl: plainUrl().optional(),
    /**
     * Alertmanager's base URL.  Every gate checks that no critical alert is firing (seed 000: any critical alert is a
     * rollback): from Prometheus's ALERTS when source is prometheus, otherwise from Alertmanager's API here (or, when
     * this is not set, from prometheusUrl's ALERTS).  A revert that cannot be confirmed pages through it too.
     */
    alertmanagerUrl: plainUrl().optional(),
    /**
     * CUSUM drift detection in every live gate (seed 003), on the error rate and the p95 latency against the stage's
     * pre-shift baseline; an alarm is a no-go (the revert is the kill switch).  Larger k or h: rarer false alarms
     * (longer in-control run length ARL₀) and slower detection (longer ARL₁); see the README.
     */
    cusum: z.object({
        /** Allowance, in standard deviations: drifts smaller than k never accumulate. */
        k: z.number({ error: "must be a number from 0 to 5" }).min(0, { error: "must be at least 0" }).max(5, { error: "must be at most 5" }).default(CUSUM_DEFAULTS.k),
        /** Decision interval: the alarm sounds when the statistic exceeds h. */
        h: z.number({ error: "must be a number above 0, at most 50" }).positive({ error: "must be greater than 0" }).max(50, { error: "must be at most 50" }).default(CUSUM_DEFAULTS.h),
        /** One σ of a sample's p95, relative to the baseline p95 (0.1 = 10 %). */
        latencySigma: z.number({ error: "must be a number above 0, at most 1" }).positive({ error: "must be greater than 0" }).max(1, { error: "must be at most 1" }).default(CUSUM_DEFAULTS.latencySigma),
        enabled: z.boolean({ error: "must be true or false" }).default(true),
    }).strict().prefault({}),
    source: z.enum(METRIC_SOURCES, { error: `must be one of: ${METRIC_SOURCES.join(", ")}` }).default("metrics-endpoint"),
    pollInterval: positiveDuration("time between two samples", { timer: true }).default("1m"),
    /** Extra time past the bake the gate waits for data before it gives up (fail closed). */
    deadlineSlack: positiveDuration("time past the bake window before the gate gives up").default("10m"),
    onFailure: z.enum(GATE_ACTIONS, { error: `must be one of: ${GATE_ACTIONS.join(", ")}` }).default("revert"),
    noData: z.enum(NO_DATA_POLICIES, { error: `must be one of: ${NO_DATA_POLICIES.join(", ")}` }).default("fail"),
    /** Per-metric override of noData (hold = wait for data until the deadline instead of failing at once). */
    noDataByMetric: z.object(Object.fromEntries(GATE_METRICS.map((m) => [m,
        z.enum(NO_DATA_POLICIES, { error: `must be one of: ${NO_DATA_POLICIES.join(", ")}` }).optional()])) as
        Record<typeof GATE_METRICS[number], z.ZodOptional<z.ZodEnum<{ fail: "fail"; hold: "hold" }>>>).strict().default({}),
    /** How long one HTTP read may take before it counts as a timeout (a no-go). */
    timeout: positiveDuration("longest wait for one reading", { timer: true }).default("10s"),
    /** Where decision records are written, relative to the project folder. */
    artifactsDir: z.string().min(1).default("deployment-artifacts/gates"),
    /** How a failing gate's revert retries (lib/revert): until traffic reads off, or this deadline. */
    revert: z.object({
        deadline: positiveDuration("how long a revert keeps retrying before it fails loudly").default("5m"),
        /** The watchdog's revert action (an Alertmanager webhook receiver): the last path a revert tries. */
        watchdogActionUrl: plainUrl().optional(),
    }).strict().prefault({}),
    /**
     * watch: a stage's `pulumi up` runs the live gate for the whole bake (short bakes: local, staging).
     * window: it runs the live entry analysis and returns; the next `up` judges the whole bake window from
     * Prometheus history, and the watchdog guards the stage in between.  Default: window in production, else watch.
     */
    bakeMode: z.enum(BAKE_MODES, { error: `must be one of: ${BAKE_MODES.join(", ")}` }).optional(),
    /** Window mode: how long the live analysis right after a shift runs (same checks, same revert). */
    entryAnalysis: positiveDuration("how long the live entry analysis after a shift runs").default("5m"),
    /** Window mode: the longest stretch of a bake window without a point that is not a gap in the data. */
    maxGap: positiveDuration("longest stretch without data that is not a gap").default("1m"),
}).strict();

export const stackConfigSchema = z.object({
    environment: z.enum(ENVIRONMENTS, { error: `must be one of: ${ENVIRONMENTS.join(", ")}` }),
    namespace: z.string({ error: "must be a Kubernetes namespace name" })
        .regex(/^agenc-[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/, { error: "must be agenc-<env> (lower-case letters, digits, -)" })
        .max(63, { error: "must be at most 63 characters" }).optional(),
    release: z.object({
        version: z.string({ error: "must be a release tag such as v1.2.3" }).regex(VERSION, { error: "must be a release tag such as v1.2.3 (not latest)" }),
        previousVersion: z.string({ error: "must be a release tag such as v1.2.2" }).regex(VERSION, { error: "must be a release tag such as v1.2.2 (not latest)" }),
        images: z.object({
            speculation: imageSchema.prefault({ repository: "ghcr.io/agenc/speculation" }),
            proofWorker: imageSchema.prefault({ repository: "ghcr.io/agenc/proof-worker" }),
        }).strict().prefault({}),
    }, { error: "must be set: { version, previousVersion, images }" }).strict(),
    proofWorkers: z.object({
        replicas: z.number({ error: "must be a whole number from 2 to 64" }).int({ error: "must be a whole number from 2 to 64" })
            .min(2, { error: "must be at least 2 (the seed's minimum)" }).max(64, { error: "must be at most 64" }).default(2),
        resources: resources({ requests: { cpu: "4", memory: "8Gi" }, limits: { cpu: "8", memory: "16Gi" } }),
        /** Readiness GET path (liveness is a TCP check, so a worker that is up but not ready is not restarted). */
        readinessPath: z.string().regex(/^\/[^\s]*$/, { error: "must be an HTTP path such as /health" }).default("/health"),
    }).strict().prefault({}),
    service: z.object({
        replicas: z.number({ error: "must be a whole number from 1 to 20" }).int({ error: "must be a whole number from 1 to 20" })
            .min(1, { error: "must be at least 1" }).max(20, { error: "must be at most 20" }).default(2),
        resources: resources({ requests: { cpu: "1", memory: "2Gi" }, limits: { cpu: "2", memory: "4Gi" } }),
        /** Kill switch: false keeps speculation off whatever the rollout percentage (quick rollback, SPEC §4). */
        speculationEnabled: z.boolean({ error: "must be true or false" }).default(true),
        mode: z.enum(SPECULATION_MODES, { error: `must be one of: ${SPECULATION_MODES.join(", ")}` }).default("conservative"),
        maxDepth: z.number({ error: "must be a whole number from 1 to 8" }).int({ error: "must be a whole number from 1 to 8" })
            .min(1, { error: "must be at least 1" }).max(8, { error: "must be at most 8" }).default(2),
    }).strict().prefault({}),
    /** The target traffic percentage: 0, or one of the canary steps' percentages. Stages up to it are declared. */
    rolloutPercentage: z.number({ error: "must be 0 or one of the canary step percentages" }).int({ error: "must be a whole number" })
        .min(0, { error: "must be from 0 to 100" }).max(100, { error: "must be from 0 to 100" }).default(0),
    canary: z.object({
        shiftMode: z.enum(SHIFT_MODES, { error: `must be one of: ${SHIFT_MODES.join(", ")}` }).default("feature-flag"),
        steps: z.array(canaryStepSchema, { error: "must be a list of { percentage, bake }" })
            .min(1, { error: "must have at least one step" }).max(10, { error: "must have at most 10 steps" })
            .default(DEFAULT_CANARY_STEPS),
        ingress: z.object({
            host: z.string().min(1, { error: "must not be empty" }).default("speculation.agenc.local"),
            className: z.string().min(1, { error: "must not be empty" }).default("nginx"),
            /**
             * skip: the Ingress is done once the API server accepted it (pulumi.com/skipAwait); load-balancer: wait
             * until the controller publishes its address in .status.loadBalancer, at most awaitTimeout.
             */
            await: z.enum(INGRESS_AWAIT_MODES, { error: `must be one of: ${INGRESS_AWAIT_MODES.join(", ")}` }).default("skip"),
            awaitTimeout: positiveDuration("longest wait for the ingress controller to publish an address")
                // It becomes the Ingresses' customTimeouts, which the engine parses as a Go duration: no d unit.
                .refine((t) => !isDuration(t) || !t.includes("d"), {
                    error: "must be written in h, m and s, such as 24h (it is the Ingresses' customTimeouts, which Pulumi reads as a Go duration: no d)",
                }).default("5m"),
            /**
             * The only paths the primary and canary Ingresses route (the service's public API): never `/`, `/admin` or
             * `/metrics`, which stay inside the cluster (lib/ingress/routes.ts).
             */
            publicPaths: z.array(z.object({
                path: z.string({ error: "must be an absolute path such as \"/api\"" }).regex(PUBLIC_PATH_PATTERN, {
                    error: "must be an absolute path of plain segments such as \"/api\" or \"/api/v1\" (not \"/\"; no regex characters, \"//\", \".\" or \"..\": ingress-nginx may read paths as regular expressions)",
                }),
                pathType: z.enum(PUBLIC_PATH_TYPES, { error: `must be one of: ${PUBLIC_PATH_TYPES.join(", ")}` }).default("Prefix"),
            }).strict(), { error: "must be a list of { path, pathType }" })
                .min(1, { error: "must list at least one public path" }).default(DEFAULT_PUBLIC_ROUTES),
        }).strict().prefault({}),
        gate: gateSchema.prefault({}),
        /**
         * The canary judge (lib/judge): in ingress-weight mode, and in blue-green mode with mirroring, the new track
         * is compared with the stable track over the same window.  Margins may only tighten the go/no-go table.
         */
        judge: z.object({
            errorRateMargin: z.number({ error: "must be a number" }).positive({ error: "must be greater than 0" })
                .max(GO_NO_GO.canaryErrorRateMargin, { error: `must not be looser than the go/no-go table (at most ${GO_NO_GO.canaryErrorRateMargin})` })
                .default(GO_NO_GO.canaryErrorRateMargin),
            latencyMargin: z.number({ error: "must be a number" }).positive({ error: "must be greater than 0" })
                .max(GO_NO_GO.canaryLatencyMargin, { error: `must not be looser than the go/no-go table (at most ${GO_NO_GO.canaryLatencyMargin})` })
                .default(GO_NO_GO.canaryLatencyMargin),
            confidence: z.number({ error: "must be a number from 0.8 to 0.999" }).min(0.8, { error: "must be at least 0.8" })
                .max(0.999, { error: "must be at most 0.999" }).default(0.95),
            minRequests: z.number({ error: "must be a whole number" }).int({ error: "must be a whole number" })
                .min(1, { error: "must be at least 1" }).max(NUMBER_LIMITS.maxJudgeMinRequests, { error: `must be at most ${NUMBER_LIMITS.maxJudgeMinRequests}` }).default(GO_NO_GO.canaryMinRequests),
        }).strict().prefault({}),
        /** Blue-green mode (seed 002): green runs the release beside blue and takes the primary Service at 100 %. */
        blueGreen: z.object({
            /** Where the gate and the smoke tests reach green's own Service (default: its in-cluster address). */
            greenUrl: plainUrl().optional(),
            /**
             * Below 100 %: hold (green gets no user traffic; its gate checks it over its own Service) or mirror (the
             * primary Ingress mirrors requests to green, and green is judged against blue).
             */
            lowerSteps: z.enum(BLUE_GREEN_LOWER_STEPS, { error: `must be one of: ${BLUE_GREEN_LOWER_STEPS.join(", ")}` }).default("hold"),
        }).strict().prefault({}),
    }).strict().prefault({}),
    /** Tightens the go/no-go table for every stage (never loosens it). */
    thresholds: stageThresholdOverrides.prefault({}),
    monitoring: z.object({
        mode: z.enum(MONITORING_MODES, { error: `must be one of: ${MONITORING_MODES.join(", ")}` }).default("operator"),
        scrapeInterval: positiveDuration("Prometheus scrape interval").default("15s"),
        /** How long one scrape may take (Prometheus's scrape_timeout; default the smaller of 10s and scrapeInterval). */
        scrapeTimeout: positiveDuration("longest wait for one scrape").optional(),
        evaluationInterval: positiveDuration("Prometheus rule evaluation interval").default("15s"),
        /**
         * The local rehearsal only: replaces every rollback trigger's `for:` so a bake of seconds meets alerts of
         * seconds (the guard's bound is computed with it).  Refused outside environment local.
         */
        rehearsalFor: positiveDuration("the rehearsal's alert for:").optional(),
        /**
         * How long the standalone Prometheus keeps its data (--storage.tsdb.retention.time).  It must hold the longest
         * bake plus RETENTION_MARGIN (the week an operator has to run the next up): the next up judges the whole bake
         * from this history.  Operator mode: the preflight reads the running Prometheus's retention and refuses the same.
         */
        retention: positiveDuration("how long Prometheus keeps its data").default("15d"),
        /** Standalone mode: persistent volumes, so a restarted Prometheus or Alertmanager keeps the evidence. */
        storage: z.object({
            /** The StorageClass of both claims (default: the cluster's default class). */
            storageClassName: z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, { error: "must be a StorageClass name (lower-case letters, digits, - and .)" }).optional(),
            prometheusSize: volumeSize.default("50Gi"),
            alertmanagerSize: volumeSize.default("1Gi"),
        }).strict().prefault({}),
        /** Label kube-prometheus-stack selects PrometheusRules and ServiceMonitors by. */
        prometheusReleaseLabel: z.string().min(1).default("kube-prometheus-stack"),
        /** Label the Grafana dashboard sidecar watches ConfigMaps for. */
        grafanaDashboardLabel: z.string().min(1).default("grafana_dashboard"),
    }).strict().prefault({}),
    /**
     * The watchdog (components/Watchdog.ts): Alertmanager routes every rollback trigger to it and it sets the
     * rollout to 0 % between `pulumi up`s.  A stock Node image pinned by digest runs its script from a ConfigMap.
     */
    watchdog: z.object({
        enabled: z.boolean({ error: "must be true or false" }).default(true),
        image: z.string().regex(/^[^\s@]+@sha256:[0-9a-f]{64}$/, { error: "must be an image pinned by digest (repository@sha256:<64 hex>)" })
            .default("docker.io/library/node:22-alpine@sha256:8094c002d08262dba12645a3b4a15cd6cd627d30bc782f53229a2ec13ee22a00"),
        replicas: z.number({ error: "must be a whole number from 1 to 5" }).int({ error: "must be a whole number from 1 to 5" })
            .min(1, { error: "must be from 1 to 5" }).max(5, { error: "must be from 1 to 5" }).default(2),
        /** How long one revert or kill switch keeps trying before it fails loudly. */
        revertDeadline: durationAtLeast("how long one revert keeps trying", WATCHDOG_MIN_REVERT_DEADLINE_SECONDS,
            "the watchdog (lib/watchdog/main.ts) exits at start on a shorter REVERT_DEADLINE_SECONDS, and its pods would crash-loop").default("2m"),
        /** Sentinel probes after 100 % and the kill switch they pull (config/sentinel.ts). */
        sentinel: sentinelSchema,
        /**
         * How often the watchdog reads the firing triggers from Prometheus itself (default: monitoring.evaluationInterval),
         * so a trigger that fires again is acted on whatever Alertmanager's grouping state.
         */
        pollInterval: positiveDuration("time between two reads of the firing triggers", { timer: true }).optional(),
        /**
         * Where the watchdog reads them, inside the cluster (default: the standalone Prometheus, else
         * canary.gate.prometheusUrl; operator mode without canary.gate.prometheusUrl: required).
         */
        prometheusUrl: plainUrl().optional(),
        /** One request's timeout in an action's first attempt; it doubles with every attempt up to adminApiTimeout. */
        attemptTimeout: positiveDuration("one request's timeout in the first attempt", { timer: true }).default("2s"),
        /** The longest an admin API answer may take and still count: the attempts' timeouts grow to it (the bound assumes it). */
        adminApiTimeout: positiveDuration("the longest an admin API answer may take", { timer: true }).default("10s"),
        /**
         * The longest worst case from a rollback condition to 0 % confirmed this stack accepts (the guard's bound,
         * lib/guard/bound.ts).  Production refuses a bound above it at config load; the policy pack's guard-bound
         * reports a bound above it anywhere, and a limit above the pack's own maxGuardBoundSeconds.
         */
        maxGuardBound: positiveDuration("the longest guard bound the stack accepts").default(formatDuration(GUARD_BOUND_LIMIT_SECONDS)),
    }).strict().prefault({}),
    nodes: z.object({
        hosts: z.array(nodeSchema, { error: "must be a list of { name, host, port, user, hostKey }" }).default([]),
        serial: z.array(serialEntry, { error: "must be a list of batch sizes such as [1, 5, \"20%\"]" })
            .min(1, { error: "must have at least one batch size" }).default([1]),
        maxFailPercentage: z.number({ error: "must be a number from 0 to 50" }).min(0, { error: "must be from 0 to 50" })
            .max(50, { error: "must be from 0 to 50" }).default(0),
        /** How many nodes of a batch are worked on at once (Ansible's `forks`). */
        forks: z.number({ error: "must be a whole number from 1 to 200" }).int({ error: "must be a whole number from 1 to 200" })
            .min(1, { error: "must be from 1 to 200" }).max(200, { error: "must be from 1 to 200" }).default(5),
        binary: localPath("the binary to roll out").optional(),
        configFile: localPath("the config file to roll out").optional(),
        installPath: nodeFolder("the install folder").default("/opt/alys"),
        backupPath: nodeFolder("the backups, the rollout's state and its lock").default("/var/backups/alys/rollback"),
        serviceName: z.string().regex(SYSTEMD_UNIT, { error: "must be a systemd unit name: letters, digits and @ . _ -, not starting with - or . (it is an argument of systemctl on the node)" }).default("alys"),
        restartCommand: shellCommand("run on the node to restart the service").optional(),
        healthCommand: shellCommand("run on the node to check the service").default("curl -sf http://localhost:8545/health"),
        versionCommand: shellCommand("run on the node to print the running version").optional(),
        healthRetries: z.number().int().min(1, { error: "must be at least 1" }).max(600, { error: "must be at most 600" }).default(30),
        healthInterval: positiveDuration("time between two health polls").default("2s"),
        firstNodeGrace: duration("wait after restarting the first node").default("60s"),
        nodeGrace: duration("wait after restarting later nodes").default("30s"),
        pauseBetweenNodes: duration("pause before the next node", { timer: true }).default("60s"),
        minFreeDiskGb: z.number().min(0, { error: "must be 0 or more" })
            .max(NUMBER_LIMITS.maxFreeDiskGb, { error: `must be at most ${NUMBER_LIMITS.maxFreeDiskGb} (100 TB on one node)` }).default(50),
        /** Proves the service exists before anything is touched (default: systemctl cat <serviceName>). */
        serviceCheckCommand: shellCommand("run on the node to prove the service exists").optional(),
        /** Who the deployment record names (default: lib/records/operator.ts — GITHUB_ACTOR in GitHub Actions, else `whoami`). */
        operator: z.string().regex(OPERATOR_NAME, { error: "must be a user or CI actor name: letters, digits and . _ @ + [ ] - or space, not starting with - (at most 100)" }).optional(),
        /** Health gate between batches: the canary gate's checks (canary.gate settings) must stay green for `bake`. */
        batchGate: z.object({
            enabled: z.boolean({ error: "must be true or false" }).default(false),
            bake: positiveDuration("how long the service must stay green between two batches").default("5m"),
        }).strict().prefault({}),
        /** Where the resumable journal and the deployment log are kept, relative to the project folder. */
        artifactsDir: z.string().min(1).default("deployment-artifacts/nodes"),
        /**
         * Failed restores the operator fixed by hand, each `<node>@<stamp>` as the refused rollout's error prints it:
         * a node whose last restore failed is refused by every new rollout until exactly that failure is named here.
         */
        clearRestoreFailed: z.array(z.string().regex(/^[^@\s]+@\d{14}$/, {
            error: "each entry must be <node>@<stamp> of the failed rollout (such as \"alys-2@20261128224012\"), as the refused rollout prints it",
        }), { error: "must be a list of \"<node>@<stamp>\" entries" }).default([]),
    }).strict().prefault({}),
    bench: z.object({
        enabled: z.boolean({ error: "must be true or false" }).default(false),
        command: shellCommand("the bench, run by sh -c").optional(),
        minThroughputPerSecond: z.number({ error: "must be a number" }).positive({ error: "must be greater than 0" })
            .max(NUMBER_LIMITS.benchMaxThroughputFloor, { error: `must be at most ${NUMBER_LIMITS.benchMaxThroughputFloor} (a floor no bench reaches is a typo)` })
            .default(GO_NO_GO.benchMinThroughputPerSecond),
        maxP95BaselineMultiple: z.number({ error: "must be a number" }).min(1, { error: "must be at least 1" })
            .max(GO_NO_GO.benchMaxP95BaselineMultiple, { error: `must not be looser than ${GO_NO_GO.benchMaxP95BaselineMultiple}` })
            .default(GO_NO_GO.benchMaxP95BaselineMultiple),
        maxTailRatio: z.number({ error: "must be a number" }).min(1, { error: "must be at least 1" })
            .max(GO_NO_GO.maxTailRatio, { error: `must not be looser than ${GO_NO_GO.maxTailRatio}` })
            .default(GO_NO_GO.maxTailRatio),
        extraGates: z.array(z.object({
            metric: z.enum(BENCH_METRICS, { error: `must be one of: ${BENCH_METRICS.join(", ")}` }),
            comparator: z.enum(COMPARATORS, { error: `must be one of: ${COMPARATORS.join(", ")}` }),
            value: z.number({ error: "must be a number" }),
        }).strict().superRefine((gate, ctx) => {
            // error_rate is a ratio (0..1); the latencies (ms) and the throughput (per second) are non-negative and finite.
            const max = gate.metric === "error_rate" ? 1 : NUMBER_LIMITS.maxBenchGateValue;
            if (!(gate.value >= 0 && gate.value <= max)) {
                ctx.addIssue({ code: "custom", path: ["value"], message: `must be from 0 to ${max} for ${gate.metric}${gate.metric === "error_rate" ? " (a ratio: 0.01 is 1 %)" : ""}` });
            }
        })).default([]),
        /**
         * How many times the bench command runs, one after another; every gate is judged on the median of the
         * repeats, so one run disturbed by a busy machine neither fails nor passes the release on its own.
         */
        repeats: z.number({ error: "must be a whole number from 1 to 10" }).int({ error: "must be a whole number from 1 to 10" })
            .min(1, { error: "must be a whole number from 1 to 10" }).max(10, { error: "must be a whole number from 1 to 10" }).default(3),
        /**
         * The widest spread of the repeats, (max − min) / median of a gate's metric, that still lets the median decide
         * the gate; wider, and a gate the repeats disagree on is inconclusive: the stage holds, nothing is called a
         * regression and no baseline is accepted.  0.25: more than twice the p95 gate's 10 % margin (1.10 × baseline),
         * so a tight run still FAILs a real regression, while the spread a loaded machine gives is far wider (at load
         * 11 on a 2-core machine the shipped bench's p95 ran 80 then 167 ms, p99/p95 2.17 then 1.36: ranges above 0.6).
         */
        maxSpread: z.number({ error: "must be a number greater than 0 and at most 1" }).positive({ error: "must be greater than 0 and at most 1" })
            .max(1, { error: "must be greater than 0 and at most 1" }).default(0.25),
        resultsDir: z.string().min(1).default("deployment-artifacts/benchmarks"),
        /** Run the bench command on this node (a name from nodes.hosts) over SSH instead of locally. */
        onNode: z.string().regex(DNS_LABEL, { error: "must be a node name from nodes.hosts (a DNS label)" }).optional(),
        /** The bench command is killed (a no-go) after this long. */
        timeout: positiveDuration("longest a bench run may take", { timer: true }).default("30m"),
    }).strict().prefault({}),
    hardening: hardeningSchema.prefault({}),
    /** The runbook around a release (config/runbook.ts). */
    preflight: preflightSchema,
    smoke: smokeSchema,
    verify: verifySchema,
    records: recordsSchema,
    rollback: rollbackSchema,
    /** The SLO and its error budget (config/slo.ts, docs/slo.md). */
    slo: sloSchema,
    /** Signed releases (config/signing.ts, docs/signing.md). */
    signing: signingSchema,
    kubernetes: z.object({
        /**
         * false: this stack deploys no Kubernetes objects and drives a service that runs elsewhere (the local stack
         * against the reference workloads): only the canary stages, gates, bench and node rollout.
         */
        enabled: z.boolean({ error: "must be true or false" }).default(true),
        /** Write manifests to this folder instead of applying them to a cluster. */
        renderYamlToDirectory: z.string().min(1).optional(),
        /**
         * The Pod Security level the namespace enforces (label pod-security.kubernetes.io/enforce); it always warns
         * and audits at `restricted`.  Every workload of this stack is built to pass `restricted`.
         */
        podSecurity: z.enum(POD_SECURITY_LEVELS, { error: `must be one of: ${POD_SECURITY_LEVELS.join(", ")}` }).default("restricted"),
    }).strict().prefault({}),
}).strict();

export type StackConfigInput = z.input<typeof stackConfigSchema>;
export type StackConfig = z.output<typeof stackConfigSchema>;

/** The bake mode in force: the configured one, else window in production and watch elsewhere. */
export function bakeModeOf(c: Pick<StackConfig, "environment" | "canary">): BakeMode {
    return c.canary.gate.bakeMode ?? (c.environment === "production" ? "window" : "watch");
}
export type CanaryStep = StackConfig["canary"]["steps"][number];
export type NodeHost = StackConfig["nodes"]["hosts"][number];

export interface ConfigProblem {
    path: (string | number)[];
    message: string;
}

/**
 * Rules that span several keys.  They run on whichever top-level keys parsed on their own, so one bad key does
 * not hide the cross-key problems of the others (the operator gets every problem in one run).
 */
export function crossFieldProblems(cfg: Partial<StackConfig>): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const ctx = { addIssue: (p: { code: "custom"; path: (string | number)[]; message: string }) => problems.push({ path: p.path, message: p.message }) };

    const steps = cfg.canary?.steps ?? [];
    steps.forEach((step, i) => {
        if (i > 0 && step.percentage <= steps[i - 1].percentage) {
            ctx.addIssue({
                code: "custom", path: ["canary", "steps", i, "percentage"],
                message: `must be greater than the previous step (${steps[i - 1].percentage})`,
            });
        }
    });
    if (steps.length > 0 && steps[steps.length - 1].percentage !== 100) {
        ctx.addIssue({ code: "custom", path: ["canary", "steps", steps.length - 1, "percentage"], message: "the last step must be 100" });
    }
    if (steps.length > 0 && steps[0].percentage > GO_NO_GO.maxFirstStepPercentage) {
        ctx.addIssue({
            code: "custom", path: ["canary", "steps", 0, "percentage"],
            message: `the first step must carry at most ${GO_NO_GO.maxFirstStepPercentage} % of traffic`,
        });
    }
    const allowed = [0, ...steps.map((s) => s.percentage)];
    if (cfg.rolloutPercentage !== undefined && cfg.canary && !allowed.includes(cfg.rolloutPercentage)) {
        ctx.addIssue({
            code: "custom", path: ["rolloutPercentage"],
            message: `must be 0 or one of the canary step percentages (${allowed.join(", ")})`,
        });
    }
    if (cfg.service && !cfg.service.speculationEnabled && (cfg.rolloutPercentage ?? 0) > 0) {
        ctx.addIssue({
            code: "custom", path: ["rolloutPercentage"],
            message: "must be 0 while service.speculationEnabled is false",
        });
    }
    if (cfg.release && cfg.release.version === cfg.release.previousVersion) {
        ctx.addIssue({ code: "custom", path: ["release", "previousVersion"], message: `must differ from release.version (${cfg.release.version})` });
    }
    if (cfg.environment === "production" && cfg.release) {
        for (const image of ["speculation", "proofWorker"] as const) {
            if (!cfg.release.images[image].digest) {
                ctx.addIssue({
                    code: "custom", path: ["release", "images", image, "digest"],
                    message: "is required in production (sha256:<64 hex digits>)",
                });
            }
        }
    }
    if (cfg.environment === "production" && cfg.service && cfg.service.replicas < 2) {
        ctx.addIssue({
            code: "custom", path: ["service", "replicas"],
            message: "must be at least 2 in production (with one pod its PodDisruptionBudget cannot keep the service up through a node drain)",
        });
    }
    if (cfg.environment === "production" && cfg.hardening) {
        for (const part of ["networkPolicies", "topologySpread"] as const) {
            if (!cfg.hardening[part].enabled) {
                ctx.addIssue({ code: "custom", path: ["hardening", part, "enabled"], message: "must be true in production" });
            }
        }
    }
    if (cfg.environment === "production" && cfg.release && cfg.canary && cfg.canary.shiftMode !== "feature-flag" &&
        !cfg.release.images.speculation.previousDigest) {
        ctx.addIssue({
            code: "custom", path: ["release", "images", "speculation", "previousDigest"],
            message: `is required in production in ${cfg.canary.shiftMode} mode: the stable track runs release.previousVersion pinned by its own digest`,
        });
    }
    if (cfg.namespace !== undefined && cfg.environment !== undefined && cfg.namespace !== `agenc-${cfg.environment}`) {
        ctx.addIssue({ code: "custom", path: ["namespace"], message: `must be agenc-${cfg.environment} for environment ${cfg.environment}` });
    }
    const names = new Set<string>();
    const endpoints = new Set<string>();
    (cfg.nodes?.hosts ?? []).forEach((node, i) => {
        if (names.has(node.name)) {
            ctx.addIssue({ code: "custom", path: ["nodes", "hosts", i, "name"], message: `duplicates an earlier node name (${node.name})` });
        }
        const endpoint = `${node.host}:${node.port}`;
        if (endpoints.has(endpoint)) {
            ctx.addIssue({ code: "custom", path: ["nodes", "hosts", i, "host"], message: `duplicates an earlier node address (${endpoint})` });
        }
        names.add(node.name);
        endpoints.add(endpoint);
    });
    const seenPaths = new Set<string>();
    (cfg.canary?.ingress?.publicPaths ?? []).forEach((route, i) => {
        const reached = privatePathReached(route.path, route.pathType);
        if (reached) {
            ctx.addIssue({
                code: "custom", path: ["canary", "ingress", "publicPaths", i, "path"],
                message: `routes ${reached} of the speculation service to the public; ${PRIVATE_PATHS.join(" and ")} stay inside the cluster (list only the service's public API paths, such as "/api")`,
            });
        }
        const key = `${route.pathType} ${route.path.toLowerCase()}`;
        if (seenPaths.has(key)) ctx.addIssue({ code: "custom", path: ["canary", "ingress", "publicPaths", i, "path"], message: `duplicates an earlier entry (${route.path}, ${route.pathType})` });
        seenPaths.add(key);
    });
    (cfg.nodes?.clearRestoreFailed ?? []).forEach((ack, i) => {
        const node = ack.slice(0, ack.lastIndexOf("@"));
        if (cfg.nodes && !cfg.nodes.hosts.some((h) => h.name === node)) {
            ctx.addIssue({
                code: "custom", path: ["nodes", "clearRestoreFailed", i],
                message: `names ${node}, which is not in nodes.hosts (${cfg.nodes.hosts.map((h) => h.name).join(", ") || "none declared"})`,
            });
        }
    });
    problems.push(...nodeFolderProblems(cfg), ...nodeCommandBudgetProblems(cfg));
    if (cfg.nodes && cfg.nodes.hosts.length > 0 && !cfg.nodes.binary) {
        ctx.addIssue({ code: "custom", path: ["nodes", "binary"], message: "must name the local path of the binary to roll out when nodes.hosts is set" });
    }
    if (cfg.bench?.onNode !== undefined && cfg.nodes && !cfg.nodes.hosts.some((h) => h.name === cfg.bench!.onNode)) {
        ctx.addIssue({
            code: "custom", path: ["bench", "onNode"],
            message: `must be one of the nodes in nodes.hosts (${cfg.nodes.hosts.map((h) => h.name).join(", ") || "none declared"})`,
        });
    }
    if (cfg.bench?.enabled && !cfg.bench.command) {
        ctx.addIssue({ code: "custom", path: ["bench", "command"], message: "must be set when bench.enabled is true" });
    }
    if (cfg.kubernetes && !cfg.kubernetes.enabled) {
        if (cfg.canary && !cfg.canary.gate.serviceUrl) {
            ctx.addIssue({ code: "custom", path: ["canary", "gate", "serviceUrl"], message: "must be set when kubernetes.enabled is false (the program deploys no service)" });
        }
        if (cfg.canary && cfg.canary.shiftMode === "ingress-weight" && !cfg.canary.gate.canaryUrl) {
            // Nothing is deployed: the weight is set by whoever runs the ingress; the gates judge the two URLs given.
            ctx.addIssue({ code: "custom", path: ["canary", "gate", "canaryUrl"], message: "must be set in ingress-weight mode when kubernetes.enabled is false (the program deploys no canary)" });
        }
        if (cfg.canary && cfg.canary.shiftMode === "blue-green") {
            ctx.addIssue({ code: "custom", path: ["canary", "shiftMode"], message: "must be feature-flag or ingress-weight when kubernetes.enabled is false (blue-green switches a Service's selector)" });
        }
        if (cfg.environment === "production") {
            ctx.addIssue({ code: "custom", path: ["kubernetes", "enabled"], message: "must be true in production" });
        }
    }
    problems.push(...thresholdOrderProblems(cfg), ...productionProblems(cfg), ...runbookProblems(cfg), ...guardProblems(cfg), ...semanticProblems(cfg), ...sloProblems(cfg));
    const canary = cfg.canary;
    if (!canary) return problems;
    if (!canary.gate.prometheusUrl && !canary.gate.alertmanagerUrl) {
        ctx.addIssue({
            code: "custom", path: ["canary", "gate", "alertmanagerUrl"],
            message: "must be set (or canary.gate.prometheusUrl): every gate checks that no critical alert is firing (seed 000: any critical alert is a rollback)",
        });
    }
    if (canary.gate.source === "prometheus" && !canary.gate.prometheusUrl) {
        ctx.addIssue({ code: "custom", path: ["canary", "gate", "prometheusUrl"], message: "must be set when canary.gate.source is prometheus" });
    }
    const pollSeconds = parseDuration(canary.gate.pollInterval);
    const bakeMode = canary.gate.bakeMode ?? (cfg.environment === "production" ? "window" : "watch");
    if (bakeMode === "window") {
        if (!canary.gate.prometheusUrl) {
            ctx.addIssue({ code: "custom", path: ["canary", "gate", "prometheusUrl"], message: "must be set when canary.gate.bakeMode is window (the bake window is judged from Prometheus history)" });
        }
        if (parseDuration(canary.gate.entryAnalysis) < pollSeconds) {
            ctx.addIssue({ code: "custom", path: ["canary", "gate", "entryAnalysis"], message: `must be at least one poll interval (${canary.gate.pollInterval})` });
        }
    }
    steps.forEach((step, i) => {
        if (parseDuration(step.bake) < pollSeconds) {
            ctx.addIssue({
                code: "custom", path: ["canary", "steps", i, "bake"],
                message: `must be at least one poll interval (${canary.gate.pollInterval})`,
            });
        }
    });
    return problems;
}

/** A POSIX absolute path as the node's shell reaches it: `.`, `..`, `//` and a trailing slash resolved (symlinks are not). */
function normalisedFolder(p: string): string {
    const n = posix.normalize(p);
    return n.length > 1 ? n.replace(/\/+$/, "") : n;
}

/** `inner` is `outer` or below it (element-wise: /opt/alys-backup is not below /opt/alys). */
function within(inner: string, outer: string): boolean {
    return inner === outer || outer === "/" || inner.startsWith(`${outer}/`);
}

/**
 * The node rollout backs the install folder up with `cp -a <installPath>/. <backupPath>/<service>-<stamp>.partial/`:
 * a backupPath equal to or inside installPath copies the folder into itself (and each backup carries the earlier
 * ones); an installPath inside backupPath puts the installation among the backups, the rollout's state file and its
 * lock.  Either is refused, both keys named.
 */
function nodeFolderProblems(cfg: Partial<StackConfig>): ConfigProblem[] {
    if (!cfg.nodes) return [];
    const install = normalisedFolder(cfg.nodes.installPath);
    const backup = normalisedFolder(cfg.nodes.backupPath);
    const fix = "keep each folder outside the other (the defaults: /opt/alys and /var/backups/alys/rollback)";
    if (install === backup) {
        return [{ path: ["nodes", "backupPath"], message: `must not be nodes.installPath (both are ${install}): the backup would copy the install folder into itself; ${fix}` }];
    }
    if (within(backup, install)) {
        return [{ path: ["nodes", "backupPath"], message: `must not be inside nodes.installPath (${backup} is inside ${install}): the backup would copy the install folder into itself; ${fix}` }];
    }
    if (within(install, backup)) {
        return [{ path: ["nodes", "installPath"], message: `must not be inside nodes.backupPath (${install} is inside ${backup}): the installation would sit among the backups, the rollout's state and its lock; ${fix}` }];
    }
    return [];
}

/**
 * The node rollout runs restart → grace → health poll as one command on the node, bounded by one Node timer of
 * (grace + healthRetries × (healthInterval + 30 s)) + 120 s (lib/nodes/rollout.ts healthBudgetMs).  Past 2^31 − 1 ms
 * that timer fires at once and every node fails its restart step, so the sum is refused above TIMER_MAX_SECONDS.
 */
function nodeCommandBudgetProblems(cfg: Partial<StackConfig>): ConfigProblem[] {
    const n = cfg.nodes;
    if (!n) return [];
    const grace = Math.max(parseDuration(n.firstNodeGrace), parseDuration(n.nodeGrace));
    const budget = grace + n.healthRetries * (parseDuration(n.healthInterval) + 30) + 120;
    if (budget <= TIMER_MAX_SECONDS) return [];
    return [{
        path: ["nodes"],
        message: `a node's restart step may take ${formatDuration(budget)} (the longer grace + healthRetries × (healthInterval + 30s) + 2m), ` +
            `more than ${formatDuration(TIMER_MAX_SECONDS)}, the longest a Node timer waits: lower nodes.healthRetries, nodes.healthInterval, nodes.firstNodeGrace or nodes.nodeGrace`,
    }];
}

/** Each promote threshold and the abort threshold of the same metric: the abort may never be below the promote. */
export const PROMOTE_ABORT_PAIRS = [
    ["maxRollbackRate", "abortRollbackRate"], ["maxErrorRate", "abortErrorRate"], ["maxP99LatencySeconds", "abortP99LatencySeconds"],
] as const;

/**
 * An abort threshold below its promote threshold (abort rollback rate 0.03 with promote 0.05) would abort a stage
 * that is within its promote limit, and leave no hold band: refused where it is set, on the stack's thresholds and on
 * each step's (merged as the gates merge them: the tighter value wins).
 */
function thresholdOrderProblems(cfg: Partial<StackConfig>): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const stack = cfg.thresholds ?? {};
    const levels: { path: (string | number)[]; own: Partial<StageThresholds>; sources: Partial<StageThresholds>[] }[] = [
        { path: ["thresholds"], own: stack, sources: [stack] },
        ...(cfg.canary?.steps ?? []).map((step, i) => ({ path: ["canary", "steps", i, "thresholds"], own: step.thresholds ?? {}, sources: [stack, step.thresholds ?? {}] })),
    ];
    for (const level of levels) {
        const merged: StageThresholds = { ...DEFAULT_STAGE_THRESHOLDS };
        for (const source of level.sources) {
            for (const key of STAGE_THRESHOLD_KEYS) if (source[key] !== undefined) merged[key] = Math.min(merged[key], source[key]!);
        }
        for (const [promote, abort] of PROMOTE_ABORT_PAIRS) {
            if (merged[abort] >= merged[promote]) continue;
            if (level.own[abort] !== undefined) {
                problems.push({ path: [...level.path, abort], message: `must be at least the promote threshold ${promote} (${merged[promote]}): an abort below it aborts a stage that is within its promote limit` });
            } else if (level.own[promote] !== undefined) {
                problems.push({ path: [...level.path, promote], message: `must be at most the abort threshold ${abort} (${merged[abort]})` });
            }
        }
    }
    return problems;
}

/**
 * The guard between `up`s (lib/guard): what keeps a stage safe while no Pulumi process runs.
 *   - intervals and timeouts that relate: a scrape timeout within its interval, a first attempt within the admin
 *     API's timeout, a watchdog deadline that covers the whole attempt schedule;
 *   - the rehearsal's `for:` only in environment local;
 *   - Prometheus's retention holds the longest bake plus RETENTION_MARGIN_SECONDS;
 *   - production's floor (window mode: the only guard between `up`s is the watchdog): the watchdog, its sentinels,
 *     CUSUM (or the canary judge where it replaces CUSUM) and onFailure revert.  Staging may relax the floor (the
 *     policy pack says so, advisory).  The computed bound itself is checked by lib/guard/plan.ts (it needs the rules).
 */
function guardProblems(cfg: Partial<StackConfig>): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const m = cfg.monitoring;
    const w = cfg.watchdog;
    if (m && isDuration(m.scrapeInterval) && m.scrapeTimeout && isDuration(m.scrapeTimeout) && parseDuration(m.scrapeTimeout) > parseDuration(m.scrapeInterval)) {
        problems.push({ path: ["monitoring", "scrapeTimeout"], message: `must be at most monitoring.scrapeInterval (${m.scrapeInterval}): Prometheus refuses a longer one` });
    }
    if (m?.rehearsalFor && cfg.environment !== "local") {
        problems.push({ path: ["monitoring", "rehearsalFor"], message: "is only allowed in environment local (a deployed stack's alerts keep the seeds' for: durations)" });
    }
    if (w && isDuration(w.attemptTimeout) && isDuration(w.adminApiTimeout) && parseDuration(w.attemptTimeout) > parseDuration(w.adminApiTimeout)) {
        problems.push({ path: ["watchdog", "attemptTimeout"], message: `must be at most watchdog.adminApiTimeout (${w.adminApiTimeout}): the attempts' timeouts grow from it to that` });
    }
    const steps = cfg.canary?.steps ?? [];
    const required = requiredRetentionSeconds(steps);
    const longestBake = required - RETENTION_MARGIN_SECONDS;
    if (m && isDuration(m.retention) && required > 0 && parseDuration(m.retention) < required) {
        problems.push({
            path: ["monitoring", "retention"],
            message: `must be at least ${formatDuration(required)}: the longest bake (${formatDuration(longestBake)}) plus ${formatDuration(RETENTION_MARGIN_SECONDS)} for the next up to judge it from Prometheus history`,
        });
    }
    // The bound counts on the watchdog reading the firing triggers from Prometheus itself (a re-fired trigger is
    // "already notified" for Alertmanager until repeat_interval): a watchdog that runs has a Prometheus to read.
    if (w?.enabled && cfg.kubernetes?.enabled !== false && cfg.monitoring && cfg.canary && watchdogPrometheusUrl(cfg as StackConfig, "") === undefined) {
        problems.push({
            path: ["watchdog", "prometheusUrl"],
            message: "must be set when the watchdog runs with monitoring.mode operator and no canary.gate.prometheusUrl (the in-cluster URL of " +
                "kube-prometheus-stack's Prometheus): the watchdog reads the firing triggers from Prometheus every watchdog.pollInterval, and without " +
                "that read a trigger that fires again soon after a revert waits for Alertmanager's repeat_interval, outside the guard's bound",
        });
    }
    if (cfg.environment !== "production") return problems;
    // A watchdog that runs in production survives a drain and a node: two replicas or more get a PodDisruptionBudget
    // and a topology spread (components/Watchdog.ts); one gets neither, and it is the only revert path between ups.
    if (w?.enabled && w.replicas < 2) {
        problems.push({
            path: ["watchdog", "replicas"],
            message: `must be from 2 to 5 in production (is ${w.replicas}): one replica has no PodDisruptionBudget and no spread over nodes, so a drain or a node failure leaves no revert path between ups (policy guard-floor)`,
        });
    }
    if (!cfg.canary) return problems;
    const bakeMode = cfg.canary.gate.bakeMode ?? "window";
    if (bakeMode === "window") {
        const floor = "in production with canary.gate.bakeMode window (between ups the watchdog is the only guard)";
        if (w && !w.enabled) problems.push({ path: ["watchdog", "enabled"], message: `must be true ${floor}` });
        if (w && !w.sentinel.enabled) problems.push({ path: ["watchdog", "sentinel", "enabled"], message: `must be true ${floor}: after 100 % only the sentinels probe the release` });
        if (!cfg.canary.gate.cusum.enabled && !judgeReplacesCusum(cfg as StackConfig)) {
            problems.push({ path: ["canary", "gate", "cusum", "enabled"], message: `must be true ${floor}, unless a two-track shift mode (ingress-weight, or blue-green with lowerSteps mirror) has the canary judge replace it` });
        }
        if (cfg.canary.gate.onFailure !== "revert") problems.push({ path: ["canary", "gate", "onFailure"], message: `must be revert ${floor}: fail leaves traffic on a failed canary` });
        // The relative error-rate trigger (SpeculationErrorRateSpike) compares with the stage's own pre-shift baseline,
        // which each stage's ErrorBaseline pushes to the Pushgateway; with none it has only its 0.1 % floor.
        if (cfg.records && !cfg.records.pushgatewayUrl) {
            problems.push({ path: ["records", "pushgatewayUrl"], message: `must be set ${floor}: SpeculationErrorRateSpike compares each stage with its own pre-shift error baseline, which the stage pushes there (without it the trigger falls back to its 0.1 % floor), and the dashboard's releases and reverts are read from it` });
        }
    }
    return problems;
}

/**
 * Where the watchdog reads the firing triggers itself (lib/watchdog/main.ts PROMETHEUS_URL): `watchdog.prometheusUrl`,
 * else the stack's own standalone Prometheus, else the one the gates read (`canary.gate.prometheusUrl`); undefined
 * when there is none, which the config refuses for a watchdog that runs (guardProblems).
 */
export function watchdogPrometheusUrl(cfg: Pick<StackConfig, "watchdog" | "monitoring" | "canary">, namespace: string): string | undefined {
    return cfg.watchdog.prometheusUrl
        ?? (cfg.monitoring.mode === "standalone" ? `http://prometheus.${namespace}.svc.cluster.local:9090` : cfg.canary.gate.prometheusUrl);
}

/** Two tracks judged against each other: the canary judge replaces CUSUM's drift against the pre-shift baseline. */
export function judgeReplacesCusum(cfg: StackConfig): boolean {
    return cfg.canary.shiftMode === "ingress-weight" || (cfg.canary.shiftMode === "blue-green" && cfg.canary.blueGreen.lowerSteps === "mirror");
}

/** Production's own rules (PRODUCTION_RULES), refused here first; the policy pack checks them again. */
function productionProblems(cfg: Partial<StackConfig>): ConfigProblem[] {
    if (cfg.environment !== "production") return [];
    const problems: ConfigProblem[] = [];
    const rules = PRODUCTION_RULES;
    if (cfg.proofWorkers && cfg.proofWorkers.replicas < rules.minProofWorkerReplicas) {
        problems.push({ path: ["proofWorkers", "replicas"], message: `must be at least ${rules.minProofWorkerReplicas} in production (policy proof-workers-min-replicas)` });
    }
    (cfg.canary?.steps ?? []).forEach((step, i) => {
        if (isDuration(step.bake) && parseDuration(step.bake) < rules.minBakeSeconds) {
            problems.push({ path: ["canary", "steps", i, "bake"], message: `must be at least ${formatDuration(rules.minBakeSeconds)} in production (policy gate-thresholds)` });
        }
    });
    if (rules.requireBench && cfg.bench && !cfg.bench.enabled) {
        problems.push({ path: ["bench", "enabled"], message: "must be true in production: a final bench runs before stage 1 (policy every-stage-gated)" });
    }
    if (rules.requireHardSpread && cfg.hardening && cfg.hardening.topologySpread.enabled && cfg.hardening.topologySpread.whenUnsatisfiable !== "DoNotSchedule") {
        problems.push({ path: ["hardening", "topologySpread", "whenUnsatisfiable"], message: "must be DoNotSchedule in production (policy topology-spread)" });
    }
    if (cfg.nodes && cfg.nodes.maxFailPercentage > rules.maxFailPercentage) {
        problems.push({ path: ["nodes", "maxFailPercentage"], message: `must be ${rules.maxFailPercentage} in production (policy node-rollout-limits)` });
    }
    return problems;
}

/** Cross-key rules of the runbook keys (config/runbook.ts). */
function runbookProblems(cfg: Partial<StackConfig>): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    const p = cfg.preflight;
    if (p?.chainRpcUrl && !p.stakePoolAddress) {
        problems.push({ path: ["preflight", "stakePoolAddress"], message: "must be set when preflight.chainRpcUrl is set (the stake pool whose balance is checked)" });
    }
    if (cfg.environment === "production" && p) {
        if (!p.chainRpcUrl) problems.push({ path: ["preflight", "chainRpcUrl"], message: "is required in production (seed 000: chain connectivity before a release)" });
        if (p.minStakeSol < GO_NO_GO.minStakePoolSol) problems.push({ path: ["preflight", "minStakeSol"], message: `must be at least ${GO_NO_GO.minStakePoolSol} in production` });
    }
    // A rollback implies a 0 % target and speculation disabled (program.ts applies both): one config edit.
    const r = cfg.rollback;
    if (r && r.mode === "none" && r.lastKnownGood !== undefined) {
        problems.push({ path: ["rollback", "lastKnownGood"], message: "only applies with rollback.mode emergency" });
    }
    if (r && parseDuration(r.drainTimeout) < parseDuration(r.drainPollInterval)) {
        problems.push({ path: ["rollback", "drainTimeout"], message: `must be at least rollback.drainPollInterval (${r.drainPollInterval}): a shorter drain reads the pending operations once and gives up` });
    }
    // In production images are pinned by digest: a rollback needs the digest of the version it goes back to.
    if (r && r.mode !== "none" && cfg.environment === "production" && cfg.release) {
        if (r.lastKnownGood !== undefined && r.lastKnownGood !== cfg.release.previousVersion) {
            problems.push({ path: ["rollback", "lastKnownGood"], message: `must be release.previousVersion (${cfg.release.previousVersion}) in production, whose images are pinned by previousDigest; set release.previousVersion to ${r.lastKnownGood} and its digests instead` });
        }
        for (const image of ["speculation", "proofWorker"] as const) {
            if (!cfg.release.images[image].previousDigest) {
                problems.push({ path: ["release", "images", image, "previousDigest"], message: `is required in production for a ${r.mode} rollback (the workloads go back to release.previousVersion pinned by its digest)` });
            }
        }
    }
    return problems;
}
