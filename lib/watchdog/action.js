#!/usr/bin/env node
/*
 * The watchdog: what protects a stage between `pulumi up`s (seed 000's abort loop, as a service), and after 100 %
 * the sentinel probes with the kill switch they pull (seed 003).
 *
 * Revert.  Prometheus evaluates the rollback-trigger alerts (rollback_trigger="true"); Alertmanager routes them here
 * as a webhook; this sets the rollout percentage to 0 through the admin API and reads it back, retrying with backoff
 * until it is confirmed or a hard deadline passes, falling back to the kill switch (speculation disabled).
 *
 * Ingress-weight mode (CANARY_INGRESS set): the traffic a revert takes away is the canary's share, the canary
 * Ingress's `nginx.ingress.kubernetes.io/canary-weight`, as Flagger does on a failed analysis.  The watchdog patches
 * it to "0" through the API server with its own service account (a Role that may only get and patch that one
 * Ingress) and reads it back; a canary Ingress that is gone carries no traffic.  The admin API is not a traffic path
 * in this mode (the canary boots with speculation disabled), so the revert does not touch it; the kill switch takes the
 * weight to 0 as well (it includes the revert in every mode).
 *
 * Kill switch.  An alert labelled kill_switch="true" (SpeculationSentinelFailing; a drift alarm may carry the same
 * label) disables speculation AND sets traffic to 0 %, and is confirmed only when /admin/status reads back both.  It
 * includes the revert: a webhook with both kinds of alert pulls the kill switch once.  Speculation stays off until an
 * operator turns it back on (no automatic recovery: traffic errs toward less).
 *
 * Sentinels.  With SENTINEL_INTERVAL_SECONDS > 0 (the program sets it once the plan has reached 100 %) it runs
 * seed 000's synthetic speculation (lib/watchdog/synthetic.js, the same judgement as the smoke tests) on that
 * schedule, counts each result and logs one JSON line per probe; Prometheus judges the success ratio over a window
 * (lib/monitoring/rules.ts sentinelAlerts) and fires the kill-switch alert.  A probe that cannot be sent or read is
 * a failure.
 *
 * Every revert and kill switch is a metric, a log line and (through the stack's rules) an alert; the window
 * judgement of the next `pulumi up` reads the last-revert gauge from Prometheus (a kill switch sets it too).
 *
 * Plain Node with no dependencies, so it runs unchanged from a ConfigMap in a stock, digest-pinned node image (the
 * Watchdog component) and as a local process in the local stack (reference/localMonitoring.ts): one mechanism.
 *
 * Environment:
 *   SERVICE_URL                 the speculation service's admin API (http://agenc-speculation.<ns>.svc:9090)
 *   ADMIN_TOKEN | ADMIN_TOKEN_FILE  the bearer token (in the cluster: from Secret agenc-speculation-secrets)
 *   PORT (9095), LISTEN_HOST (0.0.0.0)
 *   REVERT_DEADLINE_SECONDS (120)  give up (and report a failed revert or kill switch) after this long
 *   ATTEMPT_TIMEOUT_MS (2000)      one request's timeout in an action's first attempt; it doubles with every attempt
 *   ADMIN_API_TIMEOUT_MS (10000)   ... up to this: the longest an admin API (or API server) answer may take
 *   BACKOFF_INITIAL_MS (250), BACKOFF_MAX_MS (5000)  the pause after a failed attempt, doubling, jittered (half to all)
 *   PROMETHEUS_URL                 where the watchdog also reads the firing triggers itself (GET /api/v1/alerts), so a
 *                                  trigger that fires again is acted on whatever Alertmanager's grouping state
 *   POLL_INTERVAL_SECONDS (15), POLL_TIMEOUT_MS (5000)  how often, and how long one read may take
 *   SENTINEL_INTERVAL_SECONDS (0)  seconds between two sentinel probes; 0 or unset: no probes
 *   SENTINEL_TIMEOUT_MS (10000)    each of a probe's two requests
 *   CANARY_INGRESS                 ingress-weight mode: the canary Ingress whose weight a revert sets to 0
 *   KUBE_API_URL, KUBE_TOKEN_FILE, KUBE_CA_FILE, KUBE_NAMESPACE  where and as whom (default: the pod's service
 *                                  account: KUBERNETES_SERVICE_HOST/PORT and /var/run/secrets/kubernetes.io/serviceaccount)
 * Endpoints: POST /alerts (Alertmanager webhook), GET /metrics, GET /reverts (JSON: reverts and kill switches),
 * GET /sentinel (JSON: the last probes), GET /healthz.
 */
