/**
 * The error budget against the gates we had (npm run bench:slo; prints numbers, not a test).  The reference service on
 * loopback, the live gate (lib/gate/run.ts, metrics-endpoint source, a sample a second) and seed 001's SLO: 99.9 % over
 * 7 d (a budget of 0.1 % of operations).  Between faults the service fails 0.05 % of its operations.
 *   1. A slow burn: 0.5 % errors — below every go/no-go threshold (promote < 1 %, spike 10 × the 0.1 % floor), but
 *      5× the budget (the week's budget gone in 34 h).  Today's gate, the budget gate with the default 6× page pair
 *      and with the 3× ticket pair judge the same stage at once.
 *   2. A blip: 5 % errors for 30 s.  Today's live gate judges each sample on its own (the 10× spike check aborts);
 *      the budget check judges the bake: the burn over the bake's last twelfth is back under the pair once the blip
 *      ends, and the blip spent a fraction of a percent of the week's budget.
 * Usage: npm run bench:slo -- [bakeSeconds=20] [blipBakeSeconds=60]
 */
import { DEFAULT_STAGE_THRESHOLDS } from "../config/thresholds";
import { measure } from "../lib/gate/measure";
import { GateSpec, REAL_CLOCK, runGate, SloGateState, sloReading } from "../lib/gate/run";
import { stageBudget } from "../lib/slo/judge";
import { BURN_CHECK, sloChecks } from "../lib/gate/slo";
import { sloSpec, SloSpec } from "../lib/monitoring/slo";
import { startSpeculationService } from "../reference/speculationService";

const [bake = 20, blipBake = 60] = process.argv.slice(2).map(Number);
const QUIET = 0.0005;
const t0 = Date.now();
const at = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

async function main() {
    const service = await startSpeculationService({ adminToken: "bench-token-0123456789", version: "v1.2.4", operationsPerSecond: 2000, faults: { errorRate: QUIET } });
    const spec = (stage: string, slo?: SloSpec, bakeSeconds = bake): GateSpec => ({
        stage, percentage: 10, version: "v1.2.4", serviceUrl: service.url, source: "metrics-endpoint", adminToken: "", thresholds: DEFAULT_STAGE_THRESHOLDS,
        baselineErrorRate: QUIET, bakeSeconds, pollSeconds: 1, deadlineSeconds: bakeSeconds + 10, timeoutMs: 2000, onFailure: "fail", noData: {},
        checkRolloutPercentage: false, ...(slo ? { slo } : {}),
    });
    const judged = async (name: string, s: GateSpec) => {
        const started = Date.now();
        const { record } = await runGate(s, REAL_CLOCK);
        const burn = record.decisive.checks.find((c) => c.check === BURN_CHECK);
        return { name, verdict: record.verdict, seconds: (Date.now() - started) / 1000, reason: record.reason, burn: burn?.observed, budget: record.slo };
    };
    try {
        console.log(`[bench:slo] SLO 99.9 % over 7d (budget 0.1 %); quiet service at ${QUIET * 100} % errors; ${bake} s bakes, a sample a second\n`);
        console.log(`[bench:slo] 1. slow burn: 0.5 % errors (5× the budget) from ${at()}`);
        service.setFaults({ errorRate: 0.005 });
        const slow = await Promise.all([
            judged("today's gate (go/no-go thresholds, no budget)", spec("slow-today")),
            judged("budget gate, default pair 6× (6h & 30m)", spec("slow-6x", sloSpec())),
            judged("budget gate, pair 3× (1d & 2h)", spec("slow-3x", sloSpec({ gatePair: "3x" }))),
        ]);
        for (const r of slow) {
            console.log(`  ${r.verdict.toUpperCase().padEnd(5)} after ${r.seconds.toFixed(1)} s  ${r.name}${r.burn ? `  [burn ${r.burn}]` : ""}`);
            if (r.verdict !== "pass") console.log(`        ${r.reason.slice(0, 260)}`);
        }

        service.setFaults({ errorRate: QUIET });
        console.log(`\n[bench:slo] 2. blip: 5 % errors for 30 s, 2 s into a ${blipBake} s bake (from ${at()})`);
        const slo = sloSpec({ gatePair: "3x" });
        const budgetSpec = { ...spec("blip-budget", slo, blipBake), slo };
        const state: SloGateState = { startedAt: Date.now(), history: [] };
        const primed = await measure({ serviceUrl: service.url, source: "metrics-endpoint", timeoutMs: 2000, maxSampleAgeSeconds: 60 }, undefined);
        state.history.push({ at: Date.now(), errors: primed.counters!.errors, operations: primed.counters!.operations });
        const blip = (async () => {
            await new Promise((r) => setTimeout(r, 2000));
            service.setFaults({ errorRate: 0.05 });
            await new Promise((r) => setTimeout(r, 30_000));
            service.setFaults({ errorRate: QUIET });
        })();
        const today = judged("today's gate", spec("blip-today", undefined, blipBake));
        // The budget check alone, a sample a second over the whole bake (the gate runs it beside today's checks).
        const timeline: string[] = [];
        let last: Awaited<ReturnType<typeof sloReading>> | undefined;
        for (let i = 0; i < blipBake; i++) {
            await new Promise((r) => setTimeout(r, 1000));
            const m = await measure({ serviceUrl: service.url, source: "metrics-endpoint", timeoutMs: 2000, maxSampleAgeSeconds: 60 }, undefined);
            last = await sloReading(budgetSpec, state, m.counters, Date.now());
            timeline.push(sloChecks(slo, last, "hold")[0].verdict === "pass" ? "." : "H");
        }
        await blip;
        const t = await today;
        console.log(`  ${t.verdict.toUpperCase().padEnd(5)} after ${t.seconds.toFixed(1)} s  ${t.name}`);
        if (t.verdict !== "pass") console.log(`        ${t.reason.slice(0, 260)}`);
        const end = sloChecks(slo, last!, "fail")[0];
        const b = stageBudget(slo, last!)!;
        console.log(`  ${end.verdict.toUpperCase().padEnd(5)} after ${blipBake}.0 s  budget check (pair 3×) at the bake's end: ${end.observed}`);
        console.log(`        per second (. pass, H hold): ${timeline.join("")}`);
        console.log(`        the blip spent ${(b.budgetSpent * 100).toFixed(3)} % of the week's budget (burn ${b.burnRate.toFixed(1)}× over ${b.overSeconds.toFixed(0)} s)`);
    } finally {
        await service.close();
    }
}

main().catch((e) => { console.error(e); process.exit(1); });
