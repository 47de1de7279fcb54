/**
 * The three shift modes under mocks, as Kubernetes objects and the gates that judge them (issue 13): each test here
 * failed on the main before ingress-weight mode worked and blue-green existed.
 */
import { expect } from "chai";
import { loadStackConfig } from "../../config";
import { defineStack } from "../../program";
import { parse } from "smol-toml";
import { prometheusConfig, scrapeJobs } from "../../lib/monitoring/scrape";
import { MockEngine, stackConfig, withEdit } from "../helpers/stack";
import { ingressExposure } from "../../lib/ingress/routes";
import { SPECULATION_APPS } from "../../lib/network/peers";

const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const SERVICE = "kubernetes:core/v1:Service";
const INGRESS = "kubernetes:networking.k8s.io/v1:Ingress";
const CONFIGMAP = "kubernetes:core/v1:ConfigMap";
const MONITOR = "kubernetes:monitoring.coreos.com/v1:ServiceMonitor";
const GATE = "pulumi-nodejs:dynamic/agenc:HealthGate";
const SMOKE = "pulumi-nodejs:dynamic/agenc:ReleaseSmokeTest";
const PREVIOUS_DIGEST = `sha256:${"ab".repeat(32)}`;


function mode(base: "staging" | "production", shiftMode: string, percentage: number, edit: (c: Record<string, unknown>) => Record<string, unknown> = (c) => c) {
    let c = withEdit(stackConfig(base), "speculation:canary", "shiftMode", shiftMode);
    c = withEdit(c, "speculation:rolloutPercentage", undefined, percentage);
    return edit(c);
}

const image = (engine: MockEngine, name: string) => engine.byK8sName(DEPLOYMENT, name).inputs.spec.template.spec.containers[0].image;
const tomlVersion = (engine: MockEngine, name: string) => (parse(engine.byK8sName(CONFIGMAP, name).inputs.data["speculation.toml"]) as { service: { version: string } }).service.version;

