#!/usr/bin/env node
/*
 * The watchdog's revert action: what protects a stage between `pulumi up`s (seed 000's abort loop, as a service).
 *
 * Prometheus evaluates the rollback-trigger alerts (rollback_trigger="true"); Alertmanager routes them here as a
 * webhook; this sets the rollout percentage to 0 through the admin API and reads it back, retrying with backoff
 * until it is confirmed or a hard deadline passes, falling back to the kill switch (speculation disabled).  Every
 * revert is a metric, a log line and (through the stack's rules) an alert; the window judgement of the next
 * `pulumi up` reads the last-revert gauge from Prometheus.
 *
 * Plain Node with no dependencies, so it runs unchanged from a ConfigMap in a stock, digest-pinned node image (the
 * Watchdog component) and as a local process in the local stack (scripts/localStack.ts): one mechanism.
 *
 * Environment:
 *   SERVICE_URL                 the speculation service's admin API (http://agenc-speculation.<ns>.svc:9090)
 *   ADMIN_TOKEN | ADMIN_TOKEN_FILE  the bearer token (in the cluster: from Secret agenc-speculation-secrets)
 *   PORT (9095), LISTEN_HOST (0.0.0.0)
 *   REVERT_DEADLINE_SECONDS (120)  give up (and report a failed revert) after this long
 *   ATTEMPT_TIMEOUT_MS (5000)      one admin API call
 * Endpoints: POST /alerts (Alertmanager webhook), GET /metrics, GET /reverts (JSON), GET /healthz.
 */
"use strict";
const http = require("http");
const fs = require("fs");

const env = process.env;
const SERVICE_URL = (env.SERVICE_URL || "").replace(/\/$/, "");
const TOKEN = (env.ADMIN_TOKEN_FILE ? fs.readFileSync(env.ADMIN_TOKEN_FILE, "utf8") : env.ADMIN_TOKEN || "").trim();
const PORT = Number(env.PORT || 9095);
const HOST = env.LISTEN_HOST || "0.0.0.0";
const DEADLINE_MS = Number(env.REVERT_DEADLINE_SECONDS || 120) * 1000;
const ATTEMPT_TIMEOUT_MS = Number(env.ATTEMPT_TIMEOUT_MS || 5000);
const ROLLOUT_KEY = "speculation.features.rollout_percentage";

if (!SERVICE_URL || !TOKEN) {
    console.error(JSON.stringify({ level: "error", msg: "SERVICE_URL and ADMIN_TOKEN (or ADMIN_TOKEN_FILE) are required" }));
    process.exit(2);
}

const state = { reverts: new Map(), confirmed: 0, failures: 0, lastRevert: 0, history: [] };
const log = (fields) => console.log(JSON.stringify({ time: new Date().toISOString(), component: "agenc-watchdog", ...fields }));

async function call(path, init) {
    const res = await fetch(`${SERVICE_URL}${path}`, { ...init, signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS) });
    const text = await res.text();
    if (res.status < 200 || res.status > 299) throw new Error(`${path}: HTTP ${res.status}`);
    return JSON.parse(text);
}

async function status() {
    const body = await call("/admin/status", {});
    const s = body && body.speculation;
    if (!s || typeof s.rollout_percentage !== "number") throw new Error("/admin/status: no speculation.rollout_percentage");
    return { enabled: s.enabled, percentage: s.rollout_percentage };
}

const post = (body) => call("/admin/config", {
    method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body),
});

/** The paths, in order: the rollout percentage to 0, then the kill switch. Each is confirmed by reading back. */
const PATHS = [
    { name: "admin-api", apply: () => post({ [ROLLOUT_KEY]: 0 }), confirmed: (s) => s.percentage === 0 },
    { name: "kill-switch", apply: () => post({ "speculation.enabled": false, [ROLLOUT_KEY]: 0 }), confirmed: (s) => s.enabled === false || s.percentage === 0 },
];

async function revertUntilConfirmed(alertnames) {
    const started = Date.now();
    const attempts = [];
    for (let n = 0; Date.now() - started < DEADLINE_MS; n++) {
        const path = PATHS[Math.min(PATHS.length - 1, Math.floor(n / 2))];
        const at = new Date().toISOString();
        try {
            const before = n === 0 ? await status() : undefined;
            if (before && before.percentage === 0) return { outcome: "already-zero", attempts };
            await path.apply();
            const after = await status();
            attempts.push({ at, path: path.name, result: `read back ${after.percentage} %${after.enabled ? "" : " (disabled)"}` });
            if (path.confirmed(after)) return { outcome: "confirmed", path: path.name, attempts };
        } catch (e) {
            attempts.push({ at, path: path.name, result: `failed: ${e.message}` });
        }
        log({ level: "warn", msg: "revert not confirmed yet, retrying", alerts: alertnames, attempt: attempts[attempts.length - 1] });
        await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** n)));
    }
    return { outcome: "unconfirmed", attempts };
}

