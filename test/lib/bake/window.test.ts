import { expect } from "chai";
import { DEFAULT_STAGE_THRESHOLDS } from "../../../config/thresholds";
import { worstOfEveryTrack } from "../../../lib/bake/history";
import { gaps, decideWindow, notYetElapsed, WindowHistory, WindowSpec } from "../../../lib/bake/window";
import { Measured } from "../../../lib/gate/decision";

const T0 = 1_800_000_000; // shift time, unix seconds
const step = 15;
const spec: WindowSpec = {
    stage: "stage-1-10pct", shiftedAt: T0 * 1000, bakeSeconds: 3600, stepSeconds: step, maxGapSeconds: 60,
    thresholds: DEFAULT_STAGE_THRESHOLDS, baselineErrorRate: 0.002,
    noData: { rollbackRate: "fail", errorRate: "fail", errorRateVsBaseline: "fail", proofQueue: "fail", memoryPercent: "fail", latencyP99: "fail", latencyTailRatio: "fail" },
};
const series = (v: number, until = 3600, edit: (t: number, v: number) => number | undefined = (_t, x) => x) => {
    const out: { t: number; v: number }[] = [];
    for (let t = T0 + step; t <= T0 + until; t += step) { const x = edit(t, v); if (x !== undefined) out.push({ t, v: x }); }
    return { ok: true as const, value: out };
};
function history(over: Partial<WindowHistory["metrics"]> = {}, rest: Partial<WindowHistory> = {}): WindowHistory {
    return {
        metrics: { rollbackRate: series(0.01), errorRate: series(0.002), proofQueue: series(100), memoryPercent: series(45), latencyP99: series(0.0099), latencyTailRatio: series(1.04), ...over },
        queries: { rollbackRate: "rb", errorRate: "er", proofQueue: "pq", memoryPercent: "mem", latencyP99: "p99", latencyTailRatio: "tail" },
        criticalAlerts: { ok: true, value: [] }, alertsQuery: "ALERTS",
        watchdogReverts: { ok: true, value: [] }, watchdogQuery: "wd",
        ...rest,
    };
}
const at = (sec: number) => (T0 + sec) * 1000;

