/**
 * Taking a stage's traffic away when its gate says no-go, and not giving up at the first error.
 *
 * A revert tries, in rounds, every path the stack has — the direct paths in this order, the watchdog side by side:
 *   admin-api    POST /admin/config {speculation.enabled: false, rollout_percentage: 0} (what the gate always did);
 *   kill-switch  POST /admin/config {speculation.enabled: false} alone: still works when the service refuses the
 *                percentage key (a release that renamed it, a validation bug);
 *   watchdog     POST the watchdog's action URL (canary.gate.revert.watchdogActionUrl) with an Alertmanager webhook
 *                payload, the same one Alertmanager sends it: the in-cluster action reaches the service even when
 *                the operator's path to the admin API is down.
 * In ingress-weight mode (target "canary-weight") the traffic is the canary Ingress's weight, which only the in-cluster
 * watchdog may patch (its Role names that one Ingress): the revert's one path is the watchdog, and the watchdog's
 * answer is the read-back (it answers 200 only once it has read the weight back at 0 from the API server).
 * After each write the revert reads the traffic back: GET /admin/status, or, when that read fails, the service's
 * own gauges on /metrics (speculation_rollout_percentage, speculation_enabled), which do not go through the admin API.
 * Traffic is off when speculation is disabled or the percentage is 0.  A path whose write or read-back fails is
 * recorded and the next one is tried; each round doubles the time one request may take (a slow API gets the time it
 * needs) and the pause before the next round (backoff), until the traffic reads off (`confirmed`) or the hard
 * deadline passes (`unconfirmed`: a critical alert goes to Alertmanager and the gate's failure says which path
 * failed and how).  Every attempt is in the record.
 *
 * Plain functions and constants only, so the HealthGate provider captures them when Pulumi serialises it.
 */
import { AdminApiErrorReason, postAdminConfig, readAdminStatus, ROLLOUT_KEY } from "../adminApi";
import { parseExposition } from "../prometheus/exposition";
import { fetchWithin } from "../http";
import { formatTable } from "../table";
import { AlertOutcome, fireRevertAlert, REVERT_ALERT_NAME } from "./alert";

export const REVERT_PATHS = ["admin-api", "kill-switch", "watchdog"] as const;
export type RevertPath = typeof REVERT_PATHS[number];

/** Seconds a revert keeps trying when the stack does not say (canary.gate.revert.deadline). */
export const DEFAULT_REVERT_DEADLINE_SECONDS = 300;

/** What the stack configures about reverts (canary.gate.revert). */
export interface RevertOptions {
    /**
     * What traffic is: the rollout percentage behind the admin API (feature-flag mode, default), or the canary
     * Ingress's weight (ingress-weight mode), which only the watchdog's action can lower.
     */
    target?: "rollout-percentage" | "canary-weight";
    /** Hard deadline, seconds from the first attempt. */
    deadlineSeconds?: number;
    /** The watchdog's revert action (an Alertmanager webhook receiver), when the stack has one. */
    watchdogActionUrl?: string;
    /** Alertmanager base URL; an unconfirmed revert pushes a critical alert to its /api/v2/alerts. */
    alertmanagerUrl?: string;
    /** Pause after the first round, ms; doubles each round up to maxBackoffMs, each pause jittered (half to all of it). */
    initialBackoffMs?: number;
    maxBackoffMs?: number;
    /** Longest one request may take, however many rounds have passed, ms. */
    maxRequestTimeoutMs?: number;
}

export interface RevertRequest extends RevertOptions {
    stage: string;
    /** The stage's percentage: what traffic may still be at when the revert is unconfirmed. */
    percentage: number;
    version?: string;
    serviceUrl: string;
    adminToken: string;
    /** Why the gate reverts (the no-go), for the watchdog payload and the alert. */
    reason: string;
    /** How long one request may take in the first round (the gate's reading timeout), ms. */
    timeoutMs: number;
    /** Progress, one line per failed attempt (default: console.log, which reaches the operator under the engine). */
    log?: (line: string) => void;
}

