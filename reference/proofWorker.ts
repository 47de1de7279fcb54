/**
 * The reference proof worker (seed 000, SPEC §1): `GET /health` → {"status":"healthy"} and `/metrics` with
 * `proof_queue_size`, on port 9091 by default.  The queue size and health can be set while it runs.
 */
import { createServer, IncomingMessage, Server, ServerResponse } from "http";
import { AddressInfo } from "net";
import { Counter, Gauge, Registry } from "prom-client";

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

function readBody(req: IncomingMessage): Promise<string> {
    return new Promise((resolve) => {
        let body = "";
        req.on("data", (c) => (body += c));
        req.on("end", () => resolve(body));
    });
}

export async function startProofWorker(opts: { port?: number; host?: string; adminToken: string; faults?: Partial<ProofWorkerFaults> }): Promise<RunningProofWorker> {
    const registry = new Registry();
    const queue = new Gauge({ name: "proof_queue_size", help: "Proofs waiting to be generated", registers: [registry] });
    const proofs = new Counter({ name: "proof_generated_total", help: "Proofs generated", registers: [registry] });
    const faults: ProofWorkerFaults = { queueSize: 120, healthy: true, httpStatus: 0, ...(opts.faults ?? {}) };
    const timer = setInterval(() => proofs.inc(10), 100);
    timer.unref();

    const send = (res: ServerResponse, status: number, body: string, type = "application/json") => {
        res.writeHead(status, { "content-type": type });
        res.end(body);
    };
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
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    return {
        url: `http://${opts.host ?? "127.0.0.1"}:${port}`,
        port,
        server,
        faults,
        close: () => new Promise((resolve) => {
            clearInterval(timer);
            server.closeAllConnections();
            server.close(() => resolve());
        }),
    };
}
