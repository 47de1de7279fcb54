/** Bench go/no-go, pure: each gate at, above and below its limit, the first run without a baseline, bad output. */
import { expect } from "chai";
import { BenchLimits, BenchResult, formatBenchRows, gateBench, metricsCsv, parseBenchOutput } from "../../../lib/bench/gates";

const limits: BenchLimits = { maxP95BaselineMultiple: 1.1, maxTailRatio: 2, minThroughputPerSecond: 1000, extraGates: [] };
const run = (edit: Partial<BenchResult> = {}): BenchResult => ({ p50_ms: 5, p95_ms: 10, p99_ms: 15, throughput_per_s: 2000, error_rate: 0, ...edit });
const verdictOf = (rows: { gate: string; verdict: string }[], gate: string) => rows.find((r) => r.gate === gate)!.verdict;

describe("bench gates", () => {
    const cases: [string, Partial<BenchResult>, string, string][] = [
        ["p95 at 1.10 × baseline passes", { p95_ms: 11, p99_ms: 15 }, "p95 vs baseline", "pass"],
        ["p95 above 1.10 × baseline fails", { p95_ms: 11.01, p99_ms: 15 }, "p95 vs baseline", "fail"],
        ["p99/p95 at 2.0 passes", { p99_ms: 20 }, "tail ratio p99/p95", "pass"],
        ["p99/p95 above 2.0 fails", { p99_ms: 20.1 }, "tail ratio p99/p95", "fail"],
        ["throughput at the floor passes", { throughput_per_s: 1000 }, "throughput", "pass"],
        ["throughput below the floor fails", { throughput_per_s: 999 }, "throughput", "fail"],
    ];
    for (const [name, edit, gate, verdict] of cases) {
        it(name, () => {
            const judged = gateBench(run(edit), run(), limits);
            expect(verdictOf(judged.rows, gate)).to.equal(verdict);
            expect(judged.verdict).to.equal(verdict === "fail" ? "fail" : "pass");
        });
    }
    it("a first run has no baseline for p95 and is judged on the other gates", () => {
        const judged = gateBench(run(), undefined, limits);
        expect(verdictOf(judged.rows, "p95 vs baseline")).to.equal("no baseline");
        expect(judged.verdict).to.equal("pass");
    });
    it("applies extra gates from config", () => {
        const judged = gateBench(run({ error_rate: 0.02 }), run(), { ...limits, extraGates: [{ metric: "error_rate", comparator: "le", value: 0.01 }] });
        expect(verdictOf(judged.rows, "error_rate")).to.equal("fail");
        expect(formatBenchRows(judged.rows)).to.match(/error_rate\s+0\.02\s+≤ 0\.01\s+FAIL/);
    });
    it("reads the last JSON line of the command's output and refuses incomplete or non-numeric results by field", () => {
        expect(parseBenchOutput(`warming up\n${JSON.stringify(run())}\n`).p95_ms).to.equal(10);
        expect(() => parseBenchOutput("no json here")).to.throw(/printed no JSON result line/);
        expect(() => parseBenchOutput(JSON.stringify({ ...run(), p95_ms: undefined }))).to.throw(/incomplete: p95_ms/);
        expect(() => parseBenchOutput(JSON.stringify({ ...run(), throughput_per_s: "fast" }))).to.throw(/throughput_per_s/);
    });
    it("writes metrics.csv with the baseline beside each value", () => {
        expect(metricsCsv(run(), run({ p95_ms: 9 }))).to.include("p95_ms,10,9\n");
    });
});