let queue = Promise.resolve();
function onAlerts(payload) {
    const firing = (payload.alerts || []).filter((a) => a.status === "firing" && a.labels && a.labels.rollback_trigger === "true");
    if (firing.length === 0) return Promise.resolve({ outcome: "ignored" });
    const names = [...new Set(firing.map((a) => a.labels.alertname))];
    // One revert at a time: a second webhook waits for the first and then finds 0 % already.
    const run = queue.then(async () => {
        const r = await revertUntilConfirmed(names);
        const at = Date.now() / 1000;
        if (r.outcome === "confirmed") {
            state.confirmed += 1;
            for (const a of names) state.reverts.set(a, (state.reverts.get(a) || 0) + 1);
            state.lastRevert = at;
            state.history.push({ at: new Date(at * 1000).toISOString(), alerts: names, path: r.path, attempts: r.attempts });
            log({ level: "error", msg: "REVERTED: rollout percentage set to 0 and confirmed", alerts: names, path: r.path, attempts: r.attempts.length });
        } else if (r.outcome === "unconfirmed") {
            state.failures += 1;
            state.history.push({ at: new Date(at * 1000).toISOString(), alerts: names, failed: true, attempts: r.attempts });
            log({ level: "error", msg: "REVERT FAILED: not confirmed before the deadline", alerts: names, attempts: r.attempts });
        } else {
            log({ level: "info", msg: "rollback trigger firing; traffic already at 0 %", alerts: names });
        }
        state.history = state.history.slice(-100);
        return r;
    });
    queue = run.catch(() => undefined);
    return run;
}

function metrics() {
    const lines = [
        // Unlabelled and exposed from 0, so increase() sees the first revert (a labelled series born at 1 would not).
        "# HELP agenc_watchdog_reverts_total Reverts to 0 % the watchdog made and confirmed.",
        "# TYPE agenc_watchdog_reverts_total counter",
        `agenc_watchdog_reverts_total ${state.confirmed}`,
        "# HELP agenc_watchdog_revert_triggers_total Rollback-trigger alerts behind the confirmed reverts.",
        "# TYPE agenc_watchdog_revert_triggers_total counter",
        ...[...state.reverts].map(([a, n]) => `agenc_watchdog_revert_triggers_total{alertname="${a}"} ${n}`),
        "# HELP agenc_watchdog_revert_failures_total Reverts not confirmed before the deadline.",
        "# TYPE agenc_watchdog_revert_failures_total counter",
        `agenc_watchdog_revert_failures_total ${state.failures}`,
        "# HELP agenc_watchdog_last_revert_timestamp_seconds When the last confirmed revert happened (0: none since start).",
        "# TYPE agenc_watchdog_last_revert_timestamp_seconds gauge",
        `agenc_watchdog_last_revert_timestamp_seconds ${state.lastRevert}`,
    ];
    return lines.join("\n") + "\n";
}

const server = http.createServer((req, res) => {
    const reply = (code, body, type = "application/json") => { res.writeHead(code, { "content-type": type }); res.end(body); };
    if (req.method === "GET" && req.url === "/metrics") return reply(200, metrics(), "text/plain; version=0.0.4");
    if (req.method === "GET" && req.url === "/healthz") return reply(200, JSON.stringify({ status: "ok" }));
    if (req.method === "GET" && req.url === "/reverts") return reply(200, JSON.stringify({ reverts: state.history }));
    if (req.method === "POST" && req.url === "/alerts") {
        let body = "";
        req.on("data", (c) => { body += c; if (body.length > 1e6) req.destroy(); });
        req.on("end", () => {
            let payload;
            try { payload = JSON.parse(body); } catch { return reply(400, JSON.stringify({ error: "not JSON" })); }
            // A revert that is not confirmed answers 500, so Alertmanager sends the notification again.
            onAlerts(payload).then((r) => reply(r.outcome === "unconfirmed" ? 500 : 200, JSON.stringify(r)),
                (e) => reply(500, JSON.stringify({ error: e.message })));
        });
        return undefined;
    }
    return reply(404, JSON.stringify({ error: "not found" }));
});
server.listen(PORT, HOST, () => log({ level: "info", msg: "watchdog listening", port: server.address().port, service: SERVICE_URL }));
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
