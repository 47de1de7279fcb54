/**
 * The bench workload: drives the reference service's synthetic speculation endpoint with a bounded number of
 * requests at a fixed concurrency (loopback only) and reports latency percentiles and throughput as the JSON the
 * BenchRun provider reads.
 */
export interface BenchResult {
    requests: number;
    concurrency: number;
    p50_ms: number;
    p95_ms: number;
    p99_ms: number;
    throughput_per_s: number;
    error_rate: number;
    duration_s: number;
}

export function percentile(sorted: number[], p: number): number {
    if (sorted.length === 0) return NaN;
    const rank = Math.ceil((p / 100) * sorted.length) - 1;
    return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

export async function runBench(url: string, requests: number, concurrency: number, warmup = Math.min(200, requests)): Promise<BenchResult> {
    if (!Number.isInteger(requests) || requests < 1 || requests > 1_000_000) throw new Error("requests: must be a whole number from 1 to 1000000");
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) throw new Error("concurrency: must be a whole number from 1 to 256");
    // Warm-up requests (connections, JIT) are sent first and not measured: they would only add noise to the tail.
    for (let i = 0; i < warmup; i++) await (await fetch(`${url}/admin/test/speculation`, { method: "POST", signal: AbortSignal.timeout(10_000) })).arrayBuffer().catch(() => undefined);
    const latencies: number[] = [];
    let errors = 0;
    let next = 0;
    const started = process.hrtime.bigint();
    const worker = async () => {
        while (next < requests) {
            next++;
            const t0 = process.hrtime.bigint();
            try {
                const res = await fetch(`${url}/admin/test/speculation`, { method: "POST", signal: AbortSignal.timeout(10_000) });
                await res.arrayBuffer();
                if (!res.ok) errors++;
            } catch {
                errors++;
            }
            latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    latencies.sort((a, b) => a - b);
    const round = (n: number) => Math.round(n * 1000) / 1000;
    return {
        requests, concurrency,
        p50_ms: round(percentile(latencies, 50)),
        p95_ms: round(percentile(latencies, 95)),
        p99_ms: round(percentile(latencies, 99)),
        throughput_per_s: round(requests / seconds),
        error_rate: round(errors / requests),
        duration_s: round(seconds),
    };
}