"use strict";
const http = require("http");
const https = require("https");
const fs = require("fs");
const { syntheticSpeculation } = require("./synthetic.js");

const env = process.env;
const fail = (msg) => {
    console.error(JSON.stringify({ level: "error", component: "agenc-watchdog", msg }));
    process.exit(2);
};
/** A numeric setting, or exit naming the variable and what it allows (before anything listens or probes). */
function number(name, fallback, min, allowed) {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min) fail(`${name}=${JSON.stringify(raw)}: must be ${allowed}`);
    return n;
}
const SERVICE_URL = (env.SERVICE_URL || "").replace(/\/$/, "");
const TOKEN = (env.ADMIN_TOKEN_FILE ? fs.readFileSync(env.ADMIN_TOKEN_FILE, "utf8") : env.ADMIN_TOKEN || "").trim();
const PORT = number("PORT", 9095, 0, "a port number (0 to 65535)");
const HOST = env.LISTEN_HOST || "0.0.0.0";
const DEADLINE_MS = number("REVERT_DEADLINE_SECONDS", 120, 1, "a number of seconds, at least 1") * 1000;
// Whole milliseconds: AbortSignal.timeout throws on a fraction.
const ATTEMPT_TIMEOUT_MS = Math.ceil(number("ATTEMPT_TIMEOUT_MS", 2000, 1, "a number of milliseconds, at least 1"));
const ADMIN_API_TIMEOUT_MS = Math.ceil(number("ADMIN_API_TIMEOUT_MS", Math.max(10000, ATTEMPT_TIMEOUT_MS), ATTEMPT_TIMEOUT_MS,
    `a number of milliseconds, at least ATTEMPT_TIMEOUT_MS (${ATTEMPT_TIMEOUT_MS})`));
const BACKOFF_INITIAL_MS = number("BACKOFF_INITIAL_MS", 250, 1, "a number of milliseconds, at least 1");
const BACKOFF_MAX_MS = number("BACKOFF_MAX_MS", 5000, BACKOFF_INITIAL_MS, `a number of milliseconds, at least BACKOFF_INITIAL_MS (${BACKOFF_INITIAL_MS})`);
const PROMETHEUS_URL = (env.PROMETHEUS_URL || "").replace(/\/$/, "");
const POLL_INTERVAL_S = number("POLL_INTERVAL_SECONDS", 15, 0.1, "a number of seconds, at least 0.1");
const POLL_TIMEOUT_MS = Math.ceil(number("POLL_TIMEOUT_MS", 5000, 1, "a number of milliseconds, at least 1"));
const SENTINEL_INTERVAL_S = number("SENTINEL_INTERVAL_SECONDS", 0, 0, "0 (no sentinel probes) or a number of seconds between two probes");
const SENTINEL_TIMEOUT_MS = number("SENTINEL_TIMEOUT_MS", 10000, 1, "a number of milliseconds, at least 1");
const ROLLOUT_KEY = "speculation.features.rollout_percentage";

if (!SERVICE_URL || !TOKEN) fail("SERVICE_URL and ADMIN_TOKEN (or ADMIN_TOKEN_FILE) are required");

