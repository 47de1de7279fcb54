/**
 * Where the signature verification sits in the release (program.ts, lib/plan/signing.ts), under mocks: registered in
 * every stack (off unless signing.required); it verifies exactly the image references the pods run (the release's
 * digests, the stable track's previous digest, a rollback's target) and the node binary; every Kubernetes object
 * waits for it (the provider, the namespace), the node rollout waits for it and checks the binary on the nodes, and
 * without Kubernetes the stages wait for it; preview shows what is verified against which key.
 */
import { expect } from "chai";
import { keyFingerprint } from "../../lib/signatures/keys";
import { MockEngine, NODE_SECRET_KEYS, Registered, stackConfig, withEdit, withNodes } from "../helpers/stack";

const STEP = "pulumi-nodejs:dynamic/agenc:SignatureVerification";
const D1 = `sha256:${"9f2c1d7a4b6e8f0a1c3e5d7b9a2c4e6f8a0b2d4c6e8f0a1b3c5d7e9f1a3b5c7d"}`;
const D2 = `sha256:${"1b3d5f7a9c2e4a6c8e0b2d4f6a8c0e2b4d6f8a0c2e4b6d8f0a2c4e6b8d0f2a4c"}`;
const PREV = `sha256:${"ab".repeat(32)}`;


/** Whether `r` waits for `target`, through its dependencies, its parent's, or its provider's. */
function waitsFor(engine: MockEngine, r: Registered, target: Registered, seen = new Set<string>()): boolean {
    const next = [...r.dependencies, ...(r.parent ? [r.parent] : []), ...(r.options?.provider ? [r.options.provider.replace(/::[^:]*$/, "")] : [])];
    for (const urn of next) {
        if (urn === target.urn) return true;
        if (seen.has(urn)) continue;
        seen.add(urn);
        const d = engine.resources.find((x) => x.urn === urn);
        if (d && waitsFor(engine, d, target, seen)) return true;
    }
    return false;
}

