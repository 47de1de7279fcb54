/**
 * Who may reach which workload port: the one place the NetworkPolicies (components/NetworkIsolation.ts), the policy
 * pack and any other component (the watchdog labels its pods with `networkRole("watchdog")`) read.
 *
 * The namespace gets a default-deny for ingress; each workload then admits only its peers on its own port:
 *  - the speculation service's port 9090 (API, /metrics and the admin API alike: NetworkPolicies are L4) from the
 *    monitoring stack's Prometheus, the watchdog, the gate's origin and, in ingress-weight mode, the ingress
 *    controller that routes to the stable and canary pods;
 *  - the proof workers' 9091 from the speculation pods, Prometheus and the gate's origin;
 *  - standalone monitoring: Prometheus from Grafana, the gate and the watchdog; Alertmanager from Prometheus;
 *    Grafana from the ingress controller and the gate's origin;
 *  - the watchdog (when the stack runs one and passes its port) from Alertmanager and the gate's origin.
 */
import type { StackConfig } from "../../config/schema";
import { normaliseCidr } from "../../config/cidr";
import { PROOF_WORKER_PORT, SPECULATION_PORT } from "../monitoring/scrape";

/** Pod label that grants a pod of this namespace a role in the policies below. */
export const NETWORK_ROLE_LABEL = "agenc.io/network-role";
export const NETWORK_ROLES = ["watchdog", "gate"] as const;
export type NetworkRole = typeof NETWORK_ROLES[number];

/** The labels a pod carries to be admitted as `role` (the watchdog's pod template uses this). */
export function networkRole(role: NetworkRole): Record<string, string> {
    return { [NETWORK_ROLE_LABEL]: role };
}

/** The apps the speculation service runs as: the stable Deployment (blue), the ingress-weight canary and green. */
export const SPECULATION_APPS = ["agenc-speculation", "agenc-speculation-canary", "agenc-speculation-green"];
export const PROOF_WORKER_APP = "proof-workers";
export const DEFAULT_DENY = "default-deny-ingress";
/** Name of the NetworkPolicy guarding the admin port (the pack looks it up by this name). */
export const ADMIN_POLICY = "agenc-speculation-admin";
export const ADMIN_PORT = SPECULATION_PORT;

export interface LabelSelector {
    matchLabels?: Record<string, string>;
    matchExpressions?: { key: string; operator: "In"; values: string[] }[];
}
export interface Peer {
    podSelector?: LabelSelector;
    namespaceSelector?: LabelSelector;
    ipBlock?: { cidr: string };
}
export interface NetworkPolicySpec {
    podSelector: LabelSelector;
    policyTypes: ["Ingress"];
    ingress?: { from: Peer[]; ports: { protocol: "TCP"; port: number }[] }[];
}
export interface IsolationPolicy {
    name: string;
    /** Who is admitted and why, for the README and the operator reading `kubectl describe`. */
    purpose: string;
    spec: NetworkPolicySpec;
}

export interface IsolationArgs {
    /** The stack's namespace. */
    namespace: string;
    /**
     * The watchdog's HTTP port, when the stack runs one (its pods carry `networkRole("watchdog")`): it is admitted
     * from Alertmanager, which calls its revert action, and from the gate's origin, which calls it as a revert path.
     */
    watchdogPort?: number;
    monitoringMode: StackConfig["monitoring"]["mode"];
    shiftMode: StackConfig["canary"]["shiftMode"];
    policy: StackConfig["hardening"]["networkPolicies"];
}

const inNamespace = (name: string): LabelSelector => ({ matchLabels: { "kubernetes.io/metadata.name": name } });
const app = (...names: string[]): LabelSelector => names.length === 1
    ? { matchLabels: { app: names[0] } }
    : { matchExpressions: [{ key: "app", operator: "In", values: names }] };