describe("bake window judgement (lib/bake/window.ts)", () => {
    it("passes a whole green window once the bake has elapsed", () => {
        const j = decideWindow(spec, history(), at(3600));
        expect(j.verdict, j.reason).to.equal("pass");
        expect(j.points).to.equal(240);
        expect(j.findings.every((f) => f.verdict === "pass")).to.equal(true);
    });

    it("is still baking before the bake has elapsed, and names the earliest promotion", () => {
        const j = decideWindow(spec, history({ rollbackRate: series(0.01, 1800) }), at(1800));
        expect(j.verdict).to.equal("baking");
        expect(j.earliestPromotion).to.equal(new Date(at(3600)).toISOString());
        expect(j.reason).to.match(/has baked 30m of 60m/);
    });

    it("fails on one point above an abort threshold, naming the check, the time and the value", () => {
        const j = decideWindow(spec, history({ rollbackRate: series(0.01, 3600, (t, v) => (t === T0 + 900 ? 0.2 : v)) }), at(3600));
        expect(j.verdict).to.equal("fail");
        const f = j.findings.find((x) => x.check === "rollbackRate")!;
        expect(f).to.include({ verdict: "fail", observed: "0.2", at: new Date(at(900)).toISOString() });
    });

    it("fails on an error-rate spike against the baseline even under the absolute abort threshold", () => {
        const j = decideWindow(spec, history({ errorRate: series(0.002, 3600, (t, v) => (t === T0 + 600 ? 0.05 : v)) }), at(3600));
        expect(j.verdict).to.equal("fail");
        expect(j.findings.find((x) => x.check === "errorRateVsBaseline")!.verdict).to.equal("fail");
        expect(j.findings.find((x) => x.check === "errorRate")!.verdict).to.equal("hold");
    });

    it("judges latency from the recorded series: a p99 past the abort limit fails, a tail ratio above 2 fails, a p99 between the limits holds", () => {
        const p99 = decideWindow(spec, history({ latencyP99: series(0.2, 3600, (t, v) => (t === T0 + 300 ? 6 : v)) }), at(3600));
        expect(p99.verdict).to.equal("fail");
        expect(p99.findings.find((f) => f.check === "latencyP99")).to.include({ verdict: "fail", observed: "6", at: new Date(at(300)).toISOString() });
        const tail = decideWindow(spec, history({ latencyTailRatio: series(1.3, 3600, (t, v) => (t === T0 + 1500 ? 2.4 : v)) }), at(3600));
        expect(tail.verdict).to.equal("fail");
        expect(tail.findings.find((f) => f.check === "latencyTailRatio")).to.include({ verdict: "fail", observed: "2.4" });
        const slow = decideWindow(spec, history({ latencyP99: series(0.2, 3600, (t, v) => (t === T0 + 1800 ? 2 : v)) }), at(3600));
        expect(slow.verdict, "1 s < 2 s ≤ 5 s: not green, not an abort").to.equal("baking");
        expect(slow.findings.find((f) => f.check === "latencyP99")!.verdict).to.equal("hold");
    });

    it("a point between promote and abort restarts the bake after it: baking, not failed, with a later earliest promotion", () => {
        const j = decideWindow(spec, history({ rollbackRate: series(0.01, 3600, (t, v) => (t === T0 + 1200 ? 0.08 : v)) }), at(3600));
        expect(j.verdict).to.equal("baking");
        expect(j.earliestPromotion).to.equal(new Date(at(1200 + 3600)).toISOString());
        expect(j.reason).to.match(/held at \S+ \(rollbackRate 0\.08\)/);
    });

    it("fails on a critical alert that fired inside the window, not on one before the shift", () => {
        const firing = (t: number) => ({ ok: true as const, value: [{ alertname: "SpeculationMemoryCritical", points: [t] }] });
        expect(decideWindow(spec, history({}, { criticalAlerts: firing(T0 + 300) }), at(3600)).verdict).to.equal("fail");
        expect(decideWindow(spec, history({}, { criticalAlerts: firing(T0 - 300) }), at(3600)).verdict).to.equal("pass");
    });

    it("fails when the watchdog reverted after the shift, and when the watchdog cannot be read", () => {
        const j = decideWindow(spec, history({}, { watchdogReverts: { ok: true, value: [T0 + 100] } }), at(3600));
        expect(j.verdict).to.equal("fail");
        expect(j.reason).to.match(/watchdog reverts/);
        expect(decideWindow(spec, history({}, { watchdogReverts: { ok: true, value: [T0 - 100] } }), at(3600)).verdict).to.equal("pass");
        const unread: Measured<number[]> = { ok: false, failure: "unreachable", detail: "connection refused" };
        expect(decideWindow(spec, history({}, { watchdogReverts: unread }), at(3600)).verdict).to.equal("fail");
    });

    it("a gap longer than the allowance fails when no data means fail, and restarts the bake when it means hold", () => {
        const holed = series(0.01, 3600, (t, v) => (t > T0 + 1000 && t < T0 + 1300 ? undefined : v));
        const failed = decideWindow(spec, history({ rollbackRate: holed }), at(3600));
        expect(failed.verdict).to.equal("fail");
        expect(failed.findings.find((f) => f.check === "rollbackRate")!.observed).to.match(/no data for/);
        const held = decideWindow({ ...spec, noData: { ...spec.noData, rollbackRate: "hold" } }, history({ rollbackRate: holed }), at(3600));
        expect(held.verdict).to.equal("baking");
        // A short gap (one missed scrape) is not a gap.
        const short = series(0.01, 3600, (t, v) => (t === T0 + 1005 ? undefined : v));
        expect(decideWindow(spec, history({ rollbackRate: short }), at(3600)).verdict).to.equal("pass");
    });

    it("reads the worst track at each step, and a step one track misses is no point: a canary gone quiet is a gap, never judged on stable alone", () => {
        const stable = { labels: { track: "stable" }, points: series(0.002).value };
        const canary = { labels: { track: "canary" }, points: series(0.004).value };
        expect(worstOfEveryTrack([stable, canary]).map((p) => p.v)).to.satisfy((vs: number[]) => vs.every((v) => v === 0.004));
        // The canary's series stops 20 minutes in; stable's goes on, green.
        const quiet = { labels: { track: "canary" }, points: series(0.004, 1200).value };
        const points = worstOfEveryTrack([stable, quiet]);
        expect(points.at(-1)!.t, "a step with stable's value only").to.equal(T0 + 1200);
        const j = decideWindow(spec, history({ errorRate: { ok: true, value: points } }), at(3600));
        expect(j.verdict).to.equal("fail");
        expect(j.findings.find((f) => f.check === "errorRate")!.observed).to.match(/no data for 40m/);
    });

    it("two tracks: the canary is judged against stable over the whole window — worse fails, too little traffic withholds the pass, unreadable fails", () => {
        const judge = { errorRateMargin: 0.005, latencyMargin: 0.1, confidence: 0.95, minRequests: 500 };
        const counts = (requests: number, errors: number) => ({
            requests, errors, latency: [{ le: 0.01, cumulative: Math.round(requests * 0.6) }, { le: 0.05, cumulative: Math.round(requests * 0.95) }, { le: Infinity, cumulative: requests }],
        });
        const withTracks = (canary: ReturnType<typeof counts>, stable = counts(3_600_000, 7200)) =>
            history({}, { tracks: { ok: true, value: { canary, stable } }, tracksQuery: "increase by track" });
        const compare = { ...spec, compare: judge };

        const same = decideWindow(compare, withTracks(counts(360_000, 720)), at(3600));
        expect(same.verdict, same.reason).to.equal("pass");
        expect(same.findings.filter((f) => f.check.startsWith("canary vs stable")).map((f) => f.verdict)).to.deep.equal(["pass", "pass"]);

        // 1.5 % errors on the canary against stable's 0.2 %: every point of the recorded series could be under the
        // 10x spike limit of a blend, the comparison over the window is not.
        const worse = decideWindow(compare, withTracks(counts(360_000, 5400)), at(3600));
        expect(worse.verdict).to.equal("fail");
        expect(worse.findings.find((f) => f.check === "canary vs stable: errorRate")!.verdict).to.equal("fail");

        const thin = decideWindow(compare, withTracks(counts(120, 0)), at(3600));
        expect(thin.verdict, "inconclusive is never a pass").to.equal("baking");
        expect(thin.reason).to.match(/inconclusive/);
        expect(thin.earliestPromotion, "the bake itself is not restarted").to.equal(new Date(at(3600)).toISOString());

        const unread = decideWindow(compare, history({}, { tracks: { ok: false, failure: "timeout", detail: "no answer" } }), at(3600));
        expect(unread.verdict).to.equal("fail");
        // Without a comparison configured (one track) the same history passes: the check is the spec's.
        expect(decideWindow(spec, withTracks(counts(360_000, 5400)), at(3600)).verdict).to.equal("pass");
    });

    it("a metric that cannot be read is a no-go (fail closed)", () => {
        const j = decideWindow(spec, history({ memoryPercent: { ok: false, failure: "timeout", detail: "no answer within 10000 ms" } }), at(3600));
        expect(j.verdict).to.equal("fail");
    });

    it("gaps() measures stretches between points, the window's start and its end", () => {
        expect(gaps([15, 30, 45], 0, 45, 15, 20)).to.deep.equal([]);
        expect(gaps([15, 120], 0, 120, 15, 60)).to.deep.equal([{ from: 15, to: 105 }]);
        expect(gaps([], 0, 300, 15, 60)).to.deep.equal([{ from: 0, to: 300 }]);
    });

    it("notYetElapsed names the stage, the time baked and required, and the earliest promotion", () => {
        const msg = notYetElapsed("stage-1-10pct", at(0), 4 * 3600, at(5400))!;
        expect(msg).to.match(/stage-1-10pct has baked 90m of 4h 0m /).and.include(`promotion is possible from ${new Date(at(4 * 3600)).toISOString()}`);
        expect(notYetElapsed("s", at(0), 60, at(61))).to.equal(undefined);
    });
});