describe("ingress-weight mode", () => {
    const engine = new MockEngine();

    it("renders a primary Ingress and a canary Ingress for the same host and path, the weight only on the canary", async () => {
        await engine.render(mode("staging", "ingress-weight", 10));
        const primary = engine.byK8sName(INGRESS, "agenc-speculation").inputs;
        const canary = engine.byK8sName(INGRESS, "agenc-speculation-canary").inputs;
        const route = (i: any) => ({ host: i.spec.rules[0].host, path: i.spec.rules[0].http.paths[0].path, pathType: i.spec.rules[0].http.paths[0].pathType, className: i.spec.ingressClassName });
        expect(route(primary)).to.deep.equal(route(canary));
        expect(route(primary)).to.deep.equal({ host: "speculation.agenc.local", path: "/api", pathType: "Prefix", className: "nginx" });
        expect(primary.spec.rules[0].http.paths[0].backend.service).to.deep.equal({ name: "agenc-speculation", port: { number: 9090 } });
        expect(canary.spec.rules[0].http.paths[0].backend.service).to.deep.equal({ name: "agenc-speculation-canary", port: { number: 9090 } });
        expect(primary.metadata.annotations ?? {}).to.not.have.any.keys("nginx.ingress.kubernetes.io/canary", "nginx.ingress.kubernetes.io/canary-weight");
        expect(canary.metadata.annotations).to.include({ "nginx.ingress.kubernetes.io/canary": "true", "nginx.ingress.kubernetes.io/canary-weight": "10" });
    });

    it("the canary's first weight waits for seed 000's smoke tests against the canary's own Service, at the release", async () => {
        await engine.render(mode("staging", "ingress-weight", 10));
        const smoke = engine.one(SMOKE, "canary-smoke");
        expect(smoke.inputs).to.include({ track: "canary", serviceUrl: "http://agenc-speculation-canary.agenc-staging.svc.cluster.local:9090", version: "v1.2.3", expectVersion: true });
        // Retried every max(10 s, 2 × canary.gate.timeout): slower than one read (lib/plan/release.ts newTrackSmokePollMs).
        expect(smoke.inputs.retry).to.deep.equal({ deadlineSeconds: 600, pollSeconds: 20 });
        expect(smoke.dependencies).to.include(engine.byK8sName(DEPLOYMENT, "agenc-speculation-canary").urn);
        expect(engine.byK8sName(INGRESS, "agenc-speculation-canary").dependencies, "no weight before the smoke tests passed").to.include(smoke.urn);
    });

    it("routes only the public paths: the pair lists the same paths, none reaches /admin or /metrics, whatever the config lists", async () => {
        const publicPaths = [{ path: "/api/v1", pathType: "Prefix" }, { path: "/status", pathType: "Exact" }];
        await engine.render(mode("production", "ingress-weight", 10, (c) => withEdit(withEdit(c, "speculation:canary", "ingress.publicPaths", publicPaths), "speculation:release", "images.speculation.previousDigest", PREVIOUS_DIGEST)));
        const paths = (name: string) => engine.byK8sName(INGRESS, name).inputs.spec.rules.flatMap((r: any) => r.http.paths.map((p: any) => ({ host: r.host, path: p.path, pathType: p.pathType })));
        expect(paths("agenc-speculation")).to.deep.equal(publicPaths.map((p) => ({ host: "speculation.agenc.local", ...p })));
        expect(paths("agenc-speculation-canary"), "the canary's routes are the primary's: ingress-nginx pairs them").to.deep.equal(paths("agenc-speculation"));
        for (const name of ["agenc-speculation", "agenc-speculation-canary"]) {
            const ing = engine.byK8sName(INGRESS, name).inputs;
            expect(ing.spec.defaultBackend, `${name}: no catch-all`).to.equal(undefined);
            expect(ingressExposure(ing, SPECULATION_APPS), name).to.deep.equal([]);
        }
    });

    it("refuses a public path that reaches the admin API before registering anything", async () => {
        const engine2 = new MockEngine();
        engine2.install(mode("staging", "ingress-weight", 10, (c) => withEdit(c, "speculation:canary", "ingress.publicPaths", [{ path: "/admin", pathType: "Prefix" }])));
        expect(() => defineStack(loadStackConfig())).to.throw(/speculation:canary\.ingress\.publicPaths\[0\]\.path: routes \/admin of the speculation service to the public/);
        expect(engine2.ofType(INGRESS)).to.deep.equal([]);
    });

    it("scrapes both tracks with a track label: each Service carries it and its ServiceMonitor copies it (operator mode)", async () => {
        await engine.render(mode("staging", "ingress-weight", 10));
        const stableSvc = engine.byK8sName(SERVICE, "agenc-speculation").inputs;
        const canarySvc = engine.byK8sName(SERVICE, "agenc-speculation-canary").inputs;
        expect(stableSvc.metadata.labels.track).to.equal("stable");
        expect(canarySvc.metadata.labels.track).to.equal("canary");
        const monitors = engine.ofType(MONITOR).map((m) => m.inputs.spec);
        for (const svc of [stableSvc, canarySvc]) {
            const selecting = monitors.filter((m) => Object.entries(m.selector.matchLabels).every(([k, v]) => svc.metadata.labels[k] === v));
            expect(selecting, `${svc.metadata.name} is selected by exactly one ServiceMonitor`).to.have.length(1);
            expect(selecting[0].targetLabels).to.deep.equal(["track"]);
        }
    });

    it("the gate reads the canary track and compares it with the stable track, with the configured margins", async () => {
        await engine.render(mode("staging", "ingress-weight", 50, (c) => withEdit(c, "speculation:canary", "judge", { errorRateMargin: 0.002 })));
        const gates = engine.ofType(GATE).map((g) => g.inputs);
        expect(gates).to.have.length(2);
        for (const g of gates) {
            expect(g.serviceUrl).to.equal("http://agenc-speculation-canary.agenc-staging.svc.cluster.local:9090");
            expect(g.version).to.equal("v1.2.3");
            expect(g.compare).to.deep.equal({
                stableUrl: "http://agenc-speculation.agenc-staging.svc.cluster.local:9090",
                errorRateMargin: 0.002, latencyMargin: 0.1, confidence: 0.95, minRequests: 500,
            });
        }
    });

    it("each version runs its own image digest, and the stable track's config names the stable version", async () => {
        await engine.render(mode("production", "ingress-weight", 25, (c) => withEdit(c, "speculation:release", "images.speculation.previousDigest", PREVIOUS_DIGEST)));
        const releaseDigest = (stackConfig("production")["speculation:release"] as any).images.speculation.digest;
        expect(image(engine, "agenc-speculation")).to.equal(`ghcr.io/agenc/speculation:v1.2.2@${PREVIOUS_DIGEST}`);
        expect(image(engine, "agenc-speculation-canary")).to.equal(`ghcr.io/agenc/speculation:v1.2.3@${releaseDigest}`);
        expect(tomlVersion(engine, "speculation-config")).to.equal("v1.2.2");
        expect(tomlVersion(engine, "speculation-config-canary")).to.equal("v1.2.3");
        const canaryPod = engine.byK8sName(DEPLOYMENT, "agenc-speculation-canary").inputs.spec.template.spec;
        expect(canaryPod.volumes.filter((v: any) => !v.emptyDir)).to.deep.equal([{ name: "config", configMap: { name: "speculation-config-canary" } }]);
    });

    it("without a digest of its own the stable track runs its tag unpinned, never the new version's digest", async () => {
        await engine.render(mode("staging", "ingress-weight", 10, (c) => withEdit(c, "speculation:release", "images.speculation.digest", `sha256:${"cd".repeat(32)}`)));
        expect(image(engine, "agenc-speculation")).to.equal("ghcr.io/agenc/speculation:v1.2.2");
    });

    it("in production the previous version's digest is required in ingress-weight and blue-green modes", () => {
        for (const m of ["ingress-weight", "blue-green"]) {
            engine.install(mode("production", m, 10));
            expect(() => loadStackConfig()).to.throw(/speculation:release\.images\.speculation\.previousDigest: is required in production in .* mode/);
        }
    });
});