export interface RevertClock {
    now(): number;
    sleep(ms: number): Promise<void>;
    /** A number in [0, 1) for the backoff's jitter (default Math.random). */
    random?(): number;
}

const REAL_CLOCK: RevertClock = { now: () => Date.now(), sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) };

/**
 * "Equal jitter": half the backoff, plus a random share of the other half.  Rounds spaced by exact doublings meet
 * a fault that has a period (a flapping admin API, a pod in a restart loop) in the same phase every time — a revert
 * against a 100 ms down / 100 ms up API failed 16 attempts out of 16 that way; jitter decorrelates them and keeps
 * the backoff's growth.
 */
export function jittered(backoffMs: number, random: () => number = Math.random): number {
    return backoffMs / 2 + random() * (backoffMs / 2);
}

export type AttemptFailure = AdminApiErrorReason | "not-off" | "unreadable";

export interface TrafficReading {
    enabled: boolean;
    rolloutPercentage: number;
    /** Where the read-back came from. */
    via: "GET /admin/status" | "GET /metrics";
}

export interface RevertAttempt {
    /** 1-based, in order. */
    n: number;
    round: number;
    path: RevertPath;
    at: string;
    ms: number;
    /** How long each request of this attempt could take. */
    timeoutMs: number;
    outcome: "confirmed" | "failed";
    /** Which step failed: the write (POST) or the read-back. */
    failedStep?: "write" | "read-back";
    failure?: AttemptFailure;
    detail: string;
    observed?: TrafficReading;
}

/**
 * confirmed    traffic reads off (speculation disabled or 0 %), read back after the write of `path`;
 * unconfirmed  the deadline passed and no read-back showed traffic off: it may still be at `percentage`.
 */
export type RevertStatus = "confirmed" | "unconfirmed";

export interface RevertRecord {
    to: 0;
    status: RevertStatus;
    /** Kept for older readers of the decision record: status === "confirmed". */
    confirmed: boolean;
    /** The path whose write was read back as traffic off. */
    path?: RevertPath;
    /** One line: what the revert achieved. */
    detail: string;
    startedAt: string;
    deadlineAt: string;
    /** When the revert finished (confirmed, or given up at the deadline). */
    at: string;
    /** The paths this stack has, in the order they are tried. */
    paths: RevertPath[];
    attempts: RevertAttempt[];
    /** Only for an unconfirmed revert. */
    alert?: AlertOutcome;
    /** Only for an unconfirmed revert: what to do by hand. */
    actNow?: string;
}

/**
 * A failure that retrying the same path cannot fix: the token is refused, or the service refuses the request
 * itself (a 4xx other than 408/429).  That path is dropped from later rounds; when every path is dropped the revert
 * stops at once instead of waiting for the deadline.
 */
export function permanent(a: RevertAttempt): boolean {
    if (a.failure === "rejected-token") return true;
    const status = /HTTP (\d{3})/.exec(a.detail)?.[1];
    return a.failure === "http-status" && !!status && status.startsWith("4") && status !== "408" && status !== "429";
}

const trafficOff = (t: { enabled: boolean; rolloutPercentage: number }) => !t.enabled || t.rolloutPercentage === 0;
const describeTraffic = (t: TrafficReading) => `${t.rolloutPercentage} %, speculation ${t.enabled ? "enabled" : "disabled"} (${t.via})`;

function problem(step: "write" | "read-back", failure: AttemptFailure, detail: string) {
    return { failedStep: step, failure, detail };
}

