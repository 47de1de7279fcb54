/*
 * The watchdog: what protects a stage between `pulumi up`s (seed 000's abort loop, as a service), and after 100 %
 * the sentinel probes with the kill switch they pull (seed 003).  Bundled with its imports into one plain-Node file
 * (lib/watchdog/bundle.ts, esbuild) that runs unchanged from a ConfigMap in a stock, digest-pinned node image (the
 * Watchdog component) and as a local process in the local stack (reference/localMonitoring.ts): one mechanism.
 *
 * Revert.  Prometheus evaluates the rollback triggers (rollback_trigger="true"); Alertmanager routes them here as a
 * webhook, and the watchdog also reads the firing triggers from Prometheus itself every POLL_INTERVAL_SECONDS (an
 * alert that fires again soon after a revert is "already notified" for Alertmanager until repeat_interval; Prometheus
 * has no such state; the watchdog reads its ALERTS series).  It sets the rollout percentage to 0 through the admin API and reads it back, retrying on the
 * schedule lib/guard/bound.ts computes the bound from, until confirmed or a hard deadline passes, falling back to the
 * kill switch (speculation disabled).
 *
 * Ingress-weight mode (CANARY_INGRESS set): the traffic a revert takes away is the canary Ingress's
 * `nginx.ingress.kubernetes.io/canary-weight`, patched to "0" through the API server with the watchdog's own service
 * account (a Role that may only get and patch that one Ingress) and read back; a canary Ingress that is gone carries
 * no traffic.
 *
 * Kill switch.  An alert labelled kill_switch="true" disables speculation AND sets traffic to 0 %, confirmed only when
 * /admin/status reads back both.  Speculation stays off until an operator turns it back on.
 *
 * Sentinels.  With SENTINEL_INTERVAL_SECONDS > 0 (the program sets it once the plan has reached 100 %) it runs seed
 * 000's synthetic speculation (lib/watchdog/synthetic.js) on that schedule; Prometheus judges the success ratio.
 *
 * Environment:
 *   SERVICE_URL, ADMIN_TOKEN | ADMIN_TOKEN_FILE, PORT (9095), LISTEN_HOST (0.0.0.0)
 *   REVERT_DEADLINE_SECONDS (120)   give up (and report a failed revert or kill switch) after this long
 *   ATTEMPT_TIMEOUT_MS (2000)       one request's timeout in an action's first attempt; doubles every attempt ...
 *   ADMIN_API_TIMEOUT_MS (10000)    ... up to this: the longest an admin API (or API server) answer may take
 *   BACKOFF_INITIAL_MS (250), BACKOFF_MAX_MS (5000)  the pause after a failed attempt, doubling, jittered
 *   PROMETHEUS_URL, POLL_INTERVAL_SECONDS (15), POLL_TIMEOUT_MS (5000)  where and how often it reads the firing triggers
 *   SENTINEL_INTERVAL_SECONDS (0), SENTINEL_TIMEOUT_MS (10000)
 *   CANARY_INGRESS, KUBE_API_URL, KUBE_TOKEN_FILE, KUBE_CA_FILE, KUBE_NAMESPACE  ingress-weight mode
 * Endpoints: POST /alerts (Alertmanager webhook), GET /metrics, GET /reverts, GET /sentinel, GET /healthz (readiness:
 * it takes webhooks), GET /livez (liveness: the process answers; its pod's probe is looser, so a watchdog busy with
 * a revert is taken out of the Service before it is ever restarted).
 */
import * as fs from "fs";
import * as http from "http";
import * as https from "https";
import { AttemptSchedule } from "../guard/bound";
import { instantVector } from "../prometheus/client";
import { Action, ActionKind, actions, Attempt, CANARY_WEIGHT, CanaryWeight, classify, Outcome, untilConfirmed } from "./actions";
import { pollOnce } from "./poll";
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { syntheticSpeculation } = require("./synthetic.js") as typeof import("./synthetic");

