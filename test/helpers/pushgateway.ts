/** A real Prometheus Pushgateway (Debian's prometheus-pushgateway) on a free loopback port, for a test. */
import { ChildProcess, spawn } from "child_process";
import { mkdtempSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { freePort } from "../../reference/ports";

export interface RunningPushgateway {
    url: string;
    /** host:port, for a Prometheus scrape target. */
    target: string;
    close(): Promise<void>;
}

export async function startPushgateway(): Promise<RunningPushgateway> {
    const dir = mkdtempSync(path.join(tmpdir(), "pushgateway-"));
    const port = await freePort();
    const child: ChildProcess = spawn("prometheus-pushgateway", [
        `--web.listen-address=127.0.0.1:${port}`, `--persistence.file=${path.join(dir, "metrics.data")}`, "--log.level=warn",
    ], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (c) => (stderr += c));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const url = `http://127.0.0.1:${port}`;
    const until = Date.now() + 30_000;
    for (;;) {
        if (child.exitCode !== null) throw new Error(`pushgateway exited: ${stderr}`);
        try {
            if ((await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })).ok) break;
        } catch { /* not listening yet */ }
        if (Date.now() > until) { child.kill("SIGKILL"); throw new Error(`pushgateway not ready after 30 s: ${stderr}`); }
        await new Promise((r) => setTimeout(r, 100));
    }
    return { url, target: `127.0.0.1:${port}`, close: async () => { child.kill("SIGTERM"); await exited; } };
}
