/** A real Prometheus Pushgateway (Debian's prometheus-pushgateway) on a free loopback port, for a test. */
import { mkdtempSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { startDaemon } from "./daemon";

export interface RunningPushgateway {
    url: string;
    /** host:port, for a Prometheus scrape target. */
    target: string;
    close(): Promise<void>;
}

export async function startPushgateway(): Promise<RunningPushgateway> {
    const dir = mkdtempSync(path.join(tmpdir(), "pushgateway-"));
    const d = await startDaemon("prometheus-pushgateway", (port) => [
        `--web.listen-address=127.0.0.1:${port}`, `--persistence.file=${path.join(dir, "metrics.data")}`, "--log.level=warn",
    ]);
    return { url: d.url, target: `127.0.0.1:${d.port}`, close: d.close };
}
