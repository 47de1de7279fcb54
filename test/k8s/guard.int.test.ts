/**
 * The guard's evidence and its one revert path between `up`s, on a real control plane (issue 22):
 *   - standalone monitoring keeps Prometheus's TSDB and Alertmanager's notification log on PersistentVolumeClaims,
 *     bound by the control plane's PV controller (to statically provisioned volumes, test/helpers/kube.ts); a deleted
 *     Prometheus pod is replaced by one that mounts the same bound claim, and the Deployment recreates (RWO);
 *   - the watchdog's replicas spread across nodes and a PodDisruptionBudget keeps one through a drain, as the
 *     disruption controller counts them.
 */
import { expect } from "chai";
import { ControlPlane, controlPlane } from "../../reference/controlPlane";
import { Cluster, inNamespace, podsSelected, programObjects, settled } from "../helpers/kube";
import { stackConfig, withEdit } from "../helpers/stack";
import { eventually } from "../helpers/wait";

describe("the guard's evidence and watchdog on a real control plane (issue 22)", function () {
    this.timeout(5 * 60_000);
    let cp: ControlPlane;
    let cluster: Cluster;
    const namespace = "guard-standalone";

    before(async function () {
        this.timeout(45 * 60_000); // the first suite to ask may build the control plane's binaries
        cp = await controlPlane();
        cluster = new Cluster(cp);
        const config = withEdit(stackConfig("staging"), "speculation:monitoring", "mode", "standalone");
        const objects = inNamespace(await programObjects(config), "agenc-staging", namespace);
        const result = await cluster.update(objects);
        expect(result.warnings, "warnings from the API server").to.deep.equal([]);
        await settled(cp, namespace);
    });

    it("binds Prometheus's and Alertmanager's claims, and a restarted Prometheus mounts the same bound claim", async () => {
        const claims = (await cp.getJson<{ items: any[] }>(["get", "pvc", "-n", namespace])).items;
        expect(claims.map((c) => [c.metadata.name, c.status.phase]).sort()).to.deep.equal([["alertmanager-data", "Bound"], ["prometheus-data", "Bound"]]);
        const volume = claims.find((c) => c.metadata.name === "prometheus-data").spec.volumeName;
        expect(volume).to.be.a("string").and.not.equal("");

        const before = (await cp.getJson<{ items: any[] }>(["get", "pods", "-n", namespace, "-l", "app=prometheus"])).items;
        expect(before).to.have.length(1);
        const mounts = (p: any) => p.spec.volumes.filter((v: any) => v.persistentVolumeClaim).map((v: any) => v.persistentVolumeClaim.claimName);
        expect(mounts(before[0])).to.deep.equal(["prometheus-data"]);
        const deployment = await cp.getJson<any>(["get", "deployment", "prometheus", "-n", namespace]);
        expect(deployment.spec.strategy.type, "one pod holds the ReadWriteOnce volume at a time").to.equal("Recreate");

        await cp.kubectl(["delete", "pod", "-n", namespace, before[0].metadata.name, "--wait=true", "--timeout=60s"]);
        const after = await eventually("the replacement Prometheus pod ready", async () => {
            const pods = (await cp.getJson<{ items: any[] }>(["get", "pods", "-n", namespace, "-l", "app=prometheus"])).items
                .filter((p) => p.metadata.uid !== before[0].metadata.uid && p.status.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"));
            return pods.length === 1 ? pods[0] : undefined;
        }, 90_000);
        expect(mounts(after)).to.deep.equal(["prometheus-data"]);
        const claim = await cp.getJson<any>(["get", "pvc", "prometheus-data", "-n", namespace]);
        expect([claim.status.phase, claim.spec.volumeName], "the same volume, still bound").to.deep.equal(["Bound", volume]);
    });

    it("spreads the watchdog's replicas across nodes and keeps one through a drain (the disruption controller's count)", async () => {
        const snap = await settled(cp, namespace);
        const d = snap.deployments.find((x: any) => x.metadata.name === "speculation-watchdog")!;
        expect(d.spec.template.spec.topologySpreadConstraints).to.deep.equal([
            { maxSkew: 1, topologyKey: "kubernetes.io/hostname", whenUnsatisfiable: "DoNotSchedule", labelSelector: { matchLabels: { app: "speculation-watchdog" } } },
        ]);
        const pods = podsSelected(snap, d.spec.selector);
        expect(pods).to.have.length(2);
        expect(new Set(pods.map((p: any) => p.spec.nodeName)).size, "on two nodes").to.equal(2);
        const pdb = await eventually("the disruption controller's count of the watchdog's pods", async () => {
            const b = await cp.getJson<any>(["get", "pdb", "speculation-watchdog", "-n", namespace]);
            return b.status?.expectedPods === 2 ? b : undefined;
        }, 60_000);
        expect([pdb.spec.minAvailable, pdb.status.currentHealthy, pdb.status.disruptionsAllowed]).to.deep.equal([1, 2, 1]);
    });
});
