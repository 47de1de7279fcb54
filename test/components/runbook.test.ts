/** The runbook steps in the program's resource graph, under mocks: what waits for what. */
import { expect } from "chai";
import { loadStackConfig } from "../../config";
import { MockEngine, Registered, stackConfig, withEdit } from "../helpers/stack";

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const PREFLIGHT = "pulumi-nodejs:dynamic/agenc:Preflight";
const SMOKE = "pulumi-nodejs:dynamic/agenc:ReleaseSmokeTest";
const VERIFY = "pulumi-nodejs:dynamic/agenc:Verification";
const RECORD = "pulumi-nodejs:dynamic/agenc:DeploymentRecord";
const DRAIN = "pulumi-nodejs:dynamic/agenc:RollbackDrain";


const PREVIOUS_DIGEST = `sha256:${"ab".repeat(32)}`;
/** The production config with previousDigest pinned for both images (what a production rollback needs). */
function withPreviousDigests(config: Record<string, unknown>): Record<string, unknown> {
    let c = config;
    for (const image of ["speculation", "proofWorker"]) c = withEdit(c, "speculation:release", `images.${image}.previousDigest`, PREVIOUS_DIGEST);
    return c;
}

/** Every URN `r` waits for, directly or through what it waits for. */
function waitsFor(engine: MockEngine, r: Registered): Set<string> {
    const seen = new Set<string>();
    const walk = (deps: string[]) => {
        for (const urn of deps) {
            if (seen.has(urn)) continue;
            seen.add(urn);
            const next = engine.resources.find((x) => x.urn === urn);
            if (next) walk(next.dependencies);
        }
    };
    walk(r.dependencies);
    return seen;
}

