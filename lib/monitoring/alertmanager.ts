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

export function alertmanagerConfig(r: ReceiverPresence): Record<string, unknown> {
    const receivers: Record<string, unknown>[] = [{ name: "null" }];
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
