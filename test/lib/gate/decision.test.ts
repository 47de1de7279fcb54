/** The gate's decision logic, table by table: thresholds, no-data policies, bake bookkeeping, counters. */
import { expect } from "chai";
import { DEFAULT_STAGE_THRESHOLDS } from "../../../config/thresholds";
import {
    advanceBake, errorRateBetween, formatChecks, checkMetric, checkReading, Measured, MetricCheck, Reading, requiredSamples, Sample,
    spikeLimit, startBake,
} from "../../../lib/gate/decision";

const ok = (value: number): Measured<number> => ({ ok: true, value });
const no = (failure: "missing-metric" | "nan" | "stale" | "unreachable" | "timeout" | "http-status" | "malformed"): Measured<number> =>
    ({ ok: false, failure, detail: "test" });

describe("gate decision: one metric", () => {
    const rows: [string, Measured<number>, number, number, "fail" | "hold", string][] = [
        ["green below the promote threshold", ok(0.02), 0.05, 0.15, "fail", "pass"],
        ["hold at the promote threshold (promote needs strictly below)", ok(0.05), 0.05, 0.15, "fail", "hold"],
        ["hold between promote and abort", ok(0.1), 0.05, 0.15, "fail", "hold"],
        ["hold at the abort threshold (abort is strictly above)", ok(0.15), 0.05, 0.15, "fail", "hold"],
        ["fail above the abort threshold", ok(0.151), 0.05, 0.15, "fail", "fail"],
        ["a single limit: at it passes", ok(2000), 2000, 2000, "fail", "pass"],
        ["a single limit: above it fails", ok(2001), 2000, 2000, "fail", "fail"],
        ["NaN fails by default", ok(NaN), 0.05, 0.15, "fail", "fail"],
        ["NaN holds when the metric says hold", ok(NaN), 0.05, 0.15, "hold", "hold"],
        ["missing metric fails by default", no("missing-metric"), 0.05, 0.15, "fail", "fail"],
        ["missing metric holds when the metric says hold", no("missing-metric"), 0.05, 0.15, "hold", "hold"],
        ["stale holds when the metric says hold", no("stale"), 0.05, 0.15, "hold", "hold"],
        ["unreachable fails even when the metric says hold", no("unreachable"), 0.05, 0.15, "hold", "fail"],
        ["timeout fails even when the metric says hold", no("timeout"), 0.05, 0.15, "hold", "fail"],
        ["non-2xx fails even when the metric says hold", no("http-status"), 0.05, 0.15, "hold", "fail"],
        ["malformed fails even when the metric says hold", no("malformed"), 0.05, 0.15, "hold", "fail"],
    ];
    for (const [name, measured, promote, abort, noData, verdict] of rows) {
        it(name, () => {
            const r = checkMetric("rollbackRate", "q", measured, promote, abort, noData);
            expect(r.verdict).to.equal(verdict);
            if (verdict !== "pass") expect(r.reason).to.be.a("string").and.not.empty;
        });
    }
});

