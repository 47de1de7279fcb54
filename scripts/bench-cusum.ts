/**
 * CUSUM run lengths by simulation (prints numbers; not a test): the in-control average run length ARL₀ (samples to
 * a false alarm) and the detection delay after a 10× error-rate step, for k/h pairs around the default, at a given
 * number of operations per sample (npm run bench:cusum -- [operationsPerSample] [baselineErrorRate] [runs]).
 * Errors per sample are binomial draws, as a real service's are.
 */
import { CUSUM_START, cusumStep, errorRateZ } from "../lib/drift/cusum";

function binomial(n: number, p: number, rand: () => number): number {
    // Normal approximation when large, exact draws when small.
    if (n * p > 30 && n * (1 - p) > 30) {
        const u = 1 - rand(), v = rand();
        const g = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
        return Math.max(0, Math.round(n * p + g * Math.sqrt(n * p * (1 - p))));
    }
    let x = 0;
    for (let i = 0; i < n; i++) if (rand() < p) x++;
    return x;
}

function mulberry32(seed: number) {
    return () => {
        seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

function runLength(n: number, p0: number, p: number, k: number, h: number, rand: () => number, cap: number): number {
    let st = CUSUM_START;
    for (let i = 0; i < cap; i++) {
        st = cusumStep(st, errorRateZ(binomial(n, p, rand), n, p0), { k, h });
        if (st.alarmAt) return st.alarmAt;
    }
    return cap;
}

const [n = 30_000, p0 = 0.002, runs = 300] = process.argv.slice(2).map(Number);
const rand = mulberry32(14);
console.log(`operations per sample ${n}, baseline error rate ${p0}, ${runs} runs each; run lengths in samples (1 sample = 1 poll interval)`);
console.log("k     h    ARL0 (false alarm)   delay after 10x step (mean / max)");
for (const [k, h] of [[0.5, 4], [0.5, 5], [0.5, 8], [1, 5], [0.25, 5]]) {
    const arl0 = Array.from({ length: runs }, () => runLength(n, p0, p0, k, h, rand, 5000));
    const delay = Array.from({ length: runs }, () => runLength(n, p0, 10 * p0, k, h, rand, 5000));
    const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
    const capped = arl0.filter((x) => x >= 5000).length;
    console.log(`${String(k).padEnd(5)} ${String(h).padEnd(4)} ${mean(arl0).toFixed(0).padStart(6)}${capped ? ` (${capped} runs ≥ 5000)` : ""}`.padEnd(32) +
        ` ${mean(delay).toFixed(2)} / ${Math.max(...delay)}`);
}
