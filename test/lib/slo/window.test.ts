/**
 * The error budget in the window judgement (lib/bake/window.ts with a spec's `slo`) and on the dashboard
 * (lib/monitoring/dashboards.ts): pure.
 */
import { expect } from "chai";
import { DEFAULT_STAGE_THRESHOLDS } from "../../../config/thresholds";
import { decideWindow, WindowHistory, WindowSpec } from "../../../lib/bake/window";
import { dashboards } from "../../../lib/monitoring/dashboards";
import { RELEASES_EXPR } from "../../../lib/records/series";
import { SloReading } from "../../../lib/slo/judge";
import { SLO_RECORDED, sloSpec } from "../../../lib/monitoring/slo";

const T0 = 1_800_000_000;
const step = 15;
const slo = sloSpec({ gatePair: "3x" });
const spec: WindowSpec = {
    stage: "stage-1-10pct", shiftedAt: T0 * 1000, bakeSeconds: 3600, stepSeconds: step, maxGapSeconds: 60,
    thresholds: DEFAULT_STAGE_THRESHOLDS, baselineErrorRate: 0.0005, slo,
    noData: { rollbackRate: "fail", errorRate: "fail", errorRateVsBaseline: "fail", proofQueue: "fail", memoryPercent: "fail", latencyP99: "fail", latencyTailRatio: "fail" },
};
const series = (v: number) => {
    const out: { t: number; v: number }[] = [];
    for (let t = T0 + step; t <= T0 + 3600; t += step) out.push({ t, v });
    return { ok: true as const, value: out };
};
const ok = (value: number) => ({ ok: true as const, value });
const reading = (long: number, short: number, left: number): SloReading => ({ windows: { longSeconds: 3600, shortSeconds: 300 }, long: ok(long), short: ok(short), budgetRemaining: ok(left), query: "burn" });
// A slow burn: 0.5 % errors, green on every threshold (the 5 m error rate below 1 %).
const history = (r?: SloReading): WindowHistory => ({
    metrics: { rollbackRate: series(0.01), errorRate: series(0.005), proofQueue: series(100), memoryPercent: series(45), latencyP99: series(0.0099), latencyTailRatio: series(1.04) },
    queries: { rollbackRate: "rb", errorRate: "er", proofQueue: "pq", memoryPercent: "mem", latencyP99: "p99", latencyTailRatio: "tail" },
    criticalAlerts: { ok: true, value: [] }, alertsQuery: "ALERTS", watchdogReverts: { ok: true, value: [] }, watchdogQuery: "wd",
    ...(r ? { slo: r } : {}),
});
const end = (T0 + 3600) * 1000;

describe("the error budget in the window judgement and the dashboard", () => {
    it("a slow burn green on every threshold is a no-go by its burn, and the judgement says what the stage spent", () => {
        const j = decideWindow(spec, history(reading(5, 5, 0.97)), end);
        expect(j.verdict).to.equal("fail");
        expect(j.findings.filter((f) => f.verdict !== "pass").map((f) => f.check)).to.deep.equal(["error budget burn"]);
        expect(j.reason).to.match(/^no-go in the bake window: error budget burn 5× over 60m, 5× over 5m at /);
        expect(j.slo).to.deep.equal({ burnRate: 5, overSeconds: 3600, budgetSpent: Number((5 * 3600 / 604_800).toPrecision(12)), budgetRemaining: 0.97 });
    });

    it("a blip that has stopped passes; the same window without the SLO is the window it was", () => {
        expect(decideWindow(spec, history(reading(20, 0.5, 0.99)), end).verdict).to.equal("pass");
        const { slo: _slo, ...without } = spec;
        expect(decideWindow(without, history(), end).verdict).to.equal("pass");
    });

    it("a budget below the floor refuses the promotion without reverting (baking), and no reading at all is a no-go", () => {
        const low = decideWindow(spec, history(reading(1, 1, 0.3)), end);
        expect(low.verdict).to.equal("baking");
        expect(low.reason).to.match(/error budget left is below the floor \(slo\.budgetFloor 0\.5\)/);
        expect(decideWindow(spec, history(), end).verdict).to.equal("fail");
    });

    it("the dashboard has the budget-left and burn-rate panels, from the recorded series, with release annotations", () => {
        const board = dashboards(DEFAULT_STAGE_THRESHOLDS, slo)["agenc-speculation-slo.json"] as {
            panels: { title: string; targets: { expr: string }[]; fieldConfig: { defaults: { thresholds: { steps: { value: number | null }[] } } } }[];
            annotations: { list: { name: string; expr: string }[] };
        };
        const panel = (t: RegExp) => board.panels.find((p) => t.test(p.title))!;
        expect(panel(/^Error budget left/).targets[0].expr).to.equal(SLO_RECORDED.budgetRemaining);
        expect(panel(/^Error budget left/).fieldConfig.defaults.thresholds.steps.map((s) => s.value)).to.include(0.5);
        expect(panel(/^Burn rate per track \(1h/).targets.map((t) => t.expr)).to.deep.equal([`${SLO_RECORDED.ratio("1h")} / 0.001`, `${SLO_RECORDED.ratio("5m")} / 0.001`]);
        expect(panel(/^Error budget spent per stage/).targets[0].expr).to.include("agenc_deployment_stage_error_budget_spent_ratio");
        expect(board.annotations.list.map((a) => a.expr)).to.include(RELEASES_EXPR);
        expect(JSON.parse(JSON.stringify(board))).to.deep.equal(board);
    });
});
