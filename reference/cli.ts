/**
 * The reference workloads from the command line (npm run reference -- <command>):
 *
 *   serve  [--port 9090] [--worker-port 9091] [--version v1.2.3] [--host 127.0.0.1] [--fault key=value ...]
 *          starts the speculation service and a proof worker on loopback (on --host's address instead: 0.0.0.0 in
 *          a container, scripts/build-images.sh); the admin token comes from $ADMIN_TOKEN
 *   fault  [--url http://127.0.0.1:9090] key=value ...
 *          changes faults on a running service (rollbackRate=0.2, errorRate=0.05, latencyMs=50, unhealthy=stake_pool,
 *          readinessDelayMs=5000, memoryPercent=95, proofQueue=2500, responseDelayMs=20000, httpStatus=500,
 *          malformed=true, dropMetrics=speculation_rollback_rate, freezeMetrics=true, pendingOperations=200,
 *          drainPerSecond=5; the admin API alone: adminDelayMs=20000, adminFlapMs=500, adminDown=true; reset with the
 *          defaults)
 *   chain  [--port 8899] [--fault key=value ...]
 *          the Solana-compatible JSON-RPC stub (getHealth, getBalance); faults unhealthy=true, balanceSol=50,
 *          responseDelayMs=20000, malformed=true (changed at run time by POST /admin/faults with $ADMIN_TOKEN)
 *   bench  [--url http://127.0.0.1:9090] [--requests 2000] [--concurrency 16] [--warmup 200]
 *          the bench workload; prints the BenchRun JSON on stdout
 */
import { parseArgs } from "util";
import { runBench } from "./bench";
import { startProofWorker } from "./proofWorker";
import { parseChainFaults, startChainRpc } from "./solanaRpc";
import { parseFaults, startSpeculationService } from "./speculationService";

function keyValues(list: string[]): Record<string, string> {
    return Object.fromEntries(list.map((kv) => {
        const at = kv.indexOf("=");
        if (at < 1) throw new Error(`"${kv}" is not key=value`);
        return [kv.slice(0, at), kv.slice(at + 1)];
    }));
}

function token(): string {
    const t = process.env.ADMIN_TOKEN;
    if (!t) throw new Error("ADMIN_TOKEN must be set (the bearer token the admin API requires)");
    return t;
}

async function main(argv: string[]): Promise<void> {
    const [command, ...rest] = argv;
    if (command === "serve") {
        const { values } = parseArgs({ args: rest, options: {
            port: { type: "string", default: "9090" }, "worker-port": { type: "string", default: "9091" },
            version: { type: "string", default: "v1.2.3" }, fault: { type: "string", multiple: true, default: [] },
            host: { type: "string", default: "127.0.0.1" },
        } });
        const host = values.host as string;
        const adminToken = token();
        const faults = parseFaults(keyValues(values.fault as string[]));
        const worker = await startProofWorker({ port: Number(values["worker-port"]), host, adminToken, faults: { queueSize: faults.proofQueue ?? 120 } });
        const service = await startSpeculationService({ port: Number(values.port), host, adminToken, version: values.version as string, faults });
        console.log(JSON.stringify({ serviceUrl: service.url, proofWorkerUrl: worker.url, pid: process.pid }));
        const stop = async () => { await service.close(); await worker.close(); process.exit(0); };
        process.on("SIGTERM", stop);
        process.on("SIGINT", stop);
        return;
    }
    if (command === "fault") {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { url: { type: "string", default: "http://127.0.0.1:9090" } } });
        const update = parseFaults(keyValues(positionals));
        const res = await fetch(`${values.url}/admin/faults`, {
            method: "POST", headers: { authorization: `Bearer ${token()}`, "content-type": "application/json" }, body: JSON.stringify(update),
        });
        const body = await res.text();
        if (!res.ok) throw new Error(`HTTP ${res.status}: ${body}`);
        console.log(body);
        return;
    }
    if (command === "chain") {
        const { values } = parseArgs({ args: rest, options: { port: { type: "string", default: "8899" }, fault: { type: "string", multiple: true, default: [] } } });
        const chain = await startChainRpc({ port: Number(values.port), adminToken: process.env.ADMIN_TOKEN, faults: parseChainFaults(keyValues(values.fault as string[])) });
        console.log(JSON.stringify({ chainRpcUrl: chain.url, pid: process.pid }));
        const stop = async () => { await chain.close(); process.exit(0); };
        process.on("SIGTERM", stop);
        process.on("SIGINT", stop);
        return;
    }
    if (command === "bench") {
        const { values } = parseArgs({ args: rest, options: {
            url: { type: "string", default: "http://127.0.0.1:9090" }, requests: { type: "string", default: "2000" }, concurrency: { type: "string", default: "16" },
            warmup: { type: "string" },
        } });
        const warmup = values.warmup === undefined ? undefined : Number(values.warmup);
        console.log(JSON.stringify(await runBench(values.url as string, Number(values.requests), Number(values.concurrency), warmup)));
        return;
    }
    throw new Error(`unknown command "${command ?? ""}"; allowed: serve, fault, chain, bench`);
}

main(process.argv.slice(2)).catch((e) => {
    console.error(`reference: ${(e as Error).message}`);
    process.exit(2);
});
