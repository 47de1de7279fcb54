import { expect } from "chai";
import { isolationPolicies, NETWORK_ROLE_LABEL, networkRole, peers } from "../../../lib/network/peers";

const policy = {
    enabled: true, monitoringNamespace: "monitoring", prometheusPodLabels: { "app.kubernetes.io/name": "prometheus" },
    alertmanagerPodLabels: { "app.kubernetes.io/name": "alertmanager" }, gateCidrs: [], ingressControllerNamespace: "ingress-nginx",
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
});
