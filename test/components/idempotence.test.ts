import { expect } from "chai";
import { loadStackConfig } from "../../config";
import { CONFIG_CHECKSUM_ANNOTATION } from "../../lib/k8s";
import { ingressAwaitPolicy, onDataChange } from "../helpers/k8sProvider";
import { MockEngine, Registered, secretEnvelope, stackConfig, withEdit } from "../helpers/stack";

const PROVIDER = "pulumi:providers:kubernetes";
const NAMESPACE = "kubernetes:core/v1:Namespace";
const CONFIGMAP = "kubernetes:core/v1:ConfigMap";
const SECRET = "kubernetes:core/v1:Secret";
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const INGRESS = "kubernetes:networking.k8s.io/v1:Ingress";
const SERVICE = "kubernetes:core/v1:Service";
const PDB = "kubernetes:policy/v1:PodDisruptionBudget";


const RECEIVERS = { slackWebhookUrl: "https://hooks.slack.example/T000/B000/XYZ", pagerdutyRoutingKey: "0123456789abcdef0123456789abcdef" };

/** The new track a shape must register (its Deployment, Service, PodDisruptionBudget and ConfigMap are checked too). */
type NewTrack = "canary" | "green";

/** Staging in a shift mode at a rollout percentage (a step of staging's 10 → 50 → 100 plan), then any further edit. */
const shift = (shiftMode: string, percentage: number, edit: (c: Record<string, unknown>) => Record<string, unknown> = (c) => c) =>
    edit(withEdit(withEdit(stackConfig("staging"), "speculation:canary", "shiftMode", shiftMode), "speculation:rolloutPercentage", undefined, percentage));
const mirror = (c: Record<string, unknown>) => withEdit(c, "speculation:canary", "blueGreen.lowerSteps", "mirror");
const standalone = (c: Record<string, unknown>) => withEdit(c, "speculation:monitoring", "mode", "standalone");

/**
 * Every shape of the Kubernetes side: both monitoring modes, with and without receivers, every shift mode at its
 * first step and at 100 % (the new track's Deployment, Service and PodDisruptionBudget exist only above 0 %: the
 * canary in ingress-weight mode, green in blue-green mode), blue-green's lower steps held and mirrored.
 */
const SHAPES: Array<[string, () => [Record<string, unknown>, string[]], NewTrack?]> = [
    ["staging (operator monitoring, no receivers)", () => [stackConfig("staging"), []]],
    ["production (operator monitoring, receivers)", () => [{ ...stackConfig("production"), "speculation:alertReceivers": RECEIVERS }, ["speculation:alertReceivers"]]],
    ["standalone monitoring with receivers", () => [
        { ...withEdit(stackConfig("staging"), "speculation:monitoring", "mode", "standalone"), "speculation:alertReceivers": RECEIVERS },
        ["speculation:alertReceivers"]]],
    ["standalone monitoring, no receivers", () => [withEdit(stackConfig("staging"), "speculation:monitoring", "mode", "standalone"), []]],
    ["ingress-weight at 50 %", () => [
        withEdit(withEdit(stackConfig("staging"), "speculation:rolloutPercentage", undefined, 50), "speculation:canary", "shiftMode", "ingress-weight"), []], "canary"],
    ["ingress-weight at the first step (10 %)", () => [shift("ingress-weight", 10), []], "canary"],
    ["ingress-weight at 100 %", () => [shift("ingress-weight", 100), []], "canary"],
    ["feature-flag at the first step (10 %)", () => [shift("feature-flag", 10), []]],
    ["feature-flag at 100 %", () => [shift("feature-flag", 100), []]],
    ["blue-green at 50 % (lower steps held on blue)", () => [shift("blue-green", 50), []], "green"],
    ["blue-green at 100 % (the primary Service on green)", () => [shift("blue-green", 100), []], "green"],
    ["blue-green at 100 %, standalone monitoring", () => [shift("blue-green", 100, standalone), []], "green"],
    ["blue-green at the first step (10 %), lower steps mirrored to green", () => [shift("blue-green", 10, mirror), []], "green"],
    ["blue-green at 100 %, lower steps mirrored", () => [shift("blue-green", 100, mirror), []], "green"],
];