describe("runbook steps in the program (mocks)", () => {
    const engine = new MockEngine();

    it("production: the preflight runs before either workload changes, after the program's own Secret", async () => {
        await engine.render(withEdit(stackConfig("production"), "speculation:rolloutPercentage", undefined, 10));
        const pre = engine.one(PREFLIGHT, "preflight");
        expect(pre.inputs.minStakeSol).to.equal(100);
        expect(pre.inputs.chainRpcUrl).to.equal("https://api.mainnet-beta.solana.com");
        expect(pre.dependencies.some((u) => u.endsWith("kubernetes:core/v1:Secret::speculation-secrets"))).to.equal(true);
        for (const app of ["proof-workers", "agenc-speculation"]) {
            expect(engine.byK8sName(DEPLOYMENT, app).dependencies, app).to.include(pre.urn);
        }
        const shift = engine.one("pulumi-nodejs:dynamic/agenc:TrafficShift", "stage-1-10pct-shift");
        expect(waitsFor(engine, shift).has(pre.urn)).to.equal(true);
    });

    it("the smoke tests run once the service is ready and before stage 1 shifts (and before the bench)", async () => {
        await engine.render(withEdit(stackConfig("production"), "speculation:rolloutPercentage", undefined, 10));
        const smoke = engine.one(SMOKE, "smoke-stable");
        expect(smoke.inputs).to.include({ track: "stable", version: "v1.2.3", timeoutMs: 10_000 });
        expect(smoke.dependencies).to.include(engine.byK8sName(DEPLOYMENT, "agenc-speculation").urn);
        expect(waitsFor(engine, engine.one("pulumi-nodejs:dynamic/agenc:TrafficShift", "stage-1-10pct-shift")).has(smoke.urn)).to.equal(true);
        expect(engine.one("pulumi-nodejs:dynamic/agenc:BenchRun", "final-bench").dependencies).to.include(smoke.urn);
        await engine.render(withEdit(stackConfig("production"), "speculation:smoke", "enabled", false));
        expect(engine.ofType(SMOKE)).to.have.length(0);
    });

    it("verification runs only at 100 %, after the top stage's gate, with both Deployments' readiness", async () => {
        await engine.render(withEdit(stackConfig("production"), "speculation:rolloutPercentage", undefined, 50));
        expect(engine.ofType(VERIFY)).to.have.length(0);
        await engine.render(withEdit(stackConfig("production"), "speculation:rolloutPercentage", undefined, 100));
        const v = engine.one(VERIFY, "verify-100pct");
        expect(v.dependencies).to.include(engine.one("pulumi-nodejs:dynamic/agenc:HealthGate", "stage-4-100pct-gate").urn);
        expect(v.inputs.pods.map((p: { name: string }) => p.name)).to.deep.equal(["proof-workers", "agenc-speculation"]);
        expect(v.inputs).to.include({ version: "v1.2.3", expectRolloutPercentage: 100 });
        expect(v.inputs.limits).to.deep.equal({ minSpeculationMetrics: 10, maxRollbackRate: 0.05, maxMemoryPercent: 90, maxProofQueueSize: 2000 });
    });

    it("verification at 100 % also checks the new track that serves: green behind the primary Service, the canary at full weight", async () => {
        for (const [mode, track] of [["blue-green", "agenc-speculation-green"], ["ingress-weight", "agenc-speculation-canary"]] as const) {
            await engine.render(withEdit(withEdit(stackConfig("staging"), "speculation:rolloutPercentage", undefined, 100), "speculation:canary", "shiftMode", mode));
            const v = engine.one(VERIFY, "verify-100pct");
            expect(v.inputs.pods.map((p: { name: string }) => p.name), mode).to.deep.equal(["proof-workers", "agenc-speculation", track]);
        }
    });

    it("the deployment record comes last: after every gate, the verification and the nodes, naming each verdict", async () => {
        await engine.render(withEdit(stackConfig("production"), "speculation:rolloutPercentage", undefined, 100));
        const rec = engine.one(RECORD, "deployment-record");
        const waited = waitsFor(engine, rec);
        for (const r of [engine.one(VERIFY, "verify-100pct"), engine.one(PREFLIGHT, "preflight"), engine.one(SMOKE, "smoke-stable"),
            engine.one("pulumi-nodejs:dynamic/agenc:HealthGate", "stage-4-100pct-gate"), engine.one("pulumi-nodejs:dynamic/agenc:BenchRun", "final-bench")]) {
            expect(rec.dependencies, r.name).to.include(r.urn);
        }
        expect(waited.size).to.be.greaterThan(10);
        expect(rec.inputs).to.include({ environment: "production", version: "v1.2.3", outcome: "released", rolloutPercentage: 100 });
        expect(Object.keys(rec.inputs.verdicts)).to.have.members(["signatures", "preflight", "smoke", "bench", "stage-1-10pct", "stage-2-25pct", "stage-3-50pct", "stage-4-100pct", "verify"]);
        expect(rec.dependencies, "the record waits for the signature verification").to.include(engine.one("pulumi-nodejs:dynamic/agenc:SignatureVerification", "signatures").urn);
        expect(rec.inputs.logFile).to.match(/deployment-artifacts\/releases\/deployments\.log$/);
    });

    it("full rollback is one config edit: disable and drain first, then both workloads at previousVersion; no stages, no bench, no preflight", async () => {
        let config = withEdit(withEdit(stackConfig("production"), "speculation:rolloutPercentage", undefined, 50), "speculation:rollback", "mode", "full");
        config = withPreviousDigests(config);
        const outputs = await engine.render(config);
        const drain = engine.one(DRAIN, "rollback-full");
        expect(drain.inputs).to.include({ mode: "full", targetVersion: "v1.2.2", maxPending: 10, pollSeconds: 15, deadlineSeconds: 600 });
        // Pulumi orders the drain before the Deployment changes: each Deployment's registration depends on it.
        for (const app of ["proof-workers", "agenc-speculation"]) {
            const d = engine.byK8sName(DEPLOYMENT, app);
            expect(d.dependencies, app).to.include(drain.urn);
            expect(d.inputs.spec.template.spec.containers[0].image, app).to.equal(`ghcr.io/agenc/${app === "proof-workers" ? "proof-worker" : "speculation"}:v1.2.2@${PREVIOUS_DIGEST}`);
            expect(d.options).to.include({ deleteBeforeReplace: false });
            expect(d.options!.replaceOnChanges).to.deep.equal([]);
        }
        expect(engine.ofType("agenc:deploy:CanaryStage")).to.have.length(0);
        expect(engine.ofType("pulumi-nodejs:dynamic/agenc:BenchRun")).to.have.length(0);
        expect(engine.ofType(PREFLIGHT)).to.have.length(0);
        // Health is verified after the workloads are back: the smoke tests wait for the rolled-back Deployment.
        const smoke = engine.one(SMOKE, "smoke-stable");
        expect(smoke.inputs.version).to.equal("v1.2.2");
        expect(smoke.dependencies).to.include(engine.byK8sName(DEPLOYMENT, "agenc-speculation").urn);
        expect(engine.one(RECORD, "deployment-record").inputs).to.include({ outcome: "rollback-full", rolloutPercentage: 0 });
        expect(outputs.rolloutPercentage).to.equal(0);
        const toml = engine.byK8sName("kubernetes:core/v1:ConfigMap", "speculation-config").inputs.data["speculation.toml"];
        expect(toml).to.match(/enabled = false/);
    });

    it("emergency rollback: speculation disabled, then every release Deployment stopped, then both replaced delete-first at lastKnownGood", async () => {
        let config = withEdit(stackConfig("staging"), "speculation:rollback", "mode", "emergency");
        config = withEdit(config, "speculation:rollback", "lastKnownGood", "v1.2.1");
        await engine.render(config);
        const drain = engine.one(DRAIN, "rollback-emergency");
        expect(drain.inputs).to.include({ mode: "emergency", targetVersion: "v1.2.1" });
        const stop = engine.one("pulumi-nodejs:dynamic/agenc:EmergencyStop", "emergency-stop");
        expect(stop.dependencies, "the stop runs once speculation is disabled").to.include(drain.urn);
        expect(stop.inputs).to.include({ namespace: "agenc-staging", targetVersion: "v1.2.1", deadlineSeconds: 300, pollSeconds: 2 });
        expect(stop.inputs.deployments).to.deep.equal(["proof-workers", "agenc-speculation", "agenc-speculation-canary", "agenc-speculation-green"]);
        for (const app of ["proof-workers", "agenc-speculation"]) {
            const d = engine.byK8sName(DEPLOYMENT, app);
            expect(d.dependencies, `${app} is replaced only after the stop`).to.include(stop.urn);
            expect(d.options, app).to.include({ deleteBeforeReplace: true });
            expect(d.options!.replaceOnChanges, app).to.deep.equal(["*"]);
            expect(d.inputs.spec.template.spec.containers[0].image, app).to.match(/:v1\.2\.1$/);
        }
    });

    it("production: a rollback needs the previous version's digests, and goes back to release.previousVersion only", async () => {
        engine.install(withEdit(stackConfig("production"), "speculation:rollback", "mode", "full"));
        expect(() => loadStackConfig()).to.throw(/speculation:release\.images\.proofWorker\.previousDigest: is required in production for a full rollback/);
        engine.install(withEdit(withPreviousDigests(withEdit(stackConfig("production"), "speculation:rollback", "mode", "emergency")), "speculation:rollback", "lastKnownGood", "v1.2.1"));
        expect(() => loadStackConfig()).to.throw(/speculation:rollback\.lastKnownGood: must be release\.previousVersion \(v1\.2\.2\) in production/);
    });

    it("rollback config is checked: an unknown mode and a lastKnownGood without emergency name the key", async () => {
        engine.install(withEdit(stackConfig("staging"), "speculation:rollback", "mode", "partial"));
        expect(() => loadStackConfig()).to.throw(/speculation:rollback\.mode: must be one of: none, full, emergency/);
        engine.install(withEdit(stackConfig("staging"), "speculation:rollback", "lastKnownGood", "v1.2.1"));
        expect(() => loadStackConfig()).to.throw(/speculation:rollback\.lastKnownGood: only applies with rollback\.mode emergency/);
    });

    it("staging without a chain RPC URL has no preflight; production refuses to go without one", async () => {
        await engine.render(stackConfig("staging"));
        expect(engine.ofType(PREFLIGHT)).to.have.length(0);
        engine.install(withEdit(stackConfig("production"), "speculation:preflight", "chainRpcUrl", undefined));
        expect(() => loadStackConfig()).to.throw(/speculation:preflight\.chainRpcUrl: is required in production/);
        engine.install(withEdit(stackConfig("production"), "speculation:preflight", "minStakeSol", 50));
        expect(() => loadStackConfig()).to.throw(/speculation:preflight\.minStakeSol: must be at least 100 in production/);
    });
});
