/**
 * The guard between `pulumi up`s, as a number: the worst-case time from a rollback condition becoming true to traffic
 * at 0 % confirmed by read-back, computed from the stack's own settings.  Pure: no I/O, no engine.
 *
 * The path it bounds (lib/monitoring/rules.ts → Prometheus → lib/watchdog/main.ts):
 *
 *   condition true in what the service exposes
 *   → scraped: the next scrape starts within `scrapeInterval` and its samples are stored once it ends (at most
 *     `scrapeTimeout` later; a hung scrape ends at the timeout as `up == 0`);
 *   → recorded: the recording group is evaluated within one `evaluationInterval` (triggers on raw series skip this);
 *   → pending: the alert group is evaluated within one more `evaluationInterval` (groups are not aligned);
 *   → firing: at the first evaluation at least `for:` after pending, ceil(for / evaluationInterval) evaluations on;
 *   → seen: the watchdog reads Prometheus's firing alerts every `pollInterval`, each read taking at most
 *     `queryTimeout` (Alertmanager's webhook usually gets there first, but its grouping state can hold a re-fired
 *     alert back until `repeat_interval`, so the bound does not rely on it);
 *   → confirmed: the watchdog's attempt schedule (actionSchedule) against an admin API that answers within
 *     `adminApiTimeout`.
 *
 * Each term is the worst case of its step, so the sum is the bound: a measured time above it is a defect.
 */

/** The watchdog's attempt schedule (watchdog.* in the stack config; the watchdog's environment). */
export interface AttemptSchedule {
    /** One request's timeout in the first attempt, seconds; it doubles with every attempt up to adminApiTimeoutSeconds. */
    initialTimeoutSeconds: number;
    /** The longest one admin API request may take and still count as an answer, seconds. */
    adminApiTimeoutSeconds: number;
    /** The pause after the first failed attempt, seconds; doubles up to maxBackoffSeconds (jittered: half to all of it). */
    initialBackoffSeconds: number;
    maxBackoffSeconds: number;
}

/** Everything the bound is computed from. */
export interface GuardTimings {
    scrapeIntervalSeconds: number;
    scrapeTimeoutSeconds: number;
    evaluationIntervalSeconds: number;
    /** How often the watchdog reads the firing triggers from Prometheus. */
    pollIntervalSeconds: number;
    /** How long one such read may take. */
    queryTimeoutSeconds: number;
    attempts: AttemptSchedule;
}

/** A rollback trigger as the bound needs it: its `for:` and whether it reads a recorded series. */
export interface TriggerTiming {
    alert: string;
    forSeconds: number;
    /** true when the alert's expression reads a recording rule's output (one more evaluation on the way). */
    recorded: boolean;
}

/** The steps of the path, in order (what each term bounds). */
export type BoundStep = "scrape" | "recording" | "pending" | "for" | "poll" | "action";

export interface BoundTerm {
    /** Which step of the path the term bounds. */
    id: BoundStep;
    /** The step as preview, the outputs and the README show it. */
    step: string;
    seconds: number;
}

export interface TriggerBound {
    alert: string;
    /** The trigger's own `for:` (the `for` term is it rounded up to whole evaluations). */
    forSeconds: number;
    terms: BoundTerm[];
    seconds: number;
}

/** Request timeout of attempt n (0-based). */
export function attemptTimeoutSeconds(a: AttemptSchedule, n: number): number {
    return Math.min(a.adminApiTimeoutSeconds, a.initialTimeoutSeconds * 2 ** n);
}

/** The longest pause after failed attempt n (0-based): the jitter takes half to all of it. */
export function backoffSeconds(a: AttemptSchedule, n: number): number {
    return Math.min(a.maxBackoffSeconds, a.initialBackoffSeconds * 2 ** n);
}

/**
 * Worst case of the watchdog's action, seconds: for an admin API answering in L ≤ adminApiTimeout, every attempt whose
 * timeout is below L fails at its first request (costing that timeout and its pause), and the first attempt whose
 * timeout reaches L succeeds.  The first attempt makes three requests (read: is there anything to do? — write — read
 * back), later ones two (write, read back).  The maximum over every L is taken at L equal to an attempt's timeout.
 */
