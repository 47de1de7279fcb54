/** Small shared pieces of the workload components (kept here so both workloads stay identical where they should). */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { StackConfig } from "../config/schema";

export type MonitoringMode = StackConfig["monitoring"]["mode"];
export type Resources = StackConfig["service"]["resources"];
export type TopologySpread = StackConfig["hardening"]["topologySpread"];

/** What every workload component takes (ProofWorkers, SpeculationService): where it runs, what, and how it is watched. */
export interface WorkloadArgs {
    /** The namespace as the Namespace resource's output: every object takes it, so each is ordered after the Namespace. */
    namespace: pulumi.Input<string>;
    /** The same name as a plain string, for what must be known when the program runs (a ServiceMonitor's namespaceSelector). */
    namespaceName: string;
    /** The release version (`release.version`): the image tag, and the `version` label of the pods. */
    version: string;
    /** The image (`release.images.*`): a repository without a tag, and this version's own digest when it is pinned. */
    image: { repository: string; digest?: string };
    /** How many pods (`service.replicas`, `proofWorkers.replicas`). */
    replicas: number;
    /** Each container's requests and limits. */
    resources: Resources;
    /** `operator`: a ServiceMonitor per workload; `standalone`: the pods carry the `prometheus.io/*` scrape annotations. */
    monitoringMode: MonitoringMode;
    /** Operator mode: the `release` label kube-prometheus-stack's Prometheus selects ServiceMonitors by. */
    prometheusReleaseLabel: string;
    /** How often Prometheus scrapes the pods (`monitoring.scrapeInterval`). */
    scrapeInterval: string;
    /** How the pods spread across nodes (`hardening.topologySpread`). */
    spread: TopologySpread;
}

/**
 * Spreads an app's pods across nodes (`hardening.topologySpread`): with the defaults no node holds two more of them
 * than another, and the scheduler leaves a pod Pending rather than stack them (DoNotSchedule), so losing one node
 * never takes every replica.
 */
export function spreadAcrossNodes(app: string, spread: TopologySpread): k8s.types.input.core.v1.TopologySpreadConstraint[] | undefined {
    if (!spread.enabled) return undefined;
    return [{
        maxSkew: spread.maxSkew,
        topologyKey: spread.topologyKey,
        whenUnsatisfiable: spread.whenUnsatisfiable,
        labelSelector: { matchLabels: { app } },
    }];
}

/** Pod-template annotation whose change rolls the pods when a mounted config (read only at start-up) changes. */
export const CONFIG_CHECKSUM_ANNOTATION = "agenc.io/config-checksum";

/**
 * Options of the one Kubernetes provider every object here goes through, chosen so that `pulumi preview` after an
 * `up` plans nothing and no ConfigMap or Secret is ever deleted before its successor exists.
 *
 * pulumi-kubernetes v4 treats a ConfigMap's `.data`/`.binaryData` and a Secret's `.type`/`.data`/`.stringData` as
 * replace-on-change (provider/pkg/provider/diff.go, `forceNewProperties`), and a replaced object whose
 * `metadata.name` is fixed is deleted *before* it is re-created (provider.go `Diff`: `deleteBeforeReplace` when the
 * object is not auto-named and keeps its name and namespace).  Every ConfigMap and Secret here has a fixed name that
 * pods, the Grafana sidecar, the watchdog and operators refer to, so instead both are made mutable: with
 * `enableConfigMapMutable` / `enableSecretMutable` (ProviderArgs, "allow ConfigMaps/Secrets to be mutated"; PR
 * pulumi/pulumi-kubernetes#1926) a data change is an in-place update — unless the object sets `immutable: true` or
 * the resource opts back in with `replaceOnChanges`, which nothing here does.  Pods that read a config only at
 * start-up are rolled by CONFIG_CHECKSUM_ANNOTATION instead of by a new object name.
 */
export const PROVIDER_MUTABILITY = { enableConfigMapMutable: true, enableSecretMutable: true } as const;

/** Annotation with which pulumi-kubernetes skips its await logic for one object (provider metadata/overrides.go). */
export const SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait";