/** The service's own gauges: a read-back that does not depend on the admin API. */
async function trafficFromMetrics(serviceUrl: string, timeoutMs: number): Promise<TrafficReading | string> {
    const r = await fetchWithin(`${serviceUrl}/metrics`, {}, timeoutMs);
    if (!r.ok) return `GET /metrics: ${r.failure} (${r.why})`;
    if (r.status < 200 || r.status > 299) return `GET /metrics: HTTP ${r.status}`;
    const families = parseExposition(r.text);
    const gauge = (name: string) => {
        const v = families?.find((f) => f.name === name)?.metrics[0]?.value;
        return v === undefined ? undefined : Number(v);
    };
    const pct = gauge("speculation_rollout_percentage");
    const enabled = gauge("speculation_enabled");
    if (pct === undefined || enabled === undefined || Number.isNaN(pct) || Number.isNaN(enabled)) {
        return "GET /metrics: speculation_rollout_percentage or speculation_enabled missing";
    }
    return { enabled: enabled !== 0, rolloutPercentage: pct, via: "GET /metrics" };
}

/** Reads the live traffic: the admin status first, the gauges when that fails. */
export async function readTraffic(serviceUrl: string, timeoutMs: () => number): Promise<TrafficReading | string> {
    try {
        const s = await readAdminStatus(serviceUrl, timeoutMs());
        return { ...s, via: "GET /admin/status" };
    } catch (e) {
        const fromMetrics = await trafficFromMetrics(serviceUrl, timeoutMs());
        return typeof fromMetrics === "string" ? `GET /admin/status: ${(e as Error).message}; ${fromMetrics}` : fromMetrics;
    }
}

/** The Alertmanager webhook payload (version 4) the watchdog's action receives from Alertmanager itself. */
export function watchdogPayload(req: RevertRequest, now: Date): unknown {
    const labels = {
        alertname: "SpeculationGateRevert", severity: "critical", rollback_trigger: "true", service: "agenc-speculation",
        stage: req.stage, percentage: String(req.percentage),
    };
    return {
        version: "4", groupKey: `{}:{alertname="SpeculationGateRevert",stage="${req.stage}"}`, truncatedAlerts: 0, status: "firing",
        receiver: "agenc-revert", groupLabels: { alertname: labels.alertname }, commonLabels: labels,
        commonAnnotations: { summary: `health gate ${req.stage} reverts: ${req.reason}` }, externalURL: "",
        alerts: [{
            status: "firing", labels, annotations: { summary: `health gate ${req.stage} reverts: ${req.reason}` },
            startsAt: now.toISOString(), endsAt: "0001-01-01T00:00:00Z", generatorURL: "", fingerprint: "",
        }],
    };
}

/** What the watchdog answered (lib/watchdog/main.ts): the outcome of its action, with its own read-backs. */
interface WatchdogAnswer {
    outcome?: string;
    /** What the watchdog's action took away: the rollout percentage, or (with CANARY_INGRESS) the canary's weight. */
    target?: string;
    path?: string;
    attempts?: { result?: string }[];
}

/** A write that landed (with the watchdog's answer on that path), or the step that failed and how. */
type Written = { landed: true; answer?: WatchdogAnswer } | { landed: false; problem: ReturnType<typeof problem> };

async function write(req: RevertRequest, path: RevertPath, timeoutMs: number, now: Date): Promise<Written> {
    const failed = (failure: AttemptFailure, detail: string): Written => ({ landed: false, problem: problem("write", failure, detail) });
    try {
        if (path === "admin-api") {
            await postAdminConfig(req.serviceUrl, req.adminToken, { "speculation.enabled": false, [ROLLOUT_KEY]: 0 }, timeoutMs);
        } else if (path === "kill-switch") {
            await postAdminConfig(req.serviceUrl, req.adminToken, { "speculation.enabled": false }, timeoutMs);
        } else {
            const r = await fetchWithin(req.watchdogActionUrl!, {
                method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(watchdogPayload(req, now)),
            }, timeoutMs);
            if (!r.ok) return failed(r.failure, `${req.watchdogActionUrl}: ${r.why}`);
            if (r.status < 200 || r.status > 299) return failed("http-status", `${req.watchdogActionUrl}: HTTP ${r.status}`);
            try {
                return { landed: true, answer: JSON.parse(r.text) as WatchdogAnswer };
            } catch {
                return { landed: true, answer: {} };
            }
        }
        return { landed: true };
    } catch (e) {
        return failed((e as { reason?: AdminApiErrorReason }).reason ?? "unreachable", (e as Error).message);
    }
}