describe("the signature verification in the release (under mocks)", () => {
    const engine = new MockEngine();

    it("production: required, the release's two digests against the configured key, shown in the preview's outputs", async () => {
        const outputs = await engine.render(stackConfig("production"));
        const [step] = engine.ofType(STEP);
        expect(step.inputs.required).to.equal(true);
        expect(step.inputs.subjects.map((s: { name: string; repository: string; digest: string }) => `${s.name} ${s.repository}@${s.digest}`)).to.deep.equal([
            `speculation v1.2.3 ghcr.io/agenc/speculation@${D1}`, `proof-worker v1.2.3 ghcr.io/agenc/proof-worker@${D2}`,
        ]);
        expect(step.inputs.publicKeys.map((k: { name: string }) => k.name)).to.deep.equal(["release"]);
        const fp = keyFingerprint(step.inputs.publicKeys[0].pem);
        expect(outputs.signing).to.deep.equal({
            verification: "required", keys: { release: fp },
            images: { "speculation v1.2.3": `ghcr.io/agenc/speculation@${D1}`, "proof-worker v1.2.3": `ghcr.io/agenc/proof-worker@${D2}` },
        });
    });

    it("production: every Kubernetes object waits for it (through the provider), and the release Deployments run what it verifies", async () => {
        await engine.render(withEdit(stackConfig("production"), "speculation:rolloutPercentage", undefined, 10));
        const [step] = engine.ofType(STEP);
        const k8s = engine.resources.filter((r) => r.type.startsWith("kubernetes:"));
        expect(k8s.length).to.be.greaterThan(20);
        for (const r of k8s) expect(waitsFor(engine, r, step), `${r.type} ${r.name}`).to.equal(true);
        const refs = step.inputs.subjects.map((s: { repository: string; digest: string }) => `${s.repository}@${s.digest}`);
        for (const name of ["agenc-speculation", "proof-workers"]) {
            const image = engine.byK8sName("kubernetes:apps/v1:Deployment", name).inputs.spec.template.spec.containers[0].image as string;
            expect(refs).to.include(image.replace(/:v[\d.]+@/, "@"));
        }
    });

    it("ingress-weight: the stable track's previous digest and the canary's release digest are both verified", async () => {
        let c = withEdit(stackConfig("production"), "speculation:canary", "shiftMode", "ingress-weight");
        c = withEdit(c, "speculation:release", "images.speculation.previousDigest", PREV);
        c = withEdit(c, "speculation:rolloutPercentage", undefined, 10);
        await engine.render(c);
        const names = engine.ofType(STEP)[0].inputs.subjects.map((s: { name: string; digest: string; configKey: string }) => `${s.name} ${s.digest} ${s.configKey}`);
        expect(names).to.deep.equal([
            `speculation v1.2.2 ${PREV} release.images.speculation.previousDigest`,
            `speculation v1.2.3 ${D1} release.images.speculation.digest`,
            `proof-worker v1.2.3 ${D2} release.images.proofWorker.digest`,
        ]);
    });

    it("a rollback verifies the images it goes back to, not the release's", async () => {
        let c = withEdit(stackConfig("production"), "speculation:rollback", "mode", "full");
        c = withEdit(c, "speculation:release", "images.speculation.previousDigest", PREV);
        c = withEdit(c, "speculation:release", "images.proofWorker.previousDigest", PREV);
        await engine.render(c);
        expect(engine.ofType(STEP)[0].inputs.subjects.map((s: { name: string; digest: string }) => `${s.name} ${s.digest}`)).to.deep.equal([
            `speculation v1.2.2 ${PREV}`, `proof-worker v1.2.2 ${PREV}`,
        ]);
        // The drain (traffic down) does not wait for it.
        const [drain] = engine.ofType("pulumi-nodejs:dynamic/agenc:RollbackDrain");
        expect(waitsFor(engine, drain, engine.ofType(STEP)[0])).to.equal(false);
    });

    it("with nodes: the binary is verified, the rollout waits for it and checks the signature on every node", async () => {
        await engine.render(withNodes(stackConfig("production"), 2), NODE_SECRET_KEYS);
        const [step] = engine.ofType(STEP);
        const blob = step.inputs.subjects.find((s: { kind: string }) => s.kind === "blob");
        expect(blob).to.include({ name: "node binary" });
        expect(blob.signaturePath).to.equal(`${blob.path}.sig`);
        expect(blob.sha256).to.match(/^[0-9a-f]{64}$/);
        const [rollout] = engine.ofType("pulumi-nodejs:dynamic/agenc:SshRollout");
        expect(waitsFor(engine, rollout, step)).to.equal(true);
        expect(rollout.inputs.signature.file).to.equal(blob.signaturePath);
        expect(rollout.inputs.signature.keys.map((k: { name: string }) => k.name)).to.deep.equal(["release"]);
    });

    it("staging as shipped: registered, off, verifying nothing; its record says off", async () => {
        const outputs = await engine.render(stackConfig("staging"));
        const [step] = engine.ofType(STEP);
        expect(step.inputs).to.include({ required: false });
        expect(step.inputs.subjects).to.deep.equal([]);
        expect(outputs.signing).to.deep.equal({ verification: "off: speculation:signing.required is false" });
        const record = engine.ofType("pulumi-nodejs:dynamic/agenc:DeploymentRecord")[0];
        expect(waitsFor(engine, record, step)).to.equal(true);
    });

    it("without Kubernetes, the stages, the bench and the smoke tests wait for it too", async () => {
        const local = withEdit(withEdit(withEdit(stackConfig("staging"), "speculation:kubernetes", "enabled", false), "speculation:canary", "gate.serviceUrl", "http://127.0.0.1:9"),
            "speculation:adminToken", undefined, "t0ken-0123456789abcdef0123456789abcdef");
        await engine.render(withEdit(local, "speculation:rolloutPercentage", undefined, 10), ["speculation:adminToken"]);
        const [step] = engine.ofType(STEP);
        for (const type of ["TrafficShift", "ErrorBaseline", "ReleaseSmokeTest"]) {
            const [r] = engine.ofType(`pulumi-nodejs:dynamic/agenc:${type}`);
            expect(waitsFor(engine, r, step), type).to.equal(true);
        }
    });
});
