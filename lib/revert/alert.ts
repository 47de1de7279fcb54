/**
 * The page a revert sends when it could not confirm traffic is off: one alert pushed to Alertmanager's v2 API
 * (`POST /api/v2/alerts`), routed like the stack's other critical alerts (lib/monitoring/alertmanager.ts: critical
 * goes to the pager).  Plain functions with no module state, so a dynamic provider can capture them.
 */
import { fetchWithin } from "../http";

export const REVERT_ALERT_NAME = "SpeculationRevertUnconfirmed";

/** How long the alert stays firing unless someone resolves it: it must not clear itself while traffic may be up. */
export const REVERT_ALERT_HOURS = 24;

export interface AlertOutcome {
    sent: boolean;
    /** Where it went (the Alertmanager base URL), when one is configured. */
    url?: string;
    at: string;
    detail: string;
}

export interface RevertAlert {
    stage: string;
    percentage: number;
    version?: string;
    summary: string;
    description: string;
}

/** The body Alertmanager's `POST /api/v2/alerts` takes: a list of postable alerts. */
export function revertAlertBody(alert: RevertAlert, now: Date): unknown[] {
    return [{
        labels: {
            alertname: REVERT_ALERT_NAME, severity: "critical", service: "agenc-speculation", component: "canary",
            stage: alert.stage, percentage: String(alert.percentage), ...(alert.version ? { version: alert.version } : {}),
        },
        annotations: { summary: alert.summary, description: alert.description },
        startsAt: now.toISOString(),
        endsAt: new Date(now.getTime() + REVERT_ALERT_HOURS * 3600_000).toISOString(),
    }];
}

/**
 * Pushes the alert, up to `tries` times (a short pause between tries).  Never throws: the outcome says whether it
 * reached Alertmanager, and the revert's failure message repeats it.
 */
export async function fireRevertAlert(alertmanagerUrl: string | undefined, alert: RevertAlert, opts: { timeoutMs: number; tries?: number; now?: () => number }): Promise<AlertOutcome> {
    const now = opts.now ?? Date.now;
    if (!alertmanagerUrl) {
        return { sent: false, at: new Date(now()).toISOString(), detail: "no alert sent: canary.gate.revert.alertmanagerUrl is not configured" };
    }
    const url = `${alertmanagerUrl.replace(/\/+$/, "")}/api/v2/alerts`;
    const body = JSON.stringify(revertAlertBody(alert, new Date(now())));
    const failures: string[] = [];
    const tries = opts.tries ?? 3;
    for (let i = 1; i <= tries; i++) {
        const r = await fetchWithin(url, { method: "POST", headers: { "content-type": "application/json" }, body }, opts.timeoutMs);
        if (r.ok && r.status >= 200 && r.status < 300) {
            return { sent: true, url: alertmanagerUrl, at: new Date(now()).toISOString(), detail: `${REVERT_ALERT_NAME} accepted by ${url} (try ${i})` };
        }
        failures.push(r.ok ? `HTTP ${r.status}: ${r.text.slice(0, 200)}` : `${r.failure} (${r.why})`);
        if (i < tries) await new Promise((resolve) => setTimeout(resolve, 250 * i));
    }
    return { sent: false, url: alertmanagerUrl, at: new Date(now()).toISOString(), detail: `alert NOT delivered to ${url}: ${failures.join("; ")}` };
}
