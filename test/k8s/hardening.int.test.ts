/**
 * The hardening of issue 17 on a real control plane (reference/controlPlane.ts: kube-apiserver, controllers,
 * kube-scheduler, kwok nodes): the program's NetworkPolicies and topology spread constraints are accepted by the
 * API server as declared (strict field validation, no warning), both workloads still become Available, and the
 * scheduler really spreads their pods across the nodes.
 */
import { expect } from "chai";
import { ControlPlane, controlPlane } from "../../reference/controlPlane";
import { Cluster, inNamespace, K8sObject, podsSelected, programObjects, settled } from "../helpers/kube";
import { eventually } from "../helpers/wait";
import { stackConfig, withEdit } from "../helpers/stack";

const RECEIVERS = { slackWebhookUrl: "https://hooks.slack.example/T000/B000/XYZ", pagerdutyRoutingKey: "0123456789abcdef0123456789abcdef" };

describe("hardening on a real control plane (issue 17)", function () {
    this.timeout(5 * 60_000);
    let cp: ControlPlane;
    let cluster: Cluster;

    before(async function () {
        this.timeout(45 * 60_000); // the first suite to ask may build the control plane's binaries
        cp = await controlPlane();
        cluster = new Cluster(cp);
    });

    for (const [stack, mode] of [["production", "operator"], ["staging", "standalone"]] as const) {
        it(`${stack} (${mode} monitoring): NetworkPolicies and spread constraints accepted as declared, workloads Available and spread over the nodes`, async () => {
            const namespace = `hardening-${stack}`;
            let config = withEdit(stackConfig(stack), "speculation:monitoring", "mode", mode);
            config = withEdit(config, "speculation:hardening", "networkPolicies.gateCidrs", ["192.0.2.0/24"]);
            config = { ...config, "speculation:alertReceivers": RECEIVERS };
            const objects = inNamespace(await programObjects(config, ["speculation:alertReceivers"]), `agenc-${stack}`, namespace);
            const declared = objects.filter((o) => o.kind === "NetworkPolicy");
            expect(declared.length).to.be.greaterThan(2);
            expect(declared.filter((p) => p.spec.policyTypes.includes("Egress")).length, "an egress policy per workload").to.be.greaterThan(2);

            const result = await cluster.update(objects);
            expect(result.warnings, "warnings from the API server").to.deep.equal([]);
            const snap = await settled(cp, namespace);

            // The API server stored each policy as declared (nothing pruned or rejected).
            const stored = (await cp.getJson<{ items: K8sObject[] }>(["get", "networkpolicies.networking.k8s.io", "-n", namespace])).items;
            expect(stored.map((p) => p.metadata.name).sort()).to.deep.equal(declared.map((p) => p.metadata.name).sort());
            for (const want of declared) {
                const got = stored.find((p) => p.metadata.name === want.metadata.name)!;
                expect(got.spec.podSelector, want.metadata.name).to.deep.equal(want.spec.podSelector);
                expect(got.spec.policyTypes, want.metadata.name).to.deep.equal(want.spec.policyTypes);
                expect(got.spec.ingress ?? [], want.metadata.name).to.deep.equal(want.spec.ingress ?? []);
                expect(got.spec.egress ?? [], want.metadata.name).to.deep.equal(want.spec.egress ?? []);
            }

            for (const app of ["proof-workers", "agenc-speculation"]) {
                const d = snap.deployments.find((x) => x.metadata.name === app)!;
                expect(d.spec.template.spec.topologySpreadConstraints, `${app} spread stored`).to.deep.equal(
                    [{ maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: { app } } }]);
                const pods = podsSelected(snap, d.spec.selector);
                expect(pods, `${app} pods`).to.have.length(d.spec.replicas);
                const perNode = cp.nodes.map((n) => pods.filter((p) => p.spec.nodeName === n).length);
                expect(Math.max(...perNode) - Math.min(...perNode), `${app} pods per node ${perNode.join("/")}`).to.be.at.most(1);
            }
        });
    }

    it("the scheduler enforces the hard spread: with two of three nodes cordoned, one proof worker runs and the other stays Pending instead of stacking", async () => {
        const namespace = "hardening-spread";
        const objects = inNamespace(await programObjects(stackConfig("staging")), "agenc-staging", namespace)
            .filter((o) => o.kind === "Namespace" || (o.kind === "Deployment" && o.metadata.name === "proof-workers"));
        const [free, ...cordoned] = cp.nodes;
        for (const n of cordoned) await cp.kubectl(["cordon", n]);
        try {
            await cluster.update(objects);
            const pods = await eventually("both proof workers scheduled or refused by the scheduler", async () => {
                const list = (await cp.getJson<{ items: any[] }>(["get", "pods", "-n", namespace, "-l", "app=proof-workers"])).items;
                const refused = (p: any) => (p.status?.conditions ?? []).some((c: any) => c.type === "PodScheduled" && c.status === "False" && c.reason === "Unschedulable");
                return list.length === 2 && list.every((p) => p.spec.nodeName || refused(p)) ? list : false;
            });
            const running = pods.filter((p) => p.spec.nodeName);
            expect(running.map((p) => p.spec.nodeName)).to.deep.equal([free]);
            const pending = pods.find((p) => !p.spec.nodeName)!;
            const why = pending.status.conditions.find((c: any) => c.type === "PodScheduled").message;
            expect(why).to.match(/didn't match pod topology spread constraints/);
        } finally {
            for (const n of cordoned) await cp.kubectl(["uncordon", n]);
            await cp.kubectl(["delete", "namespace", namespace, "--wait=false"]);
        }
    });
});
