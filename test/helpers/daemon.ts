/**
 * One of Debian's Prometheus-family daemons (prometheus, prometheus-alertmanager, prometheus-pushgateway) on a free
 * loopback port for a test: started with `args(port)`, ready when its own `/-/ready` answers, stopped by PID.
 */
import { ChildProcess, spawn } from "child_process";
import { freePort } from "../../reference/ports";

export interface RunningDaemon {
    url: string;
    port: number;
    close(): Promise<void>;
}

export async function startDaemon(command: string, args: (port: number) => string[], readyHeaders: Record<string, string> = {}): Promise<RunningDaemon> {
    const port = await freePort();
    const child: ChildProcess = spawn(command, args(port), { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (c) => (stderr += c));
    const url = `http://127.0.0.1:${port}`;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    // Ready is the daemon's own readiness endpoint; give up after 30 s with its log.
    const until = Date.now() + 30_000;
    for (;;) {
        if (child.exitCode !== null) throw new Error(`${command} exited: ${stderr}`);
        try {
            if ((await fetch(`${url}/-/ready`, { headers: readyHeaders, signal: AbortSignal.timeout(1000) })).ok) break;
        } catch { /* not listening yet */ }
        if (Date.now() > until) { child.kill("SIGKILL"); throw new Error(`${command} not ready after 30 s: ${stderr}`); }
        await new Promise((r) => setTimeout(r, 100));
    }
    return { url, port, close: async () => { child.kill("SIGTERM"); await exited; } };
}
