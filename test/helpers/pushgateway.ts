/** A real Prometheus Pushgateway (Debian's prometheus-pushgateway) on a free loopback port, for a test. */
import { mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { startDaemon } from "./daemon";

export interface RunningPushgateway {
    url: string;
    /** host:port, for a Prometheus scrape target. */
    target: string;
    close(): Promise<void>;
}

/**
 * A gateway behind HTTP basic auth (its --web.config.file): PUSHGATEWAY_TEST_USER with PUSHGATEWAY_TEST_PASSWORD,
 * whose bcrypt hash (cost 4, made once with Python's crypt) is the web config's.
 */
export const PUSHGATEWAY_TEST_USER = "pusher";
export const PUSHGATEWAY_TEST_PASSWORD = "pg-secret-0123456789";
const PASSWORD_BCRYPT = "$2b$04$f6euymdsZcDs/qZZZHd4POMmpMldilR3y21Abz2Pobn66Mmbj.CHS";

export async function startPushgateway(options: { basicAuth?: boolean } = {}): Promise<RunningPushgateway> {
    const dir = mkdtempSync(path.join(tmpdir(), "pushgateway-"));
    const web = path.join(dir, "web.yml");
    if (options.basicAuth) writeFileSync(web, `basic_auth_users:\n  ${PUSHGATEWAY_TEST_USER}: "${PASSWORD_BCRYPT}"\n`);
    const auth: Record<string, string> = options.basicAuth ? { Authorization: `Basic ${Buffer.from(`${PUSHGATEWAY_TEST_USER}:${PUSHGATEWAY_TEST_PASSWORD}`).toString("base64")}` } : {};
    const d = await startDaemon("prometheus-pushgateway", (port) => [
        `--web.listen-address=127.0.0.1:${port}`, `--persistence.file=${path.join(dir, "metrics.data")}`, "--log.level=warn",
        ...(options.basicAuth ? [`--web.config.file=${web}`] : []),
    ], auth);
    return { url: d.url, target: `127.0.0.1:${d.port}`, close: d.close };
}