/** How an Ingress is awaited: see ingressAwait. */
export interface IngressAwaitPolicy {
    /** `skip`: do not wait for `.status.loadBalancer`; `load-balancer`: wait for it, at most `timeout`. */
    mode: "skip" | "load-balancer";
    /** Duration string (`5m`): how long create/update may wait for the controller to publish an address. */
    timeout: string;
}

/**
 * The await policy every Ingress states (primary and canary alike: CanaryStage calls this for each).  pulumi-kubernetes
 * waits for an Ingress until its `.status.loadBalancer.ingress` has an entry — which only an ingress controller that
 * publishes its address sets — and fails after 10 minutes by default (the Ingress API docs: "If the Ingress has not
 * reached a Ready state after 10 minutes, it will time out … override … by setting the 'customTimeouts' option").
 *  - `skip` sets `pulumi.com/skipAwait: "true"`: the Ingress counts as created once the API server accepted it.
 *  - `load-balancer` keeps the provider's await and bounds it with `customTimeouts` on create and update; past it the
 *    update fails with the provider's message that `.status.loadBalancer` was not updated with a hostname/IP.
 */
export function ingressAwait(policy: IngressAwaitPolicy): {
    annotations: Record<string, string>; opts: Pick<pulumi.CustomResourceOptions, "customTimeouts">;
} {
    return policy.mode === "skip"
        ? { annotations: { [SKIP_AWAIT_ANNOTATION]: "true" }, opts: {} }
        : { annotations: {}, opts: { customTimeouts: { create: policy.timeout, update: policy.timeout } } };
}

export function configChecksum(text: string): string {
    return createHash("sha256").update(text).digest("hex");
}

export function imageRef(image: { repository: string; digest?: string }, version: string): string {
    // With a digest the tag is informational and the digest is what the kubelet pulls.
    return image.digest ? `${image.repository}:${version}@${image.digest}` : `${image.repository}:${version}`;
}

/** Pod annotations for annotation-based scraping (standalone mode). */
export function scrapeAnnotations(mode: MonitoringMode, port: number): Record<string, string> {
    return mode === "standalone"
        ? { "prometheus.io/scrape": "true", "prometheus.io/port": String(port), "prometheus.io/path": "/metrics" }
        : {};
}

/** A ServiceMonitor that kube-prometheus-stack picks up through its release label (operator mode). */
export function serviceMonitor(name: string, args: {
    /** The Namespace resource's name output: the ServiceMonitor is created after the Namespace. */
    namespace: pulumi.Input<string>; namespaceName: string; app: string; releaseLabel: string; interval: string;
    /** Service labels copied onto every scraped series (`track`: which track of a canary or blue-green pair). */
    targetLabels?: string[];
}, opts: pulumi.CustomResourceOptions): k8s.apiextensions.CustomResource {
    return new k8s.apiextensions.CustomResource(name, {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "ServiceMonitor",
        metadata: { name: args.app, namespace: args.namespace, labels: { app: args.app, release: args.releaseLabel } },
        spec: {
            selector: { matchLabels: { app: args.app } },
            namespaceSelector: { matchNames: [args.namespaceName] },
            endpoints: [{ port: "metrics", path: "/metrics", interval: args.interval }],
            ...(args.targetLabels ? { targetLabels: args.targetLabels } : {}),
        },
    }, opts);
}

/**
 * The PodDisruptionBudget of every Deployment here (stable, canary, green): `maxUnavailable: 1`, never `minAvailable`.
 * A drain evicts one pod at a time and keeps the others up; and with one replica (the canary) the budget still
 * allows one eviction, so it never blocks a drain — `minAvailable: 1` on one pod would allow none, and `kubectl
 * drain` would retry "Cannot evict pod as it would violate the pod's disruption budget" for the whole bake.  While
 * the lone canary pod is being rescheduled, ingress-nginx sends the canary's share to the primary backend (a canary
 * backend with no endpoints has no balancer: balancer.lua route_to_alternative_balancer).  `maxUnavailable` also
 * follows a change of replicas, where a `minAvailable` count would have to be changed with it.
 */
export function disruptionBudgetSpec(selector: Record<string, string>): k8s.types.input.policy.v1.PodDisruptionBudgetSpec {
    return { maxUnavailable: 1, selector: { matchLabels: selector } };
}

/**
 * What every workload here gets around its Deployment: a Service on its metrics port, a PodDisruptionBudget that lets
 * one pod go at a time (disruptionBudgetSpec), and (operator mode) a ServiceMonitor.
 */
