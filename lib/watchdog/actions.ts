/**
 * The watchdog's two actions and how they retry: the revert (traffic to 0 %) and the kill switch (speculation off and
 * 0 %), each confirmed only by reading the traffic back.  The admin API is lib/adminApi.ts's (the gate's revert uses
 * the same calls), the attempt schedule is lib/guard/bound.ts's (the bound is computed from exactly these timeouts
 * and pauses), the jitter is lib/revert's.  lib/watchdog/main.ts wires them to Alertmanager's webhook and Prometheus.
 */
import { postAdminConfig, readAdminStatus, ROLLOUT_KEY } from "../adminApi";
import { attemptTimeoutSeconds, AttemptSchedule, backoffSeconds } from "../guard/bound";
import { jittered } from "../revert/revert";

export type ActionKind = "revert" | "kill-switch";

/** What an action reads back: the admin status, and in ingress-weight mode the canary Ingress's weight. */
export interface Traffic { enabled?: boolean; percentage?: number; weight?: number; gone?: boolean }

interface Path {
    name: string;
    apply(timeoutMs: number): Promise<void>;
    confirmed(t: Traffic): boolean;
}

export interface Action {
    read(timeoutMs: number): Promise<Traffic>;
    show(t: Traffic): string;
    /** What the first read must show for there to be nothing to do. */
    done(t: Traffic): boolean;
    /** The log line of a confirmed action. */
    what: string;
    /** Tried in order, two attempts each, the last one until the deadline. */
    paths: Path[];
}

/** The canary Ingress's weight through the API server (ingress-weight mode); main.ts provides it. */
export interface CanaryWeight {
    ingress: string;
    read(timeoutMs: number): Promise<{ weight: number; gone: boolean }>;
    zero(timeoutMs: number): Promise<void>;
}

export const CANARY_WEIGHT = "nginx.ingress.kubernetes.io/canary-weight";

const killed = (t: Traffic) => t.enabled === false && t.percentage === 0;
const readBack = (t: Traffic) => `read back ${t.percentage} %${t.enabled ? "" : " (disabled)"}`;

/** Both actions for one service (and, in ingress-weight mode, its canary Ingress). */
export function actions(serviceUrl: string, token: string, canary?: CanaryWeight): Record<ActionKind, Action> {
    const status = async (timeoutMs: number): Promise<Traffic> => {
        const s = await readAdminStatus(serviceUrl, timeoutMs);
        return { enabled: s.enabled, percentage: s.rolloutPercentage };
    };
    const post = (body: Record<string, unknown>, timeoutMs: number) => postAdminConfig(serviceUrl, token, body, timeoutMs);
    const kill: Action = {
        read: status,
        show: readBack,
        what: "KILL SWITCH: speculation disabled and traffic at 0 %, confirmed",
        done: killed,
        paths: [
            { name: "kill-switch", apply: (ms) => post({ "speculation.enabled": false, [ROLLOUT_KEY]: 0 }, ms), confirmed: killed },
            {
                // A service that refuses one of the keys in a combined update still gets the other.
                name: "key-by-key",
                apply: async (ms) => {
                    const errors: string[] = [];
                    for (const body of [{ "speculation.enabled": false }, { [ROLLOUT_KEY]: 0 }]) {
                        try { await post(body, ms); } catch (e) { errors.push((e as Error).message); }
                    }
                    if (errors.length === 2) throw new Error(errors.join("; "));
                },
                confirmed: killed,
            },
        ],
    };
    if (!canary) {
        return {
            revert: {
                read: status,
                show: readBack,
                what: "REVERTED: rollout percentage set to 0 and confirmed",
                done: (t) => t.percentage === 0,
                paths: [
                    { name: "admin-api", apply: (ms) => post({ [ROLLOUT_KEY]: 0 }, ms), confirmed: (t) => t.percentage === 0 },
                    { name: "kill-switch", apply: (ms) => post({ "speculation.enabled": false, [ROLLOUT_KEY]: 0 }, ms), confirmed: (t) => t.enabled === false || t.percentage === 0 },
                ],
            },
            "kill-switch": kill,
        };
    }
    // Ingress-weight mode: the revert takes the canary's weight to 0 (Flagger's answer to a failed analysis); the kill
    // switch includes the revert, as in feature-flag mode: the weight first, then speculation off, both read back.
    const both = (ok: (t: Traffic) => boolean) => (t: Traffic) => ok(t) && t.weight === 0;
    return {
        revert: {
            read: canary.read,
            show: (t) => (t.gone ? `ingress/${canary.ingress} is gone` : `read back ${CANARY_WEIGHT} ${t.weight}`),
            done: (t) => t.weight === 0,
            what: `REVERTED: canary weight of ingress/${canary.ingress} set to 0 and confirmed`,
            paths: [{ name: "canary-weight", apply: canary.zero, confirmed: (t) => t.weight === 0 }],
        },
        "kill-switch": {
            read: async (ms) => ({ ...(await kill.read(ms)), ...(await canary.read(ms)) }),
            show: (t) => `${kill.show(t)}; ${CANARY_WEIGHT} ${t.weight}`,
            done: both(kill.done),
            what: `KILL SWITCH: speculation disabled and traffic at 0 % and the canary weight of ingress/${canary.ingress} 0, confirmed`,
            paths: kill.paths.map((p) => ({
                name: p.name,
                apply: async (ms: number) => {
                    const errors: string[] = [];
                    for (const step of [canary.zero, p.apply]) {
                        try { await step(ms); } catch (e) { errors.push((e as Error).message); }
                    }
                    if (errors.length > 0) throw new Error(errors.join("; "));
                },
                confirmed: both(p.confirmed),
            })),
        },
    };
}