const CANARY_INGRESS = env.CANARY_INGRESS || "";
const CANARY_WEIGHT = "nginx.ingress.kubernetes.io/canary-weight";
const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** The API server and the service account's credentials, read when CANARY_INGRESS is set (else undefined). */
const KUBE = CANARY_INGRESS ? (() => {
    const host = env.KUBERNETES_SERVICE_HOST;
    const api = (env.KUBE_API_URL || (host ? `https://${host.includes(":") ? `[${host}]` : host}:${env.KUBERNETES_SERVICE_PORT || 443}` : "")).replace(/\/$/, "");
    const tokenFile = env.KUBE_TOKEN_FILE || `${SA_DIR}/token`;
    const caFile = env.KUBE_CA_FILE || `${SA_DIR}/ca.crt`;
    let namespace = env.KUBE_NAMESPACE;
    if (!namespace) {
        try { namespace = fs.readFileSync(`${SA_DIR}/namespace`, "utf8").trim(); } catch { /* named below */ }
    }
    if (!api) fail("CANARY_INGRESS is set but there is no API server: set KUBE_API_URL or run in a pod (KUBERNETES_SERVICE_HOST)");
    if (!namespace) fail("CANARY_INGRESS is set but there is no namespace: set KUBE_NAMESPACE or mount the service account");
    for (const [name, file] of [["KUBE_TOKEN_FILE", tokenFile], ["KUBE_CA_FILE", caFile]]) {
        if (!fs.existsSync(file)) fail(`CANARY_INGRESS is set but ${name} ${file} does not exist (is the service account token mounted?)`);
    }
    return { api, tokenFile, ca: fs.readFileSync(caFile), namespace };
})() : undefined;

const state = {
    reverts: new Map(), confirmed: 0, failures: 0, lastRevert: 0,
    kills: new Map(), killsConfirmed: 0, killFailures: 0, lastKill: 0,
    history: [],
};
const sentinel = { success: 0, failure: 0, lastProbe: undefined, lastOk: undefined, recent: [] };
const log = (fields) => console.log(JSON.stringify({ time: new Date().toISOString(), component: "agenc-watchdog", ...fields }));

/**
 * One request's timeout in the attempt under way (untilConfirmed sets it: ATTEMPT_TIMEOUT_MS doubling per attempt up
 * to ADMIN_API_TIMEOUT_MS, never past the deadline).  One action runs at a time, so one value serves.
 */
let requestTimeoutMs = ATTEMPT_TIMEOUT_MS;

async function call(path, init) {
    const res = await fetch(`${SERVICE_URL}${path}`, { ...init, signal: AbortSignal.timeout(requestTimeoutMs) });
    const text = await res.text();
    if (res.status < 200 || res.status > 299) throw new Error(`${path}: HTTP ${res.status}`);
    return JSON.parse(text);
}

async function status() {
    const body = await call("/admin/status", {});
    const s = body && body.speculation;
    if (!s || typeof s.rollout_percentage !== "number" || typeof s.enabled !== "boolean") {
        throw new Error("/admin/status: no speculation.enabled / speculation.rollout_percentage");
    }
    return { enabled: s.enabled, percentage: s.rollout_percentage };
}

/**
 * One request to the API server as the watchdog's service account.  The token is read at every call: a projected
 * token is rotated by the kubelet.  Resolves { status, body }; rejects only when the API server cannot be reached.
 */
function kube(method, apiPath, body) {
    const token = fs.readFileSync(KUBE.tokenFile, "utf8").trim();
    return new Promise((resolve, reject) => {
        const req = https.request(`${KUBE.api}${apiPath}`, {
            method, ca: KUBE.ca, signal: AbortSignal.timeout(requestTimeoutMs),
            headers: { authorization: `Bearer ${token}`, accept: "application/json", ...(body ? { "content-type": "application/merge-patch+json" } : {}) },
        }, (res) => {
            let text = "";
            res.on("data", (c) => { text += c; });
            res.on("end", () => {
                let parsed;
                try { parsed = JSON.parse(text); } catch { parsed = undefined; }
                resolve({ status: res.statusCode, body: parsed });
            });
        });
        req.on("error", (e) => reject(new Error(`${method} ${apiPath}: ${e.name === "AbortError" ? `timeout after ${requestTimeoutMs} ms` : e.message}`)));
        req.end(body ? JSON.stringify(body) : undefined);
    });
}

const ingressPath = () => `/apis/networking.k8s.io/v1/namespaces/${encodeURIComponent(KUBE.namespace)}/ingresses/${encodeURIComponent(CANARY_INGRESS)}`;
const kubeError = (what, r) => new Error(`${what} ingress/${CANARY_INGRESS}: HTTP ${r.status}${r.body && r.body.message ? ` ${r.body.message}` : ""}`);

