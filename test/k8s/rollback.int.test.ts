/**
 * The emergency rollback (seed 000: scale both workloads to 0 and wait for termination, then redeploy the last known
 * good with speculation disabled) on a real control plane.  The engine does not order both deletes before either
 * create (it replaces proof-workers, then the speculation service), so the program makes the order explicit: an
 * EmergencyStop step scales every release Deployment to 0 and waits for the pods to go, and both Deployments'
 * replacements wait for it.  Here the stop runs against the API server as the provider runs it (kubectl); the real
 * engine's own order is asserted from its events in test/e2e/kubernetes.e2e.ts.
 */
import { expect } from "chai";
import { loadStackConfig } from "../../config";
import { defineStack } from "../../program";
import { kubectlKube, stopWorkloads } from "../../lib/rollback/stop";
import { artifacts, ControlPlane, controlPlane } from "../../reference/controlPlane";
import { Cluster, inNamespace, K8sObject, objectsOf, podsSelected, settled } from "../helpers/kube";
import { MockEngine, settle, stackConfig, withEdit } from "../helpers/stack";

const WORKLOADS = ["agenc-speculation", "proof-workers"];

async function registrations(config: Record<string, unknown>) {
    const engine = new MockEngine();
    engine.install(config);
    await settle(defineStack(loadStackConfig()) as unknown as Record<string, unknown>);
    return engine;
}

