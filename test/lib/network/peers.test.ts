import { expect } from "chai";
import { egressPolicies, isolationPolicies, NETWORK_ROLE_LABEL, networkRole, peers } from "../../../lib/network/peers";

const policy = {
    enabled: true, monitoringNamespace: "monitoring", prometheusPodLabels: { "app.kubernetes.io/name": "prometheus" },
    alertmanagerPodLabels: { "app.kubernetes.io/name": "alertmanager" }, gateCidrs: [], ingressControllerNamespace: "ingress-nginx",
    egress: { enabled: true, dnsNamespace: "kube-system", dnsPodLabels: { "k8s-app": "kube-kns" }, externalCidrs: [] as string[] },
};
const base = { namespace: "agenc-staging", monitoringMode: "operator" as const, shiftMode: "feature-flag" as const, policy };

describe("lib/network/peers: who may reach which port", () => {
    it("gives the watchdog and the gate one label each, in one place", () => {
        expect(NETWORK_ROLE_LABEL).to.equal("agenc.io/network-role");
        expect(networkRole("watchdog")).to.deep.equal({ "agenc.io/network-role": "watchdog" });
        expect(peers(base).watchdog).to.deep.equal([{ podSelector: { matchLabels: { "agenc.io/network-role": "watchdog" } } }]);
    });

    it("selects gate pods in the stack's own namespace unless gateNamespace names another", () => {
        expect(peers(base).gate).to.deep.equal([{ podSelector: { matchLabels: networkRole("gate") } }]);
        expect(peers({ ...base, policy: { ...policy, gateNamespace: "agenc-staging" } }).gate).to.deep.equal([{ podSelector: { matchLabels: networkRole("gate") } }]);
        expect(peers({ ...base, policy: { ...policy, gateNamespace: "ci", gateCidrs: ["192.0.2.0/24"] } }).gate).to.deep.equal([
            { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ci" } }, podSelector: { matchLabels: networkRole("gate") } },
            { ipBlock: { cidr: "192.0.2.0/24" } },
        ]);
    });

    it("every allow rule names its peers and its port (no open rule)", () => {
        for (const monitoringMode of ["operator", "standalone"] as const) {
            for (const shiftMode of ["feature-flag", "ingress-weight"] as const) {
                const all = isolationPolicies({ ...base, monitoringMode, shiftMode });
                expect(all[0].name).to.equal("default-deny-ingress");
                for (const p of all.slice(1)) {
                    expect(p.spec.ingress, p.name).to.have.length(1);
                    expect(p.spec.ingress![0].from.length, p.name).to.be.greaterThan(0);
                    for (const peer of p.spec.ingress![0].from) expect(Object.keys(peer).length, `${p.name} peer`).to.be.greaterThan(0);
                    expect(p.spec.ingress![0].ports, p.name).to.have.length(1);
                }
            }
        }
    });

    it("admits Alertmanager, Prometheus (the window judgement reads the watchdog's reverts) and the gate to the watchdog's port", () => {
        expect(isolationPolicies(base).map((p) => p.name)).to.not.include("watchdog");
        for (const [monitoringMode, alertmanager, prometheus] of [
            ["operator", { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } }, podSelector: { matchLabels: { "app.kubernetes.io/name": "alertmanager" } } },
                { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } }, podSelector: { matchLabels: { "app.kubernetes.io/name": "prometheus" } } }],
            ["standalone", { podSelector: { matchLabels: { app: "alertmanager" } } }, { podSelector: { matchLabels: { app: "prometheus" } } }],
        ] as const) {
            const watchdog = isolationPolicies({ ...base, monitoringMode, watchdogPort: 8080 }).find((p) => p.name === "watchdog")!;
            expect(watchdog.spec).to.deep.equal({
                podSelector: { matchLabels: networkRole("watchdog") }, policyTypes: ["Ingress"],
                ingress: [{ from: [alertmanager, prometheus, { podSelector: { matchLabels: networkRole("gate") } }], ports: [{ protocol: "TCP", port: 8080 }] }],
            });
        }
    });

    it("declares nothing when disabled", () => {
        expect(isolationPolicies({ ...base, policy: { ...policy, enabled: false } })).to.deep.equal([]);
    });

    describe("egress: each workload reaches only what it needs", () => {
        const egressBase = { ...base, watchdogPort: 9095, staticTargets: [], externalReceivers: false };
        const byName = (all: ReturnType<typeof egressPolicies>) => Object.fromEntries(all.map((p) => [p.name, p]));
        const dns = { to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } }, podSelector: { matchLabels: { "k8s-app": "kube-kns" } } }],
            ports: [{ protocol: "UDP", port: 53 }, { protocol: "TCP", port: 53 }] };

        it("one policy per workload, each selecting only its pods, DNS first, every rule with its ports", () => {
            for (const monitoringMode of ["operator", "standalone"] as const) {
                for (const shiftMode of ["feature-flag", "ingress-weight", "blue-green"] as const) {
                    const all = egressPolicies({ ...egressBase, monitoringMode, shiftMode, staticTargets: ["192.0.2.7:9100", "push.example:9091"], externalReceivers: true });
                    expect(all.map((p) => p.name)).to.deep.equal(["agenc-speculation-egress", "proof-workers-egress", "watchdog-egress",
                        ...(monitoringMode === "standalone" ? ["prometheus-egress", "alertmanager-egress", "grafana-egress"] : [])]);
                    for (const p of all) {
                        expect(p.spec.policyTypes, p.name).to.deep.equal(["Egress"]);
                        expect(p.spec.podSelector, p.name).to.not.deep.equal({});
                        expect(p.spec.egress![0], p.name).to.deep.equal(dns);
                        for (const rule of p.spec.egress!) expect(rule.ports.length, p.name).to.be.greaterThan(0);
                    }
                }
            }
        });

        it("the speculation service: the proof workers and the chain RPC's port; the proof workers: DNS only", () => {
            const all = byName(egressPolicies({ ...egressBase, chainRpcUrl: "http://rpc.example:8899" }));
            expect(all["agenc-speculation-egress"].spec.egress!.slice(1)).to.deep.equal([
                { to: [{ podSelector: { matchLabels: { app: "proof-workers" } } }], ports: [{ protocol: "TCP", port: 9091 }] },
                { ports: [{ protocol: "TCP", port: 8899 }] },
            ]);
            expect(all["proof-workers-egress"].spec.egress).to.deep.equal([dns]);
            const narrowed = byName(egressPolicies({ ...egressBase, policy: { ...policy, egress: { ...policy.egress, externalCidrs: ["203.0.113.9/32"] } } }));
            expect(narrowed["agenc-speculation-egress"].spec.egress![2]).to.deep.equal({ to: [{ ipBlock: { cidr: "203.0.113.9/32" } }], ports: [{ protocol: "TCP", port: 443 }] });
        });

        it("the watchdog: the admin API and Prometheus, and the API server only in ingress-weight mode", () => {
            const rules = (shiftMode: "feature-flag" | "ingress-weight") => byName(egressPolicies({ ...egressBase, shiftMode }))["watchdog-egress"].spec.egress!;
            expect(rules("feature-flag")).to.have.length(3);
            expect(rules("ingress-weight")[3]).to.deep.equal({ ports: [{ protocol: "TCP", port: 443 }, { protocol: "TCP", port: 6443 }] });
            expect(egressPolicies({ ...egressBase, watchdogPort: undefined }).map((p) => p.name)).to.not.include("watchdog-egress");
        });

        it("standalone Prometheus: an IP target by its address, a named one by its port", () => {
            const rules = byName(egressPolicies({ ...egressBase, monitoringMode: "standalone", staticTargets: ["192.0.2.7:9100", "push.example:9091"] }))["prometheus-egress"].spec.egress!;
            expect(rules.slice(3)).to.deep.equal([
                { to: [{ ipBlock: { cidr: "192.0.2.7/32" } }], ports: [{ protocol: "TCP", port: 9100 }] },
                { ports: [{ protocol: "TCP", port: 9091 }] },
            ]);
        });

        it("none when network policies or egress are off", () => {
            expect(egressPolicies({ ...egressBase, policy: { ...policy, enabled: false } })).to.deep.equal([]);
            expect(egressPolicies({ ...egressBase, policy: { ...policy, egress: { ...policy.egress, enabled: false } } })).to.deep.equal([]);
        });
    });
});
