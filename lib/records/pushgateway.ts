/**
 * The Pushgateway's credentials (`speculation:pushgatewayCredentials`, a secret key: config/index.ts): the record and
 * baseline pushes send them as HTTP basic auth, and the generated scrape config reads them from a Kubernetes Secret
 * (components/MonitoringStack.ts), so they never sit in `records.pushgatewayUrl` (a plain key, refused with userinfo).
 */
export interface PushgatewayAuth {
    username: string;
    password: string;
}

/** prom-client's Pushgateway request options: the timeout, and the Authorization header when there are credentials. */
export function pushgatewayOptions(timeoutMs: number, auth?: PushgatewayAuth): { timeout: number; headers?: Record<string, string> } {
    if (!auth) return { timeout: timeoutMs };
    return { timeout: timeoutMs, headers: { Authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`, "utf8").toString("base64")}` } };
}
