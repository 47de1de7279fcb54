/**
 * The critical alerts firing now, read from Prometheus (its ALERTS series) or from Alertmanager (`/api/v2/alerts`):
 * every gate checks that none is.  Measurement only; the gate's decision (lib/gate/decision.ts) judges the list.
 */
import { instantVector } from "./client";
import { fail, getJson, Measured } from "./read";
import { redactUrl } from "../records/redact";

/** Where the gate reads the critical alerts firing: Prometheus's ALERTS series, or Alertmanager's API. */
export type AlertSource = { prometheusUrl: string } | { alertmanagerUrl: string };

/** The PromQL of the critical alerts every gate checks, and Alertmanager's equivalent. */
export const CRITICAL_ALERTS_PROMQL = 'ALERTS{alertstate="firing",severity="critical"}';
export const CRITICAL_ALERTS_FILTER = 'severity="critical"';

/**
 * The critical alerts firing now (their names), and the query that read them, for the decision record.
 * Prometheus: the ALERTS series (an empty answer is "none firing").  Alertmanager: GET /api/v2/alerts, active ones,
 * silenced and inhibited included — a silence hides a page, not a failing service, so both sources see the same set.
 */
export async function readCriticalAlerts(source: AlertSource, timeoutMs: number): Promise<{ alerts: Measured<string[]>; query: string }> {
    if ("prometheusUrl" in source) {
        const query = `${CRITICAL_ALERTS_PROMQL} on ${redactUrl(source.prometheusUrl)}`;
        const v = await instantVector(source.prometheusUrl, CRITICAL_ALERTS_PROMQL, timeoutMs);
        return { alerts: v.ok ? { ok: true, value: v.value.map((r) => r.metric.alertname ?? "(unnamed)") } : v, query };
    }
    const qs = new URLSearchParams({ active: "true", silenced: "true", inhibited: "true", unprocessed: "true", filter: CRITICAL_ALERTS_FILTER });
    const url = `${source.alertmanagerUrl}/api/v2/alerts?${qs}`;
    const query = `GET ${redactUrl(source.alertmanagerUrl)}/api/v2/alerts?filter=${CRITICAL_ALERTS_FILTER}`;
    const body = await getJson(url, timeoutMs);
    if (!body.ok) return { alerts: body, query };
    if (!Array.isArray(body.value)) return { alerts: fail("malformed", `${redactUrl(url)}: not a JSON array of alerts`), query };
    const firing = body.value.map((a: { labels?: { alertname?: string } }) => a?.labels?.alertname ?? "(unnamed)");
    return { alerts: { ok: true, value: firing }, query };
}
