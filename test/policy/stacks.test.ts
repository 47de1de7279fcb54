/**
 * The pack over the resources the program really registers (under mocks, with parents and dependencies): both
 * stacks as configured pass, each at every step of their plan; deliberately bad configurations each produce the
 * expected violations at the stack's enforcement level.
 */
import { expect } from "chai";
import { defineStack } from "../../program";
import { LoadedConfig, loadStackConfig } from "../../config";
import { MockEngine, NODE_SECRET_KEYS, settle, stackConfig, withEdit, withNodes } from "../helpers/stack";
import { runPack, Stack, Violation } from "./harness";

const engine = new MockEngine();

/**
 * `afterLoad` edits the config after the schema accepted it: production's own rules are refused by the schema first
 * (config/schema.ts), so the pack, their second line of defence, is proven on a program built past that check.
 */
async function violations(stack: Stack, config: Record<string, unknown>, phase: "preview" | "update" = "preview",
    afterLoad: (loaded: LoadedConfig) => void = () => undefined): Promise<Violation[]> {
    engine.install(config, "speculation:sshPrivateKey" in config ? NODE_SECRET_KEYS : []);
    const loaded = loadStackConfig();
    afterLoad(loaded);
    const outputs = defineStack(loaded);
    await settle(outputs as unknown as Record<string, unknown>);
    return runPack(engine.resources, stack, phase);
}

/** Six bare-metal nodes with the given node settings. */
const withFleet = (config: Record<string, unknown>, nodes: Record<string, unknown>) => withNodes(config, 6, nodes);

const at = (stack: Stack, pct: number) => withEdit(stackConfig(stack), "speculation:rolloutPercentage", undefined, pct);

