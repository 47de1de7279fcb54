/**
 * A stage's bake window, read and judged: the one path for the BakeWindow's promotion (providers/bakeWindow.ts) and
 * for a HealthGate's verdict so far on `pulumi refresh` (providers/healthGate.ts), so both judge the same things.
 * Measurement in history.ts, decision in window.ts.
 */
import { HistoryTarget, readWindow } from "./history";
import { judgeWindow, WindowJudgement, WindowSpec } from "./window";

export async function judgeBakeWindow(target: HistoryTarget, spec: WindowSpec, nowMs: number): Promise<WindowJudgement> {
    const history = await readWindow(target, spec.shiftedAt, nowMs, { tracks: !!spec.compare });
    return judgeWindow(spec, history, nowMs);
}
