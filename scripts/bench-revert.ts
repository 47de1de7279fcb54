/**
 * Benchmark: how long a gate's revert takes to confirm traffic off when the admin API is slow, flapping or dead
 * (lib/revert).  npm run bench:revert -- [timeoutMs] [delays...]
 *   timeoutMs  the gate's reading timeout, the first round's request timeout (default 2000: the local stack's)
 *   delays     admin API delays to try, ms (default 0 1000 5000 20000; 20000 is the slowed service)
 * Prints one JSON line per case: confirmed or not, seconds to confirmation, attempts, the path that confirmed.
 */
import { revertTraffic } from "../lib/revert/revert";
import { startSpeculationService } from "../reference/speculationService";

const TOKEN = "bench-revert-token";

async function one(name: string, faults: Record<string, unknown>, timeoutMs: number, deadlineSeconds: number): Promise<void> {
    const service = await startSpeculationService({ adminToken: TOKEN, tickMs: 100 });
    service.state.enabled = true;
    service.state.rolloutPercentage = 50;
    service.setFaults(faults);
    const started = Date.now();
    try {
        const r = await revertTraffic({
            stage: "bench", percentage: 50, serviceUrl: service.url, adminToken: TOKEN, reason: "benchmark", timeoutMs, deadlineSeconds,
            log: () => undefined,
        });
        console.log(JSON.stringify({
            case: name, timeoutMs, status: r.status, seconds: Number(((Date.now() - started) / 1000).toFixed(2)), attempts: r.attempts.length,
            path: r.path ?? null, liveRolloutPercentage: service.state.rolloutPercentage, speculationEnabled: service.state.enabled,
        }));
    } finally {
        await service.close();
    }
}

async function main(): Promise<void> {
    const [timeoutArg, ...delayArgs] = process.argv.slice(2);
    const timeoutMs = Number(timeoutArg ?? 2000);
    const delays = (delayArgs.length > 0 ? delayArgs : ["0", "1000", "5000", "20000"]).map(Number);
    for (const d of delays) await one(`adminDelayMs=${d}`, { adminDelayMs: d }, timeoutMs, 300);
    for (const d of delays.filter((x) => x > 0)) await one(`responseDelayMs=${d}`, { responseDelayMs: d }, timeoutMs, 300);
    await one("adminFlapMs=500", { adminFlapMs: 500 }, timeoutMs, 300);
    await one("adminDown=true (deadline 30 s)", { adminDown: true }, timeoutMs, 30);
}

main().catch((e) => {
    console.error((e as Error).message);
    process.exit(1);
});