describe("policy pack over the program's resources", function () {
    this.timeout(120_000); // ten program runs per case; slow on a loaded machine
    for (const [stack, steps] of [["staging", [0, 10, 50, 100]], ["production", [0, 10, 25, 50, 100]]] as const) {
        it(`${stack} as configured passes at every step of its plan (${steps.join(", ")} %)`, async () => {
            for (const pct of steps) {
                expect(await violations(stack, at(stack, pct)), `${stack} at ${pct} %`).to.deep.equal([]);
                expect(await violations(stack, at(stack, pct), "update"), `${stack} at ${pct} % after the update`).to.deep.equal([]);
            }
        });
    }

    for (const shiftMode of ["ingress-weight", "blue-green"]) {
        it(`${shiftMode} mode passes pod-disruption-budgets (the new track has its budget) and ingress-public-paths-only`, async () => {
            const found = await violations("production", withEdit(withEdit(at("production", 50), "speculation:canary", "shiftMode", shiftMode),
                "speculation:release", "images.speculation.previousDigest", `sha256:${"ab".repeat(32)}`));
            expect(found.filter((v) => ["pod-disruption-budgets", "ingress-public-paths-only"].includes(v.policy))).to.deep.equal([]);
        });
    }

    for (const mode of ["skip", "load-balancer"]) {
        it(`ingress-weight mode passes ingress-await and network-isolation with either Ingress await policy (${mode})`, async () => {
            let c = withEdit(at("staging", 50), "speculation:canary", "shiftMode", "ingress-weight");
            c = withEdit(c, "speculation:canary", "ingress.await", mode);
            const found = await violations("staging", c);
            expect(found.filter((v) => ["ingress-await", "network-isolation", "topology-spread"].includes(v.policy))).to.deep.equal([]);
        });
    }

    it("a fleet declared the operator's way (one canary node, then 50 %) passes in production", async () => {
        expect(await violations("production", withFleet(at("production", 10), { serial: [1, "50%"] }))).to.deep.equal([]);
    });

    const same = (c: Record<string, unknown>) => c;
    const bad: [string, Stack, (c: Record<string, unknown>) => Record<string, unknown>, string, RegExp, ((l: LoadedConfig) => void)?][] = [
        ["two proof workers in production", "production", same, "proof-workers-min-replicas", /Deployment proof-workers has 2 replicas; the minimum is 4/, (l) => { l.config.proofWorkers.replicas = 2; }],
        ["a 15 min bake in production", "production", same, "gate-thresholds", /stage-1-10pct-gate bakes 900 s; this stack requires at least 14400 s/, (l) => { l.config.canary.steps[0].bake = "15m"; }],
        ["no bench in production", "production", same, "every-stage-gated", /requires a passed bench run before the first canary stage/, (l) => { l.config.bench.enabled = false; }],
        ["a node failure budget in production", "production", (c) => withFleet(c, {}), "node-rollout-limits", /alys-nodes-ssh: maxFailPercentage is 25; at most 0/, (l) => { l.config.nodes.maxFailPercentage = 25; }],
        ["a first batch of three nodes", "staging", (c) => withFleet(c, { serial: [3] }), "node-rollout-limits", /the first batch has 3 nodes; at most 1/],
        ["no NetworkPolicies", "staging", (c) => withEdit(c, "speculation:hardening", "networkPolicies.enabled", false), "network-isolation", /no default-deny NetworkPolicy[\s\S]*No NetworkPolicy agenc-speculation-admin/],
        ["no topology spread", "staging", (c) => withEdit(c, "speculation:hardening", "topologySpread.enabled", false), "topology-spread", /Deployment proof-workers has no topology spread constraint[\s\S]*Deployment agenc-speculation has no topology spread constraint/],
        ["a soft spread in production", "production", same, "topology-spread", /spreads with whenUnsatisfiable ScheduleAnyway; this stack requires DoNotSchedule/, (l) => { l.config.hardening.topologySpread.whenUnsatisfiable = "ScheduleAnyway"; }],
        ["one service replica in staging", "staging", (c) => withEdit(c, "speculation:service", "replicas", 1), "pod-disruption-budgets", /PodDisruptionBudget agenc-speculation lets a drain evict all 1 pod\(s\) of Deployment agenc-speculation at once; run at least 2 replicas/],
        ["a namespace that enforces only baseline in production", "production", (c) => withEdit(c, "speculation:kubernetes", "podSecurity", "baseline"), "pod-security-restricted", /^Namespace agenc-production enforces Pod Security baseline/],
        ["signature verification off in production", "production", same, "signed-releases", /^signatures: signature verification is off \(speculation:signing\.required is false\); this stack requires it\.$/, (l) => { l.config.signing.required = false; }],
    ];
    for (const [name, stack, edit, policy, message, afterLoad] of bad) {
        it(`reports ${name} as ${stack === "production" ? "mandatory" : "advisory"}`, async () => {
            const found = await violations(stack, edit(at(stack, 10)), "preview", afterLoad);
            const mine = found.filter((v) => v.policy === policy);
            expect(mine.map((v) => v.message).join("\n")).to.match(message);
            expect(mine.every((v) => v.level === (stack === "production" ? "mandatory" : "advisory"))).to.equal(true);
        });
    }

    it("staging gets the same rules as warnings: a gate run without a gate factory is reported, advisory", async () => {
        engine.install(at("staging", 10));
        const outputs = defineStack(loadStackConfig(), { gate: () => undefined });
        await settle(outputs as unknown as Record<string, unknown>);
        const found = runPack(engine.resources, "staging");
        expect(found.map((v) => [v.policy, v.level, v.message])).to.deep.include.members([
            ["every-stage-gated", "advisory", "Canary stage stage-1-10pct has no health gate."],
            ["every-stage-gated", "advisory", "Canary stage stage-1-10pct has no error-rate baseline before its shift."],
        ]);
    });

    it("after an update, a gate that recorded a failure is reported", async () => {
        engine.install(at("production", 10));
        const outputs = defineStack(loadStackConfig());
        await settle(outputs as unknown as Record<string, unknown>);
        const gate = engine.resources.find((r) => r.name === "stage-1-10pct-gate")!;
        gate.outputs = { ...gate.outputs, verdict: "fail", decision: { reason: "deadline: 3 of 240 consecutive green samples" } };
        expect(runPack(engine.resources, "production", "update").map((v) => v.message))
            .to.deep.equal(["HealthGate stage-1-10pct-gate recorded verdict fail: deadline: 3 of 240 consecutive green samples."]);
    });
});
