/**
 * An HTTP read whose every failure is a named ReadFailure instead of a throw: the one way the gate, the bake window
 * and the Prometheus client fetch what they measure.  Built on lib/http.ts's fetchWithin (deadline, transport
 * failures named); plain functions, so dynamic providers capture them when Pulumi serialises them.
 */
import { fetchWithin } from "../http";
import { redactUrl } from "../records/redact";

/** Why a reading could not be used.  Each is a no-go of its own, named in the decision record. */
export type ReadFailure =
    | "unreachable" | "timeout" | "http-status" | "malformed" | "rejected-token" | "missing-metric" | "nan" | "stale"
    /** Too few observations for the statistic to mean anything (a p99 of 20 operations): always holds, never passes. */
    | "sparse";

/** A value read, or why it could not be: `detail` names the URL or query and what went wrong. */
export type Measured<T> = { ok: true; value: T } | { ok: false; failure: ReadFailure; detail: string };

/** A failed Measured of any type. */
export function fail<T>(failure: ReadFailure, detail: string): Measured<T> {
    return { ok: false, failure, detail };
}

/** A response (any status), or the transport failure with the URL in its detail. */
export type Answer = { ok: true; status: number; text: string } | { ok: false; failure: ReadFailure; detail: string };

/** GET `url` within `timeoutMs`; HTTP 401 and 403 are `rejected-token`, every other status is the caller's to judge. */
export async function get(url: string, timeoutMs: number, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await fetchWithin(url, { headers }, timeoutMs);
    if (!res.ok) return { ok: false, failure: res.failure, detail: `${redactUrl(url)}: ${res.why}` };
    if (res.status === 401 || res.status === 403) return { ok: false, failure: "rejected-token", detail: `${redactUrl(url)}: HTTP ${res.status}` };
    return res;
}

/** GET a JSON object: a 2xx status (or one of `okStatuses`, e.g. 503 from /ready) and a body that parses to an object. */
export async function getJson(url: string, timeoutMs: number, okStatuses: number[] = []): Promise<Measured<any>> {
    const r = await get(url, timeoutMs);
    if (!r.ok) return r;
    if ((r.status < 200 || r.status > 299) && !okStatuses.includes(r.status)) return fail("http-status", `${redactUrl(url)}: HTTP ${r.status}`);
    try {
        const body = JSON.parse(r.text);
        if (body === null || typeof body !== "object") return fail("malformed", `${redactUrl(url)}: body is not a JSON object`);
        return { ok: true, value: body };
    } catch {
        return fail("malformed", `${redactUrl(url)}: body is not JSON`);
    }
}
