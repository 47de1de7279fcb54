/**
 * Bench go/no-go (SPEC §2, §7), pure: a run's results against the last accepted run and the configured floors.
 *   p95 ≤ baseline p95 × maxP95BaselineMultiple (1.10);  p99 / p95 ≤ maxTailRatio (2.0);
 *   throughput ≥ minThroughputPerSecond;  plus any extra gates from config.
 * With no accepted run yet, the p95 gate has nothing to compare with: it is reported as "no baseline" and the run,
 * if every other gate passes, becomes the baseline.
 *
 * Noise against regression (judgeBench): the bench is measured `repeats` times and every gate is judged on the MEDIAN
 * of the repeats (the tail gate on the median of each repeat's own p99/p95).  Each gate also gets its spread, the
 * relative range (max − min) / median of its metric across the repeats.  A gate whose spread is within `maxSpread`
 * is decided by its median (a clear regression on a steady measurement is a FAIL).  A gate whose spread is wider
 * was measured on an unsteady machine: it passes only if every repeat passed it (noise cannot explain a pass that
 * the worst repeat still makes); otherwise it is `inconclusive` — never a FAIL, since the spread says the numbers
 * cannot tell a regression from a busy machine.  Verdict: any FAIL → fail; else any inconclusive → inconclusive;
 * else pass.  With one repeat the spread is 0 and the judgement is the single-run one.
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
    /** How many times the bench command runs; every gate is judged on the median (`bench.repeats`; absent: 1). */
    repeats?: number;
    /**
     * The widest relative range (max − min) / median of a gate's metric across the repeats that still decides the
     * gate on its median (`bench.maxSpread`; absent: no limit).  Wider, and the repeats disagree: `inconclusive`.
     */
    maxSpread?: number;
}

/** A bench's overall verdict: `inconclusive` holds the stage without calling it a regression. */
export type BenchVerdict = "pass" | "fail" | "inconclusive";

export interface BenchGateRow {
    gate: string;
    /** The median of the repeats (the value itself with one repeat). */
    observed: string;
    limit: string;
    verdict: "pass" | "fail" | "no baseline" | "inconclusive";
    /** With more than one repeat: each repeat's value, in run order. */
    repeats?: string;
    /** With more than one repeat: the relative range (max − min) / median, against bench.maxSpread. */
    spread?: string;
}

