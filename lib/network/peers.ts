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
export interface Port { protocol: "TCP" | "UDP"; port: number }
export interface NetworkPolicySpec {
    podSelector: LabelSelector;
    policyTypes: ["Ingress"] | ["Egress"];
    ingress?: { from: Peer[]; ports: { protocol: "TCP"; port: number }[] }[];
    /** An egress rule without `to` admits any address (on its ports only: every rule here names its ports). */
    egress?: { to?: Peer[]; ports: Port[] }[];
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

/**
 * What the egress policies need to know beyond IsolationArgs: where each workload's outside destinations are.  The
 * settings themselves (enabled, DNS, externalCidrs) are `policy.egress`.
 */
export interface EgressArgs extends IsolationArgs {
    /** The chain RPC the speculation service reaches (`preflight.chainRpcUrl`): its port; unset, 443. */
    chainRpcUrl?: string;
    /** The watchdog's Prometheus when configured (`watchdog.prometheusUrl`): its port joins 9090. */
    watchdogPrometheusUrl?: string;
    /** Standalone Prometheus's static targets (`host:port`: the bare-metal nodes, the Pushgateway). */
    staticTargets: string[];
    /** Alertmanager posts to Slack or PagerDuty (standalone mode, a receiver configured): HTTPS out. */
    externalReceivers: boolean;
}

/** Ports of the API server: the `kubernetes` Service's 443 and the endpoints' 6443 (policies see the endpoint after DNAT). */
export const API_SERVER_PORTS = [443, 6443];
const tcp = (...ports: number[]): Port[] => [...new Set(ports)].map((port) => ({ protocol: "TCP", port }));

/** The port a URL is reached on (its own, else its scheme's). */
export function urlPort(url: string): number {
    const u = new URL(url);
    return u.port ? Number(u.port) : u.protocol === "https:" ? 443 : 80;
}

/**
 * Each workload's egress NetworkPolicy (empty when `policy.enabled` or `policy.egress.enabled` is false): one per
 * workload, named `<app>-egress`, selecting only that workload's pods, so a pod the stack does not run (a gate pod
 * in the namespace) is never egress-isolated by accident.  Every rule names its ports; in-cluster destinations are
 * pod selectors; outside ones (the chain RPC, the API server, the receivers, the nodes) are `egress.externalCidrs`
 * or, when that is empty, any address on those ports.
 */
export function egressPolicies(args: EgressArgs): IsolationPolicy[] {
    const e = args.policy.egress;
    if (!args.policy.enabled || !e?.enabled) return [];
    const p = peers(args);
    const external: Peer[] | undefined = e.externalCidrs.length > 0 ? e.externalCidrs.map((cidr) => ({ ipBlock: { cidr: normaliseCidr(cidr) } })) : undefined;
    const outside = (ports: Port[]) => ({ ...(external ? { to: external } : {}), ports });
    const dns = { to: [{ namespaceSelector: inNamespace(e.dnsNamespace), podSelector: { matchLabels: { ...e.dnsPodLabels } } }],
        ports: [{ protocol: "UDP" as const, port: 53 }, { protocol: "TCP" as const, port: 53 }] };
    const egress = (name: string, purpose: string, pods: LabelSelector, rules: { to?: Peer[]; ports: Port[] }[]): IsolationPolicy => ({
        name: `${name}-egress`, purpose, spec: { podSelector: pods, policyTypes: ["Egress"], egress: [dns, ...rules] },
    });
    const chainPort = args.chainRpcUrl ? urlPort(args.chainRpcUrl) : 443;
    const policies: IsolationPolicy[] = [
        egress("agenc-speculation", `the speculation service reaches only DNS, the proof workers' port ${PROOF_WORKER_PORT} and the chain RPC (port ${chainPort})`,
            app(...SPECULATION_APPS), [{ to: [{ podSelector: app(PROOF_WORKER_APP) }], ports: tcp(PROOF_WORKER_PORT) }, outside(tcp(chainPort))]),
        egress(PROOF_WORKER_APP, "the proof workers reach only DNS (they answer the speculation service, they call nothing)", app(PROOF_WORKER_APP), []),
    ];
    if (args.watchdogPort !== undefined) {
        const promPorts = tcp(9090, ...(args.watchdogPrometheusUrl ? [urlPort(args.watchdogPrometheusUrl)] : []));
        const apiServer = args.shiftMode === "ingress-weight";
        policies.push(egress("watchdog",
            `the watchdog reaches only DNS, the admin API (port ${ADMIN_PORT}), Prometheus${apiServer ? " and the API server (the canary Ingress's weight)" : ""}`,
            { matchLabels: networkRole("watchdog") }, [
                { to: [{ podSelector: app(...SPECULATION_APPS) }], ports: tcp(ADMIN_PORT) },
                { to: p.prometheus, ports: promPorts },
                ...(apiServer ? [outside(tcp(...API_SERVER_PORTS))] : []),
            ]));
    }
    if (args.monitoringMode === "standalone") {
        const targets = args.staticTargets.map(hostPort).filter((t): t is { host: string; port: number } => t !== undefined);
        const literal = targets.filter((t) => ipLiteral(t.host));
        const named = targets.filter((t) => !ipLiteral(t.host));
        policies.push(
            egress("prometheus", "Prometheus reaches only DNS, the namespace's pods (its scrape targets and Alertmanager), the API server (service discovery) and its static targets",
                app("prometheus"), [
                    { to: [{ podSelector: {} }], ports: tcp(ADMIN_PORT, PROOF_WORKER_PORT, 9093, ...(args.watchdogPort !== undefined ? [args.watchdogPort] : [])) },
                    outside(tcp(...API_SERVER_PORTS)),
                    ...literal.map((t) => ({ to: [{ ipBlock: { cidr: normaliseCidr(`${t.host}/${t.host.includes(":") ? 128 : 32}`) } }], ports: tcp(t.port) })),
                    ...(named.length > 0 ? [outside(tcp(...named.map((t) => t.port)))] : []),
                ]),
            egress("alertmanager", `Alertmanager reaches only DNS${args.watchdogPort !== undefined ? ", the watchdog" : ""}${args.externalReceivers ? " and the receivers (HTTPS)" : ""}`,
                app("alertmanager"), [
                    ...(args.watchdogPort !== undefined ? [{ to: p.watchdog, ports: tcp(args.watchdogPort) }] : []),
                    ...(args.externalReceivers ? [outside(tcp(443))] : []),
                ]),
            egress("grafana", "Grafana reaches only DNS and Prometheus", app("grafana"), [{ to: p.prometheus, ports: tcp(9090) }]),
        );
    }
    return policies;
}

/** `host:port` (`[v6]:port` too) of a static target; undefined when it names no port. */
function hostPort(target: string): { host: string; port: number } | undefined {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(target);
    return m ? { host: m[1], port: Number(m[2]) } : undefined;
}
const ipLiteral = (host: string) => /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(":");
