/**
 * The statistics the canary judge needs, on counts only (no samples kept, no I/O):
 *  - the normal distribution (CDF and quantile) for one-sided confidence bounds;
 *  - Wilson score intervals and Newcombe's hybrid score interval for a difference of two proportions (error rates);
 *  - the Mann-Whitney U statistic on binned data (a Prometheus histogram is ordinal data with ties), as the
 *    probability of superiority θ = P(canary > stable) + ½ P(tie), with DeLong's variance for its confidence bounds
 *    and the tie-corrected normal approximation for its p-value.
 * Each works on non-integer counts too (Prometheus `increase()` extrapolates).
 */

/** Φ(x): standard normal CDF (W. J. Cody's erfc rational approximations via the complementary error function). */
export function normalCdf(x: number): number {
    return 0.5 * erfc(-x / Math.SQRT2);
}

function erfc(x: number): number {
    // Numerical Recipes erfcc (Chebyshev fit), fractional error < 1.2e-7 everywhere.
    const z = Math.abs(x);
    const t = 1 / (1 + 0.5 * z);
    const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
        t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
    return x >= 0 ? r : 2 - r;
}

/** Φ⁻¹(p): standard normal quantile (P. J. Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
    if (!(p > 0 && p < 1)) throw new Error(`normalQuantile: p must be in (0, 1), got ${p}`);
    const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
    const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
    const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
    const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    const low = 0.02425;
    if (p < low) {
        const q = Math.sqrt(-2 * Math.log(p));
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    if (p > 1 - low) return -normalQuantile(1 - p);
    const q = p - 0.5;
    const r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

export interface Interval { lower: number; upper: number }

/** Wilson score interval for a proportion `successes / n` with normal quantile z (one bound each side). */
export function wilson(successes: number, n: number, z: number): Interval {
    if (!(n > 0)) return { lower: 0, upper: 1 };
    const p = Math.min(1, Math.max(0, successes / n));
    const z2 = z * z;
    const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
    const half = (z / (1 + z2 / n)) * Math.sqrt(p * (1 - p) / n + z2 / (4 * n * n));
    return { lower: Math.max(0, centre - half), upper: Math.min(1, centre + half) };
}

/**
 * Newcombe's hybrid score interval (1998, method 10) for p1 − p2: sound with few events and with zero events, where
 * the Wald interval collapses to a point and would call a canary with 0 errors out of 20 requests "proven fine".
 */
export function newcombeDifference(x1: number, n1: number, x2: number, n2: number, z: number): Interval & { estimate: number } {
    const p1 = n1 > 0 ? x1 / n1 : 0;
    const p2 = n2 > 0 ? x2 / n2 : 0;
    const a = wilson(x1, n1, z);
    const b = wilson(x2, n2, z);
    const estimate = p1 - p2;
    return {
        estimate,
        lower: estimate - Math.sqrt((p1 - a.lower) ** 2 + (b.upper - p2) ** 2),
        upper: estimate + Math.sqrt((a.upper - p1) ** 2 + (p2 - b.lower) ** 2),
    };
}

/** Observations per bin, bins in increasing order (the same bin edges for both groups). */
export type Binned = number[];

export interface MannWhitney {
    /** Observations in each group. */
    nCanary: number;
    nStable: number;
    /** U for the canary group (pairs where the canary observation is larger, ties count ½). */
    u: number;
    /** θ = U / (nCanary · nStable): 0.5 when both are the same distribution, 1 when every canary value is larger. */
    theta: number;
    /** Standard error of θ: DeLong's, floored at the no-ties null value so that small groups stay uncertain. */
    standardError: number;
    /** One-sided p-value of "canary larger" (tie-corrected normal approximation to U). */
    pValue: number;
}

/**
 * Mann-Whitney U on binned data: every observation in a bin ties with every other in that bin.  Exact U from the bin
 * counts; DeLong's placement values give the variance of θ away from the null (Kayenta's judge uses the test's
 * confidence interval the same way: a classification needs the whole interval past a bound).
 */
export function mannWhitneyBinned(canary: Binned, stable: Binned): MannWhitney {
    if (canary.length !== stable.length) throw new Error("mannWhitneyBinned: both groups need the same bins");
    const nC = canary.reduce((s, v) => s + v, 0);
    const nS = stable.reduce((s, v) => s + v, 0);
    if (!(nC > 0 && nS > 0)) return { nCanary: nC, nStable: nS, u: NaN, theta: NaN, standardError: Infinity, pValue: NaN };
    const bins = canary.length;
    // Placement of a canary value in bin b among the stable values, and of a stable value among the canary values.
    const placeC: number[] = [];
    const placeS: number[] = [];
    let stableBelow = 0;
    for (let b = 0; b < bins; b++) {
        placeC.push((stableBelow + stable[b] / 2) / nS);
        stableBelow += stable[b];
    }
    let canaryAbove = 0;
    for (let b = bins - 1; b >= 0; b--) {
        placeS[b] = (canaryAbove + canary[b] / 2) / nC;
        canaryAbove += canary[b];
    }
    let theta = 0;
    for (let b = 0; b < bins; b++) theta += canary[b] * placeC[b];
    theta /= nC;
    let s10 = 0;
    let s01 = 0;
    for (let b = 0; b < bins; b++) {
        s10 += canary[b] * (placeC[b] - theta) ** 2;
        s01 += stable[b] * (placeS[b] - theta) ** 2;
    }
    const delong = (nC > 1 ? s10 / (nC - 1) : 0) / nC + (nS > 1 ? s01 / (nS - 1) : 0) / nS;
    const nullNoTies = (nC + nS + 1) / (12 * nC * nS);
    const standardError = Math.sqrt(Math.max(delong, nullNoTies));
    // Null distribution of U with ties: Var(U) = nC nS / 12 · ((N + 1) − Σ(t³ − t) / (N (N − 1))).
    const N = nC + nS;
    let ties = 0;
    for (let b = 0; b < bins; b++) {
        const t = canary[b] + stable[b];
        ties += t * t * t - t;
    }
    const varU = (nC * nS / 12) * ((N + 1) - (N > 1 ? ties / (N * (N - 1)) : 0));
    const u = theta * nC * nS;
    const pValue = varU > 0 ? 1 - normalCdf((u - nC * nS / 2) / Math.sqrt(varU)) : (u > nC * nS / 2 ? 0 : 1);
    return { nCanary: nC, nStable: nS, u, theta, standardError, pValue };
}

/** A quantile of binned data, interpolated linearly inside its bin (as PromQL's histogram_quantile does). */
export function binnedQuantile(q: number, upperBounds: number[], counts: Binned): number {
    const total = counts.reduce((s, v) => s + v, 0);
    if (!(total > 0)) return NaN;
    const rank = q * total;
    let below = 0;
    for (let b = 0; b < counts.length; b++) {
        if (below + counts[b] >= rank && counts[b] > 0) {
            const lower = b === 0 ? 0 : upperBounds[b - 1];
            const upper = upperBounds[b];
            if (!Number.isFinite(upper)) return lower;
            return lower + (upper - lower) * ((rank - below) / counts[b]);
        }
        below += counts[b];
    }
    return upperBounds[upperBounds.length - 1];
}
