/**
 * One HTTP request with a deadline, its transport failures named (no answer in time, or unreachable) instead of
 * thrown.  The admin API client and the gate's measurements share it; plain functions, so dynamic providers can
 * capture it when Pulumi serialises them.
 */
export type Fetched =
    | { ok: true; status: number; text: string }
    /** `why` is the bare cause, without the URL. */
    | { ok: false; failure: "timeout" | "unreachable"; why: string };

/**
 * `init.signal`, when given, is the caller giving up (a provider whose engine is gone): the request is aborted at
 * once — the connection closed, even mid-request — and the signal's reason is thrown, never reported as the
 * service's timeout or unreachability.
 */
export async function fetchWithin(url: string, init: RequestInit, timeoutMs: number): Promise<Fetched> {
    // AbortSignal.timeout takes whole milliseconds only: a fraction (what is left of a deadline, a jittered
    // budget) throws a RangeError that would read as an unreachable service on every attempt.
    const timeout = AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs)));
    const caller = init.signal ?? undefined;
    try {
        const res = await fetch(url, { ...init, signal: caller ? AbortSignal.any([caller, timeout]) : timeout });
        return { ok: true, status: res.status, text: await res.text() };
    } catch (err) {
        if (caller?.aborted) throw caller.reason ?? err;
        const e = err as Error;
        if (e.name === "TimeoutError" || e.name === "AbortError") return { ok: false, failure: "timeout", why: `no answer within ${timeoutMs} ms` };
        return { ok: false, failure: "unreachable", why: (e.cause as Error | undefined)?.message ?? e.message };
    }
}

/**
 * A URL as it may be printed: any user:password replaced by `***`, so a log line or an error never carries a
 * credential (the stack config refuses userinfo in plain URL keys; this also covers URLs from elsewhere).  Text that
 * is no URL is not echoed either.
 */
export function redactUrl(url: string): string {
    try {
        const u = new URL(url);
        if (u.username || u.password) { u.username = "***"; u.password = ""; }
        return u.toString().replace(/\/$/, "");
    } catch {
        return "(an unparseable URL)";
    }
}
