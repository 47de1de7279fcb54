/**
 * The SLO's Prometheus rules (issue 26), Sloth/Pyrra-style, generated from the SLO spec so both monitoring modes (the
 * operator's PrometheusRule, the standalone Prometheus, the local rehearsal) evaluate the same ones:
 *   - the SLI's error ratio per track over each of the workbook's windows (SLI_WINDOWS);
 *   - the share of the window's budget left, time-sliced: every evaluation of the 5 m ratio weighs its interval, so
 *     the budget is "bad time" out of the window's allowance (seed 001 counts uptime), and a young Prometheus counts
 *     what it has not seen as good instead of judging the week by its first minutes;
 *   - the workbook's multiwindow burn-rate alerts: page at 14.4× (1h and 5m) or 6× (6h and 30m), ticket at 3× (1d and
 *     2h) or 1× (3d and 6h), every track; and the fast page burn on the release's track as a rollback trigger
 *     (`rollback_trigger="true"`, routed to the watchdog like the others).
 * No `for:`: the short window of each pair is the debounce (the workbook's own alerts have none).
 */
import type { AlertRule, RecordingRule, RuleGroup } from "./rules";
import { parseDuration } from "../../config/duration";
import { BURN_RATE_PAIRS, SLI_WINDOWS } from "../../config/thresholds";
import { round, selector, SLI_COUNTERS, SLO_RECORDED, SloSpec } from "./slo";

/** The alerts of the SLO; the first is a rollback trigger (ROLLBACK_TRIGGER_ALERTS in lib/monitoring/rules.ts). */
export const SLO_ALERTS = {
    fastBurnRollback: "SpeculationErrorBudgetFastBurn",
    page: "SpeculationErrorBudgetBurnPage",
    ticket: "SpeculationErrorBudgetBurnTicket",
    belowFloor: "SpeculationErrorBudgetBelowFloor",
} as const;

/** The error-ratio limit of a pair: factor × budget. */
export const burnLimit = (factor: number, s: Pick<SloSpec, "budget">) => round(factor * s.budget);

export function sloRecordingRules(s: SloSpec, evaluationInterval: string): RecordingRule[] {
    const ratio = (w: string, by: string) =>
        `sum${by}(rate(${SLI_COUNTERS.errors}[${w}])) / clamp_min(sum${by}(rate(${SLI_COUNTERS.operations}[${w}])), 1e-9)`;
    const e = parseDuration(evaluationInterval);
    return [
        ...SLI_WINDOWS.map((w) => ({ record: SLO_RECORDED.ratio(w), expr: ratio(w, " by (track) ") })),
        { record: SLO_RECORDED.serviceRatio5m, expr: ratio("5m", " ") },
        {
            // ∫ error ratio dt over the window ≈ Σ (5 m ratio at each evaluation) × the evaluation interval; the budget
            // is window × (1 − objective) of such "bad seconds".
            record: SLO_RECORDED.budgetRemaining,
            expr: `1 - sum_over_time(${SLO_RECORDED.serviceRatio5m}[${s.window}]) * ${e} / ${round(s.windowSeconds * s.budget)}`,
        },
    ];
}

/** `(ratio over long > limit and ratio over short > limit)` of one workbook pair, on the tracks `matcher` selects. */
function pairExpr(name: keyof typeof BURN_RATE_PAIRS, s: SloSpec, matcher: string): string {
    const p = BURN_RATE_PAIRS[name];
    const limit = burnLimit(p.factor, s);
    const sel = selector(matcher);
    return `(${SLO_RECORDED.ratio(p.long)}${sel} > ${limit} and ${SLO_RECORDED.ratio(p.short)}${sel} > ${limit})`;
}

export function sloAlerts(s: SloSpec): AlertRule[] {
    const pct = (x: number) => `${round(x * 100)} %`;
    const budget = `the ${pct(s.objective)} objective's budget (${pct(s.budget)} of operations over ${s.window})`;
    return [
        {
            alert: SLO_ALERTS.fastBurnRollback,
            expr: pairExpr("14.4x", s, s.releaseTrack),
            for: "0s",
            labels: { severity: "critical", component: "slo", rollback_trigger: "true" },
            annotations: {
                summary: "The release's track burns the error budget at 14.4× or more",
                description: `Track {{ $labels.track }} (the release's) has an error ratio above 14.4 × ${budget} over 1h and over 5m: ` +
                    "at this rate the window's budget is gone in under a day; set rollout_percentage to 0.",
            },
        },
        {
            alert: SLO_ALERTS.page,
            expr: `${pairExpr("14.4x", s, "")} or ${pairExpr("6x", s, "")}`,
            for: "0s",
            labels: { severity: "high", component: "slo" },
            annotations: {
                summary: "Error budget burning fast (page: 14.4× over 1h and 5m, or 6× over 6h and 30m)",
                description: `Track {{ $labels.track }} spends ${budget} at 6× or more over both windows of a page pair.`,
            },
        },
        {
            alert: SLO_ALERTS.ticket,
            expr: `${pairExpr("3x", s, "")} or ${pairExpr("1x", s, "")}`,
            for: "0s",
            labels: { severity: "warning", component: "slo" },
            annotations: {
                summary: "Error budget burning (ticket: 3× over 1d and 2h, or 1× over 3d and 6h)",
                description: `Track {{ $labels.track }} spends ${budget} at 1× or more over both windows of a ticket pair.`,
            },
        },
        {
            alert: SLO_ALERTS.belowFloor,
            expr: `${SLO_RECORDED.budgetRemaining} < ${s.budgetFloor}`,
            for: "0s",
            labels: { severity: "warning", component: "slo" },
            annotations: {
                summary: `Less than ${pct(s.budgetFloor)} of the error budget left: no stage advances`,
                description: `Less than ${pct(s.budgetFloor)} of ${budget} is left (slo.budgetFloor): every stage holds until the budget recovers.`,
            },
        },
    ];
}

/** The SLO's rule groups: recording first (the alerts read its series). */
export function sloRuleGroups(s: SloSpec, evaluationInterval: string): RuleGroup[] {
    return [
        { name: "agenc-speculation.slo.recording", interval: evaluationInterval, rules: sloRecordingRules(s, evaluationInterval) },
        { name: "agenc-speculation.slo.alerts", interval: evaluationInterval, rules: sloAlerts(s) },
    ];
}
