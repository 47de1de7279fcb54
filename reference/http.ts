/** The small HTTP plumbing both reference workloads share. */
import { IncomingMessage, Server, ServerResponse } from "http";
import { AddressInfo } from "net";

export function send(res: ServerResponse, status: number, body: unknown, type = "application/json"): void {
    res.writeHead(status, { "content-type": type });
    res.end(typeof body === "string" ? body : JSON.stringify(body));
}

export function readBody(req: IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
        let body = "";
        req.on("data", (c) => (body += c));
        req.on("end", () => resolve(body));
        req.on("error", reject);
    });
}

/** Listens (port 0 = any free one) and says where. */
export async function listen(server: Server, port = 0, host = "127.0.0.1"): Promise<{ url: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => resolve());
    });
    const bound = (server.address() as AddressInfo).port;
    return { url: `http://${host}:${bound}`, port: bound };
}

/** Stops the traffic timer and the server, dropping open keep-alive connections. */
export function stop(server: Server, timer: NodeJS.Timeout): Promise<void> {
    clearInterval(timer);
    server.closeAllConnections();
    return new Promise((resolve) => server.close(() => resolve()));
}