const WHAT: Record<RevertPath, string> = {
    "admin-api": "rollout percentage set to 0 through the admin API",
    "kill-switch": "kill switch: speculation disabled through the admin API",
    "watchdog": "the watchdog's action took the traffic away",
};

async function attempt(req: RevertRequest, path: RevertPath, n: number, round: number, timeoutMs: number, deadline: number, clock: RevertClock): Promise<RevertAttempt> {
    const started = clock.now();
    // Every request gets the round's timeout, but never beyond the deadline.
    const within = () => Math.max(1, Math.min(timeoutMs, deadline - clock.now()));
    const base = { n, round, path, at: new Date(started).toISOString(), timeoutMs };
    const written = await write(req, path, within(), new Date(started));
    if (!written.landed) return { ...base, ms: clock.now() - started, outcome: "failed", ...written.problem };
    if (req.target === "canary-weight") {
        // The watchdog read the canary Ingress back from the API server before it answered: its answer is the read-back.
        const ms = clock.now() - started;
        const answer = written.answer ?? {};
        const seen = answer.attempts?.at(-1)?.result;
        if (answer.target !== "canary-weight") {
            return { ...base, ms, outcome: "failed", ...problem("read-back", "not-off", `the watchdog took away ${JSON.stringify(answer.target ?? "nothing it named")}, not the canary's weight (is CANARY_INGRESS set on it?)`) };
        }
        if (answer.outcome === "confirmed" || answer.outcome === "already-zero") {
            return { ...base, ms, outcome: "confirmed", detail: `the watchdog set the canary Ingress's weight to 0 and read it back (${answer.outcome}${seen ? `: ${seen}` : ""})` };
        }
        return { ...base, ms, outcome: "failed", ...problem("read-back", "not-off", `the watchdog answered ${JSON.stringify(answer.outcome ?? "nothing")}${seen ? ` (${seen})` : ""}, not a confirmed canary weight of 0`) };
    }
    const read = await readTraffic(req.serviceUrl, within);
    const ms = clock.now() - started;
    if (typeof read === "string") return { ...base, ms, outcome: "failed", ...problem("read-back", "unreadable", read) };
    if (!trafficOff(read)) {
        return { ...base, ms, outcome: "failed", observed: read, ...problem("read-back", "not-off", `write accepted, but traffic reads ${describeTraffic(read)}`) };
    }
    return { ...base, ms, outcome: "confirmed", observed: read, detail: `${WHAT[path]}; reads ${describeTraffic(read)}` };
}