describe("gate decision: a whole reading", () => {
    const green: Reading = {
        at: "2026-11-23T00:00:00Z",
        health: { ok: true, value: { status: "healthy", version: "v1.2.4" } },
        ready: { ok: true, value: true },
        components: { ok: true, value: { speculation: "healthy", proof_workers: "healthy", chain_connection: "healthy", stake_pool: "healthy" } },
        metrics: { rollbackRate: ok(0.01), errorRate: ok(0.002), proofQueue: ok(100), memoryPercent: ok(45), latencyP99: ok(0.0099), latencyTailRatio: ok(1.04) },
        queries: { rollbackRate: "rb", errorRate: "er", proofQueue: "pq", memoryPercent: "mem", latencyP99: "p99", latencyTailRatio: "tail" },
    };
    const noData = { rollbackRate: "fail", errorRate: "fail", errorRateVsBaseline: "fail", proofQueue: "fail", memoryPercent: "fail", latencyP99: "fail", latencyTailRatio: "fail" } as Record<MetricCheck, "fail">;
    const limits = { thresholds: DEFAULT_STAGE_THRESHOLDS, baselineErrorRate: 0.002, noData, expectedVersion: "v1.2.4" };
    const judge = (edit: (r: Reading) => void) => {
        const r: Reading = JSON.parse(JSON.stringify(green));
        r.metrics = { ...green.metrics };
        edit(r);
        return checkReading(r, limits);
    };

    it("passes when every check is green, and shows one row per check", () => {
        const s = judge(() => undefined);
        expect(s.verdict).to.equal("pass");
        expect(s.checks.map((c) => c.check)).to.include.members(["health", "ready", "component stake_pool", "rollbackRate", "errorRate", "errorRateVsBaseline", "proofQueue", "memoryPercent", "latencyP99", "latencyTailRatio"]);
    });

    it("checks the critical alerts when the reading has them: none firing passes", () => {
        const s = judge((r) => { r.criticalAlerts = { ok: true, value: [] }; r.criticalAlertsQuery = "ALERTS"; });
        expect(s.verdict).to.equal("pass");
        expect(s.checks.find((c) => c.check === "critical alerts")).to.include({ observed: "none", verdict: "pass", query: "ALERTS" });
    });

    it("marks holds for want of data (sparse, or a hold policy) apart from holds for a bad value", () => {
        const sparse = judge((r) => { r.metrics.latencyTailRatio = { ok: false, failure: "sparse", detail: "3 observations" }; });
        expect(sparse.checks.find((c) => c.check === "latencyTailRatio")).to.include({ verdict: "hold", noData: true });
        const slow = judge((r) => { r.metrics.latencyP99 = ok(1.5); });
        expect(slow.checks.find((c) => c.check === "latencyP99")!.noData).to.equal(undefined);
    });
    const cases: [string, (r: Reading) => void, "hold" | "fail", string][] = [
        ["an unhealthy component holds", (r) => { (r.components as any).value.stake_pool = "unhealthy"; }, "hold", "component stake_pool"],
        ["not ready holds", (r) => { r.ready = { ok: true, value: false }; }, "hold", "ready"],
        ["the wrong version holds", (r) => { r.health = { ok: true, value: { status: "healthy", version: "v1.2.3" } }; }, "hold", "health"],
        ["/health unreachable fails", (r) => { r.health = { ok: false, failure: "unreachable", detail: "x" }; }, "fail", "health"],
        ["error rate above 10 % fails", (r) => { r.metrics.errorRate = ok(0.11); }, "fail", "errorRate"],
        ["error rate 1-10 % holds", (r) => { r.metrics.errorRate = ok(0.012); }, "hold", "errorRate"],
        ["memory above the critical percentage fails", (r) => { r.metrics.memoryPercent = ok(91); }, "fail", "memoryPercent"],
        ["a p99 at or above the promote limit (1 s) holds", (r) => { r.metrics.latencyP99 = ok(1.2); }, "hold", "latencyP99"],
        ["a p99 above the abort limit (5 s) fails", (r) => { r.metrics.latencyP99 = ok(5.5); }, "fail", "latencyP99"],
        ["p99 more than 2 × p95 fails", (r) => { r.metrics.latencyTailRatio = ok(2.4); }, "fail", "latencyTailRatio"],
        ["too few latency observations holds, whatever the no-data policy", (r) => { r.metrics.latencyP99 = { ok: false, failure: "sparse", detail: "12 observations" }; }, "hold", "latencyP99"],
        ["a critical alert firing fails", (r) => { r.criticalAlerts = { ok: true, value: ["SpeculationMemoryCritical"] }; }, "fail", "critical alerts"],
        ["alerts that cannot be read fail (fail closed)", (r) => { r.criticalAlerts = { ok: false, failure: "unreachable", detail: "ECONNREFUSED" }; }, "fail", "critical alerts"],
        ["proof queue above 2000 fails", (r) => { r.metrics.proofQueue = ok(2001); }, "fail", "proofQueue"],
    ];
    for (const [name, edit, verdict, check] of cases) {
        it(name, () => {
            const s = judge(edit);
            expect(s.verdict).to.equal(verdict);
            expect(s.checks.find((c) => c.check === check)!.verdict).to.equal(verdict);
        });
    }
    it("the spike check fails at 10 × the baseline and uses the floor for a spotless baseline", () => {
        expect(spikeLimit(0.002, 10)).to.be.closeTo(0.02, 1e-12);
        expect(spikeLimit(0, 10)).to.be.closeTo(0.01, 1e-12);
        const s = checkReading({ ...green, metrics: { ...green.metrics, errorRate: ok(0.03) } }, limits);
        expect(s.checks.find((c) => c.check === "errorRateVsBaseline")!.verdict).to.equal("fail");
    });
    it("formats the decisive sample as a table naming query, observed value, threshold and verdict", () => {
        const table = formatChecks(judge((r) => { r.metrics.rollbackRate = ok(0.2); }));
        expect(table.split("\n")[0]).to.match(/check\s+query\s+observed\s+threshold\s+verdict/);
        expect(table).to.match(/rollbackRate\s+rb\s+0\.2\s+< 0\.05 to promote, > 0\.15 aborts\s+FAIL/);
    });
});

