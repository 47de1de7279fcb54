/**
 * Benchmark: time from injecting a bad rollback rate into the reference service to the gate having set the
 * rollout percentage to 0 (and read it back), for a few poll intervals.   npm run bench:gate -- 1 5
 */
import { DEFAULT_STAGE_THRESHOLDS } from "../config/thresholds";
import { runGate } from "../lib/gate/run";
import { startProofWorker } from "../reference/proofWorker";
import { startSpeculationService } from "../reference/speculationService";

async function one(pollSeconds: number): Promise<void> {
    const adminToken = "bench-admin-token";
    const worker = await startProofWorker({ adminToken });
    const service = await startSpeculationService({ adminToken, version: "v1.2.4", operationsPerSecond: 5000, tickMs: 20 });
    Object.assign(service.state, { enabled: true, rolloutPercentage: 25 });
    try {
        let injectedAt = 0;
        let samplesBefore = 0;
        const gate = runGate({
            stage: "bench", percentage: 25, version: "v1.2.4", serviceUrl: service.url, proofWorkerUrl: worker.url, source: "metrics-endpoint",
            adminToken, thresholds: DEFAULT_STAGE_THRESHOLDS, baselineErrorRate: 0.002, bakeSeconds: 3600, pollSeconds, deadlineSeconds: 7200,
            timeoutMs: 2000, onFailure: "revert", noData: {}, checkRolloutPercentage: true,
        }, undefined, () => {
            // Inject right after the second green sample: the worst case waits almost a whole poll interval.
            if (++samplesBefore === 2) { service.setFaults({ rollbackRate: 0.3 }); injectedAt = Date.now(); }
        });
        const { record } = await gate;
        console.log(JSON.stringify({
            pollSeconds, injectionToRevertedSeconds: +((Date.now() - injectedAt) / 1000).toFixed(3),
            liveRolloutPercentage: service.state.rolloutPercentage, reverted: record.revert?.confirmed, reason: record.reason,
        }));
    } finally {
        await service.close();
        await worker.close();
    }
}

(async () => {
    const polls = process.argv.slice(2).map(Number);
    for (const p of polls.length ? polls : [1, 5]) await one(p);
})().catch((e) => { console.error(e); process.exit(1); });
