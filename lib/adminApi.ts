/**
 * The speculation service's admin API (seed 000): read and set the rollout percentage.  Plain functions with no
 * module state, so dynamic providers can capture them when Pulumi serialises the provider.
 */
import { fetchWithin } from "./http";
import { redactUrl } from "./records/redact";

export const ROLLOUT_KEY = "speculation.features.rollout_percentage";

export interface AdminStatus {
    enabled: boolean;
    rolloutPercentage: number;
}

export type AdminApiErrorReason = "unreachable" | "timeout" | "rejected-token" | "http-status" | "malformed";
export type AdminApiError = Error & { reason: AdminApiErrorReason };

/**
 * A plain Error with a reason, not a subclass: Pulumi's closure serialisation of a dynamic provider turns a class
 * that extends Error into one whose `message` is lost (found under the real engine; mocks never serialise).
 */
export function adminApiError(message: string, reason: AdminApiErrorReason): AdminApiError {
    return Object.assign(new Error(message), { name: "AdminApiError", reason });
}

async function call(url: string, init: RequestInit, timeoutMs: number): Promise<unknown> {
    const response = await fetchWithin(url, init, timeoutMs);
    if (!response.ok) {
        throw response.failure === "timeout"
            ? adminApiError(`${redactUrl(url)}: ${response.why}`, "timeout")
            : adminApiError(`${redactUrl(url)}: unreachable (${response.why})`, "unreachable");
    }
    if (response.status === 401 || response.status === 403) throw adminApiError(`${redactUrl(url)}: admin token rejected (HTTP ${response.status})`, "rejected-token");
    if (response.status < 200 || response.status > 299) throw adminApiError(`${redactUrl(url)}: HTTP ${response.status}`, "http-status");
    try {
        return JSON.parse(response.text);
    } catch {
        throw adminApiError(`${redactUrl(url)}: body is not JSON`, "malformed");
    }
}

export async function readAdminStatus(serviceUrl: string, timeoutMs = 5000, signal?: AbortSignal): Promise<AdminStatus> {
    const body = await call(`${serviceUrl}/admin/status`, signal ? { signal } : {}, timeoutMs) as { speculation?: { enabled?: unknown; rollout_percentage?: unknown } };
    const s = body?.speculation;
    if (typeof s?.enabled !== "boolean" || typeof s?.rollout_percentage !== "number") {
        throw adminApiError(`${redactUrl(serviceUrl)}/admin/status: expected {speculation:{enabled, rollout_percentage}}`, "malformed");
    }
    return { enabled: s.enabled, rolloutPercentage: s.rollout_percentage };
}

/**
 * Sets the percentage (and enables speculation when it is above 0), then reads it back: a change that did not
 * take is an error, never a silent success.  `signal` gives up on the write (and the read-back) wherever it is: the
 * connection is closed and the signal's reason thrown.
 */
export async function setRolloutPercentage(serviceUrl: string, token: string, percentage: number, timeoutMs = 5000, signal?: AbortSignal): Promise<AdminStatus> {
    await postAdminConfig(serviceUrl, token, { "speculation.enabled": percentage > 0, [ROLLOUT_KEY]: percentage }, timeoutMs, signal);
    const status = await readAdminStatus(serviceUrl, timeoutMs, signal);
    if (status.rolloutPercentage !== percentage) {
        throw adminApiError(`${redactUrl(serviceUrl)}: rollout percentage reads ${status.rolloutPercentage} after setting ${percentage}`, "malformed");
    }
    return status;
}

export interface AdminConfig {
    enabled: boolean;
    mode: string;
    maxDepth: number;
    rolloutPercentage: number;
}

/**
 * `GET /admin/config` (bearer token): the documented nested object, read as `.speculation.enabled` (seed 000's
 * smoke test 4).  An answer in any other shape (the flat dotted keys an older reference answered with) is
 * malformed, never guessed at.
 */
export async function readAdminConfig(serviceUrl: string, token: string, timeoutMs = 5000): Promise<AdminConfig> {
    const body = await call(`${serviceUrl}/admin/config`, { headers: { authorization: `Bearer ${token}` } }, timeoutMs) as
        { speculation?: { enabled?: unknown; mode?: unknown; max_depth?: unknown; features?: { rollout_percentage?: unknown } } };
    const s = body?.speculation;
    if (typeof s?.enabled !== "boolean" || typeof s.mode !== "string" || typeof s.max_depth !== "number"
        || typeof s.features?.rollout_percentage !== "number") {
        throw adminApiError(`${redactUrl(serviceUrl)}/admin/config: expected {speculation:{enabled, mode, max_depth, features:{rollout_percentage}}}`, "malformed");
    }
    return { enabled: s.enabled, mode: s.mode, maxDepth: s.max_depth, rolloutPercentage: s.features.rollout_percentage };
}

/** POSTs config keys to the admin API (bearer token), without reading them back: the caller confirms. */
export async function postAdminConfig(serviceUrl: string, token: string, update: Record<string, unknown>, timeoutMs = 5000, signal?: AbortSignal): Promise<void> {
    await call(`${serviceUrl}/admin/config`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify(update),
        ...(signal ? { signal } : {}),
    }, timeoutMs);
}