/** The canary's weight as the API server has it; a canary Ingress that is gone carries no traffic (weight 0). */
async function canaryWeight() {
    const r = await kube("GET", ingressPath());
    if (r.status === 404) return { weight: 0, gone: true };
    if (r.status < 200 || r.status > 299) throw kubeError("GET", r);
    const annotations = (r.body && r.body.metadata && r.body.metadata.annotations) || {};
    const weight = Number(annotations[CANARY_WEIGHT]);
    if (annotations[CANARY_WEIGHT] === undefined || !Number.isFinite(weight)) throw new Error(`ingress/${CANARY_INGRESS}: no numeric ${CANARY_WEIGHT} annotation`);
    return { weight, gone: false };
}

async function zeroCanaryWeight() {
    const r = await kube("PATCH", `${ingressPath()}?fieldManager=agenc-watchdog`, { metadata: { annotations: { [CANARY_WEIGHT]: "0" } } });
    if (r.status === 404) return;
    if (r.status < 200 || r.status > 299) throw kubeError("PATCH", r);
}

const post = (body) => call("/admin/config", {
    method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body),
});

const killed = (s) => s.enabled === false && s.percentage === 0;
const readBack = (s) => `read back ${s.percentage} %${s.enabled ? "" : " (disabled)"}`;

/**
 * Ingress-weight mode: the kill switch includes the revert, as it does in feature-flag mode — the canary's weight
 * goes to 0 first, then speculation off; confirmed only when both read back.
 */
function withCanaryWeight(action, what) {
    if (!CANARY_INGRESS) return action;
    const both = (ok) => (s) => ok(s) && s.weight === 0;
    return {
        read: async () => ({ ...(await action.read()), ...(await canaryWeight()) }),
        show: (s) => `${action.show(s)}; ${CANARY_WEIGHT} ${s.weight}`,
        what,
        done: both(action.done),
        paths: action.paths.map((p) => ({
            name: p.name,
            apply: async () => {
                const errors = [];
                for (const step of [zeroCanaryWeight, p.apply]) {
                    try { await step(); } catch (e) { errors.push(e.message); }
                }
                if (errors.length > 0) throw new Error(errors.join("; "));
            },
            confirmed: both(p.confirmed),
        })),
    };
}

/**
 * What each action does, in order of its paths (two attempts each, then the next); each is confirmed by reading the
 * traffic back (`read`: /admin/status, or the canary Ingress in ingress-weight mode).  `done` is what the first read
 * must show for there to be nothing to do; `what` is the log line of a confirmed action.
 */
const ACTIONS = {
    revert: CANARY_INGRESS ? {
        read: canaryWeight,
        show: (s) => (s.gone ? `ingress/${CANARY_INGRESS} is gone` : `read back ${CANARY_WEIGHT} ${s.weight}`),
        done: (s) => s.weight === 0,
        what: `REVERTED: canary weight of ingress/${CANARY_INGRESS} set to 0 and confirmed`,
        paths: [{ name: "canary-weight", apply: zeroCanaryWeight, confirmed: (s) => s.weight === 0 }],
    } : {
        read: status,
        show: readBack,
        what: "REVERTED: rollout percentage set to 0 and confirmed",
        done: (s) => s.percentage === 0,
        paths: [
            { name: "admin-api", apply: () => post({ [ROLLOUT_KEY]: 0 }), confirmed: (s) => s.percentage === 0 },
            { name: "kill-switch", apply: () => post({ "speculation.enabled": false, [ROLLOUT_KEY]: 0 }), confirmed: (s) => s.enabled === false || s.percentage === 0 },
        ],
    },
    "kill-switch": withCanaryWeight({
        read: status,
        show: readBack,
        what: "KILL SWITCH: speculation disabled and traffic at 0 %, confirmed",
        done: killed,
        paths: [
            { name: "kill-switch", apply: () => post({ "speculation.enabled": false, [ROLLOUT_KEY]: 0 }), confirmed: killed },
            {
                // A service that refuses one of the keys in a combined update still gets the other.
                name: "key-by-key",
                apply: async () => {
                    const errors = [];
                    for (const body of [{ "speculation.enabled": false }, { [ROLLOUT_KEY]: 0 }]) {
                        try { await post(body); } catch (e) { errors.push(e.message); }
                    }
                    if (errors.length === 2) throw new Error(errors.join("; "));
                },
                confirmed: killed,
            },
        ],
    }, `KILL SWITCH: speculation disabled and traffic at 0 % and the canary weight of ingress/${CANARY_INGRESS} 0, confirmed`),
};

