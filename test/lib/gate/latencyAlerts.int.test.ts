/**
 * The latency and critical-alert readings every gate takes, against real parts: the reference service's operation
 * latency histogram (its tail-latency fault moves p99 and not p95), a real Alertmanager's API (alerts pushed to it
 * as Prometheus pushes them) and a real Prometheus evaluating the project's own rules (its ALERTS series).
 */
import { expect } from "chai";
import { DEFAULT_STAGE_THRESHOLDS } from "../../../config/thresholds";
import { checkReading, MetricCheck } from "../../../lib/gate/decision";
import { latencyBetween, LATENCY_MIN_OBSERVATIONS, measure, MeasureTarget, readCriticalAlerts } from "../../../lib/gate/measure";
import { freePort } from "../../../reference/ports";
import { RunningSpeculationService, startSpeculationService } from "../../../reference/speculationService";
import { RunningAlertmanager, startAlertmanager } from "../../helpers/alertmanager";
import { eventually } from "../../helpers/wait";
import { RunningPrometheus, startPrometheus } from "../../helpers/prometheus";
import { ADMIN_TOKEN } from "../../helpers/reference";

const noData = Object.fromEntries(["rollbackRate", "errorRate", "errorRateVsBaseline", "proofQueue", "memoryPercent", "latencyP99", "latencyTailRatio"]
    .map((k) => [k, "fail"])) as Record<MetricCheck, "fail">;

describe("latency between two scrapes (lib/gate/measure.ts latencyBetween)", () => {
    const h = (counts: number[]) => [0.01, 0.1, 1, Infinity].map((le, i) => ({ le, cumulative: counts.slice(0, i + 1).reduce((a, b) => a + b, 0) }));
    it("interpolates p95 and p99 inside their bucket, as histogram_quantile does", () => {
        const q = latencyBetween(h([0, 0, 0, 0]), h([96, 4, 0, 0]));
        expect(q.ok).to.equal(true);
        if (!q.ok) return;
        expect(q.value.p95).to.be.closeTo(0.01 * 95 / 96, 1e-12);
        expect(q.value.p99).to.be.closeTo(0.01 + 0.09 * 3 / 4, 1e-12);
        expect(q.value.observations).to.equal(100);
    });
    it("is sparse below the minimum observations, stale without an earlier reading or after a reset", () => {
        const few = latencyBetween(h([0, 0, 0, 0]), h([LATENCY_MIN_OBSERVATIONS - 1, 0, 0, 0]));
        expect(few.ok ? "" : few.failure).to.equal("sparse");
        const first = latencyBetween(undefined, h([500, 0, 0, 0]));
        expect(first.ok ? "" : first.failure).to.equal("stale");
        const reset = latencyBetween(h([500, 0, 0, 0]), h([10, 0, 0, 0]));
        expect(reset.ok ? "" : reset.failure).to.equal("stale");
    });
});

