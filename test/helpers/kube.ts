/**
 * The program's Kubernetes objects on a real control plane (reference/controlPlane.ts).
 *
 * `programObjects` runs program.ts under the mocks and takes every Kubernetes object it registers, exactly as the
 * pulumi-kubernetes provider would receive it (the registration's inputs; secrets unwrapped to their values, as the
 * provider sees them).  `Cluster.update` applies such a set the way `pulumi up` would: server-side apply with strict
 * field validation under one field manager, in registration order, then deletes what the new set no longer
 * registers.  Checks that read the live objects (availability, endpoints, selectors) follow.
 */
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig } from "../../config";
import { defineStack } from "../../program";
import { ControlPlane } from "../../reference/controlPlane";
import { MockEngine, settle } from "./stack";
import { eventually } from "./wait";

export interface K8sObject {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
    [key: string]: any;
}

/** The provider resource and the types that are not objects in the cluster. */
function isKubernetesObject(type: string, inputs: Record<string, unknown>): boolean {
    return type.startsWith("kubernetes:") && typeof inputs?.kind === "string" && typeof inputs?.apiVersion === "string";
}

/** Replaces every secret envelope with the value inside it (what the provider receives). */
export function unwrapSecrets(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(unwrapSecrets);
    if (value && typeof value === "object") {
        const v = value as Record<string, unknown>;
        if (v[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig) return unwrapSecrets(v.value);
        return Object.fromEntries(Object.entries(v).filter(([, inner]) => inner !== undefined).map(([k, inner]) => [k, unwrapSecrets(inner)]));
    }
    return value;
}

/** Kinds that live outside namespaces (the rest get the provider's default namespace when they name none). */
const CLUSTER_SCOPED = ["Namespace", "Node", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "IngressClass",
    "PriorityClass", "StorageClass", "PersistentVolume", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"];

/**
 * The Kubernetes objects an engine's recorded registrations hold, in registration order.  A namespaced object that
 * names no namespace gets the kubernetes provider's `namespace`, as the provider would place it.
 */
export function objectsOf(engine: MockEngine): K8sObject[] {
    const provider = engine.resources.find((r) => r.type === "pulumi:providers:kubernetes");
    const defaultNamespace = typeof provider?.inputs?.namespace === "string" ? provider.inputs.namespace : "default";
    return engine.resources.filter((r) => isKubernetesObject(r.type, r.inputs)).map((r) => {
        const o = unwrapSecrets(r.inputs) as K8sObject;
        if (!CLUSTER_SCOPED.includes(o.kind) && !o.metadata.namespace) o.metadata = { ...o.metadata, namespace: defaultNamespace };
        return o;
    });
}

/** Runs program.ts under the mocks with this config and returns the Kubernetes objects it registers. */
export async function programObjects(config: Record<string, unknown>, secretKeys: string[] = []): Promise<K8sObject[]> {
    const engine = new MockEngine();
    engine.install(config, secretKeys);
    const outputs = defineStack(loadStackConfig());
    await settle(outputs as unknown as Record<string, unknown>);
    return objectsOf(engine);
}

/**
 * Moves a set of objects to another namespace (so scenarios can run side by side on one control plane): every
 * string value equal to the old namespace's name becomes the new name — metadata.namespace, the Namespace itself,
 * ServiceMonitor namespaceSelectors, RoleBinding subjects.  Text that merely contains the name (URLs, TOML) is left.
 */
export function inNamespace(objects: K8sObject[], from: string, to: string): K8sObject[] {
    const swap = (value: unknown): unknown => {
        if (value === from) return to;
        if (Array.isArray(value)) return value.map(swap);
        if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, swap(v)]));
        return value;
    };
    return objects.map((o) => swap(o) as K8sObject);
}

