/**
 * Alertmanager routing by severity (003: INFO / WARN / HIGH / CRITICAL).  Receiver secrets never appear here:
 * the config refers to files mounted from a Kubernetes Secret (standalone) or secret keys (operator mode).
 */
export interface ReceiverPresence {
    slack: boolean;
    pagerduty: boolean;
}

/** Where the standalone Alertmanager finds receiver secrets (mounted from the Secret). */
export const RECEIVER_SECRET_FILES = {
    slackWebhookUrl: "/etc/alertmanager/secrets/slack-webhook-url",
    pagerdutyRoutingKey: "/etc/alertmanager/secrets/pagerduty-routing-key",
} as const;

/** The watchdog's route: every rollback trigger goes to its revert action first, then on to the pager as usual. */
export const WATCHDOG_RECEIVER = "speculation-watchdog";
export const WATCHDOG_ROUTE_MATCHER = 'rollback_trigger="true"';
export const WATCHDOG_PATH = "/alerts";

export interface WatchdogRoute {
    /** Base URL of the watchdog (lib/watchdog/action.js); Alertmanager posts to <url>/alerts. */
    url: string;
    /** How long Alertmanager waits to group a new alert before it calls the watchdog (default 0s: at once). */
    groupWait?: string;
}

export function alertmanagerConfig(r: ReceiverPresence, watchdog?: WatchdogRoute): Record<string, unknown> {
    const receivers: Record<string, unknown>[] = [{ name: "null" }];
    if (watchdog) receivers.push({ name: WATCHDOG_RECEIVER, webhook_configs: [{ url: `${watchdog.url}${WATCHDOG_PATH}`, send_resolved: false }] });
    const slack = r.slack ? [{ api_url_file: RECEIVER_SECRET_FILES.slackWebhookUrl, channel: "#agenc-alerts", send_resolved: true }] : undefined;
    const pagerduty = r.pagerduty ? [{ routing_key_file: RECEIVER_SECRET_FILES.pagerdutyRoutingKey, severity: "critical" }] : undefined;
    if (slack) receivers.push({ name: "slack", slack_configs: slack });
    if (pagerduty || slack) {
        receivers.push({ name: "pager", ...(pagerduty ? { pagerduty_configs: pagerduty } : {}), ...(slack ? { slack_configs: slack } : {}) });
    }
    const pager = pagerduty || slack ? "pager" : "null";
    const chat = slack ? "slack" : "null";
    return {
        route: {
            receiver: "null",
            group_by: ["alertname", "component"],
            group_wait: "30s",
            group_interval: "5m",
            repeat_interval: "4h",
            routes: [
                // continue: the revert does not replace the page, it comes before it.
                ...(watchdog ? [{
                    receiver: WATCHDOG_RECEIVER, matchers: [WATCHDOG_ROUTE_MATCHER], continue: true, group_by: ["alertname"],
                    group_wait: watchdog.groupWait ?? "0s", group_interval: "10s", repeat_interval: "5m",
                }] : []),
                { receiver: pager, matchers: ['severity="critical"'], repeat_interval: "1h" },
                { receiver: pager, matchers: ['severity="high"'] },
                { receiver: chat, matchers: ['severity="warning"'] },
                { receiver: "null", matchers: ['severity="info"'] },
            ],
        },
        inhibit_rules: [
            { source_matchers: ['severity="critical"'], target_matchers: ['severity=~"warning|high"'], equal: ["alertname", "component"] },
        ],
        receivers,
    };
}
