/**
 * Time from the synthetic speculation starting to fail (the fault injected with no Pulumi process running) to the
 * kill switch confirmed — the whole loop on real parts: the reference service at 100 %, the watchdog's sentinel
 * probes (lib/watchdog/main.ts), Debian's Prometheus judging SpeculationSentinelFailing over the window, Debian's
 * Alertmanager routing it by kill_switch="true", the watchdog's kill switch and its read-back.
 *   npm run bench:sentinel [-- 1:30:20 0.5:10:10]     (interval s : window s : minProbes; 3 runs each)
 * Before each run the window is filled with successful probes, as after a long healthy stretch at 100 %.
 */
import { setRolloutPercentage } from "../lib/adminApi";
import { GO_NO_GO } from "../config/thresholds";
import { startLocalMonitoring } from "../reference/localMonitoring";
import { startSpeculationService } from "../reference/speculationService";

interface Run { firstFailure: number; killed: number }

async function once(intervalSeconds: number, windowSeconds: number, minProbes: number): Promise<Run> {
    const token = "bench-sentinel-token-0123456789";
    const service = await startSpeculationService({ adminToken: token, version: "v1.2.4" });
    await setRolloutPercentage(service.url, token, 100);
    const mon = await startLocalMonitoring({
        serviceUrl: service.url, proofWorkerUrl: service.url, adminToken: token, scrapeInterval: "1s",
        sentinel: { intervalSeconds, windowSeconds, minProbes },
    });
    try {
        // A full window of healthy probes first.
        const warm = Date.now() + windowSeconds * 1000 + 2000;
        while (Date.now() < warm) await new Promise((r) => setTimeout(r, 100));
        const injected = Date.now();
        service.setFaults({ errorRate: 1 });
        while (service.state.enabled || service.state.rolloutPercentage !== 0) {
            if (Date.now() - injected > 10 * 60_000) throw new Error("no kill switch within 10 min");
            await new Promise((r) => setTimeout(r, 20));
        }
        const killed = (Date.now() - injected) / 1000;
        const failed = mon.watchdogLog().split("\n").filter((l) => l.includes('"msg":"sentinel probe"') && l.includes('"result":"failure"'))
            .map((l) => Date.parse(JSON.parse(l).at));
        return { firstFailure: (Math.min(...failed) - injected) / 1000, killed };
    } finally {
        await mon.stop();
        await service.close();
    }
}

/** Failed probes needed, at a steady rate, to bring a full window of N successes below the target. */
const failuresNeeded = (n: number) => Math.floor((1 - GO_NO_GO.sentinelProbeSuccess) * n + 1e-9) + 1;

async function main() {
    const sets = process.argv.slice(2).length ? process.argv.slice(2) : ["1:30:20", "0.5:10:10"];
    console.log("interval  window  minProbes  failures needed  first failed probe (s)  kill switch confirmed (s, 3 runs)  mean (s)");
    for (const set of sets) {
        const [interval, window, min] = set.split(":").map(Number);
        const runs: Run[] = [];
        for (let i = 0; i < 3; i++) runs.push(await once(interval, window, min));
        const mean = runs.reduce((a, r) => a + r.killed, 0) / runs.length;
        const needed = failuresNeeded(Math.floor(window / interval));
        console.log(`${`${interval}s`.padEnd(9)} ${`${window}s`.padEnd(7)} ${String(min).padEnd(10)} ${String(needed).padEnd(16)} ` +
            `${runs.map((r) => r.firstFailure.toFixed(2)).join(", ").padEnd(23)} ${runs.map((r) => r.killed.toFixed(2)).join(", ").padEnd(34)} ${mean.toFixed(2)}`);
    }
    const n = 60;
    console.log(`production defaults (a probe a minute, 1 h window, 20 probes, 15 s scrape): ${failuresNeeded(n)} failed probes of ${n} → ` +
        `about ${failuresNeeded(n)} min + 15-30 s of scrape and evaluation + Alertmanager and the kill switch (under a second)`);
}
main().catch((e) => { console.error(e); process.exit(1); });
