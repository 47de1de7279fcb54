/**
 * A real Alertmanager (Debian's prometheus-alertmanager) on loopback for a test: clustering off (no gossip port to
 * collide with other worktrees' tests), a free port, a temp storage folder, one "null" receiver.
 */
import { mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { stringify } from "yaml";
import { startDaemon } from "./daemon";

export interface RunningAlertmanager {
    url: string;
    /** Active alerts, optionally filtered by label matchers such as `alertname="X"`. */
    alerts(...filters: string[]): Promise<{ labels: Record<string, string>; annotations: Record<string, string>; status: { state: string } }[]>;
    /** Posts one alert as Prometheus would: started a second ago, firing until `endsAt` (a past time resolves it). */
    push(labels: Record<string, string>, endsAt?: Date): Promise<void>;
    close(): Promise<void>;
}

export async function startAlertmanager(): Promise<RunningAlertmanager> {
    const dir = mkdtempSync(path.join(tmpdir(), "alertmanager-"));
    writeFileSync(path.join(dir, "alertmanager.yml"), stringify({ route: { receiver: "null" }, receivers: [{ name: "null" }] }));
    const d = await startDaemon("prometheus-alertmanager", (port) => [
        `--config.file=${path.join(dir, "alertmanager.yml")}`, `--storage.path=${path.join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`, "--cluster.listen-address=", "--log.level=warn",
    ]);
    const url = d.url;
    return {
        url,
        alerts: async (...filters) => {
            const q = filters.map((f) => `filter=${encodeURIComponent(f)}`).join("&");
            const res = await fetch(`${url}/api/v2/alerts${q ? `?${q}` : ""}`, { signal: AbortSignal.timeout(5000) });
            if (!res.ok) throw new Error(`GET /api/v2/alerts: HTTP ${res.status}`);
            return await res.json() as never;
        },
        push: async (labels, endsAt) => {
            const res = await fetch(`${url}/api/v2/alerts`, {
                method: "POST", headers: { "content-type": "application/json" }, signal: AbortSignal.timeout(5000),
                body: JSON.stringify([{ labels, annotations: {}, startsAt: new Date(Date.now() - 1000).toISOString(), ...(endsAt ? { endsAt: endsAt.toISOString() } : {}) }]),
            });
            if (!res.ok) throw new Error(`POST /api/v2/alerts: HTTP ${res.status}`);
        },
        close: d.close,
    };
}