/**
 * Tries the action until the read-back confirms it or REVERT_DEADLINE_SECONDS pass.  Attempt n (0-based) gives each
 * request min(ADMIN_API_TIMEOUT_MS, ATTEMPT_TIMEOUT_MS × 2ⁿ) — a slow admin API gets the time it needs instead of the
 * same too-short timeout forever — and pauses min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS × 2ⁿ), jittered, after a
 * failure.  lib/guard/bound.ts computes the worst case of exactly this schedule.
 */
async function untilConfirmed(kind, alertnames) {
    const action = ACTIONS[kind];
    const started = Date.now();
    const deadline = started + DEADLINE_MS;
    const attempts = [];
    for (let n = 0; Date.now() < deadline; n++) {
        const path = action.paths[Math.min(action.paths.length - 1, Math.floor(n / 2))];
        const at = new Date().toISOString();
        requestTimeoutMs = Math.max(1, Math.min(ADMIN_API_TIMEOUT_MS, ATTEMPT_TIMEOUT_MS * 2 ** n, deadline - Date.now()));
        try {
            const before = n === 0 ? await action.read() : undefined;
            if (before && action.done(before)) return { outcome: kind === "revert" ? "already-zero" : "already-killed", attempts };
            await path.apply();
            const after = await action.read();
            attempts.push({ at, path: path.name, timeout_ms: requestTimeoutMs, result: action.show(after) });
            if (path.confirmed(after)) return { outcome: "confirmed", path: path.name, attempts };
        } catch (e) {
            attempts.push({ at, path: path.name, timeout_ms: requestTimeoutMs, result: `failed: ${e.message}` });
        }
        log({ level: "warn", msg: `${kind} not confirmed yet, retrying`, action: kind, alerts: alertnames, attempt: attempts[attempts.length - 1] });
        // Equal jitter (as lib/revert/revert.ts jittered): doublings alone retry a periodic fault in the same phase.
        const backoff = Math.min(BACKOFF_MAX_MS, BACKOFF_INITIAL_MS * 2 ** n);
        const pause = Math.min(backoff / 2 + Math.random() * (backoff / 2), deadline - Date.now());
        if (pause > 0) await new Promise((r) => setTimeout(r, pause));
    }
    return { outcome: "unconfirmed", attempts };
}

/** Which action a webhook asks for: the kill switch when any firing alert carries kill_switch="true". */
function classify(payload) {
    const firing = ((payload && payload.alerts) || []).filter((a) => a && a.status === "firing" && a.labels);
    const kill = firing.filter((a) => a.labels.kill_switch === "true");
    if (kill.length > 0) return { kind: "kill-switch", alerts: kill };
    const revert = firing.filter((a) => a.labels.rollback_trigger === "true");
    return revert.length > 0 ? { kind: "revert", alerts: revert } : undefined;
}