export function exposeWorkload(name: string, args: {
    app: string; port: number; namespace: pulumi.Input<string>; namespaceName: string;
    monitoringMode: MonitoringMode; releaseLabel: string; scrapeInterval: string;
    /** The Service's `track` label (stable | canary), scraped onto its series so gates can tell the tracks apart. */
    track?: string;
    /** Blue-green: the pods the Service sends traffic to (`app` label) when not its own; the switch. */
    selectApp?: pulumi.Input<string>;
    /** Blue-green: what the Service waits for before it may switch (smoke tests, the previous stage's gate). */
    serviceDependsOn?: pulumi.Input<pulumi.Input<pulumi.Resource>[]>;
}, opts: pulumi.CustomResourceOptions) {
    const labels = { app: args.app };
    const service = new k8s.core.v1.Service(`${name}-service`, {
        metadata: { name: args.app, namespace: args.namespace, labels: args.track ? { ...labels, track: args.track } : labels },
        spec: { selector: args.selectApp ? { app: args.selectApp } : labels, ports: [{ name: "metrics", port: args.port, targetPort: args.port }] },
    }, args.serviceDependsOn ? { ...opts, dependsOn: args.serviceDependsOn } : opts);
    const disruptionBudget = new k8s.policy.v1.PodDisruptionBudget(`${name}-pdb`, {
        metadata: { name: args.app, namespace: args.namespace, labels },
        spec: disruptionBudgetSpec(labels),
    }, opts);
    const monitor = args.monitoringMode === "operator"
        ? serviceMonitor(`${name}-servicemonitor`, {
            namespace: args.namespace, namespaceName: args.namespaceName, app: args.app, releaseLabel: args.releaseLabel, interval: args.scrapeInterval,
            ...(args.track ? { targetLabels: ["track"] } : {}),
        }, opts)
        : undefined;
    return { service, disruptionBudget, serviceMonitor: monitor };
}

/**
 * Pod Security `restricted` (https://kubernetes.io/docs/concepts/security/pod-security-standards/) for every workload
 * this stack deploys, plus a read-only root filesystem: non-root with a fixed UID, seccomp RuntimeDefault, every
 * capability dropped, no privilege escalation.  Whatever a process must write goes to an emptyDir (`writable`).
 * Every UID and GID a pod runs as is at least MIN_POD_UID (above the host's system and login users, kube-score's
 * container-security-context-user-group-id): this one for every image that has no user of its own.
 */
export const NON_ROOT_UID = 65532;
/** The lowest UID/GID a pod of this stack may run as (restrictedPodSecurityContext refuses a lower one). */
export const MIN_POD_UID = 10000;

/**
 * Every container's ephemeral storage (its writable emptyDirs, logs and writable layer; the root filesystem itself
 * is read-only): requested so the scheduler places it on a node with room, limited so one runaway writer is evicted
 * instead of filling the node's disk for every other pod on it.  A container that states its own keeps it.
 */
export const EPHEMERAL_STORAGE = { request: "256Mi", limit: "1Gi" } as const;

/** The container's requests and limits with EPHEMERAL_STORAGE added where it states none. */
export function withEphemeralStorage(resources: pulumi.Input<k8s.types.input.core.v1.ResourceRequirements | undefined>):
    pulumi.Input<k8s.types.input.core.v1.ResourceRequirements> {
    const add = (r: k8s.types.input.core.v1.ResourceRequirements | undefined): k8s.types.input.core.v1.ResourceRequirements => ({
        ...r,
        requests: { "ephemeral-storage": EPHEMERAL_STORAGE.request, ...(r?.requests as Record<string, pulumi.Input<string>> | undefined) },
        limits: { "ephemeral-storage": EPHEMERAL_STORAGE.limit, ...(r?.limits as Record<string, pulumi.Input<string>> | undefined) },
    });
    if (resources === undefined || (typeof resources === "object" && !pulumi.Output.isInstance(resources) && !(resources instanceof Promise))) {
        return add(resources as k8s.types.input.core.v1.ResourceRequirements | undefined);
    }
    return pulumi.output(resources).apply((r) => add(r as k8s.types.input.core.v1.ResourceRequirements | undefined));
}

