/**
 * The canary-vs-stable comparison inside the HealthGate, through its provider, against two reference services over
 * real HTTP: one plays stable (the previous version), one plays canary.  The absolute go/no-go checks pass in every
 * case here; only the comparison tells the canary apart.
 */
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { mkdtempSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { DEFAULT_STAGE_THRESHOLDS } from "../../../config/thresholds";
import { DecisionRecord } from "../../../lib/gate/run";
import { healthGateProvider } from "../../../providers/healthGate";
import { Faults, RunningSpeculationService, startSpeculationService } from "../../../reference/speculationService";
import { deserialised } from "../../helpers/deserialise";
import { ADMIN_TOKEN } from "../../helpers/reference";

const p = healthGateProvider as Required<pulumi.dynamic.ResourceProvider>;
const JUDGE = { errorRateMargin: 0.005, latencyMargin: 0.1, confidence: 0.95, minRequests: 500 };

describe("the gate judges the canary against the stable track", function () {
    this.timeout(30_000);
    let stable: RunningSpeculationService;
    let canary: RunningSpeculationService;
    afterEach(async () => { await stable?.close(); await canary?.close(); });

    const start = async (canaryFaults: Partial<Faults> = {}, canaryOpsPerSecond = 5000) => {
        stable = await startSpeculationService({ adminToken: ADMIN_TOKEN, version: "v1.2.3", tickMs: 20, operationsPerSecond: 5000 });
        canary = await startSpeculationService({ adminToken: ADMIN_TOKEN, version: "v1.2.4", tickMs: 20, operationsPerSecond: canaryOpsPerSecond, faults: canaryFaults });
    };
    const inputs = (edit: Record<string, unknown> = {}) => ({
        stage: "stage-1-10pct", percentage: 10, version: "v1.2.4", serviceUrl: canary.url, source: "metrics-endpoint",
        adminToken: ADMIN_TOKEN, thresholds: DEFAULT_STAGE_THRESHOLDS, baselineErrorRate: 0.002,
        bakeSeconds: 0.6, pollSeconds: 0.2, deadlineSeconds: 12,
        // A generous read timeout: on a loaded machine a slow read must not become a no-go these tests are not about.
        timeoutMs: 5000, onFailure: "fail", noData: {},
        checkRolloutPercentage: false, artifactsDir: mkdtempSync(path.join(tmpdir(), "gates-")),
        compare: { stableUrl: stable.url, ...JUDGE }, ...edit,
    });
    const failing = async (edit: Record<string, unknown> = {}) => {
        try { await p.create(inputs(edit)); } catch (e) { return e as { message: string; properties: { decision: DecisionRecord } }; }
        throw new Error("the gate passed");
    };

    it("passes a canary as good as stable, each comparison in the decision record", async () => {
        await start();
        const { outs } = await p.create(inputs());
        const record = outs.decision as DecisionRecord;
        expect(outs.verdict).to.equal("pass");
        const compared = record.decisive.checks.filter((c) => c.check.startsWith("canary vs stable"));
        expect(compared.map((c) => [c.check, c.verdict])).to.deep.equal([["canary vs stable: errorRate", "pass"], ["canary vs stable: latency", "pass"]]);
        expect(compared[0].observed).to.match(/canary 0\.[12]\d* % \(\d+\/\d+\), stable 0\.[12]\d* % /);
    });

    it("fails a canary whose error rate is within the absolute limits but worse than stable's beyond the margin", async () => {
        await start({ errorRate: 0.009 });
        const f = await failing();
        expect(f.properties.decision.reason).to.match(/no-go: canary vs stable: errorRate \(the canary's error rate is worse than stable's by more than 0\.5 %/);
        const absolute = f.properties.decision.decisive.checks.find((c) => c.check === "errorRate")!;
        expect(absolute.verdict, "0.9 % passes the table's 1 % on its own").to.equal("pass");
        expect(f.message).to.match(/canary vs stable: errorRate .*canary 0\.[89]\d* % .*stable 0\.[12]\d* %.*FAIL/);
    });

    it("fails a canary slower than stable beyond the latency margin", async () => {
        await start({ latencyMs: 20 });
        const f = await failing();
        expect(f.properties.decision.reason).to.match(/canary vs stable: latency \(the canary is slower than stable beyond the margin/);
    });

    it("holds a canary with too little traffic (inconclusive) and never passes it: at the deadline it fails", async () => {
        // No errors: one error among the few operations between two samples would trip the absolute spike check.
        // 100 operations a second: about 20 between two samples, so even a loaded machine's late ticks advance the
        // counters (counters that do not move are "stale", a no-go), and 150 over the whole deadline, far below 500.
        await start({ errorRate: 0 }, 100);
        const f = await failing({ deadlineSeconds: 1.5 });
        const record = f.properties.decision;
        expect(record.samples.map((s) => s.verdict), JSON.stringify(record.samples.filter((s) => s.verdict !== "hold"))).to.satisfy((v: string[]) => v.every((x) => x === "hold"));
        expect(record.reason).to.match(/^deadline: 0 of 3 consecutive green samples .*canary vs stable: errorRate \(inconclusive: too little traffic to judge: canary/);
    });

    it("judges the same once the provider is serialised and loaded as the engine runs it", async () => {
        await start({ errorRate: 0.009 });
        const engineSide = await deserialised(healthGateProvider);
        const f = await engineSide.create(inputs()).then(() => { throw new Error("the gate passed"); }, (e) => e as { reasons: string[] });
        expect(f.reasons[0]).to.match(/no-go: canary vs stable: errorRate/);
    });

    it("fails closed when the stable track cannot be read", async () => {
        await start();
        const f = await failing({ compare: { stableUrl: "http://127.0.0.1:9", ...JUDGE } });
        expect(f.properties.decision.reason).to.match(/canary vs stable \(unreachable: stable track: /);
    });
});