export interface Attempt { at: string; path: string; timeout_ms: number; result: string }
export type Outcome =
    | { outcome: "confirmed"; path: string; attempts: Attempt[] }
    | { outcome: "already-zero" | "already-killed"; attempts: Attempt[] }
    | { outcome: "unconfirmed"; attempts: Attempt[] };

export interface Clock { now(): number; sleep(ms: number): Promise<void>; random(): number }
export const REAL_CLOCK: Clock = { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)), random: Math.random };

/**
 * Tries the action until the read-back confirms it or `deadlineMs` passes.  Attempt n (0-based) gives each request
 * lib/guard/bound.ts's attemptTimeoutSeconds(n) — growing to the admin API's timeout, so a slow API gets the time it
 * needs — never past the deadline, and pauses up to backoffSeconds(n), jittered, after a failure.  The first attempt
 * reads first: traffic already off is nothing to do (and nothing to count).
 */
export async function untilConfirmed(kind: ActionKind, action: Action, schedule: AttemptSchedule, deadlineMs: number,
    onRetry: (attempt: Attempt) => void = () => undefined, clock: Clock = REAL_CLOCK): Promise<Outcome> {
    const deadline = clock.now() + deadlineMs;
    const attempts: Attempt[] = [];
    for (let n = 0; clock.now() < deadline; n++) {
        const path = action.paths[Math.min(action.paths.length - 1, Math.floor(n / 2))];
        const at = new Date(clock.now()).toISOString();
        const timeoutMs = Math.max(1, Math.floor(Math.min(attemptTimeoutSeconds(schedule, n) * 1000, deadline - clock.now())));
        try {
            const before = n === 0 ? await action.read(timeoutMs) : undefined;
            if (before && action.done(before)) return { outcome: kind === "revert" ? "already-zero" : "already-killed", attempts };
            await path.apply(timeoutMs);
            const after = await action.read(timeoutMs);
            attempts.push({ at, path: path.name, timeout_ms: timeoutMs, result: action.show(after) });
            if (path.confirmed(after)) return { outcome: "confirmed", path: path.name, attempts };
        } catch (e) {
            attempts.push({ at, path: path.name, timeout_ms: timeoutMs, result: `failed: ${(e as Error).message}` });
        }
        onRetry(attempts[attempts.length - 1]);
        const pause = Math.min(jittered(backoffSeconds(schedule, n) * 1000, clock.random), deadline - clock.now());
        if (pause > 0) await clock.sleep(pause);
    }
    return { outcome: "unconfirmed", attempts };
}

/** Which action a webhook (or the firing triggers read from Prometheus) asks for: the kill switch when any asks for it. */
export function classify(payload: unknown): { kind: ActionKind; alerts: { labels: Record<string, string> }[] } | undefined {
    const all = ((payload as { alerts?: unknown[] } | undefined)?.alerts ?? []) as { status?: string; labels?: Record<string, string> }[];
    const firing = all.filter((a): a is { status: string; labels: Record<string, string> } => !!a && a.status === "firing" && !!a.labels);
    const kill = firing.filter((a) => a.labels.kill_switch === "true");
    if (kill.length > 0) return { kind: "kill-switch", alerts: kill };
    const revert = firing.filter((a) => a.labels.rollback_trigger === "true");
    return revert.length > 0 ? { kind: "revert", alerts: revert } : undefined;
}
