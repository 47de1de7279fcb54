/**
 * The SLO's checks of one reading (lib/slo): the release track's burn rate over the stage's bake against the
 * configured pair, and the budget left against the floor, as rows of the gate's table.
 */
import type { Measured } from "../prometheus/read";
import { formatSeconds } from "../time/duration";
import { SloSpec } from "../monitoring/slo";
import { SloReading } from "../slo/judge";
import type { CheckResult, Verdict } from "./decision";

const x = (v: number) => `${Number(v.toPrecision(3))}×`;
const pct = (v: number) => `${Number((v * 100).toPrecision(3))} %`;
/** An objective keeps its nines: 99.99 %, not pct's 100 %. */
const objectivePct = (v: number) => `${Number((v * 100).toPrecision(8))} %`;

/** The names of the two rows. */
export const BURN_CHECK = "error budget burn";
export const BUDGET_CHECK = "error budget left";

/**
 * The SLO's checks of one reading.  `onBurn`: what both windows above the factor is (the live gate holds, the window
 * judgement fails).  A window that cannot be read is inconclusive (a hold, never a pass).
 */
export function sloChecks(s: SloSpec, r: SloReading, onBurn: Extract<Verdict, "hold" | "fail">): CheckResult[] {
    const p = s.gatePair;
    const threshold = `≤ ${x(p.factor)} over the bake (${formatSeconds(r.windows.longSeconds)}) or its last twelfth (${formatSeconds(r.windows.shortSeconds)}): pair ${p.name}`;
    const checks: CheckResult[] = [];
    if (!r.long.ok || !r.short.ok) {
        const bad = (!r.long.ok ? r.long : r.short) as Extract<Measured<number>, { ok: false }>;
        checks.push({ check: BURN_CHECK, query: r.query, observed: `no data (${bad.failure})`, threshold, verdict: "hold", reason: `inconclusive: ${bad.detail}`, noData: true });
    } else {
        const observed = `${x(r.long.value)} over ${formatSeconds(r.windows.longSeconds)}, ${x(r.short.value)} over ${formatSeconds(r.windows.shortSeconds)}`;
        const burning = r.long.value > p.factor && r.short.value > p.factor;
        checks.push(burning
            ? { check: BURN_CHECK, query: r.query, observed, threshold, verdict: onBurn, reason: `the release's track burns the ${objectivePct(s.objective)} objective's budget faster than ${x(p.factor)} over both windows (at this rate the ${s.window} budget lasts ${formatSeconds(s.windowSeconds / r.long.value)})` }
            : { check: BURN_CHECK, query: r.query, observed, threshold, verdict: "pass" });
    }
    const b = r.budgetRemaining;
    if (b) {
        const floor = `≥ ${pct(s.budgetFloor)} of the ${s.window} budget left`;
        if (!b.ok) checks.push({ check: BUDGET_CHECK, query: "speculation:slo_error_budget:remaining_ratio", observed: `no data (${b.failure})`, threshold: floor, verdict: "hold", reason: `inconclusive: ${b.detail}`, noData: true });
        else {
            const below = b.value < s.budgetFloor;
            checks.push({
                check: BUDGET_CHECK, query: "speculation:slo_error_budget:remaining_ratio", observed: `${pct(b.value)} left`, threshold: floor,
                verdict: below ? "hold" : "pass", ...(below ? { reason: `below the floor (slo.budgetFloor ${s.budgetFloor}): no stage advances until the budget recovers` } : {}),
            });
        }
    }
    return checks;
}