/** Reverts the stage's traffic: retries every path until it reads off or the deadline passes.  Never throws. */
export async function revertTraffic(req: RevertRequest, clock: RevertClock = REAL_CLOCK): Promise<RevertRecord> {
    const log = req.log ?? ((line: string) => console.log(line));
    const started = clock.now();
    const deadlineSeconds = req.deadlineSeconds ?? DEFAULT_REVERT_DEADLINE_SECONDS;
    const deadline = started + deadlineSeconds * 1000;
    // The canary's weight has one writer the gate can reach: the watchdog.
    const paths = req.target === "canary-weight"
        ? REVERT_PATHS.filter((p) => p === "watchdog" && !!req.watchdogActionUrl)
        : REVERT_PATHS.filter((p) => p !== "watchdog" || !!req.watchdogActionUrl);
    const initialBackoff = req.initialBackoffMs ?? 500;
    const maxBackoff = req.maxBackoffMs ?? 15_000;
    const maxTimeout = Math.max(req.timeoutMs, req.maxRequestTimeoutMs ?? 60_000);
    const attempts: RevertAttempt[] = [];
    const base = { to: 0 as const, startedAt: new Date(started).toISOString(), deadlineAt: new Date(deadline).toISOString(), paths, attempts };

    const dropped = new Set<RevertPath>();
    // admin-api and kill-switch share one endpoint: when one times out, the other would wait just as long for
    // nothing in the same round, so the round moves on (the next round's longer timeout).
    const endpoint = (path: RevertPath) => (path === "watchdog" ? "watchdog" : "admin");
    // Two lanes side by side, never one after the other: the direct path (admin-api, then kill-switch) and the
    // watchdog's action.  The watchdog retries on its own before it answers, so a lane that waited for it would hold
    // the direct path back every round (a 20 s slow admin API took 93 s to 0 % that way, against 64 s without the
    // watchdog); each lane has its own rounds, timeouts and backoff, and the first confirmation ends both.
    const lanes = [paths.filter((p) => p !== "watchdog"), paths.filter((p) => p === "watchdog")].filter((l) => l.length > 0);
    let counter = 0;
    let won: { attempt: RevertAttempt; path: RevertPath } | undefined;
    let wake: () => void = () => undefined;
    const confirmedSignal = new Promise<void>((resolve) => { wake = resolve; });
    const runLane = async (lanePaths: RevertPath[]) => {
        let tried = 0;
        for (let round = 0; !won && (tried === 0 || clock.now() < deadline); round++) {
            const timeoutMs = Math.min(maxTimeout, req.timeoutMs * 2 ** round);
            const timedOut = new Set<string>();
            for (const path of lanePaths) {
                if (won) return;
                if (dropped.has(path) || timedOut.has(endpoint(path))) continue;
                if (tried > 0 && clock.now() >= deadline) break;
                tried += 1;
                const a = await attempt(req, path, ++counter, round, timeoutMs, deadline, clock);
                if (won) return; // the other lane confirmed first: this attempt's result is no longer news
                attempts.push(a);
                if (a.outcome === "confirmed") {
                    won = { attempt: a, path };
                    wake();
                    return;
                }
                if (permanent(a)) dropped.add(path);
                if (a.failure === "timeout") timedOut.add(endpoint(path));
                log(`[revert ${req.stage}] attempt ${a.n} (${path}, round ${round + 1}) failed at the ${a.failedStep}: ${a.failure}: ${a.detail}` +
                    (dropped.has(path) ? " (retrying cannot fix this: path dropped)" : ""));
            }
            if (lanePaths.every((p) => dropped.has(p))) return;
            const pause = Math.min(jittered(Math.min(maxBackoff, initialBackoff * 2 ** round), clock.random), deadline - clock.now());
            if (pause > 0 && !won) {
                log(`[revert ${req.stage}] ${lanePaths.join("/")}: traffic not confirmed off; next round in ${(pause / 1000).toFixed(1)} s (deadline in ${((deadline - clock.now()) / 1000).toFixed(0)} s)`);
                await clock.sleep(pause);
            }
        }
    };
    await Promise.race([Promise.all(lanes.map(runLane)), confirmedSignal]);
    attempts.sort((x, y) => x.n - y.n);
    if (won) {
        const { attempt: a, path } = won;
        if (attempts.length > 1) log(`[revert ${req.stage}] confirmed on attempt ${a.n} (${path}): ${a.detail}`);
        return {
            ...base, status: "confirmed", confirmed: true, path, at: new Date(clock.now()).toISOString(),
            detail: `${WHAT[path]} and read back (attempt ${a.n} of ${attempts.length}, ${((clock.now() - started) / 1000).toFixed(1)} s)`,
        };
    }

    const lastPerPath = lastFailures(attempts);
    const when = dropped.size === paths.length ? "every path refused for good" : `the deadline (${deadlineSeconds} s) passed`;
    const alert = await fireRevertAlert(req.alertmanagerUrl, {
        stage: req.stage, percentage: req.percentage, version: req.version,
        summary: `Traffic revert of stage ${req.stage} NOT confirmed (${when}): ${req.target === "canary-weight" ? "the canary" : "speculation"} may still carry ${req.percentage} %`,
        description: [`gate no-go: ${req.reason}`, ...lastPerPath.map((l) => `${l.path}: ${l.line}`), `act now: ${actNow(req)}`].join("\n"),
    }, { timeoutMs: Math.max(2000, Math.min(req.timeoutMs, 10_000)), now: () => clock.now() });
    log(`[revert ${req.stage}] UNCONFIRMED: ${when}, after ${attempts.length} attempts; ${alert.detail}`);
    return {
        ...base, status: "unconfirmed", confirmed: false, at: new Date(clock.now()).toISOString(), alert, actNow: actNow(req),
        detail: `not confirmed: ${when}, after ${attempts.length} attempts (${lastPerPath.map((l) => `${l.path}: ${l.failure}`).join("; ")})`,
    };
}