let queue = Promise.resolve();
/** Actions queued or running: the poll adds none while one is under way (it would find the work done). */
let pending = 0;
function onAlerts(payload, via = "alertmanager") {
    const what = classify(payload);
    if (!what) return Promise.resolve({ outcome: "ignored" });
    const names = [...new Set(what.alerts.map((a) => a.labels.alertname))];
    const kill = what.kind === "kill-switch";
    pending += 1;
    // One action at a time: a second webhook waits for the first and then finds it done already.
    const run = queue.then(async () => {
        const r = await untilConfirmed(what.kind, names);
        const at = Date.now() / 1000;
        const when = new Date(at * 1000).toISOString();
        if (r.outcome === "confirmed") {
            if (kill) {
                state.killsConfirmed += 1;
                for (const a of names) state.kills.set(a, (state.kills.get(a) || 0) + 1);
                state.lastKill = at;
                log({ level: "error", msg: ACTIONS[what.kind].what, action: what.kind, alerts: names, path: r.path, attempts: r.attempts.length });
            } else {
                state.confirmed += 1;
                for (const a of names) state.reverts.set(a, (state.reverts.get(a) || 0) + 1);
                log({ level: "error", msg: ACTIONS[what.kind].what, action: what.kind, alerts: names, path: r.path, attempts: r.attempts.length });
            }
            // Traffic was taken away either way: the next window judgement must see it.
            state.lastRevert = at;
            state.history.push({ at: when, action: what.kind, alerts: names, path: r.path, attempts: r.attempts });
        } else if (r.outcome === "unconfirmed") {
            if (kill) state.killFailures += 1;
            else state.failures += 1;
            state.history.push({ at: when, action: what.kind, alerts: names, failed: true, attempts: r.attempts });
            log({ level: "error", msg: kill ? "KILL SWITCH FAILED: not confirmed before the deadline" : "REVERT FAILED: not confirmed before the deadline", action: what.kind, alerts: names, attempts: r.attempts });
        } else {
            if (via !== "prometheus") {
                log({ level: "info", msg: kill ? "kill-switch alert firing; speculation already disabled at 0 %" : `rollback trigger firing; traffic already at 0 %${CANARY_INGRESS ? ` (canary weight of ingress/${CANARY_INGRESS})` : ""}`, action: what.kind, alerts: names });
            }
        }
        state.history = state.history.slice(-100);
        // What the action took away: a gate's revert (lib/revert) trusts a confirmation only for the traffic it means.
        return { ...r, action: what.kind, via, target: what.kind === "revert" && CANARY_INGRESS ? "canary-weight" : "rollout-percentage" };
    });
    const done = run.finally(() => { pending -= 1; });
    queue = done.catch(() => undefined);
    return done;
}

/**
 * The second way a trigger reaches the watchdog: every POLL_INTERVAL_SECONDS it reads Prometheus's firing alerts
 * (GET /api/v1/alerts) and acts on any rollback trigger or kill-switch alert, exactly as on a webhook.  Alertmanager
 * treats an alert that fires again soon after a revert as already notified until repeat_interval; Prometheus does not
 * (it has no grouping state), so a trigger that fires again — traffic turned back on, the fault still there — is
 * acted on within one poll.  The first read of an action finds traffic already at 0 when it is (nothing counted).
 * A silence in Alertmanager does not stop this: a silence hides a page, not a failing service.
 */
const poll = { ok: 0, failed: 0, lastOk: 0 };
async function pollOnce() {
    if (pending > 0) return;
    let firing;
    try {
        const res = await fetch(`${PROMETHEUS_URL}/api/v1/alerts`, { signal: AbortSignal.timeout(POLL_TIMEOUT_MS) });
        if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
        const body = await res.json();
        firing = ((body && body.data && body.data.alerts) || [])
            .filter((a) => a && a.state === "firing" && a.labels && (a.labels.rollback_trigger === "true" || a.labels.kill_switch === "true"));
        poll.ok += 1;
        poll.lastOk = Date.now() / 1000;
    } catch (e) {
        poll.failed += 1;
        log({ level: "warn", msg: "could not read the firing triggers from Prometheus (Alertmanager's webhook still reaches the watchdog)", prometheus: PROMETHEUS_URL, error: e.message });
        return;
    }
    if (firing.length === 0 || pending > 0) return;
    await onAlerts({ alerts: firing.map((a) => ({ status: "firing", labels: a.labels })) }, "prometheus");
}

function schedulePolls() {
    if (!PROMETHEUS_URL) return undefined;
    let timer;
    let stopped = false;
    const tick = async () => {
        const started = Date.now();
        try { await pollOnce(); } catch (e) { log({ level: "error", msg: "poll failed", error: e.message }); }
        if (!stopped) timer = setTimeout(tick, Math.max(0, POLL_INTERVAL_S * 1000 - (Date.now() - started)));
    };
    timer = setTimeout(tick, 0);
    return () => { stopped = true; clearTimeout(timer); };
}