describe("the full and emergency rollbacks on a real control plane (issue 14)", function () {
    this.timeout(5 * 60_000);
    let cp: ControlPlane;
    before(async function () {
        this.timeout(45 * 60_000); // the first suite to ask may build the control plane's binaries
        cp = await controlPlane();
    });

    it("full rollback: both workloads roll back in place to previousVersion and become ready, speculation disabled, nothing replaced", async () => {
        const namespace = "rollback-full";
        const release = withEdit(withEdit(stackConfig("staging"), "speculation:rolloutPercentage", undefined, 10), "speculation:monitoring", "mode", "standalone");
        const full = withEdit(withEdit(release, "speculation:rollback", undefined, { mode: "full" }), "speculation:rolloutPercentage", undefined, 0);
        const previous = (stackConfig("staging")["speculation:release"] as { previousVersion: string }).previousVersion;
        const cluster = new Cluster(cp);
        await cluster.update(inNamespace(objectsOf(await registrations(release)), "agenc-staging", namespace));
        const before = await settled(cp, namespace);
        const uids = Object.fromEntries(before.deployments.filter((d) => WORKLOADS.includes(d.metadata.name)).map((d) => [d.metadata.name, d.metadata.uid]));

        const engine = await registrations(full);
        // The program's part: a rolling update (no delete-first), after the drain.
        const drain = engine.resources.find((r) => r.type === "pulumi-nodejs:dynamic/agenc:RollbackDrain")!;
        for (const d of engine.resources.filter((r) => r.type === "kubernetes:apps/v1:Deployment" && WORKLOADS.includes(r.inputs.metadata.name))) {
            expect(d.options?.deleteBeforeReplace, `${d.inputs.metadata.name}: a full rollback rolls, it does not delete`).to.not.equal(true);
            expect(d.dependencies, `${d.inputs.metadata.name} waits for the drain`).to.include(drain.urn);
        }
        const result = await cluster.update(inNamespace(objectsOf(engine), "agenc-staging", namespace));
        expect(result.replaced, "objects replaced instead of updated in place").to.deep.equal([]);
        const after = await settled(cp, namespace);
        for (const name of WORKLOADS) {
            const d = after.deployments.find((x) => x.metadata.name === name);
            expect(d.metadata.uid, `${name} is the same Deployment, rolled`).to.equal(uids[name]);
            expect(d.status.readyReplicas, `${name} ready`).to.equal(d.spec.replicas);
            const own = podsSelected(after, d.spec.selector);
            expect(own.length, `${name} pods after`).to.equal(d.spec.replicas);
            for (const p of own) {
                const c = p.spec.containers[0];
                expect(c.image, `${name} image`).to.contain(`:${previous}`);
                if (name === "agenc-speculation") expect(c.env.find((e: { name: string }) => e.name === "SPECULATION_ENABLED")?.value).to.equal("false");
            }
        }
    });

    it("both workloads go to zero and terminate before the last known good comes up, with speculation disabled", async () => {
        const namespace = "rollback-emergency";
        const release = withEdit(withEdit(stackConfig("staging"), "speculation:rolloutPercentage", undefined, 10), "speculation:monitoring", "mode", "standalone");
        const emergency = withEdit(withEdit(release, "speculation:rollback", undefined, { mode: "emergency", lastKnownGood: "v1.2.1" }),
            "speculation:rolloutPercentage", undefined, 0);
        const cluster = new Cluster(cp);
        await cluster.update(inNamespace(objectsOf(await registrations(release)), "agenc-staging", namespace));
        const before = await settled(cp, namespace);
        const releaseVersion = (stackConfig("staging")["speculation:release"] as { version: string }).version;
        for (const name of WORKLOADS) {
            const d = before.deployments.find((x) => x.metadata.name === name);
            expect(podsSelected(before, d.spec.selector).length, `${name} pods before`).to.be.greaterThan(0);
        }

        const engine = await registrations(emergency);
        const next = inNamespace(objectsOf(engine), "agenc-staging", namespace);
        // The program's part: both Deployments replaced delete-first, and nothing asks for a background delete.
        const deployments = engine.resources.filter((r) => r.type === "kubernetes:apps/v1:Deployment" && WORKLOADS.includes(r.inputs.metadata.name));
        expect(deployments.map((d) => [d.inputs.metadata.name, d.options?.deleteBeforeReplace, d.options?.replaceOnChanges]))
            .to.have.deep.members(WORKLOADS.map((n) => [n, true, ["*"]]));
        for (const d of next.filter((o) => o.kind === "Deployment")) {
            expect(d.metadata.annotations?.["pulumi.com/deletionPropagationPolicy"], "a background delete would not wait for the pods").to.equal(undefined);
        }

        // The program's stop: after the drain, before either Deployment; both wait for it.
        const stop = engine.resources.find((r) => r.type === "pulumi-nodejs:dynamic/agenc:EmergencyStop");
        expect(stop, "an emergency rollback registers its stop").to.not.equal(undefined);
        expect(stop!.inputs.deployments).to.include.members(WORKLOADS);
        const drain = engine.resources.find((r) => r.type === "pulumi-nodejs:dynamic/agenc:RollbackDrain")!;
        expect(stop!.dependencies, "the stop runs after speculation is disabled").to.include(drain.urn);
        for (const d of deployments) expect(d.dependencies, `${d.inputs.metadata.name} is replaced only after the stop`).to.include(stop!.urn);

        // The stop itself, as the provider runs it: the operator's kubectl and kubeconfig.
        const saved = { PATH: process.env.PATH, KUBECONFIG: process.env.KUBECONFIG };
        process.env.PATH = `${(await artifacts()).bin}:${process.env.PATH}`;
        process.env.KUBECONFIG = cp.kubeconfig;
        const lines: string[] = [];
        let report;
        try {
            report = await stopWorkloads({ namespace, deployments: stop!.inputs.deployments, deadlineSeconds: 120, pollSeconds: 0.5 }, kubectlKube(), (l) => lines.push(l));
        } finally {
            process.env.PATH = saved.PATH;
            if (saved.KUBECONFIG === undefined) delete process.env.KUBECONFIG; else process.env.KUBECONFIG = saved.KUBECONFIG;
        }
        expect(report.verdict, lines.join("\n")).to.equal("pass");
        expect(report.checks.filter((c) => c.verdict === "pass").map((c) => c.name)).to.have.members(WORKLOADS.map((n) => `stop-${n}`));
        expect(lines.some((l) => /scaled to 0 replicas/.test(l)), "it says what it does").to.equal(true);
        const pods = JSON.parse(await cp.kubectl(["get", "pods", "-n", namespace, "-o", "json"])) as { items: { metadata: { labels: Record<string, string> } }[] };
        const left = pods.items.filter((p) => WORKLOADS.includes(p.metadata.labels.app));
        expect(left, "pods of the release still there when the replacements start").to.deep.equal([]);

        await cluster.update(next);
        const after = await settled(cp, namespace);
        for (const name of WORKLOADS) {
            const d = after.deployments.find((x) => x.metadata.name === name);
            const own = podsSelected(after, d.spec.selector);
            expect(own.length, `${name} pods after`).to.equal(d.spec.replicas);
            for (const p of own) {
                const c = p.spec.containers[0];
                expect(c.image, `${name} image`).to.contain(":v1.2.1").and.not.contain(`:${releaseVersion}`);
                if (name === "agenc-speculation") expect(c.env.find((e: { name: string }) => e.name === "SPECULATION_ENABLED")?.value).to.equal("false");
            }
        }
        const toml = (next.find((o) => o.kind === "ConfigMap" && /speculation\.toml/.test(JSON.stringify(o.data ?? {}))) as K8sObject).data["speculation.toml"] as string;
        expect(toml, "the config the last known good starts with").to.match(/enabled\s*=\s*false/);
    });
});
