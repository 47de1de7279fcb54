/**
 * P1b: time from a rollback-trigger fault, injected with no Pulumi process running, to traffic at 0 % — the whole
 * loop on real parts: the reference service, Debian's Prometheus evaluating the stack's rules, Debian's
 * Alertmanager with the stack's routes, the watchdog (lib/watchdog/main.ts).  Per scrape interval and `for:`.
 *   npm run bench:watchdog [-- 1s:2s 5s:10s 15s:30s]     (scrape:for pairs; runs are repeated 3 times each)
 * Seed 000's abort loop checks once a minute: up to 60 s plus its own check, after the 5 min the rule demands.
 */
import { setRolloutPercentage } from "../lib/adminApi";
import { parseDuration } from "../config/duration";
import { startLocalMonitoring } from "../reference/localMonitoring";
import { startSpeculationService } from "../reference/speculationService";

async function once(scrape: string, forDuration: string): Promise<number> {
    const token = "bench-watchdog-token-0123456789";
    const service = await startSpeculationService({ adminToken: token, version: "v1.2.4" });
    const mon = await startLocalMonitoring({ serviceUrl: service.url, proofWorkerUrl: service.url, adminToken: token, scrapeInterval: scrape, alertFor: forDuration });
    try {
        await setRolloutPercentage(service.url, token, 25);
        // Let Prometheus have a couple of healthy scrapes first.
        const warm = Date.now() + 2 * parseDuration(scrape) * 1000 + 500;
        while (Date.now() < warm) await new Promise((r) => setTimeout(r, 100));
        const injected = Date.now();
        service.setFaults({ rollbackRate: 0.3 });
        while (service.state.rolloutPercentage !== 0) {
            if (Date.now() - injected > 10 * 60_000) throw new Error("no revert within 10 min");
            await new Promise((r) => setTimeout(r, 20));
        }
        return (Date.now() - injected) / 1000;
    } finally {
        await mon.stop();
        await service.close();
    }
}

async function main() {
    const pairs = process.argv.slice(2).length ? process.argv.slice(2) : ["1s:2s", "5s:10s", "15s:30s"];
    // The chain: the fault's next scrape, the recording rule's evaluation, the alert pending for `for:`, the
    // evaluation that fires it, Alertmanager (group_wait 0 s), the webhook, the revert and its read-back.
    console.log("scrape  for   runs (s)                 mean (s)  for + scrape + 3 evaluations (s)");
    for (const pair of pairs) {
        const [scrape, f] = pair.split(":");
        const runs: number[] = [];
        for (let i = 0; i < 3; i++) runs.push(await once(scrape, f));
        const mean = runs.reduce((a, b) => a + b, 0) / runs.length;
        const bound = parseDuration(f) + 4 * parseDuration(scrape);
        console.log(`${scrape.padEnd(7)} ${f.padEnd(5)} ${runs.map((r) => r.toFixed(2)).join(", ").padEnd(24)} ${mean.toFixed(2).padEnd(9)} ${bound}`);
    }
    console.log("production (scrape 15s): SpeculationRollbackRateAbort for 5m → about 5m + 15-30 s; seed 000's loop: 5 min + up to 60 s");
}
main().catch((e) => { console.error(e); process.exit(1); });
