/**
 * The recorded series keep the tracks apart, against a real Prometheus evaluating the project's rules: a canary on
 * a tenth of the traffic with 5 % errors beside a clean stable.  A blend would read about 0.6 % — under the 1 %
 * promote limit — and a bake window (or a live gate reading Prometheus) would pass it; per track, the worst track
 * is the canary's 5 %.
 */
import { expect } from "chai";
import { readWindow } from "../../../lib/bake/history";
import { decideWindow } from "../../../lib/bake/window";
import { DEFAULT_STAGE_THRESHOLDS } from "../../../config/thresholds";
import { PROMQL, promQuery } from "../../../lib/gate/measure";
import { RunningSpeculationService, startSpeculationService } from "../../../reference/speculationService";
import { instant, RunningPrometheus, startPrometheus } from "../../helpers/prometheus";
import { eventually } from "../../helpers/wait";
import { ADMIN_TOKEN } from "../../helpers/reference";

describe("per-track recorded series against a real Prometheus (the window judgement and the live gate read the worst track)", function () {
    this.timeout(90_000);
    let stable: RunningSpeculationService;
    let canary: RunningSpeculationService;
    let prom: RunningPrometheus;
    before(async () => {
        stable = await startSpeculationService({ adminToken: ADMIN_TOKEN, version: "v1.2.3", tickMs: 20, operationsPerSecond: 5000, faults: { errorRate: 0.002 } });
        canary = await startSpeculationService({ adminToken: ADMIN_TOKEN, version: "v1.2.4", tickMs: 20, operationsPerSecond: 500, faults: { errorRate: 0.05 } });
        const host = (u: string) => new URL(u).host;
        prom = await startPrometheus({ "agenc-speculation": [
            { targets: [host(stable.url)], labels: { track: "stable" } },
            { targets: [host(canary.url)], labels: { track: "canary" } },
        ] });
    });
    after(async () => { await prom?.close(); await stable?.close(); await canary?.close(); });

    it("reads the canary's 5 %, not the blend, in the bake window's history and in the live gate's query", async () => {
        const started = Date.now();
        // Both tracks' error rates recorded (rate() needs two scrapes of each).
        const tracks = await eventually("both tracks recorded", async () => {
            const byTrack = Object.fromEntries((await instant(prom.url, PROMQL.errorRate)).map((r) => [r.metric.track, Number(r.value[1])]));
            return byTrack.canary > 0 && byTrack.stable > 0 ? byTrack as Record<string, number> : undefined;
        }, 30_000);
        expect(tracks.canary).to.be.within(0.04, 0.06);
        expect(tracks.stable).to.be.below(0.005);

        const live = await promQuery(prom.url, PROMQL.errorRate, 2000, 30);
        if (!live.ok) throw new Error(live.detail);
        expect(live.value, "the live gate's reading: the worst track").to.be.within(0.04, 0.06);

        // The window as the next `up` reads it: range queries at the step; a few recorded points of both tracks.
        const points = await eventually("a few points in the window", async () => {
            const history = await readWindow({ prometheusUrl: prom.url, timeoutMs: 2000, stepSeconds: 1 }, started, Date.now());
            const er = history.metrics.errorRate;
            return er.ok && er.value.length >= 3 ? er.value : undefined;
        }, 30_000);
        for (const p of points.slice(-3)) expect(p.v, "each point of the window is the worst track's: the canary's").to.be.within(0.04, 0.06);
    });

    it("reads both tracks' counts over the whole window by their label, and the canary judge over the window fails the 5 % canary", async () => {
        const from = Date.now() - 20_000;
        const history = await eventually("both tracks counted over the window", async () => {
            const h = await readWindow({ prometheusUrl: prom.url, timeoutMs: 2000, stepSeconds: 1 }, from, Date.now(), { tracks: true });
            return h.tracks?.ok && h.tracks.value.canary.requests >= 500 && h.tracks.value.stable.requests >= 500 ? h : undefined;
        }, 30_000);
        if (!history.tracks?.ok) throw new Error("tracks not read");
        const { canary: c, stable: s } = history.tracks.value;
        expect(c.errors / c.requests, "the canary's own errors").to.be.within(0.03, 0.07);
        expect(s.errors / s.requests, "stable's own errors").to.be.below(0.006);
        expect(s.requests, "stable carries about ten times the canary's traffic").to.be.greaterThan(5 * c.requests);
        expect(c.latency.at(-1)!.le).to.equal(Infinity);
        const j = decideWindow({
            stage: "stage-1-10pct", shiftedAt: from, bakeSeconds: 1, stepSeconds: 1, maxGapSeconds: 3600, thresholds: DEFAULT_STAGE_THRESHOLDS, baselineErrorRate: 0.002,
            noData: { rollbackRate: "hold", errorRate: "hold", errorRateVsBaseline: "hold", proofQueue: "hold", memoryPercent: "hold", latencyP99: "hold", latencyTailRatio: "hold" },
            compare: { errorRateMargin: 0.005, latencyMargin: 0.1, confidence: 0.95, minRequests: 500 },
        }, history, Date.now());
        const row = j.findings.find((f) => f.check === "canary vs stable: errorRate")!;
        expect(row.verdict, row.reason).to.equal("fail");
    });
});