/** The peers of each role, from the stack's settings. */
export function peers(args: IsolationArgs): Record<"monitoring" | "watchdog" | "gate" | "ingressController" | "speculation" | "grafana" | "prometheus" | "alertmanager", Peer[]> {
    const p = args.policy;
    const prometheus: Peer[] = args.monitoringMode === "standalone"
        ? [{ podSelector: app("prometheus") }]
        : [{ namespaceSelector: inNamespace(p.monitoringNamespace), podSelector: { matchLabels: { ...p.prometheusPodLabels } } }];
    const gatePods: Peer = p.gateNamespace && p.gateNamespace !== args.namespace
        ? { namespaceSelector: inNamespace(p.gateNamespace), podSelector: { matchLabels: networkRole("gate") } }
        : { podSelector: { matchLabels: networkRole("gate") } };
    return {
        monitoring: prometheus,
        prometheus,
        watchdog: [{ podSelector: { matchLabels: networkRole("watchdog") } }],
        gate: [gatePods, ...p.gateCidrs.map((cidr) => ({ ipBlock: { cidr: normaliseCidr(cidr) } }))],
        ingressController: [{ namespaceSelector: inNamespace(p.ingressControllerNamespace) }],
        speculation: [{ podSelector: app(...SPECULATION_APPS) }],
        grafana: [{ podSelector: app("grafana") }],
        alertmanager: args.monitoringMode === "standalone"
            ? [{ podSelector: app("alertmanager") }]
            : [{ namespaceSelector: inNamespace(p.monitoringNamespace), podSelector: { matchLabels: { ...p.alertmanagerPodLabels } } }],
    };
}

const allow = (name: string, purpose: string, pods: LabelSelector, port: number, from: Peer[]): IsolationPolicy => ({
    name, purpose, spec: { podSelector: pods, policyTypes: ["Ingress"], ingress: [{ from, ports: [{ protocol: "TCP", port }] }] },
});

/** Every NetworkPolicy of the namespace (empty when hardening.networkPolicies.enabled is false). */
export function isolationPolicies(args: IsolationArgs): IsolationPolicy[] {
    if (!args.policy.enabled) return [];
    const p = peers(args);
    // Ingress-weight and blue-green modes route through the primary Ingress (and the canary's, or a mirror to green).
    const ingressMode = args.shiftMode !== "feature-flag";
    const policies: IsolationPolicy[] = [
        { name: DEFAULT_DENY, purpose: "no pod of the namespace accepts traffic that no other policy admits", spec: { podSelector: {}, policyTypes: ["Ingress"] } },
        allow(ADMIN_POLICY,
            `port ${ADMIN_PORT} (admin API) only from Prometheus, the watchdog, the gate's origin${ingressMode ? " and the ingress controller" : ""}`,
            app(...SPECULATION_APPS), ADMIN_PORT,
            [...p.monitoring, ...p.watchdog, ...p.gate, ...(ingressMode ? p.ingressController : [])]),
        allow(PROOF_WORKER_APP, `port ${PROOF_WORKER_PORT} only from the speculation service, Prometheus and the gate's origin`,
            app(PROOF_WORKER_APP), PROOF_WORKER_PORT, [...p.speculation, ...p.monitoring, ...p.gate]),
    ];
    if (args.watchdogPort !== undefined) {
        // Prometheus too: the window judgement reads the watchdog's reverts from what Prometheus scraped.
        policies.push(allow("watchdog", `the watchdog's port ${args.watchdogPort} only from Alertmanager, Prometheus and the gate's origin`,
            { matchLabels: networkRole("watchdog") }, args.watchdogPort, [...p.alertmanager, ...p.monitoring, ...p.gate]));
    }
    if (args.monitoringMode === "standalone") {
        policies.push(
            allow("prometheus", "Prometheus only from Grafana, the gate's origin and the watchdog", app("prometheus"), 9090, [...p.grafana, ...p.gate, ...p.watchdog]),
            allow("alertmanager", "Alertmanager only from Prometheus", app("alertmanager"), 9093, [...p.prometheus]),
            allow("grafana", "Grafana only from the ingress controller and the gate's origin", app("grafana"), 3000, [...p.ingressController, ...p.gate]),
        );
    }
    return policies;
}
