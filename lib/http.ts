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
        // Node's fetch quotes a URL with user:password@ whole in its refusal: the credentials never reach a message.
        return { ok: false, failure: "unreachable", why: withoutUserinfo((e.cause as Error | undefined)?.message ?? e.message) };
    }
}

/**
 * `text` with the user:password@ of every URL it quotes replaced by `***@` (lib/records/redact.ts's redactUrl does it
 * for one URL; this module sits in the same layer and cannot import it: docs/layering.md).
 */
export function withoutUserinfo(text: string): string {
    return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/@]*@/gi, "$1***@");
}