describe("standalone scraping of both tracks", () => {
    it("one job keeps the stable, canary and green Services and labels each series with the Service's track", () => {
        const config = prometheusConfig({ namespace: "agenc-staging", scrapeInterval: "15s", evaluationInterval: "15s", alertmanagerTarget: "am:9093", ruleFiles: [], jobs: scrapeJobs([]) });
        const job = (config.scrape_configs as any[]).find((j) => j.job_name === "agenc-speculation");
        const keep = job.relabel_configs.find((r: any) => r.source_labels?.[0] === "__meta_kubernetes_service_label_app");
        for (const app of ["agenc-speculation", "agenc-speculation-canary", "agenc-speculation-green"]) expect(new RegExp(`^(?:${keep.regex})$`).test(app), app).to.equal(true);
        expect(new RegExp(`^(?:${keep.regex})$`).test("proof-workers")).to.equal(false);
        expect(job.relabel_configs.slice(-2)).to.deep.equal([
            { target_label: "track", replacement: "stable", action: "replace" },
            { source_labels: ["__meta_kubernetes_service_label_track"], regex: "(.+)", target_label: "track", replacement: "$1", action: "replace" },
        ]);
    });
});

describe("blue-green mode", () => {
    const engine = new MockEngine();
    const service = () => engine.byK8sName(SERVICE, "agenc-speculation");

    it("below 100 % green runs beside blue with its own Service and smoke tests; the primary Service selects blue", async () => {
        await engine.render(mode("staging", "blue-green", 50));
        expect(image(engine, "agenc-speculation"), "blue").to.equal("ghcr.io/agenc/speculation:v1.2.2");
        expect(image(engine, "agenc-speculation-green"), "green").to.equal("ghcr.io/agenc/speculation:v1.2.3");
        expect(engine.byK8sName(SERVICE, "agenc-speculation-green").inputs.spec.selector).to.deep.equal({ app: "agenc-speculation-green" });
        expect(service().inputs.spec.selector).to.deep.equal({ app: "agenc-speculation" });
        const smoke = engine.one(SMOKE, "green-smoke");
        expect(smoke.inputs).to.include({ track: "green", serviceUrl: "http://agenc-speculation-green.agenc-staging.svc.cluster.local:9090", version: "v1.2.3", expectVersion: true });
        // Hold: blue keeps serving, so the lower stages judge blue at the previous version.
        expect(engine.ofType(GATE).map((g) => [g.inputs.serviceUrl, g.inputs.version, g.inputs.compare])).to.deep.equal([
            ["http://agenc-speculation.agenc-staging.svc.cluster.local:9090", "v1.2.2", undefined],
            ["http://agenc-speculation.agenc-staging.svc.cluster.local:9090", "v1.2.2", undefined],
        ]);
        expect(engine.byK8sName(INGRESS, "agenc-speculation").inputs.spec.rules[0].http.paths[0].backend.service.name).to.equal("agenc-speculation");
    });

    it("at 100 % the primary Service selects green, only after green's smoke tests and the previous stage's gate", async () => {
        await engine.render(mode("staging", "blue-green", 100));
        expect(service().inputs.spec.selector).to.deep.equal({ app: "agenc-speculation-green" });
        const deps = service().dependencies;
        const urnOf = (type: string, name: string) => engine.one(type, name).urn;
        expect(deps).to.include(urnOf(SMOKE, "green-smoke"));
        expect(deps).to.include(urnOf(GATE, "stage-2-50pct-gate"));
        expect(deps).to.include(urnOf("pulumi-nodejs:dynamic/agenc:ErrorBaseline", "stage-3-100pct-baseline"));
        const fullGate = engine.one(GATE, "stage-3-100pct-gate");
        expect(fullGate.dependencies, "the 100 % gate judges after the switch").to.include(service().urn);
        expect(fullGate.inputs).to.include({ serviceUrl: "http://agenc-speculation.agenc-staging.svc.cluster.local:9090", version: "v1.2.3" });
        expect(image(engine, "agenc-speculation"), "blue is kept").to.equal("ghcr.io/agenc/speculation:v1.2.2");
    });

    it("rollback is a config edit: back to 50 % the primary Service selects blue again, green stays", async () => {
        await engine.render(mode("staging", "blue-green", 100));
        await engine.render(mode("staging", "blue-green", 50));
        expect(service().inputs.spec.selector).to.deep.equal({ app: "agenc-speculation" });
        expect(service().dependencies.filter((d) => d.includes("dynamic/agenc:")), "the switch back waits for no gate or test").to.deep.equal([]);
        expect(engine.byK8sName(DEPLOYMENT, "agenc-speculation-green")).to.not.equal(undefined);
    });

    it("mirror: below 100 % the primary Ingress mirrors to green, and green is judged against blue", async () => {
        await engine.render(mode("staging", "blue-green", 10, (c) => withEdit(c, "speculation:canary", "blueGreen", { lowerSteps: "mirror" })));
        expect(engine.byK8sName(INGRESS, "agenc-speculation").inputs.metadata.annotations).to.deep.equal({
            "nginx.ingress.kubernetes.io/mirror-target": "http://agenc-speculation-green.agenc-staging.svc.cluster.local:9090$request_uri",
            "pulumi.com/skipAwait": "true",
        });
        // Mirrored or not, the primary Ingress routes only the public paths (the mirror copies only what it routes).
        expect(engine.byK8sName(INGRESS, "agenc-speculation").inputs.spec.rules[0].http.paths.map((p: any) => p.path)).to.deep.equal(["/api"]);
        expect(ingressExposure(engine.byK8sName(INGRESS, "agenc-speculation").inputs, SPECULATION_APPS)).to.deep.equal([]);
        const [gate] = engine.ofType(GATE);
        expect(gate.inputs.serviceUrl).to.equal("http://agenc-speculation-green.agenc-staging.svc.cluster.local:9090");
        expect(gate.inputs.compare.stableUrl).to.equal("http://agenc-speculation.agenc-staging.svc.cluster.local:9090");
        // Green gets mirrored requests only once its smoke tests passed; the primary Service waits for nothing.
        const smoke = engine.ofType("pulumi-nodejs:dynamic/agenc:ReleaseSmokeTest").find((r) => r.name === "green-smoke")!;
        expect(engine.byK8sName(INGRESS, "agenc-speculation").dependencies, "the mirror waits for green's smoke tests").to.include(smoke.urn);
        expect(engine.byK8sName("kubernetes:core/v1:Service", "agenc-speculation").dependencies.filter((d) => d.includes("dynamic/agenc:"))).to.deep.equal([]);
    });
});

