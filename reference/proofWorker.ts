/**
 * The reference proof worker (seed 000, SPEC §1): `GET /health` → {"status":"healthy"} and `/metrics` with
 * `proof_queue_size`, on port 9091 by default.  The queue size and health can be set while it runs.
 */
import { createServer, Server } from "http";
import { Counter, Gauge, Registry } from "prom-client";
import { listen, readBody, send, stop } from "./http";

export interface ProofWorkerFaults {
    queueSize: number;
    healthy: boolean;
    httpStatus: number;
}

export interface RunningProofWorker {
    url: string;
    port: number;
    server: Server;
    faults: ProofWorkerFaults;
    close(): Promise<void>;
}

export async function startProofWorker(opts: { port?: number; host?: string; adminToken: string; faults?: Partial<ProofWorkerFaults> }): Promise<RunningProofWorker> {
    const registry = new Registry();
    const queue = new Gauge({ name: "proof_queue_size", help: "Proofs waiting to be generated", registers: [registry] });
    const proofs = new Counter({ name: "proof_generated_total", help: "Proofs generated", registers: [registry] });
    const faults: ProofWorkerFaults = { queueSize: 120, healthy: true, httpStatus: 0, ...(opts.faults ?? {}) };
    const timer = setInterval(() => proofs.inc(10), 100);
    timer.unref();

    const server = createServer((req, res) => {
        void (async () => {
            const path = new URL(req.url ?? "/", "http://localhost").pathname;
            if (faults.httpStatus && !path.startsWith("/admin")) return send(res, faults.httpStatus, "{}");
            if (req.method === "GET" && path === "/health") return send(res, faults.healthy ? 200 : 503, JSON.stringify({ status: faults.healthy ? "healthy" : "unhealthy" }));
            if (req.method === "GET" && path === "/metrics") {
                queue.set(faults.queueSize);
                return send(res, 200, await registry.metrics(), registry.contentType);
            }
            if (path === "/admin/faults") {
                if (req.headers.authorization !== `Bearer ${opts.adminToken}`) return send(res, 401, "{}");
                if (req.method === "POST") {
                    const update = JSON.parse(await readBody(req)) as Partial<ProofWorkerFaults>;
                    for (const [k, v] of Object.entries(update)) {
                        if (!(k in faults) || typeof v !== typeof faults[k as keyof ProofWorkerFaults]) {
                            return send(res, 400, JSON.stringify({ error: `fault ${k}: allowed queueSize (number), healthy (boolean), httpStatus (number)` }));
                        }
                    }
                    Object.assign(faults, update);
                }
                return send(res, 200, JSON.stringify(faults));
            }
            return send(res, 404, "{}");
        })();
    });
    const { url, port } = await listen(server, opts.port, opts.host);
    return {
        url,
        port,
        server,
        faults,
        close: () => stop(server, timer),
    };
}
