/**
 * An OCI registry on loopback, for the signing tests and the local default (docs/signing.md): Debian's
 * `docker-registry` (distribution 2.8, installed by scripts/setup.sh) with its storage in a folder of its own, on a
 * free port.  `auth` puts a Basic-auth front on it (a small proxy here, so the tests need no bcrypt htpasswd tool):
 * every request without the right credentials gets 401 and a Basic challenge, as a private registry answers, and the
 * front counts what it saw.  `stop()` makes it unreachable (the registry-down case); `start()` brings it back with the
 * same content.
 */
import { ChildProcess, spawn } from "child_process";
import { mkdtempSync, writeFileSync } from "fs";
import { createServer, IncomingMessage, request as httpRequest, Server, ServerResponse } from "http";
import { tmpdir } from "os";
import * as path from "path";
import { freePort } from "./ports";

export const REGISTRY_BINARY = "/usr/bin/docker-registry";

export interface RunningRegistry {
    /** host:port as image repositories name it (127.0.0.1:41234): the Basic-auth front when `auth` was given. */
    host: string;
    /** Requests the front turned away for lack of credentials, and those it let through (auth only). */
    seen: { refused: number; allowed: number };
    /** Stops the registry (and its front): connections are refused until start(). */
    stop(): Promise<void>;
    /** Starts it again on the same port, with the same storage. */
    start(): Promise<void>;
}

async function waitForRegistry(url: string, child: ChildProcess, log: () => string): Promise<void> {
    const until = Date.now() + 60_000;
    for (;;) {
        if (child.exitCode !== null) throw new Error(`docker-registry exited (${child.exitCode}): ${log()}`);
        try {
            const r = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(2000) });
            if (r.status === 200 || r.status === 401) return;
        } catch { /* not listening yet */ }
        if (Date.now() > until) throw new Error(`docker-registry not answering on ${url}: ${log()}`);
        await new Promise((r) => setTimeout(r, 100));
    }
}

/** The Basic-auth front: checks the credentials, then forwards the request unchanged (Host kept, so the registry's Location headers name the front). */
function authFront(backendPort: number, auth: { username: string; password: string }, seen: RunningRegistry["seen"]): Server {
    const expected = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`;
    return createServer((req: IncomingMessage, res: ServerResponse) => {
        if (req.headers.authorization !== expected) {
            seen.refused++;
            req.resume();
            res.writeHead(401, { "www-authenticate": 'Basic realm="agenc-test-registry"', "content-type": "application/json" });
            res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }));
            return;
        }
        seen.allowed++;
        const { authorization: _a, ...headers } = req.headers;
        const upstream = httpRequest({ host: "127.0.0.1", port: backendPort, method: req.method, path: req.url, headers }, (r) => {
            res.writeHead(r.statusCode ?? 502, r.headers);
            r.pipe(res);
        });
        upstream.on("error", (e) => { res.writeHead(502); res.end(String(e)); });
        req.pipe(upstream);
    });
}

export async function startRegistry(opts: { auth?: { username: string; password: string } } = {}): Promise<RunningRegistry> {
    const dir = mkdtempSync(path.join(tmpdir(), "registry-"));
    const port = await freePort();
    const frontPort = opts.auth ? await freePort() : undefined;
    writeFileSync(path.join(dir, "config.yml"), [
        "version: 0.1",
        "log:", "  level: error", "  accesslog:", "    disabled: true",
        "storage:", "  filesystem:", `    rootdirectory: ${path.join(dir, "data")}`, "  delete:", "    enabled: true",
        "http:", `  addr: 127.0.0.1:${port}`, "",
    ].join("\n"));
    const seen = { refused: 0, allowed: 0 };
    let child: ChildProcess | undefined;
    let front: Server | undefined;
    const start = async () => {
        let log = "";
        child = spawn(REGISTRY_BINARY, ["serve", path.join(dir, "config.yml")], { stdio: ["ignore", "ignore", "pipe"] });
        child.stderr!.on("data", (c) => { log = (log + c).slice(-4000); });
        await waitForRegistry(`http://127.0.0.1:${port}`, child, () => log);
        if (opts.auth) {
            front = authFront(port, opts.auth, seen);
            await new Promise<void>((resolve) => front!.listen(frontPort, "127.0.0.1", resolve));
        }
    };
    const stop = async () => {
        if (front) await new Promise<void>((resolve) => { front!.closeAllConnections(); front!.close(() => resolve()); });
        front = undefined;
        const c = child;
        child = undefined;
        if (c && c.exitCode === null) {
            await new Promise<void>((resolve) => { c.once("exit", () => resolve()); c.kill("SIGTERM"); });
        }
    };
    await start();
    return { host: `127.0.0.1:${frontPort ?? port}`, seen, stop, start };
}
