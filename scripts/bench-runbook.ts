/**
 * Times each runbook step against the reference workloads and the Solana JSON-RPC stub on loopback (prints numbers;
 * not a test): preflight, smoke tests, post-deployment verification, and the full rollback's disable-and-drain of a
 * backlog (npm run bench:runbook -- [runs] [backlog] [drainPerSecond]).
 */
import { runPreflight } from "../lib/preflight/checks";
import { disableAndDrain } from "../lib/rollback/drain";
import { runSmokeTests } from "../lib/smoke/suite";
import { runVerification } from "../lib/verify/checks";
import { startProofWorker } from "../reference/proofWorker";
import { startChainRpc } from "../reference/solanaRpc";
import { startSpeculationService } from "../reference/speculationService";

async function main() {
    const [runs = 10, backlog = 300, drainPerSecond = 100] = process.argv.slice(2).map(Number);
    const adminToken = "bench-runbook-token";
    const chain = await startChainRpc();
    const worker = await startProofWorker({ adminToken });
    const service = await startSpeculationService({ adminToken, version: "v1.2.4" });
    const quiet = () => undefined;
    const timeIt = async (what: string, f: () => Promise<{ verdict: string }>) => {
        const ms: number[] = [];
        for (let i = 0; i < runs; i++) {
            const t = process.hrtime.bigint();
            const r = await f();
            if (r.verdict !== "pass") throw new Error(`${what} did not pass`);
            ms.push(Number(process.hrtime.bigint() - t) / 1e6);
        }
        ms.sort((a, b) => a - b);
        console.log(`${what.padEnd(12)} median ${ms[Math.floor(ms.length / 2)].toFixed(1)} ms, max ${ms[ms.length - 1].toFixed(1)} ms over ${runs} runs`);
    };
    try {
        await timeIt("preflight", () => runPreflight({ chainRpcUrl: chain.url, stakePoolAddress: "Jito4APyf642JPZPx3hGc6WWJ8zPKtRbRs4P815Awbb", minStakeSol: 100,
            secret: { kind: "admin-api", serviceUrl: service.url, adminToken }, timeoutMs: 2000 }, quiet));
        await timeIt("smoke", () => runSmokeTests({ serviceUrl: service.url, proofWorkerUrl: worker.url, adminToken, timeoutMs: 2000 }, quiet));
        Object.assign(service.state, { enabled: true, rolloutPercentage: 100 });
        await timeIt("verify", () => runVerification({ version: "v1.2.4", serviceUrl: service.url, proofWorkerUrl: worker.url, timeoutMs: 2000, pods: [],
            expectRolloutPercentage: 100, limits: { minSpeculationMetrics: 10, maxRollbackRate: 0.05, maxMemoryPercent: 90, maxProofQueueSize: 2000 } }, quiet));
        service.setFaults({ pendingOperations: backlog, drainPerSecond });
        Object.assign(service.state, { enabled: true, rolloutPercentage: 50 });
        const t = Date.now();
        let polls = 0;
        const r = await disableAndDrain({ serviceUrl: service.url, adminToken, maxPending: 10, pollSeconds: 1, deadlineSeconds: 120, timeoutMs: 2000, drain: true },
            (l) => { if (l.includes("poll")) polls++; });
        console.log(`drain        ${backlog} pending at ${drainPerSecond}/s, 1 s polls: ${r.verdict} in ${((Date.now() - t) / 1000).toFixed(2)} s, ${polls} polls ` +
            `(expected about ${(backlog / drainPerSecond).toFixed(1)} s rounded up to a poll)`);
    } finally {
        await service.close(); await worker.close(); await chain.close();
    }
}

main().catch((e) => { console.error(e); process.exit(1); });