/** What the operator does by hand when no path confirmed the revert. */
function actNow(req: RevertRequest): string {
    return req.target === "canary-weight"
        ? "set the canary Ingress's weight to 0 (kubectl annotate --overwrite -n <namespace> ingress/agenc-speculation-canary nginx.ingress.kubernetes.io/canary-weight=0)"
        : `set speculation.features.rollout_percentage to 0 (or speculation.enabled false) on ${req.serviceUrl}`;
}

function lastFailures(attempts: RevertAttempt[]): { path: RevertPath; failure: string; line: string }[] {
    const out: { path: RevertPath; failure: string; line: string }[] = [];
    for (const path of REVERT_PATHS) {
        const last = [...attempts].reverse().find((a) => a.path === path);
        if (last) out.push({ path, failure: last.failure ?? "", line: `attempt ${last.n}, ${last.failedStep}: ${last.failure}: ${last.detail}` });
    }
    return out;
}

/**
 * What a failed gate or bake window says about traffic: its revert, or — when it did not revert — what it left
 * (`leftAs`, the shift mode's own words) or that onFailure was fail.
 */
export function describeTrafficAfter(revert: RevertRecord | undefined, leftAs: string | undefined): string {
    return revert ? describeRevert(revert) : leftAs ?? "Traffic left as it is (onFailure: fail).";
}

/** What the gate's failure says about its revert (feature-flag mode with onFailure: revert). */
export function describeRevert(record: RevertRecord): string {
    if (record.status === "confirmed") {
        const first = record.path === "admin-api" && record.attempts.length === 1;
        return first
            ? "Traffic reverted: rollout percentage is 0 (confirmed)."
            : `Traffic reverted: ${record.detail}; every attempt is in the decision record.`;
    }
    const shown = record.attempts.slice(-20);
    const rows = shown.map((a) => [String(a.n), a.path, `${a.ms} ms`, `${a.timeoutMs} ms`, a.outcome === "confirmed" ? "confirmed" : `${a.failedStep}: ${a.failure}`, a.detail]);
    return [
        `REVERT UNCONFIRMED: traffic may still be on this stage. No path confirmed it off (${record.detail}; deadline ${record.deadlineAt}); ` +
        `paths tried: ${record.paths.join(", ")}${record.paths.includes("watchdog") ? "" : " (no watchdog action configured)"}.`,
        "Each path's last failure:",
        ...lastFailures(record.attempts).map((l) => `  ${l.path}: ${l.line}`),
        record.alert?.sent ? `Alert ${REVERT_ALERT_NAME} fired: ${record.alert.detail}.` : `NO ALERT FIRED: ${record.alert?.detail ?? "none"}.`,
        `Act now, by any path you have: ${record.actNow ?? "set speculation.features.rollout_percentage to 0 (or speculation.enabled to false) on the service"}; ` +
        "then `pulumi refresh` to record it.",
        ...(shown.length < record.attempts.length ? [`(the last ${shown.length} of ${record.attempts.length} attempts; the decision record has them all)`] : []),
        formatTable([["attempt", "path", "took", "timeout", "result", "detail"], ...rows]),
    ].join("\n");
}
