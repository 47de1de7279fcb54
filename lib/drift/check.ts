/**
 * CUSUM as a gate check (seed 003): each live sample's own counts — errors out of operations, and the p95 of the
 * operations since the previous sample — feed two one-sided CUSUMs against the stage's pre-shift baseline
 * (lib/drift/cusum.ts).  An alarm (S > h) is a no-go: the gate fails and reverts, which is the kill switch
 * (speculation disabled, rollout 0 %).  The statistics are carried from sample to sample in DriftState.
 *
 * A sample with no counts of its own (no operations since the last one, no Prometheus data yet) leaves S where it
 * was: CUSUM only ever adds evidence; the error-rate and latency checks beside it fail closed on missing data.
 */
import { ERROR_BASELINE_FLOOR } from "../monitoring/rules";
import { CUSUM_START, CusumParams, CusumState, cusumStep, errorRateZ, latencyZ } from "./cusum";

export interface DriftSettings extends CusumParams {
    /** Relative spread one sample of p95 is expected to have (0.1: one σ is 10 % of the baseline p95). */
    latencySigma: number;
}

export interface DriftBaseline {
    errorRate: number;
    /** The pre-shift p95 operation latency, seconds; without it the latency CUSUM is not armed. */
    p95Seconds?: number;
}

export interface DriftState {
    errorRate: CusumState;
    latency: CusumState;
}

export const DRIFT_START: DriftState = { errorRate: CUSUM_START, latency: CUSUM_START };

export interface DriftSample { errors: number; operations: number; p95?: number }

export interface DriftCheck {
    check: string;
    query: string;
    observed: string;
    threshold: string;
    verdict: "pass" | "fail";
    reason?: string;
}

const show = (s: CusumState) => s.s.toFixed(2);

/** Folds one sample into both CUSUMs and returns the two checks (pass while in control, fail once alarmed). */
export function driftChecks(state: DriftState, sample: DriftSample | undefined, baseline: DriftBaseline,
    p: DriftSettings): { state: DriftState; checks: DriftCheck[] } {
    const threshold = `S ≤ h = ${p.h} (k = ${p.k})`;
    // The same floor as the spike check: a spotless baseline (0 errors) counts as 0.1 %.
    const p0 = Math.min(0.5, Math.max(baseline.errorRate, ERROR_BASELINE_FLOOR));
    let errorRate = state.errorRate;
    let latency = state.latency;
    if (sample && sample.operations > 0) errorRate = cusumStep(errorRate, errorRateZ(Math.min(sample.errors, sample.operations), sample.operations, p0), p);
    const armed = baseline.p95Seconds !== undefined && baseline.p95Seconds > 0;
    if (armed && sample?.p95 !== undefined && Number.isFinite(sample.p95)) latency = cusumStep(latency, latencyZ(sample.p95, baseline.p95Seconds!, p.latencySigma), p);
    const row = (check: string, query: string, s: CusumState, what: string): DriftCheck => s.alarmAt !== undefined
        ? { check, query, observed: `S ${show(s)} (alarm at sample ${s.alarmAt})`, threshold, verdict: "fail", reason: `CUSUM alarm: ${what} drifted above its pre-shift baseline` }
        : { check, query, observed: `S ${show(s)} after ${s.samples} sample(s)`, threshold, verdict: "pass" };
    const checks = [row("cusum errorRate", `errors per sample vs baseline ${p0}`, errorRate, "the error rate")];
    checks.push(armed
        ? row("cusum latencyP95", `p95 per sample vs baseline ${(baseline.p95Seconds! * 1000).toFixed(2)} ms, σ ${p.latencySigma * 100} %`, latency, "the p95 latency")
        : { check: "cusum latencyP95", query: "p95 per sample", observed: "not armed", threshold, verdict: "pass", reason: "no pre-shift p95 was recorded" });
    return { state: { errorRate, latency }, checks };
}
