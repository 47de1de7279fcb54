/**
 * The guard between `up`s, measured: for every fault class of issue 22 and every rollback trigger's ordinary firing,
 * the time from the rollback condition to 0 % confirmed by the watchdog's read-back, on real Prometheus,
 * Alertmanager and watchdog (reference/guardFaults.ts), against the bound the program computes for the same timings
 * (lib/guard/plan.ts).  Exits non-zero when a measurement exceeds its bound.
 *   npm run bench:guard                       the local default's timings (Pulumi.local.yaml), 3 runs each
 *   npm run bench:guard -- --runs 5
 *   npm run bench:guard -- --stack production  production's timings (15 s scrapes, the seeds' for:s: about 7 min a run)
 *   npm run bench:guard -- --only slow-admin-api,refire-after-revert
 */
import { parseStackConfig } from "../config";
import { formatBound } from "../lib/guard/bound";
import { GuardPlan, guardPlan } from "../lib/guard/plan";
import { formatTable } from "../lib/table";
import { GUARD_SCENARIOS, planFor, runGuardScenario } from "../reference/guardFaults";
import { encodeConfig, stackConfig } from "../test/helpers/stack";
import { localGuardPlan } from "./localStack";

function arg(name: string): string | undefined {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
}

/** The stack's plan, with a scenario's config edit (GuardScenario.config) where it has one. */
function planOf(stack: string, edit: (c: Record<string, any>) => void = () => undefined): GuardPlan {
    if (stack === "local") return localGuardPlan(edit);
    if (stack !== "staging" && stack !== "production") throw new Error(`--stack ${stack}: allowed local, staging, production`);
    const c = stackConfig(stack);
    edit(c);
    return guardPlan(parseStackConfig(encodeConfig(c)).config);
}

async function main() {
    const stack = arg("stack") ?? "local";
    const runs = Number(arg("runs") ?? 3);
    if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs ${arg("runs")}: a whole number, at least 1`);
    const only = arg("only")?.split(",");
    const plan = planOf(stack);
    const scenarios = GUARD_SCENARIOS.filter((s) => !only || only.includes(s.name));
    if (scenarios.length === 0) throw new Error(`--only ${only}: allowed ${GUARD_SCENARIOS.map((s) => s.name).join(", ")}`);
    console.log(`guard bound (${stack}): ${formatBound(plan.worst.seconds)} worst (${plan.worst.alert}) = ${plan.worst.terms.map((t) => `${t.step} ${formatBound(t.seconds)}`).join(" + ")}`);
    const rows: string[][] = [["fault", "trigger", "bound", "runs", "min", "median", "max", "within bound"]];
    let over = 0;
    for (const s of scenarios) {
        const measured: number[] = [];
        const scenarioPlan = planFor(s, (edit) => planOf(stack, edit));
        for (let i = 0; i < runs; i++) {
            const m = await runGuardScenario(s, scenarioPlan, (line) => console.log(line));
            measured.push(m.seconds);
            if (m.finalPercentage !== 0) throw new Error(`${s.name}: traffic reads ${m.finalPercentage} % at the end`);
        }
        const sorted = [...measured].sort((a, b) => a - b);
        const bound = scenarioPlan.triggers.find((t) => t.alert === s.trigger)!.seconds;
        const within = sorted[sorted.length - 1] <= bound;
        if (!within) over += 1;
        rows.push([s.name, s.trigger, formatBound(bound), String(runs), sorted[0].toFixed(2), sorted[Math.floor(sorted.length / 2)].toFixed(2), sorted[sorted.length - 1].toFixed(2), within ? "yes" : "NO"]);
    }
    console.log(`\nseconds from the rollback condition to 0 % confirmed (${stack} timings, ${runs} runs each):`);
    console.log(formatTable(rows));
    if (over > 0) { console.error(`${over} fault(s) exceeded the computed bound`); process.exit(1); }
}
main().catch((e) => { console.error(e); process.exit(1); });
