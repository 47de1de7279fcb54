import { expect } from "chai";
import { loadStackConfig } from "../../config";
import { networkRole } from "../../lib/network/peers";
import { MockEngine, stackConfig, withEdit } from "../helpers/stack";
import { renderModes } from "../helpers/renderModes";

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy";
const PDB = "kubernetes:policy/v1:PodDisruptionBudget";


const policy = (engine: MockEngine, name: string) => engine.byK8sName(NETPOL, name).inputs;
const hardening = (config: Record<string, unknown>, path: string, value: unknown) => withEdit(config, "speculation:hardening", path, value);

describe("hardening under mocks (issue 17)", () => {
    const engine = new MockEngine();

    describe("what a hardened cluster's linter asks of every pod (issue 25; kube-score itself: test/lint/kubeScore.int.test.ts)", () => {
        for (const mode of renderModes()) {
            it(`${mode.name}: ephemeral storage, a stated pull policy, uid/gid >= 10000 and liveness distinct from readiness everywhere`, async () => {
                await engine.render(mode.config);
                const deployments = engine.ofType(DEPLOYMENT).map((d) => d.inputs);
                expect(deployments.length).to.be.greaterThan(2);
                for (const d of deployments) {
                    const pod = d.spec.template.spec;
                    const where = d.metadata.name;
                    expect(pod.securityContext.runAsUser, `${where} uid`).to.be.at.least(10000);
                    expect(pod.securityContext.runAsGroup, `${where} gid`).to.be.at.least(10000);
                    expect(pod.securityContext.fsGroup, `${where} fsGroup`).to.be.at.least(10000);
                    for (const c of pod.containers) {
                        expect(c.resources.requests["ephemeral-storage"], `${where}/${c.name} ephemeral request`).to.be.a("string");
                        expect(c.resources.limits["ephemeral-storage"], `${where}/${c.name} ephemeral limit`).to.be.a("string");
                        expect(c.imagePullPolicy, `${where}/${c.name}`).to.equal(/@sha256:/.test(c.image) ? "IfNotPresent" : "Always");
                        expect(JSON.stringify(c.livenessProbe), `${where}/${c.name}: liveness is not the readiness check`).to.not.equal(JSON.stringify(c.readinessProbe));
                        const path = (p: any) => p.httpGet ? `${p.httpGet.path}:${p.httpGet.port}` : p.tcpSocket ? `tcp:${p.tcpSocket.port}` : JSON.stringify(p.exec);
                        expect(path(c.livenessProbe), `${where}/${c.name}: a different endpoint`).to.not.equal(path(c.readinessProbe));
                    }
                }
            });
        }
    });

    describe("NetworkPolicies", () => {
        it("deny ingress by default in the namespace", async () => {
            await engine.render(stackConfig("staging"));
            const deny = policy(engine, "default-deny-ingress");
            expect(deny.metadata.namespace).to.equal("agenc-staging");
            expect(deny.spec).to.deep.equal({ podSelector: {}, policyTypes: ["Ingress"] });
        });

        it("admit the admin port 9090 only from kube-prometheus-stack's Prometheus, the watchdog and the gate's pods", async () => {
            await engine.render(stackConfig("staging"));
            const admin = policy(engine, "agenc-speculation-admin").spec;
            expect(admin.podSelector).to.deep.equal({ matchExpressions: [{ key: "app", operator: "In", values: ["agenc-speculation", "agenc-speculation-canary", "agenc-speculation-green"] }] });
            expect(admin.ingress).to.deep.equal([{
                ports: [{ protocol: "TCP", port: 9090 }],
                from: [
                    { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } }, podSelector: { matchLabels: { "app.kubernetes.io/name": "prometheus" } } },
                    { podSelector: { matchLabels: networkRole("watchdog") } },
                    { podSelector: { matchLabels: networkRole("gate") } },
                ],
            }]);
        });

        it("take the gate's origin and the monitoring namespace from config, and admit the ingress controller only in ingress-weight mode", async () => {
            let c = hardening(stackConfig("staging"), "networkPolicies.gateCidrs", ["10.20.0.0/24"]);
            c = hardening(c, "networkPolicies.gateNamespace", "ci-runners");
            c = hardening(c, "networkPolicies.monitoringNamespace", "observability");
            await engine.render(c);
            const from = policy(engine, "agenc-speculation-admin").spec.ingress[0].from;
            expect(from).to.deep.include({ ipBlock: { cidr: "10.20.0.0/24" } });
            expect(from).to.deep.include({ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ci-runners" } }, podSelector: { matchLabels: networkRole("gate") } });
            expect(from[0].namespaceSelector).to.deep.equal({ matchLabels: { "kubernetes.io/metadata.name": "observability" } });
            expect(JSON.stringify(from)).to.not.contain("ingress-nginx");

            await engine.render(withEdit(withEdit(stackConfig("staging"), "speculation:rolloutPercentage", undefined, 50), "speculation:canary", "shiftMode", "ingress-weight"));
            expect(policy(engine, "agenc-speculation-admin").spec.ingress[0].from).to.deep.include({ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "ingress-nginx" } } });
        });

        it("admit the proof workers' 9091 from the speculation pods, Prometheus and the gate", async () => {
            await engine.render(stackConfig("staging"));
            const workers = policy(engine, "proof-workers").spec;
            expect(workers.podSelector).to.deep.equal({ matchLabels: { app: "proof-workers" } });
            expect(workers.ingress[0].ports).to.deep.equal([{ protocol: "TCP", port: 9091 }]);
            expect(workers.ingress[0].from[0]).to.deep.equal({ podSelector: { matchExpressions: [{ key: "app", operator: "In", values: ["agenc-speculation", "agenc-speculation-canary", "agenc-speculation-green"] }] } });
        });

        it("in standalone monitoring admit our own Prometheus and wire Prometheus, Alertmanager and Grafana", async () => {
            await engine.render(withEdit(stackConfig("staging"), "speculation:monitoring", "mode", "standalone"));
            expect(policy(engine, "agenc-speculation-admin").spec.ingress[0].from[0]).to.deep.equal({ podSelector: { matchLabels: { app: "prometheus" } } });
            expect(policy(engine, "alertmanager").spec.ingress).to.deep.equal([{ from: [{ podSelector: { matchLabels: { app: "prometheus" } } }], ports: [{ protocol: "TCP", port: 9093 }] }]);
            expect(engine.ofType(NETPOL).map((p) => p.inputs.metadata.name).sort()).to.deep.equal(
                ["agenc-speculation-admin", "agenc-speculation-egress", "alertmanager", "alertmanager-egress", "default-deny-ingress", "grafana", "grafana-egress",
                    "prometheus", "prometheus-egress", "proof-workers", "proof-workers-egress", "watchdog", "watchdog-egress"]);
        });

        it("give every workload an egress policy of its own, narrowed to egress.externalCidrs when set, and refuse a set that covers every address", async () => {
            await engine.render(hardening(withEdit(stackConfig("production"), "speculation:monitoring", "mode", "standalone"),
                "networkPolicies.egress.externalCidrs", ["203.0.113.0/24"]));
            const egress = engine.ofType(NETPOL).filter((p) => p.inputs.spec.policyTypes.includes("Egress"));
            expect(egress.map((p) => p.inputs.metadata.name).sort()).to.deep.equal(
                ["agenc-speculation-egress", "alertmanager-egress", "grafana-egress", "prometheus-egress", "proof-workers-egress", "watchdog-egress"]);
            // Production's chain RPC is https: port 443, to the configured CIDRs only.
            expect(policy(engine, "agenc-speculation-egress").spec.egress.at(-1)).to.deep.equal({ to: [{ ipBlock: { cidr: "203.0.113.0/24" } }], ports: [{ protocol: "TCP", port: 443 }] });
            engine.install(hardening(stackConfig("staging"), "networkPolicies.egress.externalCidrs", ["0.0.0.0/1", "128.0.0.0/1"]));
            expect(() => loadStackConfig()).to.throw(/speculation:hardening\.networkPolicies\.egress\.externalCidrs: .*every IPv4 address/);
            engine.install(hardening(stackConfig("staging"), "networkPolicies.egress.externalCidrs", ["10.0.0.0/7"]));
            expect(() => loadStackConfig()).to.throw(/speculation:hardening\.networkPolicies\.egress\.externalCidrs\[0\]/);
        });

        it("are absent when hardening.networkPolicies.enabled is false (staging only), and refused off in production", async () => {
            await engine.render(hardening(stackConfig("staging"), "networkPolicies.enabled", false));
            expect(engine.ofType(NETPOL)).to.have.length(0);
            engine.install(hardening(stackConfig("production"), "networkPolicies.enabled", false));
            expect(() => loadStackConfig()).to.throw(/speculation:hardening\.networkPolicies\.enabled: must be true in production/);
        });

        it("refuse a gate CIDR that admits everyone, by key", () => {
            engine.install(hardening(stackConfig("staging"), "networkPolicies.gateCidrs", ["0.0.0.0/0"]));
            expect(() => loadStackConfig()).to.throw(/speculation:hardening\.networkPolicies\.gateCidrs\[0\]: must not admit every address/);
        });
    });

    describe("topology spread", () => {
        it("spreads both workloads across nodes, hard by default", async () => {
            await engine.render(stackConfig("production"));
            for (const app of ["proof-workers", "agenc-speculation"]) {
                const pod = engine.byK8sName(DEPLOYMENT, app).inputs.spec.template;
                expect(pod.spec.topologySpreadConstraints, app).to.deep.equal([
                    { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: { app } } },
                ]);
                expect(pod.metadata.labels).to.include({ app });
            }
        });

        it("takes its mode and skew from config", async () => {
            let c = hardening(stackConfig("staging"), "topologySpread.whenUnsatisfiable", "ScheduleAnyway");
            c = hardening(c, "topologySpread.maxSkew", 2);
            await engine.render(c);
            expect(engine.byK8sName(DEPLOYMENT, "proof-workers").inputs.spec.template.spec.topologySpreadConstraints[0]).to.include({ maxSkew: 2, whenUnsatisfiable: "ScheduleAnyway" });
            engine.install(hardening(stackConfig("staging"), "topologySpread.whenUnsatisfiable", "Sometimes"));
            expect(() => loadStackConfig()).to.throw(/speculation:hardening\.topologySpread\.whenUnsatisfiable: .*DoNotSchedule, ScheduleAnyway/);
        });
    });

    describe("proof-worker probes", () => {
        it("check liveness over TCP and readiness over HTTP, so a readiness failure is not a restart", async () => {
            await engine.render(withEdit(stackConfig("staging"), "speculation:proofWorkers", "readinessPath", "/ready"));
            const c = engine.byK8sName(DEPLOYMENT, "proof-workers").inputs.spec.template.spec.containers[0];
            expect(c.livenessProbe).to.deep.equal({ tcpSocket: { port: 9091 }, initialDelaySeconds: 30, periodSeconds: 10, failureThreshold: 3 });
            expect(c.readinessProbe).to.deep.equal({ httpGet: { path: "/ready", port: 9091 }, initialDelaySeconds: 10, periodSeconds: 5, failureThreshold: 3 });
        });
    });

    describe("disruption budget", () => {
        it("production refuses one service replica by key (a budget cannot protect a single pod)", () => {
            engine.install(withEdit(stackConfig("production"), "speculation:service", "replicas", 1));
            expect(() => loadStackConfig()).to.throw(/speculation:service\.replicas: must be at least 2 in production/);
        });

        it("each budget leaves at least one pod running at the configured replicas", async () => {
            await engine.render(stackConfig("production"));
            for (const app of ["proof-workers", "agenc-speculation"]) {
                const replicas = engine.byK8sName(DEPLOYMENT, app).inputs.spec.replicas;
                const { maxUnavailable } = engine.byK8sName(PDB, app).inputs.spec;
                expect(replicas - maxUnavailable, app).to.be.at.least(1);
            }
        });
    });
});
