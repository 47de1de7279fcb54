/**
 * A stage's bake window, read and decided: the one path for the BakeWindow's promotion (providers/bakeWindow.ts) and
 * for a HealthGate's verdict so far on `pulumi refresh` (providers/healthGate.ts), so both decide on the same things.
 * Measurement in history.ts (through lib/prometheus), decision in window.ts (pure).  ("Judge" is the canary judge's
 * name alone, lib/judge: the window's decision uses it for the two-track comparison.)
 */
import { HistoryTarget, readWindow } from "./history";
import { decideWindow, WindowDecision, WindowSpec } from "./window";

/** Reads the window [spec.shiftedAt, nowMs] from Prometheus history and decides on it (pass, baking, or fail). */
export async function evaluateBakeWindow(target: HistoryTarget, spec: WindowSpec, nowMs: number): Promise<WindowDecision> {
    const history = await readWindow(target, spec.shiftedAt, nowMs, { tracks: !!spec.compare, ...(spec.slo ? { slo: spec.slo } : {}) });
    return decideWindow(spec, history, nowMs);
}
