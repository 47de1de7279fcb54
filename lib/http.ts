/**
 * One HTTP request with a deadline, its transport failures named (no answer in time, or unreachable) instead of
 * thrown.  The admin API client and the gate's measurements share it; plain functions, so dynamic providers can
 * capture it when Pulumi serialises them.
 */
export type Fetched =
    | { ok: true; status: number; text: string }
    /** `why` is the bare cause, without the URL. */
    | { ok: false; failure: "timeout" | "unreachable"; why: string };

export async function fetchWithin(url: string, init: RequestInit, timeoutMs: number): Promise<Fetched> {
    try {
        // AbortSignal.timeout takes whole milliseconds only: a fraction (what is left of a deadline, a jittered
        // budget) throws a RangeError that would read as an unreachable service on every attempt.
        const res = await fetch(url, { ...init, signal: AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs))) });
        return { ok: true, status: res.status, text: await res.text() };
    } catch (err) {
        const e = err as Error;
        if (e.name === "TimeoutError" || e.name === "AbortError") return { ok: false, failure: "timeout", why: `no answer within ${timeoutMs} ms` };
        return { ok: false, failure: "unreachable", why: (e.cause as Error | undefined)?.message ?? e.message };
    }
}
