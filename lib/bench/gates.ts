/**
 * Bench go/no-go (SPEC §2, §7), pure: a run's results against the last accepted run and the configured floors.
 *   p95 ≤ baseline p95 × maxP95BaselineMultiple (1.10);  p99 / p95 ≤ maxTailRatio (2.0);
 *   throughput ≥ minThroughputPerSecond;  plus any extra gates from config.
 * With no accepted run yet, the p95 gate has nothing to compare with: it is reported as "no baseline" and the run,
 * if every other gate passes, becomes the baseline.
 */
import { formatTable } from "../table";

export interface BenchResult {
    p50_ms: number;
    p95_ms: number;
    p99_ms: number;
    throughput_per_s: number;
    error_rate: number;
    requests?: number;
    duration_s?: number;
}

/**
 * Built on call, not at module load: the BenchRun provider is closure-serialised by Pulumi, and a zod schema held
 * in a module variable cannot be (its bound methods are native code).
 */
function benchResultSchema() {
    const { z } = require("zod") as typeof import("zod");
    return z.object({
        p50_ms: z.number().finite().nonnegative(),
        p95_ms: z.number().finite().positive(),
        p99_ms: z.number().finite().positive(),
        throughput_per_s: z.number().finite().nonnegative(),
        error_rate: z.number().finite().min(0).max(1),
        requests: z.number().int().positive().optional(),
        duration_s: z.number().nonnegative().optional(),
    }).passthrough();
}

export type BenchMetric = "p50_ms" | "p95_ms" | "p99_ms" | "throughput_per_s" | "error_rate";
export type Comparator = "lt" | "le" | "gt" | "ge";

export interface BenchLimits {
    maxP95BaselineMultiple: number;
    maxTailRatio: number;
    minThroughputPerSecond: number;
    extraGates: { metric: BenchMetric; comparator: Comparator; value: number }[];
}

export interface BenchGateRow {
    gate: string;
    observed: string;
    limit: string;
    verdict: "pass" | "fail" | "no baseline";
}

const SYMBOL: Record<Comparator, string> = { lt: "<", le: "≤", gt: ">", ge: "≥" };
const holds = (v: number, c: Comparator, limit: number) =>
    c === "lt" ? v < limit : c === "le" ? v <= limit : c === "gt" ? v > limit : v >= limit;
const n = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(3).replace(/\.?0+$/, ""));

/** Parses the bench command's output: the last line that is a JSON object. Throws naming what is wrong. */
export function parseBenchOutput(stdout: string): BenchResult {
    const line = stdout.trim().split("\n").reverse().find((l) => l.trim().startsWith("{"));
    if (!line) throw new Error("the bench command printed no JSON result line");
    let raw: unknown;
    try { raw = JSON.parse(line); } catch { throw new Error(`the bench result is not JSON: ${line.slice(0, 200)}`); }
    const parsed = benchResultSchema().safeParse(raw);
    if (!parsed.success) {
        throw new Error(`the bench result is incomplete: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    }
    return parsed.data as BenchResult;
}

export function gateBench(result: BenchResult, baseline: BenchResult | undefined, limits: BenchLimits): { verdict: "pass" | "fail"; rows: BenchGateRow[] } {
    const rows: BenchGateRow[] = [];
    if (baseline) {
        const limit = baseline.p95_ms * limits.maxP95BaselineMultiple;
        rows.push({ gate: "p95 vs baseline", observed: `${n(result.p95_ms)} ms`, limit: `≤ ${n(limit)} ms (${limits.maxP95BaselineMultiple} × ${n(baseline.p95_ms)})`, verdict: result.p95_ms <= limit ? "pass" : "fail" });
    } else {
        rows.push({ gate: "p95 vs baseline", observed: `${n(result.p95_ms)} ms`, limit: "no accepted run yet", verdict: "no baseline" });
    }
    const tail = result.p99_ms / result.p95_ms;
    rows.push({ gate: "tail ratio p99/p95", observed: n(tail), limit: `≤ ${limits.maxTailRatio}`, verdict: tail <= limits.maxTailRatio ? "pass" : "fail" });
    rows.push({ gate: "throughput", observed: `${n(result.throughput_per_s)}/s`, limit: `≥ ${limits.minThroughputPerSecond}/s`, verdict: result.throughput_per_s >= limits.minThroughputPerSecond ? "pass" : "fail" });
    for (const g of limits.extraGates) {
        const v = result[g.metric];
        rows.push({ gate: g.metric, observed: n(v), limit: `${SYMBOL[g.comparator]} ${g.value}`, verdict: holds(v, g.comparator, g.value) ? "pass" : "fail" });
    }
    return { verdict: rows.some((r) => r.verdict === "fail") ? "fail" : "pass", rows };
}

export function formatBenchRows(rows: BenchGateRow[]): string {
    return formatTable([["gate", "observed", "limit", "verdict"], ...rows.map((r) => [r.gate, r.observed, r.limit, r.verdict.toUpperCase()])]);
}

export function metricsCsv(result: BenchResult, baseline: BenchResult | undefined): string {
    const metrics: BenchMetric[] = ["p50_ms", "p95_ms", "p99_ms", "throughput_per_s", "error_rate"];
    return ["metric,value,baseline", ...metrics.map((m) => `${m},${result[m]},${baseline ? baseline[m] : ""}`)].join("\n") + "\n";
}

export function signOffSummary(a: { version: string; command: string; at: string; verdict: "pass" | "fail"; rows: BenchGateRow[]; baselineFrom?: string }): string {
    return [
        `# Bench sign-off: ${a.version}`,
        "",
        `- verdict: **${a.verdict === "pass" ? "GO" : "NO-GO"}**`,
        `- run at: ${a.at}`,
        `- command: \`${a.command}\``,
        `- baseline: ${a.baselineFrom ?? "none (this run becomes the baseline if accepted)"}`,
        "",
        "| gate | observed | limit | verdict |",
        "|---|---|---|---|",
        ...a.rows.map((r) => `| ${r.gate} | ${r.observed} | ${r.limit} | ${r.verdict.toUpperCase()} |`),
        "",
    ].join("\n");
}