describe("latency and critical alerts read from real parts", function () {
    this.timeout(90_000);
    let service: RunningSpeculationService;
    let am: RunningAlertmanager;
    let prom: RunningPrometheus;
    before(async () => {
        service = await startSpeculationService({ adminToken: ADMIN_TOKEN, tickMs: 20, operationsPerSecond: 5000 });
        am = await startAlertmanager();
        prom = await startPrometheus({ "agenc-speculation": [new URL(service.url).host] }, { rehearsalFor: "3s" });
    });
    after(async () => { await service?.close(); await am?.close(); await prom?.close(); });

    const target = (): MeasureTarget => ({ serviceUrl: service.url, source: "metrics-endpoint", timeoutMs: 2000, maxSampleAgeSeconds: 60 });
    /** Two readings a poll apart, judged with the table's thresholds. */
    async function twoReadings() {
        const first = await measure(target());
        // The second reading must see new observations: wait until the histogram's count has moved by enough.
        const second = await eventually("new latency observations", async () => {
            const r = await measure(target(), first.counters);
            return r.reading.metrics.latencyP99.ok ? r : undefined;
        }, 10_000);
        return checkReading(second.reading, { thresholds: DEFAULT_STAGE_THRESHOLDS, baselineErrorRate: 0.002, noData });
    }

    it("a healthy service: p99 about 10 ms, p99/p95 near 1, both green", async () => {
        service.setFaults({ tailLatencyMs: 0, latencyMs: 0 });
        const s = await twoReadings();
        const p99 = s.checks.find((c) => c.check === "latencyP99")!;
        const tail = s.checks.find((c) => c.check === "latencyTailRatio")!;
        expect(p99.verdict).to.equal("pass");
        expect(Number(p99.observed)).to.be.within(0.005, 0.011);
        expect(tail.verdict).to.equal("pass");
        expect(Number(tail.observed)).to.be.below(1.2);
    });

    it("a fat tail (3 % of operations 200 ms slower): p99/p95 far above 2 fails, though p99 is under 1 s", async () => {
        service.setFaults({ tailLatencyMs: 200, latencyMs: 0 });
        try {
            const s = await twoReadings();
            expect(s.checks.find((c) => c.check === "latencyP99")!.verdict).to.equal("pass");
            const tail = s.checks.find((c) => c.check === "latencyTailRatio")!;
            expect(tail.verdict).to.equal("fail");
            expect(Number(tail.observed)).to.be.above(2);
            expect(s.verdict).to.equal("fail");
        } finally { service.setFaults({ tailLatencyMs: 0 }); }
    });

    it("a slow service (every operation +1.5 s): p99 above the 1 s promote limit holds; +6 s is above the 5 s abort and fails", async () => {
        try {
            service.setFaults({ latencyMs: 1500 });
            const slow = await twoReadings();
            expect(slow.checks.find((c) => c.check === "latencyP99")!.verdict).to.equal("hold");
            service.setFaults({ latencyMs: 6000 });
            const slower = await twoReadings();
            expect(slower.checks.find((c) => c.check === "latencyP99")!.verdict).to.equal("fail");
        } finally { service.setFaults({ latencyMs: 0 }); }
    });

    it("Alertmanager: a critical alert firing is listed, a warning is not, and the list empties when it resolves", async () => {
        const push = am.push;
        const none = await readCriticalAlerts({ alertmanagerUrl: am.url }, 2000);
        expect(none.alerts).to.deep.equal({ ok: true, value: [] });
        await push({ alertname: "SpeculationWarningOnly", severity: "warning" }, new Date(Date.now() + 600_000));
        await push({ alertname: "SpeculationMemoryCritical", severity: "critical" }, new Date(Date.now() + 600_000));
        const firing = await eventually("the critical alert is active", async () => {
            const r = await readCriticalAlerts({ alertmanagerUrl: am.url }, 2000);
            return r.alerts.ok && r.alerts.value.length > 0 ? r : undefined;
        }, 10_000);
        expect(firing.alerts).to.deep.equal({ ok: true, value: ["SpeculationMemoryCritical"] });
        await push({ alertname: "SpeculationMemoryCritical", severity: "critical" }, new Date(Date.now() - 500));
        await eventually("the resolved alert is gone", async () => {
            const r = await readCriticalAlerts({ alertmanagerUrl: am.url }, 2000);
            return r.alerts.ok && r.alerts.value.length === 0;
        }, 10_000);
    });

    it("Prometheus: ALERTS with severity critical, from the project's own rules (tail ratio fires after its for:)", async () => {
        const quiet = await readCriticalAlerts({ prometheusUrl: prom.url }, 2000);
        expect(quiet.alerts.ok).to.equal(true);
        expect(quiet.alerts.ok && quiet.alerts.value).to.not.include("SpeculationLatencyTailRatio");
        service.setFaults({ tailLatencyMs: 200 });
        try {
            // rehearsalFor shortens the alert's `for:` (5 m) to seconds so a test meets it.
            const firing = await eventually("SpeculationLatencyTailRatio fires", async () => {
                const r = await readCriticalAlerts({ prometheusUrl: prom.url }, 2000);
                return r.alerts.ok && r.alerts.value.includes("SpeculationLatencyTailRatio") ? r : undefined;
            }, 60_000);
            expect(firing.query).to.contain('ALERTS{alertstate="firing",severity="critical"}');
        } finally { service.setFaults({ tailLatencyMs: 0 }); }
    });

    it("an alert source that does not answer is a failed read (the gate fails closed on it)", async () => {
        const dead = `http://127.0.0.1:${await freePort()}`;
        const r = await readCriticalAlerts({ alertmanagerUrl: dead }, 1000);
        expect(r.alerts.ok).to.equal(false);
        expect(r.alerts.ok ? "" : r.alerts.failure).to.equal("unreachable");
    });
});
