/*
 * Seed 000's synthetic speculation test, judged once for every caller: `POST /admin/test/speculation`, then
 * `GET /admin/test/speculation/latest`, which must report the run just started with result "ok".
 *
 * Plain Node with no dependencies (the watchdog mounts it bundled with the watchdog from the same ConfigMap and runs it as
 * its sentinel probe); lib/smoke/suite.ts runs the same function as smoke check 7, so a sentinel and a smoke test
 * can never judge the same answer differently.  It never throws: a probe that cannot be sent or read is a failure
 * (fail closed) whose `observed` says why.  The admin token is sent as a bearer token and never appears in `observed`.
 */
"use strict";

/**
 * @param {{ serviceUrl: string, adminToken: string, timeoutMs: number }} target
 * @returns {Promise<{ ok: boolean, observed: string }>}
 */
async function syntheticSpeculation(target) {
    const base = String(target.serviceUrl).replace(/\/$/, "");
    const headers = { authorization: `Bearer ${target.adminToken}` };
    const brief = (v) => { const s = JSON.stringify(v) ?? String(v); return s.length > 80 ? `${s.slice(0, 77)}...` : s; };
    const request = async (what, path, init) => {
        try {
            const res = await fetch(`${base}${path}`, { ...init, signal: AbortSignal.timeout(Math.max(1, Math.ceil(target.timeoutMs))) });
            return { status: res.status, text: await res.text() };
        } catch (e) {
            const timedOut = e && (e.name === "TimeoutError" || e.name === "AbortError");
            return { error: `${what}: ${timedOut ? `no answer within ${target.timeoutMs} ms` : `unreachable (${(e && e.cause && e.cause.message) || (e && e.message)})`}` };
        }
    };
    const before = Date.now();
    const post = await request("POST", "/admin/test/speculation", {
        method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify({ type: "synthetic", depth: 2 }),
    });
    if (post.error) return { ok: false, observed: post.error };
    if (post.status < 200 || post.status > 299) return { ok: false, observed: `POST: HTTP ${post.status} ${post.text.slice(0, 60)}` };
    const latest = await request("GET latest", "/admin/test/speculation/latest", { headers });
    if (latest.error) return { ok: false, observed: latest.error };
    let body;
    try { body = JSON.parse(latest.text); } catch { return { ok: false, observed: `GET latest: HTTP ${latest.status}, body is not JSON` }; }
    const l = body && body.latest;
    // The latest run must be the one just started (not an older one still reported).
    const ours = !!l && typeof l.at === "string" && Date.parse(l.at) >= before - 1000;
    return { ok: latest.status === 200 && ours && l.result === "ok", observed: `${ours ? "" : "stale: "}${brief(l)}` };
}

module.exports = { syntheticSpeculation };