/** An image reference pinned by digest (`repo[:tag]@sha256:<hex>`): what it names can never change. */
export const isDigestPinned = (image: string): boolean => /@sha256:[0-9a-f]{64}$/.test(image);

/**
 * The pull policy each image gets, stated so no default decides it: a digest-pinned image `IfNotPresent` (the
 * digest names exactly one image, so a node that has it needs no registry round trip, and a pod restarted during a
 * registry outage, in the middle of a rollback, still starts); a tag `Always` (a tag can be moved, and each start
 * then checks the registry, imagePullSecrets included).
 */
export function imagePullPolicy(image: string): "IfNotPresent" | "Always" {
    return isDigestPinned(image) ? "IfNotPresent" : "Always";
}

/**
 * kube-score's per-object exception (the `kube-score/ignore` annotation) for a Deployment whose containers are all
 * digest-pinned: its container-image-pull-policy check wants `Always` everywhere, which for a digest only adds the
 * registry as a dependency of every pod start (imagePullPolicy above).  lib/kubeScore.ts lists it with the reason;
 * test/lint/kubeScore.int.test.ts fails on any other exception.
 */
export function lintAnnotations(pod: { containers: k8s.types.input.core.v1.Container[] }): Record<string, string> {
    const images = pod.containers.map((c) => c.image as string);
    return images.length > 0 && images.every((i) => typeof i === "string" && isDigestPinned(i))
        ? { [KUBE_SCORE_IGNORE]: "container-image-pull-policy" }
        : {};
}
/** `{ annotations }` for a Deployment's metadata when lintAnnotations has any, else nothing (the object stays as it was). */
export function lintMetadata(pod: k8s.types.input.core.v1.PodSpec): { annotations?: Record<string, string> } {
    const a = lintAnnotations(pod as { containers: k8s.types.input.core.v1.Container[] });
    return Object.keys(a).length > 0 ? { annotations: a } : {};
}
/** The annotation with which kube-score skips named checks for one object. */
export const KUBE_SCORE_IGNORE = "kube-score/ignore";

/** The namespace's Pod Security labels: enforce at the configured level, always warn and audit at `restricted`. */
export function podSecurityLabels(enforce: StackConfig["kubernetes"]["podSecurity"]): Record<string, string> {
    return {
        "pod-security.kubernetes.io/enforce": enforce,
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/warn-version": "latest",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/audit-version": "latest",
    };
}

export function restrictedPodSecurityContext(uid: number = NON_ROOT_UID): k8s.types.input.core.v1.PodSecurityContext {
    if (!Number.isInteger(uid) || uid < MIN_POD_UID) throw new Error(`restrictedPodSecurityContext: uid ${uid} is below ${MIN_POD_UID} (MIN_POD_UID)`);
    return { runAsNonRoot: true, runAsUser: uid, runAsGroup: uid, fsGroup: uid, seccompProfile: { type: "RuntimeDefault" } };
}

export const RESTRICTED_CONTAINER_SECURITY_CONTEXT: k8s.types.input.core.v1.SecurityContext = {
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ["ALL"] },
    seccompProfile: { type: "RuntimeDefault" },
};

/** A folder a restricted container may write to: an emptyDir mounted at `mountPath`. */
export interface WritableDir { name: string; mountPath: string }

/** `/tmp`: the one writable folder a workload gets by default. */
export const TMP_DIR: WritableDir = { name: "tmp", mountPath: "/tmp" };

/**
 * The pod spec with Pod Security `restricted` applied: the pod and each container get their security contexts, and
 * each writable folder becomes an emptyDir mounted into every container.  Each container also gets what a hardened
 * cluster's linter asks for (docs/kube-score.md): its image's pull policy stated (imagePullPolicy) and ephemeral
 * storage requested and limited (EPHEMERAL_STORAGE), unless it states its own.
 */
