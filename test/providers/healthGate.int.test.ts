/**
 * HealthGate through its provider methods against the reference workloads over real HTTP on loopback: every
 * verdict, every fail-closed fault, the revert, the deadline, refresh, and serialisation.
 * Bakes are a few hundred milliseconds with 100 ms polls: the gate's own poll interval, not a test sleep.  The gate
 * runs on a stepped clock (test/helpers/clock.ts): its time is the sum of its polls, so a deadline of D with a poll of
 * P is exactly D / P samples however loaded the machine (a wall-clock deadline could leave the last sample a few
 * milliseconds after the one before it, with no traffic in between: a stale error rate instead of the deadline).
 */
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { mkdtempSync, readFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { DEFAULT_STAGE_THRESHOLDS } from "../../config/thresholds";
import { DecisionRecord } from "../../lib/gate/run";
import { Faults } from "../../reference/speculationService";
import { healthGateProvider, healthGateProviderWith, HealthGateState } from "../../providers/healthGate";
import { steppedClock } from "../helpers/clock";
import { errorBaselineProvider } from "../../providers/errorBaseline";
import { startPushgateway } from "../helpers/pushgateway";
import { startAlertmanager } from "../helpers/alertmanager";
import { ADMIN_TOKEN, Reference, startReference } from "../helpers/reference";
import { startSpeculationService } from "../../reference/speculationService";

const p = healthGateProvider as Required<pulumi.dynamic.ResourceProvider>;
/** The provider whose gate loop runs on a fresh stepped clock (create and update). */
const gate = () => healthGateProviderWith(steppedClock()) as Required<pulumi.dynamic.ResourceProvider>;
const artifactsDir = mkdtempSync(path.join(tmpdir(), "gates-"));

type GateInputs = Omit<HealthGateState, "verdict" | "decision" | "artifact" | "current">;

function inputs(ref: Reference, edit: Partial<GateInputs> = {}): GateInputs {
    return {
        stage: "stage-2-25pct", percentage: 25, version: "v1.2.4",
        serviceUrl: ref.service.url, proofWorkerUrl: ref.worker.url, source: "metrics-endpoint",
        adminToken: ADMIN_TOKEN, thresholds: DEFAULT_STAGE_THRESHOLDS, baselineErrorRate: 0.002,
        bakeSeconds: 0.3, pollSeconds: 0.1, deadlineSeconds: 1.5, timeoutMs: 1000,
        onFailure: "revert", noData: {}, checkRolloutPercentage: true, artifactsDir, ...edit,
    };
}

interface GateFailure { message: string; id: string; properties: HealthGateState; reasons: string[] }

async function failingGate(ref: Reference, edit: Partial<GateInputs> = {}): Promise<GateFailure> {
    try {
        await gate().create(inputs(ref, edit));
    } catch (e) {
        const f = e as GateFailure;
        expect(f.id, "a no-go is recorded as created-but-failed").to.equal("stage-2-25pct-gate");
        return f;
    }
    throw new Error("the gate passed");
}

describe("HealthGate provider against the reference workloads", function () {
    this.timeout(20_000);
    let ref: Reference;
    afterEach(async () => ref?.close());

    it("passes a healthy stage after ceil(bake / poll) consecutive green samples and writes the decision record", async () => {
        ref = await startReference({ rolloutPercentage: 25 });
        const { outs } = await gate().create(inputs(ref));
        const record = outs.decision as DecisionRecord;
        expect(outs.verdict).to.equal("pass");
        expect(record.requiredSamples).to.equal(3);
        expect(record.sampleCount).to.equal(3);
        expect(record.samples.every((s) => s.verdict === "pass")).to.equal(true);
        const file = JSON.parse(readFileSync(outs.artifact, "utf8"));
        expect(file.verdict).to.equal("pass");
        expect(file.allSamples).to.have.length(3);
        expect(ref.service.state.rolloutPercentage, "a pass leaves traffic where it is").to.equal(25);
    });

    const aborts: [string, Partial<Faults>, RegExp][] = [
        ["rollback rate above 15 %", { rollbackRate: 0.2 }, /rollbackRate\s+max\(speculation_rollback_rate\).*\s0\.2\s+< 0\.05 to promote, > 0\.15 aborts\s+FAIL/],
        ["error rate above 10 %", { errorRate: 0.12 }, /errorRate\s+Δspeculation_errors_total.*\s0\.1[12]\d*\s+< 0\.01 to promote, > 0\.1 aborts\s+FAIL/],
        ["error rate above 10 × the baseline", { errorRate: 0.05 }, /errorRateVsBaseline\s+.*vs baseline 0\.002\s+0\.0[45]\d*\s+≤ 0\.02\s+FAIL/],
        ["memory above the critical percentage", { memoryPercent: 95 }, /memoryPercent\s+.*\s95\s+≤ 90\s+FAIL/],
        ["p99 above 2 × p95 (a fat latency tail)", { tailLatencyMs: 200 }, /latencyTailRatio\s+p99 \/ p95 of Δspeculation_operation_duration_seconds_bucket between scrapes\s+\d+(\.\d+)?\s+≤ 2\s+FAIL/],
        ["p99 above the 5 s abort limit", { latencyMs: 6000 }, /latencyP99\s+p99 of Δspeculation_operation_duration_seconds_bucket between scrapes\s+9\.\d+\s+< 1 to promote, > 5 aborts\s+FAIL/],
    ];
    for (const [name, faults, row] of aborts) {
        it(`aborts on ${name}, reverts the service to 0 % and names the check in the message`, async () => {
            ref = await startReference({ rolloutPercentage: 25 });
            ref.service.setFaults(faults);
            const f = await failingGate(ref);
            expect(f.message).to.match(/health gate stage-2-25pct \(25 %, v1\.2\.4\) failed after 1 sample\(s\): no-go/);
            expect(f.message).to.match(row);
            expect(f.message).to.include("Traffic reverted: rollout percentage is 0 (confirmed).");
            expect(ref.service.state.rolloutPercentage).to.equal(0);
            expect(ref.service.state.enabled).to.equal(false);
            expect(f.properties.decision.revert).to.include({ to: 0, confirmed: true });
            expect(f.properties).to.not.have.property("adminToken");
            expect(f.reasons, "the engine shows only the reasons: they carry the whole table").to.deep.equal([f.message]);
            expect(JSON.parse(readFileSync(f.properties.artifact, "utf8")).verdict).to.equal("fail");
        });
    }

    it("aborts on a CUSUM alarm: a 4× error-rate drift that stays under the 1 % promote and the 10× spike limits", async () => {
        ref = await startReference({ rolloutPercentage: 25 });
        ref.service.setFaults({ errorRate: 0.008 });
        const f = await failingGate(ref, { cusum: { k: 0.5, h: 5, latencySigma: 0.1 }, baselineP95Seconds: 0.0095, bakeSeconds: 2, deadlineSeconds: 4 });
        expect(f.message).to.match(/no-go: cusum errorRate \(CUSUM alarm: the error rate drifted above its pre-shift baseline\)/);
        expect(f.message).to.match(/^cusum errorRate\s+errors per sample vs baseline 0\.002\s+S \d+\.\d+ \(alarm at sample \d+\)\s+S ≤ h = 5 \(k = 0\.5\)\s+FAIL$/m);
        expect(f.message).to.match(/^errorRate\s.*\s+PASS$/m);
        expect(f.message).to.match(/^errorRateVsBaseline\s.*\s+PASS$/m);
        expect(ref.service.state.rolloutPercentage, "the alarm's revert is the kill switch").to.equal(0);
        expect(ref.service.state.enabled).to.equal(false);
    });

    it("without the drift, CUSUM stays in control and the gate passes", async () => {
        ref = await startReference({ rolloutPercentage: 25 });
        const { outs } = await gate().create(inputs(ref, { cusum: { k: 0.5, h: 5, latencySigma: 0.1 }, baselineP95Seconds: 0.0095 }));
        expect(outs.verdict).to.equal("pass");
        const last = (outs.decision as DecisionRecord).decisive.checks.filter((c) => c.check.startsWith("cusum"));
        expect(last.map((c) => c.verdict)).to.deep.equal(["pass", "pass"]);
    });

    it("aborts on a critical alert firing in Alertmanager, naming it", async () => {
        ref = await startReference({ rolloutPercentage: 25 });
        const am = await startAlertmanager();
        try {
            await am.push({ alertname: "SpeculationCircuitBreakerOpen", severity: "critical" });
            const f = await failingGate(ref, { alerts: { alertmanagerUrl: am.url }, deadlineSeconds: 5 });
            expect(f.message).to.match(/no-go: critical alerts \(critical alert firing: SpeculationCircuitBreakerOpen\)/);
            expect(ref.service.state.rolloutPercentage).to.equal(0);
        } finally { await am.close(); }
    });

    it("aborts on a proof queue above 2000 (read from the proof workers' /metrics)", async () => {
        ref = await startReference({ rolloutPercentage: 25 });
        ref.worker.faults.queueSize = 2400;
        const f = await failingGate(ref);
        expect(f.message).to.match(/proofQueue\s+max\(proof_queue_size\).*\s2400\s+≤ 2000\s+FAIL/);
    });

    const failClosed: [string, (r: Reference) => Partial<GateInputs> | void, RegExp][] = [
        ["unreachable", (r) => ({ serviceUrl: "http://127.0.0.1:9", proofWorkerUrl: r.worker.url }), /unreachable/],
        ["timeout", (r) => { r.service.setFaults({ responseDelayMs: 3000 }); }, /timeout: .*no answer within 1000 ms/],
        ["a non-2xx answer", (r) => { r.service.setFaults({ httpStatus: 500 }); }, /http-status: .*HTTP 500/],
        ["a malformed body", (r) => { r.service.setFaults({ malformed: true }); }, /malformed: .*(not JSON|Prometheus text format)/],
        ["a missing metric", (r) => { r.service.setFaults({ dropMetrics: ["speculation_rollback_rate"] }); }, /missing-metric: speculation_rollback_rate is not exposed/],
        ["a NaN metric", (r) => { r.service.setFaults({ rollbackRate: NaN }); }, /rollbackRate \(nan: /],
        ["stale samples", (r) => { r.service.setFaults({ freezeMetrics: true }); }, /stale: speculation_operations_total did not advance/],
        // The token is checked up front when the gate may have to revert: a gate that could not revert is a no-go.
        ["a rejected token", () => ({ adminToken: "not-the-token", onFailure: "revert" }), /admin-token \(rejected-token/],
    ];
    for (const [name, arrange, reason] of failClosed) {
        it(`fails closed on ${name}`, async () => {
            ref = await startReference({ rolloutPercentage: 25 });
            const edit = arrange(ref) ?? {};
            const f = await failingGate(ref, { onFailure: "fail", ...edit });
            expect(f.properties.verdict).to.equal("fail");
            expect(f.properties.decision.reason).to.match(reason);
            expect(f.message).to.include(edit.onFailure === "revert" ? "REVERT UNCONFIRMED" : "Traffic left as it is (onFailure: fail).");
            expect(ref.service.state.rolloutPercentage, "onFailure fail does not touch traffic").to.equal(25);
        });
    }

    it("a no-go that cannot revert (ingress-weight without a way to the watchdog) says what it left and how to lower it", async () => {
        ref = await startReference({ rolloutPercentage: 25 });
        ref.service.setFaults({ rollbackRate: 0.3 });
        const leftAs = "Traffic left as it is: the canary keeps its weight. Lower it: `pulumi config set speculation:rolloutPercentage 0 && pulumi up`.";
        const f = await failingGate(ref, { onFailure: "fail", leftAs });
        expect(f.message).to.include(leftAs).and.not.include("(onFailure: fail)");
        expect(f.properties.decision.leftAs).to.equal(leftAs);
    });

    it("a metric whose no-data policy is hold waits for data until the deadline, then fails naming it", async () => {
        ref = await startReference({ rolloutPercentage: 25 });
        ref.service.setFaults({ dropMetrics: ["speculation_memory_usage_bytes"] });
        const f = await failingGate(ref, { noData: { memoryPercent: "hold" }, deadlineSeconds: 0.8, onFailure: "fail" });
        const record = f.properties.decision;
        expect(Date.parse(record.finishedAt) - Date.parse(record.startedAt), "held until the deadline").to.equal(800);
        expect(record.sampleCount, "a sample every 100 ms until the 800 ms deadline").to.equal(8);
        expect(record.reason).to.match(/^deadline: 0 of 3 consecutive green samples .*memoryPercent \(missing-metric/);
    });

    it("fails at the deadline when a component stays unhealthy, and reverts", async () => {
        ref = await startReference({ rolloutPercentage: 25 });
        ref.service.setFaults({ unhealthy: ["stake_pool"] });
        const f = await failingGate(ref, { deadlineSeconds: 0.6 });
        expect(f.properties.decision.reason).to.match(/^deadline: .*component stake_pool \(expected healthy\)/);
        expect(f.properties.decision.sampleCount, "kept sampling until the deadline: one sample per 100 ms poll").to.equal(6);
        expect(ref.service.state.rolloutPercentage).to.equal(0);
    });

    it("holds while the service is not ready yet, then passes once it has been green for the window", async () => {
        ref = await startReference({ rolloutPercentage: 25, faults: { readinessDelayMs: 400 } });
        const { outs } = await gate().create(inputs(ref, { deadlineSeconds: 3 }));
        const record = outs.decision as DecisionRecord;
        expect(record.verdict).to.equal("pass");
        expect(record.samples.some((s) => s.verdict === "hold" && s.notGreen.some((n) => n.startsWith("ready"))), "some samples held").to.equal(true);
        expect(record.sampleCount).to.be.greaterThan(3);
    });

    it("fails when the live percentage is not the stage's (reverted or changed out of band)", async () => {
        ref = await startReference({ rolloutPercentage: 0 });
        const f = await failingGate(ref, { onFailure: "fail" });
        expect(f.message).to.match(/rollout percentage\s+GET \/admin\/status\s+0 \(speculation disabled\)\s+= 25\s+FAIL/);
    });

    it("refresh re-measures: current health shows a fault injected after the pass, and the next up judges again", async () => {
        ref = await startReference({ rolloutPercentage: 25 });
        const { id, outs } = await gate().create(inputs(ref));
        ref.service.setFaults({ rollbackRate: 0.3 });
        const read = await p.read(id, outs);
        expect(read.props!.current.verdict).to.equal("fail");
        expect(read.props!.current.notGreen.join("\n")).to.match(/rollbackRate: 0\.3/);
        expect((await p.diff(id, read.props, inputs(ref))).changes).to.equal(true);
        expect((await p.diff(id, outs, inputs(ref))).changes, "a clean pass with the same inputs is left alone").to.equal(false);
        const changed = await p.diff(id, outs, inputs(ref, { version: "v1.2.5" }));
        expect(changed.changes).to.equal(true);
        expect(changed.replaces).to.include("version");
    });
});

describe("ErrorBaseline provider", function () {
    this.timeout(10_000);
    let ref: Reference;
    afterEach(async () => ref?.close());
    const b = errorBaselineProvider as Required<pulumi.dynamic.ResourceProvider>;
    const base = (url: string) => ({
        stage: "stage-1-10pct", version: "v1.2.4", serviceUrl: url, source: "metrics-endpoint", windowSeconds: 0.3, timeoutMs: 1000,
        percentage: 10, thresholds: DEFAULT_STAGE_THRESHOLDS, noData: {},
    });

    it("measures the error rate and p95 before the shift over one window, and says the health check was a go", async () => {
        ref = await startReference({ faults: { errorRate: 0.005 } });
        const { outs } = await b.create(base(ref.service.url));
        expect(outs.errorRate).to.be.closeTo(0.005, 0.002);
        expect(outs.p95Seconds).to.be.within(0.005, 0.011);
        expect(outs.preShift).to.match(/^go \(\d+ checks\)$/);
    });

    it("publishes the baseline to a real Pushgateway for SpeculationErrorRateSpike; an unreachable one is a warning, never a failed shift", async () => {
        ref = await startReference({ faults: { errorRate: 0.005 } });
        const gateway = await startPushgateway();
        const lines: string[] = [];
        const log = console.log;
        console.log = (line: string) => { lines.push(String(line)); };
        try {
            const { outs } = await b.create({ ...base(ref.service.url), publish: { pushgatewayUrl: gateway.url, environment: "production" } });
            const exposed = await (await fetch(`${gateway.url}/metrics`)).text();
            const line = exposed.split("\n").find((l) => l.startsWith("agenc_stage_error_baseline_ratio{"))!;
            expect(line).to.match(/environment="production"/).and.to.match(/stage="stage-1-10pct"/).and.to.match(/job="agenc_stage_baseline"/);
            expect(Number(line.split(" ").pop())).to.equal(outs.errorRate);
            await b.create({ ...base(ref.service.url), publish: { pushgatewayUrl: "http://127.0.0.1:9", environment: "production" } });
        } finally {
            console.log = log;
            await gateway.close();
        }
        expect(lines.join("\n")).to.match(/baseline [\d.e-]+ published to http:\/\/127\.0\.0\.1:\d+/)
            .and.to.match(/WARNING: baseline not published to http:\/\/127\.0\.0\.1:9 .*holds the stage to its 0\.1 % floor instead/);
    });

    it("refuses the shift when the service is not green right before it (2 % errors: above the 1 % promote limit)", async () => {
        ref = await startReference({ faults: { errorRate: 0.02 } });
        await b.create(base(ref.service.url)).then(() => expect.fail("shifted onto a failing service"),
            (e: Error) => expect(e.message).to.match(/stage-1-10pct: the health check before the shift to 10 % is a no-go — traffic was NOT raised: errorRate/));
    });

    it("ingress-weight past the first stage: a failing canary refuses its higher weight though the stable service is green; a healthy one goes", async () => {
        ref = await startReference({ faults: { errorRate: 0.002 } });
        const canary = await startSpeculationService({ adminToken: ADMIN_TOKEN, version: "v1.2.4", faults: { errorRate: 0.03 } });
        try {
            const raised = { ...base(ref.service.url), stage: "stage-2-25pct", percentage: 25, raisedTrackUrl: canary.url };
            await b.create(raised).then(() => expect.fail("raised the weight of a failing canary"), (e: Error) => {
                expect(e.message).to.match(new RegExp(`stage-2-25pct \\(the new track, ${canary.url.replace(/[.]/g, "\\.")}\\): the health check before the shift to 25 % is a no-go — traffic was NOT raised: errorRate`));
            });
            canary.setFaults({ errorRate: 0.002 });
            const { outs } = await b.create(raised);
            expect(outs.preShift).to.match(/^go/);
            expect(outs.errorRate, "the baseline is the service's, not the canary's").to.be.closeTo(0.002, 0.002);
        } finally {
            await canary.close();
        }
    });

    it("fails closed when it cannot measure, so the stage never shifts without a baseline", async () => {
        await b.create(base("http://127.0.0.1:9")).then(() => expect.fail("measured nothing"), (e: Error) => expect(e.message).to.match(/cannot capture the error-rate baseline \(unreachable/));
        ref = await startReference({ faults: { freezeMetrics: true } });
        await b.create(base(ref.service.url)).then(() => expect.fail("measured nothing"), (e: Error) => expect(e.message).to.match(/stale/));
    });
});
