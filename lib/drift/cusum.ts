/**
 * One-sided (upper) CUSUM drift detection (seed 003, "Production Monitoring: CUSUM drift alarms"), on the error rate
 * and the p95 latency of a stage against its pre-shift baseline.  Each sample is standardised against the baseline
 * (z), and the statistic S accumulates what exceeds the allowance k:
 *
 *     S₀ = 0,   Sₜ = max(0, Sₜ₋₁ + zₜ − k),   alarm when Sₜ > h
 *
 * - error rate: zₜ = (pₜ − p₀) / √(p₀(1 − p₀)/nₜ), with p₀ the baseline error rate (floored as the gates floor it)
 *   and nₜ the operations in the sample: a binomial standard error, so a quiet minute and a busy one weigh right.
 * - p95 latency: zₜ = (qₜ / q₀ − 1) / σᵣ, with q₀ the baseline p95 and σᵣ the relative spread one sample of p95
 *   is expected to have (config, 0.1 = 10 %).
 *
 * The trade-off k and h set (documented in the README): a larger h or k means rarer false alarms (a longer in-control
 * average run length, ARL₀) and a slower detection of a real shift (a longer out-of-control run length, ARL₁).
 * k is about half the shift (in σ) one wants to catch fastest; h then fixes ARL₀.  For k = 0.5, h = 5 (the
 * defaults, Montgomery's textbook pair) ARL₀ ≈ 465 samples and a 1σ shift is caught in about 10 samples; a 10×
 * error-rate step is many σ at any real traffic and is caught in 1 to 2 samples (scripts/bench-cusum.ts measures it).
 * Pure functions; state is the last S per metric, so a gate can carry it from sample to sample.
 */

import { CUSUM_DEFAULTS } from "../../config/thresholds";

export interface CusumParams {
    /** Allowance, in standard deviations: shifts smaller than k never accumulate. */
    k: number;
    /** Decision interval: alarm when S exceeds h. */
    h: number;
}

export const DEFAULT_CUSUM: CusumParams = { k: CUSUM_DEFAULTS.k, h: CUSUM_DEFAULTS.h };

export interface CusumState {
    s: number;
    /** Samples seen, and the sample index of the alarm (undefined while in control). */
    samples: number;
    alarmAt?: number;
}

export const CUSUM_START: CusumState = { s: 0, samples: 0 };

/** One step of the upper CUSUM with a standardised observation z. */
export function cusumStep(state: CusumState, z: number, p: CusumParams): CusumState {
    if (!Number.isFinite(z)) throw new Error(`CUSUM: observation is not a number (${z})`);
    const s = Math.max(0, state.s + z - p.k);
    const samples = state.samples + 1;
    return { s, samples, alarmAt: state.alarmAt ?? (s > p.h ? samples : undefined) };
}

/** z of an error-rate sample: errors out of operations, against the baseline rate p0 (0 < p0 < 1). */
export function errorRateZ(errors: number, operations: number, p0: number): number {
    if (!(p0 > 0 && p0 < 1)) throw new Error(`CUSUM: baseline error rate must be between 0 and 1 (${p0})`);
    if (!(operations > 0)) throw new Error("CUSUM: a sample with no operations cannot be judged");
    return (errors / operations - p0) / Math.sqrt((p0 * (1 - p0)) / operations);
}

/** z of a p95 sample against the baseline p95 q0, one σ being `relativeSigma` of q0. */
export function latencyZ(p95: number, q0: number, relativeSigma: number): number {
    if (!(q0 > 0) || !(relativeSigma > 0)) throw new Error("CUSUM: baseline p95 and relative sigma must be above 0");
    return (p95 / q0 - 1) / relativeSigma;
}