const env = process.env;
const fail = (msg: string): never => {
    console.error(JSON.stringify({ level: "error", component: "agenc-watchdog", msg }));
    process.exit(2);
};
/** A numeric setting, or exit naming the variable and what it allows (before anything listens or probes). */
function number(name: string, fallback: number, min: number, allowed: string): number {
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
if (!SERVICE_URL || !TOKEN) fail("SERVICE_URL and ADMIN_TOKEN (or ADMIN_TOKEN_FILE) are required");

/** The schedule in lib/guard/bound.ts's terms: the bound and the watchdog read the same numbers. */
const SCHEDULE: AttemptSchedule = {
    initialTimeoutSeconds: ATTEMPT_TIMEOUT_MS / 1000, adminApiTimeoutSeconds: ADMIN_API_TIMEOUT_MS / 1000,
    initialBackoffSeconds: BACKOFF_INITIAL_MS / 1000, maxBackoffSeconds: BACKOFF_MAX_MS / 1000,
};

const CANARY_INGRESS = env.CANARY_INGRESS || "";
const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
/** The API server and the service account's credentials, read when CANARY_INGRESS is set. */
function kubeAccess() {
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
    return { api, tokenFile, ca: fs.readFileSync(caFile), namespace: namespace! };
}
const KUBE = CANARY_INGRESS ? kubeAccess() : undefined;

/**
 * One request to the API server as the watchdog's service account.  The token is read at every call: a projected
 * token is rotated by the kubelet.  Resolves { status, body }; rejects only when the API server cannot be reached.
 */
function kube(method: string, apiPath: string, timeoutMs: number, body?: unknown): Promise<{ status: number; body: any }> {
    const k = KUBE!;
    const token = fs.readFileSync(k.tokenFile, "utf8").trim();
    return new Promise((resolve, reject) => {
        const req = https.request(`${k.api}${apiPath}`, {
            method, ca: k.ca, signal: AbortSignal.timeout(timeoutMs),
            headers: { authorization: `Bearer ${token}`, accept: "application/json", ...(body ? { "content-type": "application/merge-patch+json" } : {}) },
        }, (res) => {
            let text = "";
            res.on("data", (c) => { text += c; });
            res.on("end", () => {
                let parsed;
                try { parsed = JSON.parse(text); } catch { parsed = undefined; }
                resolve({ status: res.statusCode ?? 0, body: parsed });
            });
        });
        req.on("error", (e) => reject(new Error(`${method} ${apiPath}: ${e.name === "AbortError" ? `timeout after ${timeoutMs} ms` : e.message}`)));
        req.end(body ? JSON.stringify(body) : undefined);
    });
}

function canaryWeight(): CanaryWeight | undefined {
    if (!KUBE) return undefined;
    const path = `/apis/networking.k8s.io/v1/namespaces/${encodeURIComponent(KUBE.namespace)}/ingresses/${encodeURIComponent(CANARY_INGRESS)}`;
    const error = (what: string, r: { status: number; body: any }) => new Error(`${what} ingress/${CANARY_INGRESS}: HTTP ${r.status}${r.body?.message ? ` ${r.body.message}` : ""}`);
    return {
        ingress: CANARY_INGRESS,
        // The canary's weight as the API server has it; a canary Ingress that is gone carries no traffic (weight 0).
        read: async (ms) => {
            const r = await kube("GET", path, ms);
            if (r.status === 404) return { weight: 0, gone: true };
            if (r.status < 200 || r.status > 299) throw error("GET", r);
            const annotations = r.body?.metadata?.annotations ?? {};
            const weight = Number(annotations[CANARY_WEIGHT]);
            if (annotations[CANARY_WEIGHT] === undefined || !Number.isFinite(weight)) throw new Error(`ingress/${CANARY_INGRESS}: no numeric ${CANARY_WEIGHT} annotation`);
            return { weight, gone: false };
        },
        zero: async (ms) => {
            const r = await kube("PATCH", `${path}?fieldManager=agenc-watchdog`, ms, { metadata: { annotations: { [CANARY_WEIGHT]: "0" } } });
            if (r.status === 404) return;
            if (r.status < 200 || r.status > 299) throw error("PATCH", r);
        },
    };
}
const ACTIONS: Record<ActionKind, Action> = actions(SERVICE_URL, TOKEN, canaryWeight());

interface HistoryEntry { at: string; action: ActionKind; alerts: string[]; path?: string; failed?: boolean; attempts: Attempt[] }
const state = {
    reverts: new Map<string, number>(), confirmed: 0, failures: 0, lastRevert: 0,
    kills: new Map<string, number>(), killsConfirmed: 0, killFailures: 0, lastKill: 0,
    history: [] as HistoryEntry[],
};
const sentinel = { success: 0, failure: 0, lastProbe: undefined as number | undefined, lastOk: undefined as boolean | undefined, recent: [] as unknown[] };
const poll = { ok: 0, failed: 0, lastOk: 0 };
const log = (fields: Record<string, unknown>) => console.log(JSON.stringify({ time: new Date().toISOString(), component: "agenc-watchdog", ...fields }));

let queue: Promise<unknown> = Promise.resolve();
/** Actions queued or running: the poll adds none while one is under way (it would find the work done). */
let pending = 0;
function onAlerts(payload: unknown, via: "alertmanager" | "prometheus" = "alertmanager"): Promise<Outcome & { action?: ActionKind; via?: string; target?: string } | { outcome: "ignored" }> {
    const what = classify(payload);
    if (!what) return Promise.resolve({ outcome: "ignored" });
    const names = [...new Set(what.alerts.map((a) => a.labels.alertname))];
    const kill = what.kind === "kill-switch";
    pending += 1;
    // One action at a time: a second webhook waits for the first and then finds it done already.
    const run = queue.then(async () => {
        const r = await untilConfirmed(what.kind, ACTIONS[what.kind], SCHEDULE, DEADLINE_MS,
            (attempt) => log({ level: "warn", msg: `${what.kind} not confirmed yet, retrying`, action: what.kind, alerts: names, attempt }));
        const at = Date.now() / 1000;
        const when = new Date(at * 1000).toISOString();
        if (r.outcome === "confirmed") {
            const counts = kill ? state.kills : state.reverts;
            for (const a of names) counts.set(a, (counts.get(a) || 0) + 1);
            if (kill) { state.killsConfirmed += 1; state.lastKill = at; } else state.confirmed += 1;
            log({ level: "error", msg: ACTIONS[what.kind].what, action: what.kind, alerts: names, path: r.path, attempts: r.attempts.length, via });
            // Traffic was taken away either way: the next window judgement must see it.
            state.lastRevert = at;
            state.history.push({ at: when, action: what.kind, alerts: names, path: r.path, attempts: r.attempts });
        } else if (r.outcome === "unconfirmed") {
            if (kill) state.killFailures += 1; else state.failures += 1;
            state.history.push({ at: when, action: what.kind, alerts: names, failed: true, attempts: r.attempts });
            log({ level: "error", msg: kill ? "KILL SWITCH FAILED: not confirmed before the deadline" : "REVERT FAILED: not confirmed before the deadline", action: what.kind, alerts: names, attempts: r.attempts });
        } else if (via !== "prometheus") {
            log({ level: "info", msg: kill ? "kill-switch alert firing; speculation already disabled at 0 %" : `rollback trigger firing; traffic already at 0 %${CANARY_INGRESS ? ` (canary weight of ingress/${CANARY_INGRESS})` : ""}`, action: what.kind, alerts: names });
        }
        state.history = state.history.slice(-100);
        // What the action took away: a gate's revert (lib/revert) trusts a confirmation only for the traffic it means.
        return { ...r, action: what.kind, via, target: what.kind === "revert" && CANARY_INGRESS ? "canary-weight" : "rollout-percentage" };
    });
    const done = run.finally(() => { pending -= 1; });
    queue = done.catch(() => undefined);
    return done;
}

/** The second way a trigger reaches the watchdog: Prometheus's firing alerts, read by lib/watchdog/poll.ts. */
function pollPrometheus(): Promise<unknown> {
    return pollOnce({
        read: (expr) => instantVector(PROMETHEUS_URL, expr, POLL_TIMEOUT_MS, { label: "the firing triggers" }),
        busy: () => pending > 0,
        act: (payload) => onAlerts(payload, "prometheus"),
        record: (r) => {
            if (r.ok) {
                poll.ok += 1;
                poll.lastOk = Date.now() / 1000;
            } else {
                poll.failed += 1;
                log({ level: "warn", msg: "could not read the firing triggers from Prometheus (Alertmanager's webhook still reaches the watchdog)", prometheus: PROMETHEUS_URL, error: r.detail });
            }
        },
    });
}

/** Runs `tick` every `seconds` from start, never two at once (a slow one delays the next). */
function every(seconds: number, tick: () => Promise<void>): () => void {
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const run = async () => {
        const started = Date.now();
        try { await tick(); } catch (e) { log({ level: "error", msg: "scheduled work failed", error: (e as Error).message }); }
        if (!stopped) timer = setTimeout(run, Math.max(0, seconds * 1000 - (Date.now() - started)));
    };
    timer = setTimeout(run, 0);
    return () => { stopped = true; if (timer) clearTimeout(timer); };
}

/** One sentinel probe: seed 000's synthetic speculation, judged as the smoke tests judge it; never throws. */
async function probe(): Promise<void> {
    const started = Date.now();
    let r: { ok: boolean; observed: string };
    try {
        r = await syntheticSpeculation({ serviceUrl: SERVICE_URL, adminToken: TOKEN, timeoutMs: SENTINEL_TIMEOUT_MS });
    } catch (e) {
        r = { ok: false, observed: `probe failed: ${(e as Error).message}` };
    }
    const result = r.ok ? "success" : "failure";
    sentinel[result] += 1;
    sentinel.lastProbe = Date.now() / 1000;
    sentinel.lastOk = r.ok;
    const entry = { at: new Date(started).toISOString(), result, duration_ms: Date.now() - started, observed: r.observed };
    sentinel.recent = [...sentinel.recent, entry].slice(-100);
    log({ level: r.ok ? "info" : "warn", msg: "sentinel probe", ...entry });
}

function metrics(): string {
    const family = (name: string, type: "counter" | "gauge", help: string, ...samples: string[]) => [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples];
    const lines = [
        // Unlabelled and exposed from 0, so increase() sees the first revert (a labelled series born at 1 would not).
        ...family("agenc_watchdog_reverts_total", "counter", "Reverts to 0 % the watchdog made and confirmed.", `agenc_watchdog_reverts_total ${state.confirmed}`),
        ...family("agenc_watchdog_revert_triggers_total", "counter", "Rollback-trigger alerts behind the confirmed reverts.",
            ...[...state.reverts].map(([a, n]) => `agenc_watchdog_revert_triggers_total{alertname="${a}"} ${n}`)),
        ...family("agenc_watchdog_revert_failures_total", "counter", "Reverts not confirmed before the deadline.", `agenc_watchdog_revert_failures_total ${state.failures}`),
        ...family("agenc_watchdog_last_revert_timestamp_seconds", "gauge", "When traffic was last taken away and confirmed, by a revert or the kill switch (0: none since start).",
            `agenc_watchdog_last_revert_timestamp_seconds ${state.lastRevert}`),
        ...family("agenc_watchdog_kill_switches_total", "counter", "Kill switches (speculation disabled and 0 %) the watchdog pulled and confirmed.",
            `agenc_watchdog_kill_switches_total ${state.killsConfirmed}`),
        ...family("agenc_watchdog_kill_switch_triggers_total", "counter", "Kill-switch alerts behind the confirmed kill switches.",
            ...[...state.kills].map(([a, n]) => `agenc_watchdog_kill_switch_triggers_total{alertname="${a}"} ${n}`)),
        ...family("agenc_watchdog_kill_switch_failures_total", "counter", "Kill switches not confirmed before the deadline.", `agenc_watchdog_kill_switch_failures_total ${state.killFailures}`),
        ...family("agenc_watchdog_last_kill_switch_timestamp_seconds", "gauge", "When the last confirmed kill switch happened (0: none since start).",
            `agenc_watchdog_last_kill_switch_timestamp_seconds ${state.lastKill}`),
        ...family("agenc_watchdog_polls_total", "counter", "Reads of Prometheus's firing triggers, by result.",
            `agenc_watchdog_polls_total{result="ok"} ${poll.ok}`, `agenc_watchdog_polls_total{result="failed"} ${poll.failed}`),
        ...family("agenc_watchdog_poll_interval_seconds", "gauge", "Seconds between two reads of Prometheus's firing triggers (0: not polling).",
            `agenc_watchdog_poll_interval_seconds ${PROMETHEUS_URL ? POLL_INTERVAL_S : 0}`),
        ...family("agenc_watchdog_last_poll_timestamp_seconds", "gauge", "When the watchdog last read Prometheus's firing triggers (0: never).",
            `agenc_watchdog_last_poll_timestamp_seconds ${poll.lastOk}`),
        ...family("agenc_sentinel_interval_seconds", "gauge", "Seconds between two sentinel probes (0: this watchdog does not probe).", `agenc_sentinel_interval_seconds ${SENTINEL_INTERVAL_S}`),
        ...family("agenc_sentinel_probes_total", "counter", "Sentinel probes (seed 000's synthetic speculation) by result.",
            `agenc_sentinel_probes_total{result="success"} ${sentinel.success}`, `agenc_sentinel_probes_total{result="failure"} ${sentinel.failure}`),
    ];
    if (sentinel.lastProbe !== undefined) {
        // Absent until the first probe has finished: a timestamp of 0 would read as a probe long overdue.
        lines.push(
            ...family("agenc_sentinel_last_probe_timestamp_seconds", "gauge", "When the last sentinel probe finished.", `agenc_sentinel_last_probe_timestamp_seconds ${sentinel.lastProbe}`),
            ...family("agenc_sentinel_last_probe_success", "gauge", "1 when the last sentinel probe succeeded.", `agenc_sentinel_last_probe_success ${sentinel.lastOk ? 1 : 0}`),
        );
    }
    return lines.join("\n") + "\n";
}

const server = http.createServer((req, res) => {
    const reply = (code: number, body: string, type = "application/json") => { res.writeHead(code, { "content-type": type }); res.end(body); };
    if (req.method === "GET" && req.url === "/metrics") return reply(200, metrics(), "text/plain; version=0.0.4");
    if (req.method === "GET" && req.url === "/healthz") return reply(200, JSON.stringify({ status: "ok" }));
    if (req.method === "GET" && req.url === "/livez") return reply(200, JSON.stringify({ status: "alive" }));
    if (req.method === "GET" && req.url === "/reverts") return reply(200, JSON.stringify({ reverts: state.history }));
    if (req.method === "GET" && req.url === "/sentinel") {
        return reply(200, JSON.stringify({ intervalSeconds: SENTINEL_INTERVAL_S, success: sentinel.success, failure: sentinel.failure, probes: sentinel.recent }));
    }
    if (req.method === "POST" && req.url === "/alerts") {
        let body = "";
        req.on("data", (c) => { body += c; if (body.length > 1e6) req.destroy(); });
        req.on("end", () => {
            let payload: unknown;
            try { payload = JSON.parse(body); } catch { return reply(400, JSON.stringify({ error: "not JSON" })); }
            // An action that is not confirmed answers 500, so Alertmanager sends the notification again.
            onAlerts(payload).then((r) => reply(r.outcome === "unconfirmed" ? 500 : 200, JSON.stringify(r)),
                (e: Error) => reply(500, JSON.stringify({ error: e.message })));
            return undefined;
        });
        return undefined;
    }
    return reply(404, JSON.stringify({ error: "not found" }));
});
const stops: (() => void)[] = [];
server.listen(PORT, HOST, () => {
    const address = server.address();
    log({
        level: "info", msg: "watchdog listening", port: typeof address === "object" && address ? address.port : PORT, service: SERVICE_URL,
        sentinelIntervalSeconds: SENTINEL_INTERVAL_S, attemptTimeoutMs: ATTEMPT_TIMEOUT_MS, adminApiTimeoutMs: ADMIN_API_TIMEOUT_MS,
        ...(PROMETHEUS_URL ? { prometheus: PROMETHEUS_URL, pollIntervalSeconds: POLL_INTERVAL_S } : { prometheus: "not polled (PROMETHEUS_URL unset): Alertmanager's webhook only" }),
        ...(KUBE ? { reverts: `canary weight of ingress/${CANARY_INGRESS} in ${KUBE.namespace} (${KUBE.api})` } : {}),
    });
    if (SENTINEL_INTERVAL_S > 0) stops.push(every(SENTINEL_INTERVAL_S, probe));
    if (PROMETHEUS_URL) stops.push(every(POLL_INTERVAL_S, async () => { await pollPrometheus(); }));
});
const stop = () => { for (const s of stops) s(); server.close(() => process.exit(0)); };
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
