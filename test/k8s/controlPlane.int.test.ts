/**
 * The test control plane itself, and what the real API server refuses: each test here shows one check that the
 * program's tests (program.int.test.ts) rely on — strict field validation, label validation, Pod Security admission,
 * the ServiceMonitor selection check — catching a deliberately broken object.  Remove the check and its test fails.
 */
import { expect } from "chai";
import { ControlPlane, controlPlane } from "../../reference/controlPlane";
import { Cluster, K8sObject, orphanCanaryIngresses, readyAddresses, serviceMonitorTargets, settled, snapshot } from "../helpers/kube";
import { RESTRICTED_CONTAINER_SECURITY_CONTEXT, podSecurityLabels, restrictedPodSecurityContext } from "../../lib/k8s";

const ns = (name: string, labels: Record<string, string> = {}): K8sObject => ({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels } });

/** A small restricted Deployment with a Service and a PDB (the shape the program's workloads have). */
function workload(namespace: string, app: string, edit: (pod: any) => void = () => undefined): K8sObject[] {
    const pod: any = {
        securityContext: restrictedPodSecurityContext(),
        containers: [{ name: app, image: "example.invalid/app:v1", ports: [{ name: "metrics", containerPort: 8080 }],
            securityContext: RESTRICTED_CONTAINER_SECURITY_CONTEXT }],
    };
    edit(pod);
    return [
        { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: app, namespace, labels: { app } },
            spec: { replicas: 2, selector: { matchLabels: { app } }, template: { metadata: { labels: { app } }, spec: pod } } },
        { apiVersion: "v1", kind: "Service", metadata: { name: app, namespace, labels: { app } },
            spec: { selector: { app }, ports: [{ name: "metrics", port: 8080, targetPort: 8080 }] } },
        { apiVersion: "policy/v1", kind: "PodDisruptionBudget", metadata: { name: app, namespace },
            spec: { maxUnavailable: 1, selector: { matchLabels: { app } } } },
    ];
}

const serviceMonitor = (namespace: string, app: string): K8sObject => ({
    apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor", metadata: { name: app, namespace },
    spec: { selector: { matchLabels: { app } }, namespaceSelector: { matchNames: [namespace] }, endpoints: [{ port: "metrics" }] },
});

