/**
 * Benchmark: wall time of a node rollout over N local SSH nodes (Debian sshd on loopback) with zero pause and zero
 * grace, against the time the nodes' own restart and health checks take, so the rollout's per-node overhead shows.
 *   npm run bench:nodes -- 10 20
 */
import { mkdtempSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { nodeAddress } from "../lib/nodes/address";
import { RolloutSpec, runRollout } from "../lib/nodes/rollout";
import { connect } from "../lib/nodes/ssh";
import { startFleet, writeAlysBinary } from "../reference/sshFleet";

async function one(count: number): Promise<void> {
    const fleet = await startFleet(count);
    try {
        const work = mkdtempSync(path.join(tmpdir(), "bench-rollout-"));
        const binary = writeAlysBinary(path.join(work, "alys"), "v2.0.0");
        // The nodes' own cost: one restart plus health polling until healthy, over an open session, per node.
        let ownMs = 0;
        for (const n of fleet.nodes) {
            const s = await connect(n, fleet.privateKey);
            const t0 = Date.now();
            await s.exec(fleet.paths.restartCommand);
            while ((await s.exec(fleet.paths.healthCommand)).code !== 0) await new Promise((r) => setTimeout(r, 100));
            ownMs += Date.now() - t0;
            s.close();
        }
        const spec: RolloutSpec = {
            version: "v2.0.0", nodes: fleet.nodes.map(nodeAddress),
            privateKey: fleet.privateKey, binary, ...fleet.paths, serviceName: "alys", healthRetries: 30, healthIntervalSeconds: 0.1,
            firstNodeGraceSeconds: 0, nodeGraceSeconds: 0, pauseSeconds: 0, minFreeDiskGb: 0.001, serial: [1], maxFailPercentage: 0,
            journalPath: path.join(work, "journal.json"), deploymentLog: path.join(work, "deployments.log"), operator: "bench",
        };
        const t0 = Date.now();
        await runRollout(spec);
        const totalMs = Date.now() - t0;
        const perNode = totalMs / count;
        const own = ownMs / count;
        console.log(JSON.stringify({
            nodes: count, serial: 1, totalSeconds: +(totalMs / 1000).toFixed(2), perNodeSeconds: +(perNode / 1000).toFixed(2),
            nodeRestartAndHealthSeconds: +(own / 1000).toFixed(2), rolloutOverheadPerNodeSeconds: +((perNode - own) / 1000).toFixed(2),
        }));
    } finally {
        await fleet.stop();
    }
}

(async () => {
    const counts = process.argv.slice(2).map(Number);
    for (const n of counts.length ? counts : [10, 20]) await one(n);
})().catch((e) => { console.error(e); process.exit(1); });
