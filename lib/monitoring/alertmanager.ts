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

/**
 * The watchdog's routes, both before the pager (continue: true) and both to the same webhook: every kill-switch alert
 * (kill_switch="true": sentinels below target, a drift alarm) to its kill switch, every other rollback trigger
 * (rollback_trigger="true") to its revert.  The revert route leaves out kill-switch alerts, so an alert that carried
 * both labels would still reach the watchdog once; the watchdog itself picks the action by the same labels.
 */
export const WATCHDOG_RECEIVER = "speculation-watchdog";
export const KILL_SWITCH_ROUTE_MATCHERS = ['kill_switch="true"'];
export const WATCHDOG_ROUTE_MATCHERS = ['rollback_trigger="true"', 'kill_switch!="true"'];

/** The same matchers in the AlertmanagerConfig CRD's shape (operator mode): `{ name, value, matchType }`. */
export function crdMatchers(matchers: readonly string[]): { name: string; value: string; matchType: string }[] {
    return matchers.map((m) => {
        const parsed = /^([a-zA-Z_][a-zA-Z0-9_]*)(=~|!~|!=|=)"(.*)"$/.exec(m);
        if (!parsed) throw new Error(`matcher ${m}: expected name="value" (=, !=, =~ or !~)`);
        return { name: parsed[1], value: parsed[3], matchType: parsed[2] };
    });
}
export const WATCHDOG_PATH = "/alerts";

export interface WatchdogRoute {
    /** Base URL of the watchdog (lib/watchdog/main.ts); Alertmanager posts to <url>/alerts. */
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
                // continue: the kill switch and the revert do not replace the page, they come before it.  A kill
                // switch is repeated every 5 min while its alert fires: re-enabling speculation by hand while the
                // sentinels still fail is undone (silence the alert to override; see the README).
                ...(watchdog ? [KILL_SWITCH_ROUTE_MATCHERS, WATCHDOG_ROUTE_MATCHERS].map((matchers) => ({
                    receiver: WATCHDOG_RECEIVER, matchers, continue: true, group_by: ["alertname"],
                    group_wait: watchdog.groupWait ?? "0s", group_interval: "10s", repeat_interval: "5m",
                })) : []),
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