export function restrictedPod(pod: k8s.types.input.core.v1.PodSpec, options: { writable?: WritableDir[]; uid?: number } = {}): k8s.types.input.core.v1.PodSpec {
    const writable = options.writable ?? [TMP_DIR];
    const secure = (c: k8s.types.input.core.v1.Container): k8s.types.input.core.v1.Container => ({
        ...c,
        imagePullPolicy: c.imagePullPolicy ?? imagePullPolicy(c.image as string),
        resources: withEphemeralStorage(c.resources),
        securityContext: RESTRICTED_CONTAINER_SECURITY_CONTEXT,
        volumeMounts: [...((c.volumeMounts ?? []) as k8s.types.input.core.v1.VolumeMount[]), ...writable.map((w) => ({ name: w.name, mountPath: w.mountPath }))],
    });
    return {
        ...pod,
        securityContext: restrictedPodSecurityContext(options.uid),
        containers: (pod.containers as k8s.types.input.core.v1.Container[]).map(secure),
        ...(pod.initContainers ? { initContainers: (pod.initContainers as k8s.types.input.core.v1.Container[]).map(secure) } : {}),
        volumes: [...((pod.volumes ?? []) as k8s.types.input.core.v1.Volume[]), ...writable.map((w) => ({ name: w.name, emptyDir: {} }))],
    };
}

/**
 * The Deployment shape both workloads share: labelled with their version, rolled one extra pod at a time and never
 * below the desired count (maxUnavailable 0), the pod template carrying the given annotations and the pod spec under
 * Pod Security `restricted`.
 */
export function rollingDeployment(args: {
    name: string;
    namespace: pulumi.Input<string>;
    version: string;
    replicas: number;
    annotations: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** The pod spec; Pod Security `restricted` is applied to it (restrictedPod). */
    pod: k8s.types.input.core.v1.PodSpec;
    /** Folders the containers write to (emptyDirs); default /tmp. */
    writable?: WritableDir[];
    /** Labels besides app and version (a new track's `track: canary`); never in the selector. */
    labels?: Record<string, string>;
}): k8s.apps.v1.DeploymentArgs {
    const selector = { app: args.name };
    const labels = { ...selector, ...args.labels, version: args.version };
    return {
        metadata: { name: args.name, namespace: args.namespace, labels, ...lintMetadata(args.pod) },
        spec: {
            replicas: args.replicas,
            selector: { matchLabels: selector },
            strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
            template: {
                metadata: { labels, annotations: args.annotations },
                spec: restrictedPod(args.pod, { writable: args.writable }),
            },
        },
    };
}

/**
 * Resource options of a Deployment an emergency rollback replaces (seed 000: scale to 0, wait, redeploy): any change
 * is a replacement, and the old Deployment is deleted first.  pulumi-kubernetes deletes with foreground propagation
 * by default and waits until the object is gone, i.e. until its pods have terminated; Pulumi deletes a dependent
 * (the speculation service) before what it depends on (the proof workers), then creates them in order.
 */
export const REPLACE_FIRST: { deleteBeforeReplace: boolean; replaceOnChanges: string[] } = { deleteBeforeReplace: true, replaceOnChanges: ["*"] };

/** Where every speculation pod reads its config (the ConfigMap mounted read-only). */
export const SPECULATION_CONFIG_DIR = "/etc/speculation";

/**
 * The speculation service's container, the same on every track (stable, canary, green): the version's image, the
 * config from `speculation.toml`, speculation off until a stage turns it on, the admin token from the Secret only.
 */
export function speculationContainer(args: {
    image: { repository: string; digest?: string };
    version: string;
    /** Secret and key holding the admin token. */
    secretName: pulumi.Input<string>;
    secretKey: string;
    resources: k8s.types.input.core.v1.ResourceRequirements;
    port: number;
    probes: { liveness: k8s.types.input.core.v1.Probe; readiness: k8s.types.input.core.v1.Probe };
}): k8s.types.input.core.v1.Container {
    return {
        name: "speculation",
        image: imageRef(args.image, args.version),
        args: ["--config", `${SPECULATION_CONFIG_DIR}/speculation.toml`],
        ports: [{ name: "metrics", containerPort: args.port }],
        env: [
            { name: "SPECULATION_ENABLED", value: "false" },
            { name: args.secretKey, valueFrom: { secretKeyRef: { name: args.secretName, key: args.secretKey } } },
        ],
        resources: args.resources,
        livenessProbe: args.probes.liveness,
        readinessProbe: args.probes.readiness,
        volumeMounts: [{ name: "config", mountPath: SPECULATION_CONFIG_DIR, readOnly: true }],
    };
}