export function actionScheduleSeconds(a: AttemptSchedule): number {
    let worst = 0;
    let failedSoFar = 0;
    for (let k = 0; ; k++) {
        const t = attemptTimeoutSeconds(a, k);
        worst = Math.max(worst, failedSoFar + (k === 0 ? 3 : 2) * t);
        if (t >= a.adminApiTimeoutSeconds) return worst;
        failedSoFar += t + backoffSeconds(a, k);
    }
}

/** The bound of one trigger, term by term. */
export function triggerBound(t: GuardTimings, trigger: TriggerTiming): TriggerBound {
    const e = t.evaluationIntervalSeconds;
    const terms: BoundTerm[] = [
        { id: "scrape", step: "scrape (interval + timeout)", seconds: t.scrapeIntervalSeconds + t.scrapeTimeoutSeconds },
        ...(trigger.recorded ? [{ id: "recording" as const, step: "recording rule evaluation", seconds: e }] : []),
        { id: "pending", step: "alert evaluation (pending)", seconds: e },
        { id: "for", step: `for: ${trigger.forSeconds}s (whole evaluations)`, seconds: Math.ceil(trigger.forSeconds / e) * e },
        { id: "poll", step: "watchdog poll (interval + query timeout)", seconds: t.pollIntervalSeconds + t.queryTimeoutSeconds },
        { id: "action", step: "revert and read-back (attempt schedule)", seconds: actionScheduleSeconds(t.attempts) },
    ];
    return { alert: trigger.alert, forSeconds: trigger.forSeconds, terms, seconds: round(terms.reduce((s, x) => s + x.seconds, 0)) };
}

/**
 * Worst case from the moment a cut between the watchdog and the admin API heals to traffic at 0 % confirmed, while a
 * rollback trigger keeps firing (issue 24: the watchdog ↔ admin API partition).  Measured from the heal, not from the
 * condition: while the link is cut nothing can confirm, and the watchdog fails loudly at its deadline instead
 * (REVERT FAILED, SpeculationWatchdogRevertFailed) and starts again at its next read of the firing triggers.
 *   the request in flight at the heal was swallowed by the cut: it ends at its timeout (at most adminApiTimeout);
 *   the pause after it (at most the backoff's maximum);
 *   the rest of the action's attempt schedule against an API that answers again (at most the whole schedule);
 *   the action's deadline may end it just before its confirming answer: the next read of the firing triggers
 *   (poll interval + query timeout) starts a new action, which takes at most the schedule again.
 */
export function partitionHealBound(t: GuardTimings): { terms: BoundTerm[]; seconds: number } {
    const schedule = actionScheduleSeconds(t.attempts);
    const terms: BoundTerm[] = [
        { id: "action", step: "the request swallowed by the cut (admin API timeout)", seconds: t.attempts.adminApiTimeoutSeconds },
        { id: "action", step: "its pause (backoff maximum)", seconds: t.attempts.maxBackoffSeconds },
        { id: "action", step: "the rest of the attempt schedule", seconds: schedule },
        { id: "poll", step: "deadline reached: the next poll (interval + query timeout)", seconds: t.pollIntervalSeconds + t.queryTimeoutSeconds },
        { id: "action", step: "a new action (attempt schedule)", seconds: schedule },
    ];
    return { terms, seconds: round(terms.reduce((s, x) => s + x.seconds, 0)) };
}

/** Every trigger's bound, and the worst of them (what the production policy limits). */
export function guardBounds(t: GuardTimings, triggers: TriggerTiming[]): { triggers: TriggerBound[]; worst: TriggerBound } {
    const all = triggers.map((x) => triggerBound(t, x));
    if (all.length === 0) throw new Error("guardBounds: no rollback triggers");
    return { triggers: all, worst: all.reduce((a, b) => (b.seconds > a.seconds ? b : a)) };
}

const round = (s: number) => Math.round(s * 1000) / 1000;

/** "6m 51s" / "32.8s": how a bound is shown in preview, outputs and the README. */
export function formatBound(seconds: number): string {
    if (seconds < 60) return `${Number(seconds.toFixed(2))}s`;
    const m = Math.floor(seconds / 60);
    const s = Math.round(seconds - m * 60);
    return s === 0 ? `${m}m` : `${m}m ${s}s`;
}