/** The repeats of one bench, their median and the spread of what the gates judge. */
export interface BenchSample {
    /** Each repeat's result, in run order. */
    repeats: BenchResult[];
    /**
     * The median repeat: the repeat with the median p95 (so fields the command adds pass through), each gate metric
     * replaced by its median across the repeats.  This is what the gates judge and what a pass accepts as baseline.
     */
    median: BenchResult;
    /** Relative range (max − min) / median of p95, of p99/p95 and of throughput across the repeats. */
    spread: { p95_ms: number; tail_ratio: number; throughput_per_s: number };
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

/** The median of a non-empty list (the mean of the middle two for an even count). */
export function median(values: number[]): number {
    if (values.length === 0) throw new Error("median of no values");
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * The relative range (max − min) / median of a non-empty list: 0 when every value is the same, Infinity when the
 * median is 0 but the values differ (nothing to scale by: as unsteady as it gets).
 */
export function relativeRange(values: number[]): number {
    const lo = Math.min(...values);
    const hi = Math.max(...values);
    if (hi === lo) return 0;
    const m = median(values);
    return m === 0 ? Infinity : (hi - lo) / Math.abs(m);
}

const tailOf = (r: BenchResult) => r.p99_ms / r.p95_ms;
const METRICS: BenchMetric[] = ["p50_ms", "p95_ms", "p99_ms", "throughput_per_s", "error_rate"];

/** The median and the spread of a bench's repeats (at least one). */
export function summariseRepeats(repeats: BenchResult[]): BenchSample {
    if (repeats.length === 0) throw new Error("a bench needs at least one repeat");
    const p95 = median(repeats.map((r) => r.p95_ms));
    const middle = repeats.find((r) => r.p95_ms === p95) ?? [...repeats].sort((a, b) => Math.abs(a.p95_ms - p95) - Math.abs(b.p95_ms - p95))[0];
    const med: BenchResult = { ...middle };
    for (const m of METRICS) med[m] = median(repeats.map((r) => r[m]));
    return {
        repeats,
        median: med,
        spread: {
            p95_ms: relativeRange(repeats.map((r) => r.p95_ms)),
            tail_ratio: relativeRange(repeats.map(tailOf)),
            throughput_per_s: relativeRange(repeats.map((r) => r.throughput_per_s)),
        },
    };
}

/**
 * Judges a bench's repeats (see the module comment): every gate on the median, a gate whose repeats spread wider
 * than `limits.maxSpread` and disagree is `inconclusive`.  `tailRatio` in the result is the median of the repeats'
 * own p99/p95, which the tail gate judged.
 */
export function judgeBench(repeats: BenchResult[], baseline: BenchResult | undefined, limits: BenchLimits): { verdict: BenchVerdict; rows: BenchGateRow[]; sample: BenchSample; tailRatio: number } {
    const sample = summariseRepeats(repeats);
    const maxSpread = limits.maxSpread ?? Infinity;
    const many = repeats.length > 1;
    const rows: BenchGateRow[] = [];
    const gate = (name: string, values: number[], observed: (v: number) => string, limit: string, ok: (v: number) => boolean) => {
        const mid = median(values);
        const spread = relativeRange(values);
        let verdict: BenchGateRow["verdict"] = ok(mid) ? "pass" : "fail";
        if (spread > maxSpread) verdict = values.every(ok) ? "pass" : "inconclusive";
        rows.push({
            gate: name, observed: observed(mid), limit, verdict,
            ...(many ? { repeats: values.map(observed).join(", "), spread: `${n(spread)}${spread > maxSpread ? ` > ${maxSpread}` : ""}` } : {}),
        });
    };
    const p95s = repeats.map((r) => r.p95_ms);
    if (baseline) {
        const limit = baseline.p95_ms * limits.maxP95BaselineMultiple;
        gate("p95 vs baseline", p95s, (v) => `${n(v)} ms`, `≤ ${n(limit)} ms (${limits.maxP95BaselineMultiple} × ${n(baseline.p95_ms)})`, (v) => v <= limit);
    } else {
        const mid = median(p95s);
        rows.push({
            gate: "p95 vs baseline", observed: `${n(mid)} ms`, limit: "no accepted run yet", verdict: "no baseline",
            ...(many ? { repeats: p95s.map((v) => `${n(v)} ms`).join(", "), spread: n(sample.spread.p95_ms) } : {}),
        });
    }
    const tails = repeats.map(tailOf);
    gate("tail ratio p99/p95", tails, n, `≤ ${limits.maxTailRatio}`, (v) => v <= limits.maxTailRatio);
    gate("throughput", repeats.map((r) => r.throughput_per_s), (v) => `${n(v)}/s`, `≥ ${limits.minThroughputPerSecond}/s`, (v) => v >= limits.minThroughputPerSecond);
    for (const g of limits.extraGates) {
        gate(g.metric, repeats.map((r) => r[g.metric]), n, `${SYMBOL[g.comparator]} ${g.value}`, (v) => holds(v, g.comparator, g.value));
    }
    const verdict: BenchVerdict = rows.some((r) => r.verdict === "fail") ? "fail" : rows.some((r) => r.verdict === "inconclusive") ? "inconclusive" : "pass";
    return { verdict, rows, sample, tailRatio: median(tails) };
}

/**
 * Whether a judged bench becomes the accepted baseline: only a complete run (every configured repeat measured) whose
 * verdict is pass.  A failed or inconclusive run, or one cut short, leaves the last accepted baseline in place.
 */
export function acceptsBaseline(verdict: BenchVerdict, repeatsMeasured: number, repeatsConfigured: number): boolean {
    return verdict === "pass" && repeatsMeasured >= 1 && repeatsMeasured === repeatsConfigured;
}

/** A single run against the baseline and limits: judgeBench with that one run (kept for callers with one result). */
export function gateBench(result: BenchResult, baseline: BenchResult | undefined, limits: BenchLimits): { verdict: "pass" | "fail"; rows: BenchGateRow[] } {
    const { verdict, rows } = judgeBench([result], baseline, limits);
    return { verdict: verdict === "fail" ? "fail" : "pass", rows };
}

/**
 * The gate table as text (in the failed update's message).  With more than one repeat it has two more columns: each
 * repeat's value and the spread.
 */
export function formatBenchRows(rows: BenchGateRow[]): string {
    const many = rows.some((r) => r.repeats !== undefined);
    const head = ["gate", "observed", "limit", "verdict", ...(many ? ["repeats", "spread"] : [])];
    return formatTable([head, ...rows.map((r) => [r.gate, r.observed, r.limit, r.verdict.toUpperCase(), ...(many ? [r.repeats ?? "", r.spread ?? ""] : [])])]);
}

/**
 * metrics.csv: each metric's judged value (the median of the repeats), the baseline's, and with more than one
 * repeat each repeat's value (`repeat_1`, `repeat_2`, …).
 */
export function metricsCsv(result: BenchResult, baseline: BenchResult | undefined, repeats: BenchResult[] = []): string {
    const each = repeats.length > 1 ? repeats : [];
    const head = ["metric", "value", "baseline", ...each.map((_, i) => `repeat_${i + 1}`)].join(",");
    return [head, ...METRICS.map((m) => [m, result[m], baseline ? baseline[m] : "", ...each.map((r) => r[m])].join(","))].join("\n") + "\n";
}

const SIGN_OFF: Record<BenchVerdict, string> = { pass: "GO", fail: "NO-GO", inconclusive: "INCONCLUSIVE (not a regression verdict: re-run when the machine is quiet)" };

/** sign_off_summary.md: the verdict, the run, the baseline and the gate table (with repeats and spread when several). */
export function signOffSummary(a: { version: string; command: string; at: string; verdict: BenchVerdict; rows: BenchGateRow[]; baselineFrom?: string; repeats?: number; maxSpread?: number }): string {
    const many = a.rows.some((r) => r.repeats !== undefined);
    return [
        `# Bench sign-off: ${a.version}`,
        "",
        `- verdict: **${SIGN_OFF[a.verdict]}**`,
        `- run at: ${a.at}`,
        `- command: \`${a.command}\``,
        ...(a.repeats !== undefined ? [`- repeats: ${a.repeats}, judged on the median${a.maxSpread !== undefined ? `; spread limit (max − min) / median ≤ ${a.maxSpread}` : ""}`] : []),
        `- baseline: ${a.baselineFrom ?? "none (this run becomes the baseline if accepted)"}`,
        "",
        many ? "| gate | observed (median) | limit | verdict | repeats | spread |" : "| gate | observed | limit | verdict |",
        many ? "|---|---|---|---|---|---|" : "|---|---|---|---|",
        ...a.rows.map((r) => `| ${r.gate} | ${r.observed} | ${r.limit} | ${r.verdict.toUpperCase()} |${many ? ` ${r.repeats ?? ""} | ${r.spread ?? ""} |` : ""}`),
        "",
    ].join("\n");
}