describe("the test control plane (etcd, kube-apiserver, controllers, kube-scheduler, kwok)", function () {
    this.timeout(5 * 60_000);
    let cp: ControlPlane;
    let cluster: Cluster;
    const NS = "smoke";

    before(async function () {
        this.timeout(45 * 60_000); // the first suite to ask may build the binaries (cold: ~15 min on 2 idle cores)
        cp = await controlPlane();
        cluster = new Cluster(cp);
        await cluster.update([ns(NS, podSecurityLabels("restricted")), ...workload(NS, "app")]);
    });

    it("serves the pinned Kubernetes version with prometheus-operator's CRDs Established", async () => {
        expect(cp.version).to.equal("v1.36.3");
        const crds = await cp.getJson<{ items: any[] }>(["get", "crd"]);
        const names = crds.items.map((c) => c.metadata.name);
        expect(names).to.include.members(["servicemonitors.monitoring.coreos.com", "prometheusrules.monitoring.coreos.com", "alertmanagerconfigs.monitoring.coreos.com"]);
    });

    it("schedules a restricted Deployment onto the fake nodes: Available, endpoints, PDB counting its pods", async () => {
        const snap = await settled(cp, NS);
        expect(snap.pods).to.have.length(2);
        expect(snap.pods.every((p) => cp.nodes.includes(p.spec.nodeName))).to.equal(true);
        expect(readyAddresses(snap, "app").sort()).to.deep.equal(snap.pods.map((p) => p.status.podIP).sort());
        const pdb = snap.pdbs.find((p) => p.metadata.name === "app");
        expect(pdb.status).to.include({ expectedPods: 2, currentHealthy: 2, desiredHealthy: 1, disruptionsAllowed: 1 });
    });

    describe("rejects deliberately broken objects", () => {
        it("an unknown field (server-side apply with strict field validation)", async () => {
            const [deployment] = workload(NS, "typo", (pod) => { pod.containers[0].imagePullPolicyy = "Always"; });
            const err = await cluster.apply(deployment).then(() => undefined, (e: Error) => e);
            expect(err?.message, err?.message).to.match(/Error from server: .*\.spec\.template\.spec\.containers\[name="typo"\]\.imagePullPolicyy: field not declared in schema/);
            // The check is server-side apply's typed schema: a plain create without validation drops the typo silently.
            await cp.kubectl(["create", "--validate=ignore", "--dry-run=server", "-f", "-"], JSON.stringify(deployment));
        });

        it("an unknown field in a custom resource (the CRD's structural schema)", async () => {
            const sm = serviceMonitor(NS, "app");
            sm.spec.endpoints[0].intervall = "15s";
            const err = await cluster.apply(sm).then(() => undefined, (e: Error) => e);
            expect(err?.message, err?.message).to.match(/Error from server: .*\.spec\.endpoints\[0\]\.intervall: field not declared in schema/);
            await cp.kubectl(["create", "--validate=ignore", "--dry-run=server", "-f", "-"], JSON.stringify(sm));
        });

        it("an invalid label value", async () => {
            const [deployment] = workload(NS, "badlabel");
            deployment.metadata.labels = { app: "badlabel", version: "v1.2.3 (stable)" };
            const err = await cluster.apply(deployment).then(() => undefined, (e: Error) => e);
            expect(err?.message, err?.message).to.match(/metadata\.labels: Invalid value: "v1\.2\.3 \(stable\)"/);
        });

        it("a pod that runs as root, in a namespace that enforces restricted (Pod Security admission)", async () => {
            const rootPod: K8sObject = {
                apiVersion: "v1", kind: "Pod", metadata: { name: "root", namespace: NS },
                spec: { containers: [{ name: "root", image: "example.invalid/app:v1", securityContext: { runAsUser: 0 } }] },
            };
            const err = await cluster.apply(rootPod).then(() => undefined, (e: Error) => e);
            expect(err?.message, err?.message).to.match(/violates PodSecurity "restricted:latest"/);
            expect(err?.message, err?.message).to.match(/runAsNonRoot != true|runAsUser=0/);
        });

        it("a Deployment whose pods are not restricted never becomes Available: its ReplicaSet reports the admission failure", async () => {
            const NS2 = "smoke-unrestricted";
            const objects = [ns(NS2, podSecurityLabels("restricted")), ...workload(NS2, "plain", (pod) => {
                delete pod.securityContext;
                delete pod.containers[0].securityContext;
            })];
            const result = await new Cluster(cp).update(objects);
            // The Deployment itself is admitted (Pod Security only warns on templates) …
            expect(result.warnings.join("\n")).to.match(/would violate PodSecurity "restricted:latest"/);
            // … and its pods are refused.
            const err = await settled(cp, NS2, 30_000).then(() => undefined, (e: Error) => e);
            expect(err?.message, err?.message).to.match(/cannot create pods: FailedCreate: .*violates PodSecurity "restricted:latest"/);
        });

        it("a canary Ingress without its primary (the pair check of the program's tests)", async () => {
            const ingress = (name: string, annotations: Record<string, string>): K8sObject => ({
                apiVersion: "networking.k8s.io/v1", kind: "Ingress", metadata: { name, namespace: NS, annotations },
                spec: { ingressClassName: "nginx", rules: [{ host: "app.example", http: { paths: [{ path: "/", pathType: "Prefix",
                    backend: { service: { name: "app", port: { number: 8080 } } } }] } }] },
            });
            const canary = ingress("app-canary", { "nginx.ingress.kubernetes.io/canary": "true", "nginx.ingress.kubernetes.io/canary-weight": "10" });
            await cluster.apply(canary); // the API server accepts it: only the pair check can tell
            expect(orphanCanaryIngresses(await snapshot(cp, NS))).to.deep.equal(["Ingress app-canary: no primary Ingress of class nginx for app.example/ (Prefix)"]);
            await cluster.apply(ingress("app", {}));
            expect(orphanCanaryIngresses(await snapshot(cp, NS))).to.deep.equal([]);
        });

        it("a ServiceMonitor that selects nothing (the selection check of the program's tests)", async () => {
            const good = serviceMonitor(NS, "app");
            const broken = { ...serviceMonitor(NS, "nothing"), spec: { ...serviceMonitor(NS, "nothing").spec, selector: { matchLabels: { app: "no-such-app" } } } };
            await cluster.apply(good, broken); // the API server accepts both: only the selection check can tell
            expect(await serviceMonitorTargets(cp, good)).to.deep.equal([{ service: "app", namespace: NS, ports: ["metrics"] }]);
            expect(await serviceMonitorTargets(cp, broken)).to.deep.equal([]);
        });
    });
});
