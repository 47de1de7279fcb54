/**
 * A stage's bake window, read and decided: the one path for the BakeWindow's promotion (providers/bakeWindow.ts) and
 * for a HealthGate's verdict so far on `pulumi refresh` (providers/healthGate.ts), so both decide on the same things.
 * Measurement in history.ts (through lib/prometheus), decision in window.ts and clock.ts (pure).  ("Judge" is the
 * canary judge's name alone, lib/judge: the window's decision uses it for the two-track comparison.)
 *
 * The window ends at Prometheus's own time, never this machine's: its clock is read first (clock.ts), and a clock
 * further off than the tolerance is a refusal naming the skew, with no history read.
 */
import { readClock } from "../prometheus/client";
import { ClockJudgement, clockToleranceSeconds, judgeClock } from "./clock";
import { HistoryTarget, readWindow } from "./history";
import { clockDecision, clockFinding, decideWindow, WindowDecision, WindowSpec } from "./window";

/** The clock, then the window [spec.shiftedAt, Prometheus's now] from its history, decided (pass, baking, or fail). */
export async function evaluateBakeWindow(target: HistoryTarget, spec: WindowSpec, deployerNowMs: number,
    clock: ClockJudgement | undefined = undefined): Promise<WindowDecision> {
    const c = clock ?? await prometheusNow(target, spec.stepSeconds);
    if (c.verdict !== "ok") return clockDecision(spec, c, deployerNowMs);
    const history = await readWindow(target, spec.shiftedAt, c.nowMs, { tracks: !!spec.compare, ...(spec.slo ? { slo: spec.slo } : {}) });
    const d = decideWindow(spec, history, c.nowMs);
    return { ...d, findings: [clockFinding(c), ...d.findings] };
}

/** This machine's clock against Prometheus's, judged (clock.ts): the now a window is judged at, or why there is none. */
export async function prometheusNow(target: Pick<HistoryTarget, "prometheusUrl" | "timeoutMs">, stepSeconds: number): Promise<ClockJudgement> {
    return judgeClock(await readClock(target.prometheusUrl, target.timeoutMs), clockToleranceSeconds(stepSeconds));
}
