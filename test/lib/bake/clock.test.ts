/**
 * Whose "now" a bake window is judged at (lib/bake/clock.ts, issue 24): this machine's clock against Prometheus's,
 * the round trip counted against it; within the tolerance the window ends at Prometheus's time, beyond it the window
 * is not judged (refused, nothing read), and an unreadable clock is a no-go like any unreadable history.
 */
import { expect } from "chai";
import { clockToleranceSeconds, describeSkew, judgeClock } from "../../../lib/bake/clock";
import { clockDecision, notYetElapsed, WindowSpec } from "../../../lib/bake/window";
import { DEFAULT_STAGE_THRESHOLDS } from "../../../config/thresholds";

const PROM = 1_800_000_000_000; // Prometheus's time at the query, ms
/** A reading: this machine's clock `skewMs` off Prometheus's, the request taking `rttMs` (Prometheus evaluating mid-way). */
const reading = (skewMs: number, rttMs = 4) => ({ ok: true as const, value: { prometheusMs: PROM, sentMs: PROM + skewMs - rttMs / 2, receivedMs: PROM + skewMs + rttMs / 2 } });
const spec: WindowSpec = {
    stage: "stage-1-10pct", shiftedAt: PROM - 3_600_000, bakeSeconds: 1800, stepSeconds: 1, maxGapSeconds: 5,
    thresholds: DEFAULT_STAGE_THRESHOLDS, baselineErrorRate: 0.002,
    noData: { rollbackRate: "fail", errorRate: "fail", errorRateVsBaseline: "fail", proofQueue: "fail", memoryPercent: "fail", latencyP99: "fail", latencyTailRatio: "fail" },
};

describe("the window's clock (lib/bake/clock.ts)", () => {
    it("the tolerance is one scrape step, at least a second", () => {
        expect(clockToleranceSeconds(15)).to.equal(15);
        expect(clockToleranceSeconds(1)).to.equal(1);
        expect(clockToleranceSeconds(0.5)).to.equal(1);
    });

    it("a clock within the tolerance: the window ends at Prometheus's time, not this machine's", () => {
        const c = judgeClock(reading(300), 1);
        expect(c.verdict).to.equal("ok");
        if (c.verdict !== "ok") return;
        expect(c.nowMs).to.equal(PROM);
        expect(c.skewSeconds).to.be.closeTo(0.3, 1e-9);
        expect(c.uncertaintySeconds).to.be.closeTo(0.002, 1e-9);
    });

    it("a clock ahead beyond the tolerance is refused, naming the skew, the bound and what it would do to the window", () => {
        const c = judgeClock(reading(600_000), 1);
        expect(c.verdict).to.equal("skewed");
        if (c.verdict !== "skewed") return;
        expect(c.skewSeconds).to.be.closeTo(600, 1e-9);
        expect(c.reason).to.match(/this machine's clock is 600\.0 s ahead of Prometheus's \(±0\.002 s\), more than the 1 s allowed/);
        expect(c.reason).to.match(/count a bake that has not elapsed/);
        expect(c.reason).to.match(/NTP/);
    });

    it("a clock behind: the window would never read its latest data", () => {
        const c = judgeClock(reading(-30_000), 15);
        expect(c.verdict).to.equal("skewed");
        if (c.verdict !== "skewed") return;
        expect(c.reason).to.match(/30\.0 s behind Prometheus's .*more than the 15 s allowed.*end 30\.0 s early and never read its latest data/);
    });

    it("counts the round trip against this machine: no skew, but an answer too slow to tell, is refused too (fail closed)", () => {
        expect(judgeClock(reading(0, 1800), 1).verdict, "0.9 s either way").to.equal("ok");
        const c = judgeClock(reading(0, 3000), 1);
        expect(c.verdict).to.equal("skewed");
        if (c.verdict === "skewed") expect(c.reason).to.match(/answered too slowly \(a round trip of 3\.000 s\)/);
        // At the edge: 0.9 s off plus a 0.3 s round trip may be 1.05 s off.
        expect(judgeClock(reading(900, 300), 1).verdict).to.equal("skewed");
    });

    it("a clock that cannot be read is unread (the window then fails, as any unreadable history)", () => {
        const c = judgeClock({ ok: false, failure: "timeout", detail: "http://prom/api/v1/query: timeout after 2000 ms" }, 1);
        expect(c.verdict).to.equal("unread");
        const d = clockDecision(spec, c as Exclude<typeof c, { verdict: "ok" }>, PROM);
        expect(d.verdict).to.equal("fail");
        expect(d.reason).to.match(/^no-go in the bake window: Prometheus's clock could not be read \(timeout/);
    });

    it("a skewed clock's decision: not judged (baking: the promotion is refused, nothing changes), one clock row, no points read", () => {
        const c = judgeClock(reading(600_000), 1);
        if (c.verdict === "ok") throw new Error("expected a skew");
        const d = clockDecision(spec, c, PROM + 600_000);
        expect(d.verdict).to.equal("baking");
        expect(d.reason).to.match(/^the window of stage-1-10pct is not judged: this machine's clock is 600\.0 s ahead/);
        expect(d.points).to.equal(0);
        expect(d.findings).to.have.length(1);
        expect(d.findings[0]).to.include({ check: "clock", verdict: "hold", threshold: "within ±1 s" });
        // Its times are Prometheus's, not this machine's.
        expect(d.judgedAt).to.equal(new Date(PROM).toISOString());
    });

    it("describes the skew either way", () => {
        expect(describeSkew(0.004, 0.001)).to.equal("0.004 s ahead of Prometheus's (±0.001 s)");
        expect(describeSkew(-42, 0.01)).to.equal("42.0 s behind Prometheus's (±0.010 s)");
    });

    it("a shift in this machine's future (its clock behind the one that stamped it) is refused saying so, not as a negative bake", () => {
        const r = notYetElapsed("stage-1-10pct", PROM + 90_000, 1800, PROM)!;
        expect(r).to.match(/shifted at .*, 90s after this machine's now .*: this machine's clock is behind the one that stamped the shift/);
        expect(r).to.not.match(/baked -/);
    });
});