/** One sentinel probe: seed 000's synthetic speculation, judged as the smoke tests judge it; never throws. */
async function probe() {
    const started = Date.now();
    let r;
    try {
        r = await syntheticSpeculation({ serviceUrl: SERVICE_URL, adminToken: TOKEN, timeoutMs: SENTINEL_TIMEOUT_MS });
    } catch (e) {
        r = { ok: false, observed: `probe failed: ${e.message}` };
    }
    const result = r.ok ? "success" : "failure";
    sentinel[result] += 1;
    sentinel.lastProbe = Date.now() / 1000;
    sentinel.lastOk = r.ok;
    const entry = { at: new Date(started).toISOString(), result, duration_ms: Date.now() - started, observed: r.observed };
    sentinel.recent = [...sentinel.recent, entry].slice(-100);
    log({ level: r.ok ? "info" : "warn", msg: "sentinel probe", ...entry });
}

/** Probes every SENTINEL_INTERVAL_SECONDS from start, never two at once (a slow probe delays the next one). */
function scheduleSentinels() {
    if (!(SENTINEL_INTERVAL_S > 0)) return undefined;
    const every = SENTINEL_INTERVAL_S * 1000;
    let next = Date.now();
    let timer;
    const tick = async () => {
        await probe();
        next = Math.max(next + every, Date.now());
        timer = setTimeout(tick, next - Date.now());
    };
    timer = setTimeout(tick, 0);
    return () => clearTimeout(timer);
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
        "# HELP agenc_watchdog_last_revert_timestamp_seconds When traffic was last taken away and confirmed, by a revert or the kill switch (0: none since start).",
        "# TYPE agenc_watchdog_last_revert_timestamp_seconds gauge",
        `agenc_watchdog_last_revert_timestamp_seconds ${state.lastRevert}`,
        "# HELP agenc_watchdog_kill_switches_total Kill switches (speculation disabled and 0 %) the watchdog pulled and confirmed.",
        "# TYPE agenc_watchdog_kill_switches_total counter",
        `agenc_watchdog_kill_switches_total ${state.killsConfirmed}`,
        "# HELP agenc_watchdog_kill_switch_triggers_total Kill-switch alerts behind the confirmed kill switches.",
        "# TYPE agenc_watchdog_kill_switch_triggers_total counter",
        ...[...state.kills].map(([a, n]) => `agenc_watchdog_kill_switch_triggers_total{alertname="${a}"} ${n}`),
        "# HELP agenc_watchdog_kill_switch_failures_total Kill switches not confirmed before the deadline.",
        "# TYPE agenc_watchdog_kill_switch_failures_total counter",
        `agenc_watchdog_kill_switch_failures_total ${state.killFailures}`,
        "# HELP agenc_watchdog_last_kill_switch_timestamp_seconds When the last confirmed kill switch happened (0: none since start).",
        "# TYPE agenc_watchdog_last_kill_switch_timestamp_seconds gauge",
        `agenc_watchdog_last_kill_switch_timestamp_seconds ${state.lastKill}`,
        "# HELP agenc_watchdog_polls_total Reads of Prometheus's firing triggers, by result.",
        "# TYPE agenc_watchdog_polls_total counter",
        `agenc_watchdog_polls_total{result="ok"} ${poll.ok}`,
        `agenc_watchdog_polls_total{result="failed"} ${poll.failed}`,
        "# HELP agenc_watchdog_poll_interval_seconds Seconds between two reads of Prometheus's firing triggers (0: not polling).",
        "# TYPE agenc_watchdog_poll_interval_seconds gauge",
        `agenc_watchdog_poll_interval_seconds ${PROMETHEUS_URL ? POLL_INTERVAL_S : 0}`,
        "# HELP agenc_watchdog_last_poll_timestamp_seconds When the watchdog last read Prometheus's firing triggers (0: never).",
        "# TYPE agenc_watchdog_last_poll_timestamp_seconds gauge",
        `agenc_watchdog_last_poll_timestamp_seconds ${poll.lastOk}`,
        "# HELP agenc_sentinel_interval_seconds Seconds between two sentinel probes (0: this watchdog does not probe).",
        "# TYPE agenc_sentinel_interval_seconds gauge",
        `agenc_sentinel_interval_seconds ${SENTINEL_INTERVAL_S}`,
        "# HELP agenc_sentinel_probes_total Sentinel probes (seed 000's synthetic speculation) by result.",
        "# TYPE agenc_sentinel_probes_total counter",
        `agenc_sentinel_probes_total{result="success"} ${sentinel.success}`,
        `agenc_sentinel_probes_total{result="failure"} ${sentinel.failure}`,
    ];
    if (sentinel.lastProbe !== undefined) {
        // Absent until the first probe has finished: a timestamp of 0 would read as a probe long overdue.
        lines.push(
            "# HELP agenc_sentinel_last_probe_timestamp_seconds When the last sentinel probe finished.",
            "# TYPE agenc_sentinel_last_probe_timestamp_seconds gauge",
            `agenc_sentinel_last_probe_timestamp_seconds ${sentinel.lastProbe}`,
            "# HELP agenc_sentinel_last_probe_success 1 when the last sentinel probe succeeded.",
            "# TYPE agenc_sentinel_last_probe_success gauge",
            `agenc_sentinel_last_probe_success ${sentinel.lastOk ? 1 : 0}`,
        );
    }
    return lines.join("\n") + "\n";
}

