/**
 * The health check immediately before a shift, against the reference service and a real Alertmanager: a healthy
 * service is a go; an unhealthy component, a fat latency tail or a critical alert firing is a no-go that names what
 * refused the shift.  And the TrafficShift provider refuses to raise traffic on a no-go, while lowering it is never
 * refused.
 */
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { DEFAULT_STAGE_THRESHOLDS } from "../../../config/thresholds";
import { preShiftCheck, PreShiftSpec, refusalMessage } from "../../../lib/preshift/check";
import { trafficShiftProvider } from "../../../providers/trafficShift";
import { RunningAlertmanager, startAlertmanager } from "../../helpers/alertmanager";
import { eventually } from "../../helpers/wait";
import { ADMIN_TOKEN, Reference, startReference } from "../../helpers/reference";

describe("pre-shift health check (lib/preshift) against the reference service and a real Alertmanager", function () {
    this.timeout(60_000);
    let ref: Reference;
    let am: RunningAlertmanager;
    before(async () => {
        ref = await startReference({ rolloutPercentage: 10 });
        am = await startAlertmanager();
    });
    after(async () => { await ref?.close(); await am?.close(); });
    afterEach(() => ref.service.setFaults({ unhealthy: [], tailLatencyMs: 0, latencyMs: 0 }));

    const spec = (): PreShiftSpec => ({
        stage: "stage-2-50pct", serviceUrl: ref.service.url, proofWorkerUrl: ref.worker.url, source: "metrics-endpoint", timeoutMs: 2000,
        thresholds: DEFAULT_STAGE_THRESHOLDS, noData: {}, alerts: { alertmanagerUrl: am.url }, windowSeconds: 0.5,
    });

    it("a healthy service is a go, with the baseline (error rate and p95) from the same reading", async () => {
        const r = await preShiftCheck(spec());
        expect(r.verdict, JSON.stringify(r.refused)).to.equal("go");
        expect(r.baseline.errorRate).to.be.closeTo(0.002, 0.001);
        expect(r.baseline.p95Seconds).to.be.within(0.005, 0.011);
        expect(r.sample.checks.map((c) => c.check)).to.include.members(["health", "latencyP99", "latencyTailRatio", "critical alerts", "proof workers"]);
    });

    it("an unhealthy component is a no-go naming it (a hold is enough to refuse more traffic)", async () => {
        ref.service.setFaults({ unhealthy: ["stake_pool"] });
        const r = await preShiftCheck(spec());
        expect(r.verdict).to.equal("no-go");
        expect(r.refused.map((c) => c.check)).to.include("component stake_pool");
        const message = refusalMessage("stage-2-50pct", 50, r);
        expect(message).to.match(/before the shift to 50 % is a no-go — traffic was NOT raised: .*component stake_pool/);
        expect(message).to.match(/^component stake_pool +GET \/health\/detailed +unhealthy +healthy +HOLD$/m);
    });

    it("a fat latency tail is a no-go on p99/p95", async () => {
        ref.service.setFaults({ tailLatencyMs: 200 });
        const r = await preShiftCheck(spec());
        expect(r.refused.map((c) => c.check)).to.deep.equal(["latencyTailRatio"]);
    });

    it("a critical alert firing in Alertmanager is a no-go naming the alert", async () => {
        const push = (endsAt: Date) => am.push({ alertname: "ProofQueueOverflow", severity: "critical" }, endsAt);
        await push(new Date(Date.now() + 600_000));
        try {
            const r = await eventually("the alert reaches the check", async () => {
                const x = await preShiftCheck(spec());
                return x.verdict === "no-go" ? x : undefined;
            }, 10_000);
            expect(r.refused).to.have.length(1);
            expect(r.refused[0]).to.include({ check: "critical alerts", observed: "ProofQueueOverflow" });
        } finally {
            await push(new Date(Date.now() - 500));
        }
    });

    describe("TrafficShift raising traffic again (update after a revert)", () => {
        const p = trafficShiftProvider as Required<pulumi.dynamic.ResourceProvider>;
        const shift = (percentage: number) => ({
            serviceUrl: ref.service.url, adminToken: ADMIN_TOKEN, percentage, previousPercentage: 10, stage: "stage-2-50pct",
            preShift: { ...spec(), stage: undefined } as never,
        });

        it("refuses to raise traffic onto a failing service and leaves the live percentage as it was", async () => {
            ref.service.state.enabled = true;
            ref.service.state.rolloutPercentage = 0;     // a revert took traffic off
            ref.service.setFaults({ unhealthy: ["chain_connection"] });
            let error: Error | undefined;
            try { await p.update("stage-2-50pct", shift(50), shift(50)); } catch (e) { error = e as Error; }
            expect(error?.message).to.match(/no-go — traffic was NOT raised: .*component chain_connection/);
            expect(ref.service.state.rolloutPercentage).to.equal(0);
        });

        it("raises it on a healthy service, and never refuses to lower it", async () => {
            ref.service.state.rolloutPercentage = 0;
            const up = await p.update("stage-2-50pct", shift(50), shift(50));
            expect(up.outs.livePercentage).to.equal(50);
            ref.service.setFaults({ unhealthy: ["chain_connection"] });
            const down = await p.update("stage-2-50pct", shift(50), shift(25));
            expect(down.outs.livePercentage).to.equal(25);
        });
    });
});