describe("gate decision: the bake window", () => {
    const sample = (verdict: "pass" | "hold" | "fail"): Sample => ({
        at: "t", verdict, checks: [{ check: "c", query: "q", observed: "o", threshold: "t", verdict, reason: verdict === "pass" ? undefined : "r" }],
    });
    it("needs ceil(bake / poll) samples: 4 h at 1 min is 240, 15 min at 1 min is 15", () => {
        expect(requiredSamples(4 * 3600, 60)).to.equal(240);
        expect(requiredSamples(900, 60)).to.equal(15);
        expect(requiredSamples(0.3, 0.1)).to.equal(3);
        expect(requiredSamples(0, 60)).to.equal(1);
        expect(() => requiredSamples(60, 0)).to.throw(/pollSeconds/);
    });
    it("passes after the required consecutive green samples, and a hold starts the count again", () => {
        let b = startBake(3);
        for (const v of ["pass", "pass", "hold", "pass", "pass"] as const) b = advanceBake(b, sample(v), false);
        expect(b.status).to.equal("baking");
        expect(b.consecutivePasses).to.equal(2);
        b = advanceBake(b, sample("pass"), false);
        expect(b.status).to.equal("passed");
        expect(b.samples).to.equal(6);
    });
    it("fails at once on a fail sample", () => {
        const b = advanceBake(advanceBake(startBake(3), sample("pass"), false), sample("fail"), false);
        expect(b.status).to.equal("failed");
        expect(b.reason).to.match(/^no-go: c \(r\)/);
    });
    it("fails at the deadline when not yet green for the whole window, naming what held", () => {
        const b = advanceBake(advanceBake(startBake(3), sample("pass"), false), sample("hold"), true);
        expect(b.status).to.equal("failed");
        expect(b.reason).to.match(/^deadline: 0 of 3 .*not green: c \(r\)/);
    });
    it("a passed or failed gate ignores later samples", () => {
        const passed = advanceBake(startBake(1), sample("pass"), false);
        expect(advanceBake(passed, sample("fail"), false)).to.equal(passed);
    });
});

describe("gate decision: error rate from counters", () => {
    it("divides the error delta by the operation delta", () => {
        const m = errorRateBetween({ errors: 10, operations: 1000 }, { errors: 15, operations: 1500 });
        expect(m).to.deep.equal({ ok: true, value: 0.01 });
    });
    for (const [name, prev, cur] of [
        ["no earlier scrape", undefined, { errors: 1, operations: 1 }],
        ["counters that did not advance", { errors: 1, operations: 10 }, { errors: 1, operations: 10 }],
        ["counters that went backwards (restart)", { errors: 5, operations: 100 }, { errors: 0, operations: 10 }],
    ] as const) {
        it(`is stale for ${name}, never a zero error rate`, () => {
            const m = errorRateBetween(prev, cur);
            expect(m.ok).to.equal(false);
            expect(m.ok ? "" : m.failure).to.equal("stale");
        });
    }
});