export const key = (o: K8sObject) => `${o.apiVersion}/${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;

/** kubectl's resource argument for an object: kind.version.group (unambiguous for CRDs too). */
export function resourceArg(o: Pick<K8sObject, "apiVersion" | "kind">): string {
    const [group, version] = o.apiVersion.includes("/") ? o.apiVersion.split("/") : ["", o.apiVersion];
    return group ? `${o.kind}.${version}.${group}` : `${o.kind}.${version}`;
}

/** What one update did. */
export interface UpdateResult {
    applied: string[];
    deleted: string[];
    /** Objects the API server refused in place (an immutable field changed) and that were deleted and created again,
     * as the provider's replacement would. */
    replaced: string[];
    /** Warnings the API server returned (Pod Security `warn`, deprecated APIs, unknown fields in lax mode…). */
    warnings: string[];
}

/**
 * Objects as one multi-document stream.  Not a `List`: kubectl cannot ask the server to validate a List (no such
 * resource), so it would fall back to client-side schema checks; one document per object lets the API server
 * decode each with `fieldValidation=Strict`, as the provider's requests do.
 */
export const documents = (objects: K8sObject[]) => objects.map((o) => JSON.stringify(o)).join("\n---\n");

/** The field manager every apply uses, like the provider's one manager per stack. */
export const FIELD_MANAGER = "pulumi-kubernetes";

const warningsOf = (stderr: string) => stderr.split("\n").map((l) => l.trim()).filter((l) => /^Warning:/.test(l));

/** A Kubernetes program's objects as one stack on a control plane: applied in order, updated, pruned. */
export class Cluster {
    private current: K8sObject[] = [];
    constructor(readonly cp: ControlPlane) {}

    /** Server-side applies objects (one kubectl call, in order) with strict field validation; rejects with the API
     * server's message; resolves with the warnings it returned. */
    async apply(...objects: K8sObject[]): Promise<string[]> {
        const { stderr } = await this.cp.kubectlWithWarnings(["apply", "--server-side", "--validate=strict", `--field-manager=${FIELD_MANAGER}`,
            "--force-conflicts", "-f", "-"], documents(objects));
        return warningsOf(stderr);
    }

    /** Deletes objects and waits until they are gone. */
    async delete(...objects: K8sObject[]): Promise<void> {
        if (objects.length === 0) return;
        await this.cp.kubectl(["delete", "--ignore-not-found", "--wait=true", "--timeout=90s", "-f", "-"], documents(objects));
    }

    /**
     * Applies `next` as an update of what this cluster last applied: every object in order (a Namespace before what
     * lives in it, as the program registers them), then deletes what `next` no longer has.  An object the API server
     * refuses in place because an immutable field changed is deleted and created again, as the provider's
     * replacement would do, and reported in `replaced`.
     */
    async update(next: K8sObject[]): Promise<UpdateResult> {
        const result: UpdateResult = { applied: next.map(key), deleted: [], replaced: [], warnings: [] };
        await this.provideVolumes(next);
        try {
            result.warnings.push(...await this.apply(...next));
        } catch (err) {
            if (!/field is immutable/.test(String((err as Error).message))) throw err;
            for (const o of next) {
                try {
                    result.warnings.push(...await this.apply(o));
                } catch (inner) {
                    if (!/field is immutable/.test(String((inner as Error).message))) throw inner;
                    await this.delete(o);
                    result.warnings.push(...await this.apply(o));
                    result.replaced.push(key(o));
                }
            }
        }
        const keep = new Set(next.map(key));
        const gone = this.current.filter((o) => !keep.has(key(o))).reverse();
        await this.delete(...gone);
        result.deleted = gone.map(key);
        this.current = next;
        return result;
    }

    /** The cluster's storage for the claims among `objects` (staticVolumesFor). */
    private async provideVolumes(objects: K8sObject[]): Promise<void> {
        const volumes = staticVolumesFor(objects);
        if (volumes.length > 0) await this.apply(...volumes);
    }

    /** The objects last applied. */
    get objects(): K8sObject[] {
        return this.current;
    }

    ofKind(kind: string): K8sObject[] {
        return this.current.filter((o) => o.kind === kind);
    }
}

/**
 * The cluster's storage, as an administrator provisions it statically: a hostPath PersistentVolume pre-bound
 * (claimRef) to each PersistentVolumeClaim among `objects`, of the claim's size and class.  The control plane's PV
 * controller binds them; nothing here runs a provisioner.  Volumes outlive the objects, as a Retain policy keeps them.
 */
export function staticVolumesFor(objects: K8sObject[]): K8sObject[] {
    return objects.filter((o) => o.kind === "PersistentVolumeClaim").map((c) => {
        const namespace = c.metadata.namespace ?? "default";
        return {
            apiVersion: "v1", kind: "PersistentVolume",
            metadata: { name: `pv-${namespace}-${c.metadata.name}`.slice(0, 63), labels: { "agenc.test/static": "true" } },
            spec: {
                capacity: { storage: c.spec.resources.requests.storage },
                accessModes: c.spec.accessModes,
                persistentVolumeReclaimPolicy: "Retain",
                storageClassName: c.spec.storageClassName ?? "",
                hostPath: { path: `/var/lib/agenc-test/${namespace}/${c.metadata.name}`, type: "DirectoryOrCreate" },
                claimRef: { namespace, name: c.metadata.name },
            },
        };
    });
}

type Selector = { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] };

/** Does a label selector (matchLabels / matchExpressions, or a Service's plain map) select these labels? */
export function selects(selector: Selector | Record<string, string> | undefined, labels: Record<string, string> = {}): boolean {
    if (!selector) return false;
    const s = selector as Selector;
    const isStructured = "matchLabels" in s || "matchExpressions" in s;
    const matchLabels = isStructured ? s.matchLabels ?? {} : (selector as Record<string, string>);
    const expressions = isStructured ? s.matchExpressions ?? [] : [];
    if (Object.keys(matchLabels).length === 0 && expressions.length === 0) return isStructured; // {} selects everything
    for (const [k, v] of Object.entries(matchLabels)) if (labels[k] !== v) return false;
    for (const e of expressions) {
        const has = e.key in labels;
        const inValues = has && (e.values ?? []).includes(labels[e.key]);
        if (e.operator === "In" && !inValues) return false;
        if (e.operator === "NotIn" && inValues) return false;
        if (e.operator === "Exists" && !has) return false;
        if (e.operator === "DoesNotExist" && has) return false;
    }
    return true;
}

/** A selector as kubectl's -l argument (evaluated by the API server). */
export function selectorArg(selector: Selector | Record<string, string>): string {
    const s = selector as Selector;
    const structured = "matchLabels" in s || "matchExpressions" in s;
    const parts = Object.entries(structured ? s.matchLabels ?? {} : (selector as Record<string, string>)).map(([k, v]) => `${k}=${v}`);
    for (const e of structured ? s.matchExpressions ?? [] : []) {
        if (e.operator === "In") parts.push(`${e.key} in (${(e.values ?? []).join(",")})`);
        else if (e.operator === "NotIn") parts.push(`${e.key} notin (${(e.values ?? []).join(",")})`);
        else if (e.operator === "Exists") parts.push(e.key);
        else if (e.operator === "DoesNotExist") parts.push(`!${e.key}`);
    }
    return parts.join(",");
}

const fatal = (message: string) => Object.assign(new Error(message), { fatal: true });
const condition = (o: any, type: string) => (o?.status?.conditions ?? []).find((c: any) => c.type === type);

/** What a namespace holds, read in one call. */
export interface Snapshot {
    namespace: any;
    configMaps: any[];
    secrets: any[];
    ingresses: any[];
    deployments: any[];
    replicaSets: any[];
    pods: any[];
    services: any[];
    endpointSlices: any[];
    pdbs: any[];
}

export async function snapshot(cp: ControlPlane, namespace: string): Promise<Snapshot> {
    const list = await cp.getJson<{ items: any[] }>(["get", "deployments.apps,replicasets.apps,pods,services,endpointslices.discovery.k8s.io,poddisruptionbudgets.policy,configmaps,secrets,ingresses.networking.k8s.io", "-n", namespace]);
    const of = (kind: string) => list.items.filter((i) => i.kind === kind);
    return {
        namespace: await cp.getJson(["get", "namespace", namespace]),
        deployments: of("Deployment"), replicaSets: of("ReplicaSet"),
        pods: of("Pod").filter((p) => !p.metadata.deletionTimestamp),
        services: of("Service"), endpointSlices: of("EndpointSlice"), pdbs: of("PodDisruptionBudget"),
        configMaps: of("ConfigMap"), secrets: of("Secret"), ingresses: of("Ingress"),
    };
}

/** Ready endpoint addresses of a Service, from its EndpointSlices. */
export function readyAddresses(snap: Snapshot, service: string): string[] {
    return snap.endpointSlices.filter((s) => s.metadata.labels?.["kubernetes.io/service-name"] === service)
        .flatMap((s) => (s.endpoints ?? []).filter((e: any) => e.conditions?.ready !== false).flatMap((e: any) => e.addresses));
}

const isReady = (pod: any) => condition(pod, "Ready")?.status === "True";

/**
 * Waits until the namespace has settled after an update: every Deployment rolled out to its current template and
 * Available, with only its own pods; each PDB observed by the disruption controller; each Service's EndpointSlices
 * listing exactly the ready pods it selects.  Fails at once when a ReplicaSet cannot create pods (Pod Security
 * admission, quota…), quoting the API server's reason.
 */
export async function settled(cp: ControlPlane, namespace: string, timeoutMs = 90_000): Promise<Snapshot> {
    return eventually(`namespace ${namespace} settles`, async () => {
        const snap = await snapshot(cp, namespace);
        for (const rs of snap.replicaSets) {
            const failure = condition(rs, "ReplicaFailure");
            // An old ReplicaSet scaled to 0 keeps the condition it last had (its ServiceAccount removed with the mode
            // that needed it, say) until the controller syncs it again: it wants no pods, so it fails nothing.
            if (failure?.status === "True" && (rs.spec?.replicas ?? 0) > 0) throw fatal(`ReplicaSet ${rs.metadata.name} cannot create pods: ${failure.reason}: ${failure.message}`);
        }
        for (const d of snap.deployments) {
            const st = d.status ?? {};
            const want = d.spec.replicas ?? 1;
            if ((st.observedGeneration ?? 0) < d.metadata.generation) return false;
            if (st.updatedReplicas !== want || st.availableReplicas !== want || st.readyReplicas !== want || st.replicas !== want) return false;
            if (condition(d, "Available")?.status !== "True") return false;
        }
        for (const p of snap.pdbs) if ((p.status?.observedGeneration ?? 0) < p.metadata.generation) return false;
        for (const svc of snap.services) {
            const selected = snap.pods.filter((p) => selects(svc.spec.selector, p.metadata.labels) && isReady(p)).map((p) => p.status.podIP).sort();
            if (JSON.stringify(readyAddresses(snap, svc.metadata.name).sort()) !== JSON.stringify(selected)) return false;
        }
        return snap;
    }, timeoutMs);
}

/** The pods a selector picks in a snapshot. */
export function podsSelected(snap: Snapshot, selector: Selector | Record<string, string>): any[] {
    return snap.pods.filter((p) => selects(selector, p.metadata.labels));
}

/**
 * The Services a ServiceMonitor selects, as the API server evaluates its selector in each namespace its
 * namespaceSelector names (prometheus-operator's own reading), with the Service port its endpoints name.
 */
export async function serviceMonitorTargets(cp: ControlPlane, sm: K8sObject): Promise<{ service: string; namespace: string; ports: string[] }[]> {
    const spec = sm.spec ?? {};
    const namespaces: string[] = spec.namespaceSelector?.any ? [] : spec.namespaceSelector?.matchNames ?? [sm.metadata.namespace!];
    const portNames: string[] = (spec.endpoints ?? []).map((e: any) => e.port).filter(Boolean);
    const out: { service: string; namespace: string; ports: string[] }[] = [];
    for (const ns of namespaces) {
        const args = ["get", "services", "-n", ns];
        const sel = selectorArg(spec.selector ?? {});
        if (sel) args.push("-l", sel);
        const list = await cp.getJson<{ items: any[] }>(args);
        for (const svc of list.items) {
            const ports = (svc.spec.ports ?? []).map((p: any) => p.name).filter((n: string) => portNames.includes(n));
            out.push({ service: svc.metadata.name, namespace: ns, ports });
        }
    }
    return out;
}

/**
 * The targets a standalone Prometheus job with `kubernetes_sd_configs` (role endpoints) would scrape, computed
 * from the live Services and EndpointSlices of a snapshot: the discovery labels Prometheus sets for each endpoint
 * port, filtered through the job's `keep` / `drop` relabelling (anchored regexes, `;`-joined source labels).
 */
export function scrapeJobTargets(job: any, snap: Snapshot): { service: string; address: string; port: string }[] {
    const sd = (job.kubernetes_sd_configs ?? []).find((c: any) => c.role === "endpoints" || c.role === "endpointslice");
    if (!sd) return [];
    const namespaces: string[] | undefined = sd.namespaces?.names;
    const sanitize = (k: string) => k.replace(/[^a-zA-Z0-9_]/g, "_");
    const targets: { service: string; address: string; port: string }[] = [];
    for (const svc of snap.services) {
        if (namespaces && !namespaces.includes(svc.metadata.namespace)) continue;
        for (const slice of snap.endpointSlices.filter((s) => s.metadata.labels?.["kubernetes.io/service-name"] === svc.metadata.name)) {
            for (const ep of slice.endpoints ?? []) {
                const pod = snap.pods.find((p) => p.metadata.name === ep.targetRef?.name);
                for (const port of slice.ports ?? []) {
                    const labels: Record<string, string> = {
                        __meta_kubernetes_namespace: svc.metadata.namespace,
                        __meta_kubernetes_service_name: svc.metadata.name,
                        __meta_kubernetes_endpoint_port_name: port.name ?? "",
                        __meta_kubernetes_endpoint_ready: String(ep.conditions?.ready !== false),
                        __meta_kubernetes_pod_name: pod?.metadata.name ?? "",
                    };
                    for (const [k, v] of Object.entries<string>(svc.metadata.labels ?? {})) labels[`__meta_kubernetes_service_label_${sanitize(k)}`] = v;
                    for (const [k, v] of Object.entries<string>(svc.metadata.annotations ?? {})) labels[`__meta_kubernetes_service_annotation_${sanitize(k)}`] = v;
                    for (const [k, v] of Object.entries<string>(pod?.metadata.labels ?? {})) labels[`__meta_kubernetes_pod_label_${sanitize(k)}`] = v;
                    for (const [k, v] of Object.entries<string>(pod?.metadata.annotations ?? {})) labels[`__meta_kubernetes_pod_annotation_${sanitize(k)}`] = v;
                    let kept = true;
                    for (const r of job.relabel_configs ?? []) {
                        const action = r.action ?? "replace";
                        if (action !== "keep" && action !== "drop") continue;
                        const value = (r.source_labels ?? []).map((l: string) => labels[l] ?? "").join(r.separator ?? ";");
                        const matches = new RegExp(`^(?:${r.regex ?? "(.*)"})$`).test(value);
                        if ((action === "keep" && !matches) || (action === "drop" && matches)) { kept = false; break; }
                    }
                    if (kept) for (const address of ep.addresses ?? []) targets.push({ service: svc.metadata.name, address, port: port.name ?? String(port.port) });
                }
            }
        }
    }
    return targets;
}

/**
 * References from pod templates that nothing in the namespace satisfies: a ConfigMap or Secret volume (or one of its
 * items), an env `configMapKeyRef` / `secretKeyRef`, a volume mount.  (A missing ServiceAccount fails admission, which
 * `settled` reports.)  kwok does not mount volumes, so a kubelet
 * would fail such a pod where the simulated one runs: this check stands in for it.
 */
export function danglingReferences(snap: Snapshot): string[] {
    const out: string[] = [];
    const keysOf = (kind: "ConfigMap" | "Secret", name: string): string[] | undefined => {
        const o = (kind === "ConfigMap" ? snap.configMaps : snap.secrets).find((x) => x.metadata.name === name);
        return o ? Object.keys({ ...(o.data ?? {}), ...(o.binaryData ?? {}) }) : undefined;
    };
    const need = (owner: string, kind: "ConfigMap" | "Secret", name: string, keys: string[], optional?: boolean) => {
        if (optional) return;
        const have = keysOf(kind, name);
        if (!have) { out.push(`${owner}: ${kind} ${name} does not exist`); return; }
        for (const k of keys) if (!have.includes(k)) out.push(`${owner}: ${kind} ${name} has no key ${k}`);
    };
    for (const d of snap.deployments) {
        const pod = d.spec.template.spec;
        const owner = `Deployment ${d.metadata.name}`;
        for (const v of pod.volumes ?? []) {
            if (v.configMap) need(owner, "ConfigMap", v.configMap.name, (v.configMap.items ?? []).map((i: any) => i.key), v.configMap.optional);
            if (v.secret) need(owner, "Secret", v.secret.secretName, (v.secret.items ?? []).map((i: any) => i.key), v.secret.optional);
        }
        for (const c of [...(pod.containers ?? []), ...(pod.initContainers ?? [])]) {
            for (const e of c.env ?? []) {
                const cm = e.valueFrom?.configMapKeyRef;
                const sec = e.valueFrom?.secretKeyRef;
                if (cm) need(owner, "ConfigMap", cm.name, [cm.key], cm.optional);
                if (sec) need(owner, "Secret", sec.name, [sec.key], sec.optional);
            }
            for (const m of c.volumeMounts ?? []) {
                if (!(pod.volumes ?? []).some((v: any) => v.name === m.name)) out.push(`${owner}: container ${c.name} mounts undeclared volume ${m.name}`);
            }
        }
    }
    return out;
}

/**
 * Canary Ingresses ingress-nginx would ignore: it honours `nginx.ingress.kubernetes.io/canary: "true"` only beside a
 * primary (non-canary) Ingress of the same class for the same host, path and path type.  Also a weight outside 0–100.
 */
export function orphanCanaryIngresses(snap: Snapshot): string[] {
    const out: string[] = [];
    const isCanary = (i: any) => i.metadata.annotations?.["nginx.ingress.kubernetes.io/canary"] === "true";
    // ingress-nginx keys a location by path and path type (an Exact and a Prefix location of one path coexist).
    const routes = (i: any) => (i.spec.rules ?? []).flatMap((r: any) => (r.http?.paths ?? []).map((p: any) => `${r.host ?? "*"}${p.path ?? "/"} (${p.pathType})`));
    for (const canary of snap.ingresses.filter(isCanary)) {
        const weight = Number(canary.metadata.annotations?.["nginx.ingress.kubernetes.io/canary-weight"] ?? 0);
        if (!(weight >= 0 && weight <= 100)) out.push(`Ingress ${canary.metadata.name}: canary-weight ${weight} outside 0-100`);
        for (const route of routes(canary)) {
            const primary = snap.ingresses.find((i) => !isCanary(i) && i.spec.ingressClassName === canary.spec.ingressClassName && routes(i).includes(route));
            if (!primary) out.push(`Ingress ${canary.metadata.name}: no primary Ingress of class ${canary.spec.ingressClassName} for ${route}`);
        }
    }
    return out;
}
