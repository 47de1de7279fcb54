/**
 * A network link that can be cut: a loopback TCP relay between one client (the deployer) and one server (Prometheus),
 * standing in for the route between them where the local default has no network namespace to take a link down in
 * (everything listens on loopback).  Cut, it is a black hole, as a dropped route is: bytes in either direction are
 * swallowed, connections stay open and nothing answers, so clients meet their own timeouts — never a quick refusal.
 *
 * The cut can be armed on a request: the link is cut by the first request whose first line matches (e.g. the bake
 * window's first range query), so a partition lands exactly when a step starts reading, however fast that step is.
 * Used by the chaos matrix (reference/chaos/matrix.ts).
 */
import { createServer, Server, Socket, connect } from "net";

export interface Link {
    /** http://127.0.0.1:<port>: what the client is given instead of the server's address. */
    url: string;
    /** When the link was cut (epoch ms), if it was. */
    readonly cutAt: number | undefined;
    cut(): void;
    /** Cuts the link at the first request from now on whose first line matches (GET /api/v1/query_range …). */
    arm(request: RegExp): void;
    /** Mends the link: new connections pass again (the ones swallowed while cut stay dead). */
    mend(): void;
    close(): Promise<void>;
}

export async function startLink(target: string): Promise<Link> {
    const upstream = new URL(target);
    let cutAt: number | undefined;
    let armed: RegExp | undefined;
    const sockets = new Set<Socket>();
    const server: Server = createServer((client) => {
        sockets.add(client);
        const server = connect(Number(upstream.port), upstream.hostname);
        sockets.add(server);
        // A connection that lost bytes to the cut stays dead after a mend (its stream is no longer whole).
        let swallowed = false;
        client.on("data", (chunk) => {
            if (cutAt === undefined && armed?.test(chunk.toString("latin1").split("\r\n")[0])) cutAt = Date.now();
            if (cutAt !== undefined || swallowed) { swallowed = true; return; }
            server.write(chunk);
        });
        server.on("data", (chunk) => {
            if (cutAt !== undefined || swallowed) { swallowed = true; return; }
            client.write(chunk);
        });
        const close = () => { if (cutAt === undefined) { client.destroy(); server.destroy(); } };
        client.on("close", close);
        server.on("close", close);
        client.on("error", () => undefined);
        server.on("error", () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as { port: number }).port;
    return {
        url: `http://127.0.0.1:${port}`,
        get cutAt() { return cutAt; },
        cut: () => { cutAt ??= Date.now(); },
        arm: (request) => { armed = request; },
        mend: () => { cutAt = undefined; armed = undefined; },
        close: () => new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
        }),
    };
}
