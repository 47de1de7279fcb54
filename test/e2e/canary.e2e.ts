/**
 * The canary-vs-stable judgement under the real engine (issue 13): ingress-weight mode on the local stack, the gate
 * reading two reference services over loopback, one playing stable (v1.2.3), one playing the canary (v1.2.4):
 * a canary as good as stable passes; a canary with too little traffic is inconclusive, holds, and fails only at the
 * deadline (never passes); a canary worse than stable fails, although every absolute go/no-go threshold passes.
 * The steps share one stack and run in order; each step starts a new canary, so the stage's gate judges it again.
 */
import { expect } from "chai";
import { mkdtempSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { Faults, RunningSpeculationService, startSpeculationService } from "../../reference/speculationService";
import { LocalEnvironment, localConfig, openStack, policyConfig, POLICY_PACK, startLocalEnvironment, toolchain } from "../../scripts/localStack";

describe("the real engine: the canary judged against stable (ingress-weight on the local stack)", function () {
    this.timeout(300_000);
    let env: LocalEnvironment;
    let stack: Stack;
    let stable: RunningSpeculationService;
    let canary: RunningSpeculationService;
    const running: RunningSpeculationService[] = [];
    const pack = { policyPacks: [POLICY_PACK], policyPackConfigs: [policyConfig("local")], onOutput: () => undefined };

    const startCanary = async (faults: Partial<Faults> = {}, operationsPerSecond = 5000) => {
        canary = await startSpeculationService({ adminToken: env.adminToken, version: "v1.2.4", tickMs: 20, operationsPerSecond, faults });
        running.push(canary);
    };
    const open = async (pct: number, fresh = false) => {
        stack = await openStack(env, "e2e-canary", localConfig(env, (c) => {
            c["speculation:rolloutPercentage"] = pct;
            c["speculation:canary"].shiftMode = "ingress-weight";
            c["speculation:canary"].gate = { ...c["speculation:canary"].gate, serviceUrl: stable.url, canaryUrl: canary.url, deadlineSlack: "10s", bakeMode: "watch",
                // A loaded CI machine must not turn a slow read into a no-go these cases are not about.
                timeout: "10s" };
            c["speculation:bench"] = { ...c["speculation:bench"], enabled: false };
        }), fresh);
    };
    /** The gate's own lines of the engine's error, for an assertion message that says what happened. */
    const said = (e: Error) => e.message.split("\n").filter((l) => /health gate|no-go|deadline/.test(l)).slice(0, 2).join("\n");
    const gateRecord = async (stage: string) => {
        const state = await stack.exportStack();
        return state.deployment.resources.find((r: { urn: string }) => r.urn.endsWith(`HealthGate::${stage}-gate`)).outputs.decision;
    };

    before(async () => {
        env = await startLocalEnvironment({ workDir: mkdtempSync(path.join(tmpdir(), "e2e-canary-")), binDir: toolchain(), nodes: 0 });
        stable = await startSpeculationService({ adminToken: env.adminToken, version: "v1.2.3", tickMs: 20, operationsPerSecond: 5000 });
        running.push(stable);
    });
    after(async () => {
        await stack?.destroy({ onOutput: () => undefined }).catch(() => undefined);
        for (const s of running) await s.close();
        await env?.stop();
    });

    it("a canary as good as stable passes its stage, each comparison recorded", async () => {
        await startCanary();
        await open(10, true);
        const up = await stack.up(pack);
        expect(up.summary.result).to.equal("succeeded");
        expect(up.outputs.gateVerdicts.value).to.deep.equal(["pass"]);
        const record = await gateRecord("stage-1-10pct");
        const compared = record.decisive.checks.filter((c: { check: string }) => c.check.startsWith("canary vs stable"));
        expect(compared.map((c: { check: string; verdict: string }) => [c.check, c.verdict])).to.deep.equal([
            ["canary vs stable: errorRate", "pass"], ["canary vs stable: latency", "pass"],
        ]);
        expect(record.decisive.checks.find((c: { check: string }) => c.check === "health").observed, "the gate read the canary").to.equal("healthy v1.2.4");
    });

    it("a canary with too little traffic is inconclusive: the stage holds and fails at its deadline, never passes", async () => {
        // Another canary at the same address change: every gate judges the canary again.
        // No errors at all: the few requests look perfect, and are still too few to judge.  (With errors, one error in
        // the 30 operations between two samples is a 3 % error rate that the absolute spike check aborts on.)  30 a
        // second: a loaded machine's late ticks still move the counters between two samples (counters that do not
        // move are "stale", a no-go), and the whole bake and slack (3 s + 10 s: the slack may not be shorter than the
        // 10 s read timeout) stay under the judge's 500 per track (390).
        await startCanary({ errorRate: 0 }, 30);
        await open(10);
        const err = await stack.up(pack).then(() => undefined, (e: Error) => e);
        expect(err, "a canary with too little traffic passed").to.not.equal(undefined);
        expect(err!.message, said(err!)).to.match(/health gate stage-1-10pct \(10 %, v1\.2\.4\) failed after \d+ sample\(s\): deadline: 0 of 3 consecutive green samples/);
        expect(err!.message, said(err!)).to.match(/canary vs stable: errorRate \(inconclusive: too little traffic to judge: canary \d+ \(needs 500 per track\)\)/);
        const record = await gateRecord("stage-1-10pct");
        const notHeld = record.samples.filter((s: { verdict: string }) => s.verdict !== "hold");
        expect(notHeld, `every sample held: ${JSON.stringify(notHeld).slice(0, 800)}`).to.deep.equal([]);
    });

    it("a canary worse than stable fails, though every absolute threshold passes", async () => {
        await startCanary({ errorRate: 0.009 });
        await open(10);
        const err = await stack.up(pack).then(() => undefined, (e: Error) => e);
        expect(err, "a worse canary passed").to.not.equal(undefined);
        expect(err!.message, said(err!)).to.match(/no-go: canary vs stable: errorRate \(the canary's error rate is worse than stable's by more than 0\.5 %/);
        expect(err!.message).to.match(/errorRate\s+Δspeculation_errors_total.*\s0\.00[89]\d*\s+< 0\.01 to promote, > 0\.1 aborts\s+PASS/);
        // Ingress-weight without a way to the watchdog: the gate cannot lower the weight, and says how to.
        expect(err!.message, said(err!)).to.match(/Traffic left as it is[^\n]*the canary keeps its weight\.[^\n]*Lower it: `pulumi config set speculation:rolloutPercentage/);
    });
});
