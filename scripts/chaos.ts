/**
 * Chaos during a rollout, on the local default (issue 24):  npm run chaos [-- --short | --full] [-- --only a,b]
 * Runs each fault of reference/chaos/matrix.ts on a fresh local environment (reference workloads, two SSH nodes,
 * Prometheus, Alertmanager, the watchdog, the real engine with the policy pack) and prints a row per fault: when it
 * was injected and detected, the time to safe (traffic at 0 % confirmed, or the nodes restored), the bound the
 * program computes where one applies (lib/guard), whether the records are truthful and whether anything was lost.
 * Exits 1 on any violation.  --short is the CI matrix (a few minutes); the full matrix is the default.
 * Each fault's state, artifacts and engine output stay in .pulumi-local/chaos/<UTC time>/<fault>.
 */
import * as path from "path";
import { parseArgs } from "util";
import { formatBound } from "../lib/guard/bound";
import { CHAOS_MATRIX } from "../reference/chaos/matrix";
import { ChaosRow } from "../reference/chaos/harness";
import { ChaosFault, runChaosFault } from "../reference/chaos/run";
import { formatTable } from "../lib/table";
import { localGuardPlan, ROOT, toolchain } from "./localStack";

/** The faults a run covers: the short matrix, the full one, or the named ones (naming an unknown one is an error). */
export function selectFaults(opts: { short?: boolean; only?: string }): ChaosFault[] {
    if (opts.only) {
        const names = opts.only.split(",").filter(Boolean);
        const unknown = names.filter((n) => !CHAOS_MATRIX.some((f) => f.name === n));
        if (unknown.length > 0) throw new Error(`--only ${unknown.join(",")}: allowed ${CHAOS_MATRIX.map((f) => f.name).join(", ")}`);
        return CHAOS_MATRIX.filter((f) => names.includes(f.name));
    }
    return opts.short ? CHAOS_MATRIX.filter((f) => f.short) : CHAOS_MATRIX;
}

const at = (row: ChaosRow, t?: number) => (t === undefined ? "—" : `+${((t - row.startedAt) / 1000).toFixed(1)}s`);

/** The table as printed (and as docs/chaos.md shows it). */
export function chaosTable(rows: ChaosRow[]): string {
    return formatTable([
        ["fault", "group", "injected", "detected", "time to safe", "bound", "up", "records truthful", "lost", "verdict"],
        ...rows.map((r) => [
            r.fault, r.group, at(r, r.injectedAt), at(r, r.detectedAt),
            r.safeSeconds === undefined ? "never" : `${r.safeSeconds.toFixed(2)}s`,
            r.boundSeconds === undefined ? "—" : formatBound(r.boundSeconds),
            r.outcome, r.untrue.length === 0 ? "yes" : "NO", r.lost.length === 0 ? "nothing" : "YES",
            r.violations.length === 0 ? "ok" : "VIOLATION",
        ]),
    ]);
}

/** Runs the faults one after another; returns their rows. */
export async function runChaos(faults: ChaosFault[], log: (s: string) => void = console.log): Promise<ChaosRow[]> {
    const binDir = toolchain();
    const runDir = path.join(ROOT, ".pulumi-local/chaos", new Date().toISOString().replace(/[:.]/g, "-"));
    const plan = localGuardPlan();
    // What the faults need on this machine, before the first one runs (e.g. libfaketime for the clock skew).
    for (const f of faults) if (f.kind === "up") f.preflight?.(log);
    const rows: ChaosRow[] = [];
    for (const f of faults) {
        log(`[chaos] ${f.name} (${f.group}): ${f.fault}`);
        let row: ChaosRow;
        try {
            row = await runChaosFault(f, { runDir, binDir, plan, log });
        } catch (e) {
            row = { fault: f.name, group: f.group, startedAt: Date.now(), outcome: "harness error", untrue: [], lost: [], notes: [],
                violations: [`the fault could not be run: ${(e as Error).message}`] };
        }
        for (const v of row.violations) log(`[chaos ${f.name}] VIOLATION ${v}`);
        rows.push(row);
    }
    log(`[chaos] evidence in ${runDir}`);
    return rows;
}

async function main(): Promise<void> {
    const { values } = parseArgs({ options: { short: { type: "boolean", default: false }, full: { type: "boolean", default: false }, only: { type: "string" } } });
    if (values.short && values.full) throw new Error("--short and --full: choose one");
    const faults = selectFaults({ short: values.short, only: values.only });
    const started = Date.now();
    const rows = await runChaos(faults);
    console.log(`\nchaos matrix (${values.only ? "selected" : values.short ? "short" : "full"}, ${rows.length} faults, ${((Date.now() - started) / 60000).toFixed(1)} min):`);
    console.log(chaosTable(rows));
    for (const r of rows) for (const n of r.notes) console.log(`  ${r.fault}: ${n}`);
    const bad = rows.filter((r) => r.violations.length > 0);
    for (const r of bad) for (const v of r.violations) console.error(`  ${r.fault}: ${v}`);
    if (bad.length > 0) { console.error(`${bad.length} fault(s) with violations`); process.exit(1); }
}

if (require.main === module) {
    main().catch((e) => { console.error(`[chaos] ${(e as Error).message}`); process.exit(1); });
}