describe("the new track's PodDisruptionBudget (canary and green)", () => {
    const engine = new MockEngine();
    const PDB = "kubernetes:policy/v1:PodDisruptionBudget";
    const selects = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);
    /** Parent and alias parents of a registration (type aliases of the class left out): where it lives and the other places it answers for. */
    const ownership = (r: { parent?: string; options?: { aliases?: { name: string; type: string; parentUrn: string }[] } }) => ({
        parent: r.parent, aliasParents: (r.options?.aliases ?? []).filter((a) => !a.type).map((a) => a.parentUrn).sort(),
    });

    for (const [shiftMode, name, replicas] of [["ingress-weight", "agenc-speculation-canary", 1], ["blue-green", "agenc-speculation-green", 2]] as const) {
        it(`${shiftMode}: ${name} has a budget of maxUnavailable 1 selecting its pods only, owned and aliased like its Deployment`, async () => {
            await engine.render(mode("staging", shiftMode, 10));
            const deployment = engine.byK8sName(DEPLOYMENT, name);
            const pdb = engine.byK8sName(PDB, name);
            expect(deployment.inputs.spec.replicas).to.equal(replicas);
            // maxUnavailable, never minAvailable: with one pod it still lets a drain through.
            expect(pdb.inputs.spec).to.deep.equal({ maxUnavailable: 1, selector: { matchLabels: { app: name } } });
            expect(selects(pdb.inputs.spec.selector.matchLabels, deployment.inputs.spec.template.metadata.labels)).to.equal(true);
            const stable = engine.byK8sName(DEPLOYMENT, "agenc-speculation");
            expect(selects(pdb.inputs.spec.selector.matchLabels, stable.inputs.spec.template.metadata.labels), "not the stable pods").to.equal(false);
            expect(selects(engine.byK8sName(PDB, "agenc-speculation").inputs.spec.selector.matchLabels, deployment.inputs.spec.template.metadata.labels), "the stable budget does not count the new track's pods").to.equal(false);
            // Same owner (the top stage) and the same alias parents (every other stage) as the Deployment and Service.
            expect(ownership(pdb)).to.deep.equal(ownership(deployment));
            expect(ownership(pdb)).to.deep.equal(ownership(engine.byK8sName(SERVICE, name)));
            expect(pdb.parent).to.match(/CanaryStage::stage-1-10pct$/);
            expect(ownership(pdb).aliasParents.length).to.be.greaterThan(0);
            expect(pdb.options?.aliases?.filter((a) => !a.type).every((a) => a.name === pdb.name), "aliased under its own logical name").to.equal(true);
        });
    }

    it("moves with the track to the new top stage (aliased from the old one), and goes with it at 0 %", async () => {
        await engine.render(mode("staging", "ingress-weight", 50));
        const pdb = engine.byK8sName(PDB, "agenc-speculation-canary");
        expect(pdb.parent).to.match(/CanaryStage::stage-2-50pct$/);
        expect(ownership(pdb).aliasParents.some((p) => /CanaryStage::stage-1-10pct$/.test(p)), "answers for its place under stage 1").to.equal(true);
        expect(ownership(pdb)).to.deep.equal(ownership(engine.byK8sName(DEPLOYMENT, "agenc-speculation-canary")));
        await engine.render(mode("staging", "ingress-weight", 0));
        expect(engine.ofType(PDB).map((p) => p.inputs.metadata.name).filter((n) => n.startsWith("agenc-speculation-"))).to.deep.equal([]);
    });
});
