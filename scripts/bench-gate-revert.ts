/**
 * Benchmark: time from injecting a fault into the reference service to the gate having set the rollout percentage
 * to 0 (and read it back), for a few poll intervals.  The fault is a bad rollback rate by default; any reference fault
 * may be named instead, e.g. a fat latency tail or a slow error-rate drift only CUSUM catches:
 *   npm run bench:gate -- 1 5                      rollbackRate=0.3
 *   npm run bench:gate -- 1 tailLatencyMs=200      p99 > 2 × p95
 *   npm run bench:gate -- 1 errorRate=0.008        4 × the baseline: under the promote and spike limits, CUSUM's
 */
import { DEFAULT_STAGE_THRESHOLDS } from "../config/thresholds";
import { captureBaseline, runGate } from "../lib/gate/run";
import { startProofWorker } from "../reference/proofWorker";
import { Faults, parseFaults, startSpeculationService } from "../reference/speculationService";
import { CUSUM_DEFAULTS } from "../config/thresholds";

async function one(pollSeconds: number, fault: Partial<Faults>): Promise<void> {
    const adminToken = "bench-admin-token";
    const worker = await startProofWorker({ adminToken });
    const service = await startSpeculationService({ adminToken, version: "v1.2.4", operationsPerSecond: 5000, tickMs: 20 });
    Object.assign(service.state, { enabled: true, rolloutPercentage: 25 });
    try {
        // The stage's ErrorBaseline: the error rate and p95 before the fault, over one poll interval.
        const baseline = await captureBaseline({ serviceUrl: service.url, source: "metrics-endpoint", timeoutMs: 2000 }, pollSeconds);
        let injectedAt = 0;
        let samplesBefore = 0;
        const gate = runGate({
            stage: "bench", percentage: 25, version: "v1.2.4", serviceUrl: service.url, proofWorkerUrl: worker.url, source: "metrics-endpoint",
            adminToken, thresholds: DEFAULT_STAGE_THRESHOLDS, baselineErrorRate: baseline.errorRate, bakeSeconds: 3600, pollSeconds, deadlineSeconds: 7200,
            timeoutMs: 2000, onFailure: "revert", noData: {}, checkRolloutPercentage: true,
            cusum: { ...CUSUM_DEFAULTS }, ...(baseline.p95Seconds !== undefined ? { baselineP95Seconds: baseline.p95Seconds } : {}),
        }, undefined, () => {
            // Inject right after the second green sample: the worst case waits almost a whole poll interval.
            if (++samplesBefore === 2) { service.setFaults(fault); injectedAt = Date.now(); }
        });
        const { record } = await gate;
        console.log(JSON.stringify({
            pollSeconds, fault, samplesAfterFault: record.sampleCount - 2, injectionToRevertedSeconds: +((Date.now() - injectedAt) / 1000).toFixed(3),
            liveRolloutPercentage: service.state.rolloutPercentage, reverted: record.revert?.confirmed, reason: record.reason,
        }));
    } finally {
        await service.close();
        await worker.close();
    }
}

(async () => {
    const args = process.argv.slice(2);
    const polls = args.filter((a) => !a.includes("=")).map(Number);
    const given = args.filter((a) => a.includes("="));
    const fault = given.length ? parseFaults(Object.fromEntries(given.map((a) => a.split("=", 2)))) : { rollbackRate: 0.3 };
    for (const p of polls.length ? polls : [1, 5]) await one(p, fault);
})().catch((e) => { console.error(e); process.exit(1); });