const server = http.createServer((req, res) => {
    const reply = (code, body, type = "application/json") => { res.writeHead(code, { "content-type": type }); res.end(body); };
    if (req.method === "GET" && req.url === "/metrics") return reply(200, metrics(), "text/plain; version=0.0.4");
    if (req.method === "GET" && req.url === "/healthz") return reply(200, JSON.stringify({ status: "ok" }));
    if (req.method === "GET" && req.url === "/reverts") return reply(200, JSON.stringify({ reverts: state.history }));
    if (req.method === "GET" && req.url === "/sentinel") {
        return reply(200, JSON.stringify({ intervalSeconds: SENTINEL_INTERVAL_S, success: sentinel.success, failure: sentinel.failure, probes: sentinel.recent }));
    }
    if (req.method === "POST" && req.url === "/alerts") {
        let body = "";
        req.on("data", (c) => { body += c; if (body.length > 1e6) req.destroy(); });
        req.on("end", () => {
            let payload;
            try { payload = JSON.parse(body); } catch { return reply(400, JSON.stringify({ error: "not JSON" })); }
            // An action that is not confirmed answers 500, so Alertmanager sends the notification again.
            onAlerts(payload).then((r) => reply(r.outcome === "unconfirmed" ? 500 : 200, JSON.stringify(r)),
                (e) => reply(500, JSON.stringify({ error: e.message })));
        });
        return undefined;
    }
    return reply(404, JSON.stringify({ error: "not found" }));
});
let stopSentinels;
let stopPolls;
server.listen(PORT, HOST, () => {
    log({ level: "info", msg: "watchdog listening", port: server.address().port, service: SERVICE_URL, sentinelIntervalSeconds: SENTINEL_INTERVAL_S,
        attemptTimeoutMs: ATTEMPT_TIMEOUT_MS, adminApiTimeoutMs: ADMIN_API_TIMEOUT_MS,
        ...(PROMETHEUS_URL ? { prometheus: PROMETHEUS_URL, pollIntervalSeconds: POLL_INTERVAL_S } : { prometheus: "not polled (PROMETHEUS_URL unset): Alertmanager's webhook only" }),
        ...(KUBE ? { reverts: `canary weight of ingress/${CANARY_INGRESS} in ${KUBE.namespace} (${KUBE.api})` } : {}) });
    stopSentinels = scheduleSentinels();
    stopPolls = schedulePolls();
});
const stop = () => { if (stopSentinels) stopSentinels(); if (stopPolls) stopPolls(); server.close(() => process.exit(0)); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
