/**
 * The recorded series keep the tracks apart, against a real Prometheus evaluating the project's rules: a canary on
 * a tenth of the traffic with 5 % errors beside a clean stable.  A blend would read about 0.6 % — under the 1 %
 * promote limit — and a bake window (or a live gate reading Prometheus) would pass it; per track, the worst track
 * is the canary's 5 %.
 */
import { expect } from "chai";
import { readWindow } from "../../../lib/bake/history";
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
});