const kubernetesObjects = (engine: MockEngine) => engine.resources.filter((r) => r.type.startsWith("kubernetes:"));

/** The new track's objects, by type and Kubernetes name: present, so the checks over every object reach them. */
const newTrackObjects = (track: NewTrack) => [
    [DEPLOYMENT, `agenc-speculation-${track}`], [SERVICE, `agenc-speculation-${track}`], [PDB, `agenc-speculation-${track}`],
    [CONFIGMAP, `speculation-config-${track}`],
] as const;

describe("idempotent preview, bounded awaits and explicit ordering (issue 17)", () => {
    const engine = new MockEngine();

    describe("ConfigMaps and Secrets", () => {
        for (const [label, shape, track] of SHAPES) {
            it(`${label}: every ConfigMap and Secret is updated in place through the stack's provider, never deleted before its successor`, async () => {
                const [config, secretKeys] = shape();
                await engine.render(config, secretKeys);
                const [provider] = engine.ofType(PROVIDER);
                expect(String(provider.inputs.enableConfigMapMutable), "ConfigMaps are mutable").to.equal("true");
                expect(String(provider.inputs.enableSecretMutable), "Secrets are mutable").to.equal("true");
                const objects = [...engine.ofType(CONFIGMAP), ...engine.ofType(SECRET)];
                expect(objects.length).to.be.greaterThan(1);
                if (track) expect(objects.map((o) => o.inputs.metadata?.name), "the new track's ConfigMap").to.include(`speculation-config-${track}`);
                for (const o of objects) {
                    const name = `${o.type}/${o.inputs.metadata?.name ?? o.name}`;
                    expect(o.options?.provider, `${name} goes through the stack's provider`).to.match(new RegExp(`^${provider.urn.replace(/[$]/g, "\\$")}::`));
                    expect(onDataChange(o, provider.inputs), `${name} on a data change`).to.equal("update-in-place");
                }
            });
        }

        it("a fixed-name ConfigMap under the provider's defaults would be deleted before it is re-created (what the helper guards)", () => {
            const fixed = { type: CONFIGMAP, name: "x", inputs: { metadata: { name: "speculation-config" } }, options: { replaceOnChanges: [], deleteBeforeReplace: false } } as unknown as Registered;
            expect(onDataChange(fixed, {})).to.equal("delete-before-create");
            expect(onDataChange({ ...fixed, inputs: { metadata: {} } }, {})).to.equal("create-before-delete");
            expect(onDataChange({ ...fixed, options: { deleteBeforeReplace: false, replaceOnChanges: ["*"] } }, { enableConfigMapMutable: true })).to.equal("delete-before-create");
        });

        it("registers no Secret with an empty stringData: without receivers there is no receivers Secret at all", async () => {
            for (const mode of ["operator", "standalone"]) {
                await engine.render(withEdit(stackConfig("staging"), "speculation:monitoring", "mode", mode));
                const secrets = engine.ofType(SECRET);
                expect(secrets.map((s) => s.inputs.metadata.name), mode).to.deep.equal(["agenc-speculation-secrets"]);
                for (const s of secrets) {
                    const data = secretEnvelope(s.inputs.stringData) ?? s.inputs.stringData;
                    expect(Object.keys(data ?? {}), `${s.inputs.metadata.name} stringData`).to.not.have.length(0);
                }
                if (mode === "standalone") {
                    const am = engine.byK8sName(DEPLOYMENT, "alertmanager").inputs.spec.template.spec;
                    expect(am.volumes.filter((v: any) => !v.emptyDir && !v.persistentVolumeClaim).map((v: { name: string }) => v.name), "no volume for a Secret that does not exist").to.deep.equal(["config"]);
                }
            }
        });

        it("every Deployment that reads a ConfigMap or Secret carries the config checksum, and a config change changes it", async () => {
            const standalone = withEdit(stackConfig("staging"), "speculation:monitoring", "mode", "standalone");
            await engine.render(standalone);
            const readsConfig = (d: Registered) => JSON.stringify(d.inputs.spec.template.spec).match(/"configMap"|"secretKeyRef"|"secret"/);
            const before = new Map(engine.ofType(DEPLOYMENT).filter(readsConfig).map((d) => [d.inputs.metadata.name,
                d.inputs.spec.template.metadata.annotations?.[CONFIG_CHECKSUM_ANNOTATION]]));
            expect([...before.keys()].sort()).to.deep.equal(["agenc-speculation", "alertmanager", "grafana", "prometheus", "speculation-watchdog"]);
            for (const [name, sum] of before) expect(sum, name).to.match(/^[0-9a-f]{64}$/);
            await engine.render(withEdit(withEdit(standalone, "speculation:service", "maxDepth", 3), "speculation:thresholds", "maxProofQueueSize", 1500));
            const after = (name: string) => engine.byK8sName(DEPLOYMENT, name).inputs.spec.template.metadata.annotations[CONFIG_CHECKSUM_ANNOTATION];
            expect(after("agenc-speculation"), "speculation-config changed").to.not.equal(before.get("agenc-speculation"));
            expect(after("prometheus"), "the rules changed").to.not.equal(before.get("prometheus"));
            expect(after("alertmanager"), "routing did not change").to.equal(before.get("alertmanager"));
        });
    });

    describe("Ingress await policy", () => {
        const ingressConfig = (edits: Record<string, unknown> = {}) => {
            let c = withEdit(stackConfig("staging"), "speculation:rolloutPercentage", undefined, 50);
            c = withEdit(c, "speculation:canary", "shiftMode", "ingress-weight");
            for (const [k, v] of Object.entries(edits)) c = withEdit(c, "speculation:canary", `ingress.${k}`, v);
            return c;
        };

        it("skips the provider's load-balancer await by default on every Ingress", async () => {
            await engine.render(ingressConfig());
            const ingresses = engine.ofType(INGRESS);
            expect(ingresses.length).to.be.greaterThan(0);
            for (const i of ingresses) expect(ingressAwaitPolicy(i), i.inputs.metadata.name).to.equal("skip");
        });

        it("with await: load-balancer waits for the published address, bounded by awaitTimeout on create and update", async () => {
            await engine.render(ingressConfig({ await: "load-balancer", awaitTimeout: "3m" }));
            for (const i of engine.ofType(INGRESS)) {
                expect(ingressAwaitPolicy(i), i.inputs.metadata.name).to.deep.equal({ create: "3m", update: "3m" });
                expect(i.inputs.metadata.annotations).to.not.have.property("pulumi.com/skipAwait");
            }
        });

        it("refuses an unknown await mode by key, with the allowed values", async () => {
            engine.install(ingressConfig({ await: "forever" }));
            expect(() => loadStackConfig()).to.throw(/speculation:canary\.ingress\.await: .*skip, load-balancer/);
        });
    });

    describe("ordering", () => {
        for (const [label, shape, track] of SHAPES) {
            it(`${label}: every namespaced object depends on the Namespace resource`, async () => {
                const [config, secretKeys] = shape();
                await engine.render(config, secretKeys);
                const [namespace] = engine.ofType(NAMESPACE);
                const namespaced = kubernetesObjects(engine).filter((r) => r.type !== NAMESPACE);
                expect(namespaced.length).to.be.greaterThan(5);
                for (const [type, name] of track ? newTrackObjects(track) : []) {
                    expect(namespaced.filter((r) => r.type === type && r.inputs.metadata?.name === name), `${type}/${name}`).to.have.length(1);
                }
                const missing = namespaced.filter((r) => !r.dependencies.includes(namespace.urn)).map((r) => `${r.type}/${r.name}`);
                expect(missing, "objects that could start before their namespace exists").to.deep.equal([]);
                for (const r of namespaced) expect(r.inputs.metadata?.namespace, `${r.type}/${r.name}`).to.equal(namespace.inputs.metadata.name);
            });
        }
    });
});
