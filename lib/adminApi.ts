/**
 * The speculation service's admin API (seed 000): read and set the rollout percentage.  Plain functions with no
 * module state, so dynamic providers can capture them when Pulumi serialises the provider.
 */
export const ROLLOUT_KEY = "speculation.features.rollout_percentage";

export interface AdminStatus {
    enabled: boolean;
    rolloutPercentage: number;
}

export class AdminApiError extends Error {
    constructor(message: string, readonly reason: "unreachable" | "timeout" | "rejected-token" | "http-status" | "malformed") {
        super(message);
        this.name = "AdminApiError";
    }
}

async function call(url: string, init: RequestInit, timeoutMs: number): Promise<unknown> {
    let response: Response;
    try {
        response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
        const e = err as Error;
        if (e.name === "TimeoutError" || e.name === "AbortError") throw new AdminApiError(`${url}: no answer within ${timeoutMs} ms`, "timeout");
        throw new AdminApiError(`${url}: unreachable (${(e.cause as Error | undefined)?.message ?? e.message})`, "unreachable");
    }
    const text = await response.text();
    if (response.status === 401 || response.status === 403) throw new AdminApiError(`${url}: admin token rejected (HTTP ${response.status})`, "rejected-token");
    if (response.status < 200 || response.status > 299) throw new AdminApiError(`${url}: HTTP ${response.status}`, "http-status");
    try {
        return JSON.parse(text);
    } catch {
        throw new AdminApiError(`${url}: body is not JSON`, "malformed");
    }
}

export async function readAdminStatus(serviceUrl: string, timeoutMs = 5000): Promise<AdminStatus> {
    const body = await call(`${serviceUrl}/admin/status`, {}, timeoutMs) as { speculation?: { enabled?: unknown; rollout_percentage?: unknown } };
    const s = body?.speculation;
    if (typeof s?.enabled !== "boolean" || typeof s?.rollout_percentage !== "number") {
        throw new AdminApiError(`${serviceUrl}/admin/status: expected {speculation:{enabled, rollout_percentage}}`, "malformed");
    }
    return { enabled: s.enabled, rolloutPercentage: s.rollout_percentage };
}

/**
 * Sets the percentage (and enables speculation when it is above 0), then reads it back: a change that did not
 * take is an error, never a silent success.
 */
export async function setRolloutPercentage(serviceUrl: string, token: string, percentage: number, timeoutMs = 5000): Promise<AdminStatus> {
    await call(`${serviceUrl}/admin/config`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ "speculation.enabled": percentage > 0, [ROLLOUT_KEY]: percentage }),
    }, timeoutMs);
    const status = await readAdminStatus(serviceUrl, timeoutMs);
    if (status.rolloutPercentage !== percentage) {
        throw new AdminApiError(`${serviceUrl}: rollout percentage reads ${status.rolloutPercentage} after setting ${percentage}`, "malformed");
    }
    return status;
}
