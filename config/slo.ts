/**
 * The SLO and its error budget (issue 26), key `speculation:slo`.  The numbers' defaults and production's bounds live
 * in config/thresholds.ts (SLO_DEFAULTS, BURN_RATE_PAIRS, PRODUCTION_RULES); lib/slo turns them into recording rules,
 * burn-rate alerts, the gates' checks and the dashboard.  docs/slo.md explains them.
 */
import { z } from "zod";
import { BURN_RATE_PAIR_NAMES, PRODUCTION_RULES, SLO_BUDGET_FLOOR_RANGE, SLO_DEFAULTS, SLO_OBJECTIVE_RANGE, SLO_WINDOWS } from "./thresholds";

// Moved to config/thresholds.ts (one source with the policy pack's slo-bounds); re-exported for existing importers.
export { SLO_OBJECTIVE_RANGE };

const objectiveError = `must be a number from ${SLO_OBJECTIVE_RANGE.min} to ${SLO_OBJECTIVE_RANGE.max} (the share of operations that succeed: 0.999 is 99.9 %)`;
const floorError = `must be a number from ${SLO_BUDGET_FLOOR_RANGE.min} to ${SLO_BUDGET_FLOOR_RANGE.max} (the share of the window's error budget that must be left for a stage to advance: 0.5 is half)`;

export const sloSchema = z.object({
    /** The share of operations that must succeed over the window (seed 001: 99.9 %). */
    objective: z.number({ error: objectiveError }).min(SLO_OBJECTIVE_RANGE.min, { error: objectiveError })
        .max(SLO_OBJECTIVE_RANGE.max, { error: objectiveError }).default(SLO_DEFAULTS.objective),
    /** The window the objective and its budget are measured over (seed 001: the first week). */
    window: z.enum(SLO_WINDOWS, { error: `must be one of: ${SLO_WINDOWS.join(", ")}` }).default(SLO_DEFAULTS.window),
    /**
     * The workbook burn-rate pair a stage is judged by: it does not advance while the release's track burns faster
     * than the pair's factor over its bake and over the last twelfth of it.
     */
    gatePair: z.enum(BURN_RATE_PAIR_NAMES as [string, ...string[]], { error: `must be one of: ${BURN_RATE_PAIR_NAMES.join(", ")}` })
        .default(SLO_DEFAULTS.gatePair),
    /** No stage advances while less than this share of the window's error budget is left. */
    budgetFloor: z.number({ error: floorError }).min(SLO_BUDGET_FLOOR_RANGE.min, { error: floorError }).max(SLO_BUDGET_FLOOR_RANGE.max, { error: floorError }).default(SLO_DEFAULTS.budgetFloor),
}).strict().prefault({});

export type SloConfig = z.infer<typeof sloSchema>;

/** Production's bounds on the objective and the floor (policy slo-bounds checks them again on the gates). */
export function sloProblems(cfg: { environment?: string; slo?: SloConfig }): { path: (string | number)[]; message: string }[] {
    const s = cfg.slo;
    if (cfg.environment !== "production" || !s) return [];
    const r = PRODUCTION_RULES;
    const problems: { path: (string | number)[]; message: string }[] = [];
    if (s.objective < r.minSloObjective || s.objective > r.maxSloObjective) {
        problems.push({ path: ["slo", "objective"], message: `must be from ${r.minSloObjective} to ${r.maxSloObjective} in production (policy slo-bounds; seed 001: 99.9 % in the first week)` });
    }
    if (s.budgetFloor < r.minBudgetFloor || s.budgetFloor > r.maxBudgetFloor) {
        problems.push({ path: ["slo", "budgetFloor"], message: `must be from ${r.minBudgetFloor} to ${r.maxBudgetFloor} in production (policy slo-bounds)` });
    }
    return problems;
}
