/**
 * The guard between `up`s as the stack configures it: the timings resolved from the config (one place, read by the
 * Watchdog component, the local monitoring, the rules and the bound), the bound per rollback trigger, and what a
 * production stack is refused for.  Pure.
 */
import { formatDuration, parseDuration } from "../../config/duration";
import { StackConfig } from "../../config/schema";
import { DEFAULT_STAGE_THRESHOLDS } from "../../config/thresholds";
import { ruleGroups, rollbackTriggerTimings, RuleOptions, UNOBSERVABLE_ALERT } from "../monitoring/rules";
import { sloSpec } from "../monitoring/slo";
import { actionScheduleSeconds, BoundTerm, formatBound, GuardTimings, guardBounds, partitionHealBound, TriggerBound } from "./bound";

/** The watchdog's settings in the units its environment takes (components/Watchdog.ts, reference/localMonitoring.ts). */
export interface WatchdogTimings {
    revertDeadlineSeconds: number;
    attemptTimeoutMs: number;
    adminApiTimeoutMs: number;
    initialBackoffMs: number;
    maxBackoffMs: number;
    pollIntervalSeconds: number;
    pollTimeoutMs: number;
}

/** The watchdog's backoff between attempts (fixed: the bound reads them from here). */
export const WATCHDOG_BACKOFF = { initialMs: 250, maxMs: 5000 } as const;

export interface GuardPlan {
    timings: GuardTimings;
    watchdog: WatchdogTimings;
    /** The Prometheus settings the rules and scrape config are generated with. */
    prometheus: { scrapeInterval: string; scrapeTimeout: string; evaluationInterval: string };
    /** The rule options the bound was computed for (the same ones the stack renders). */
    ruleOptions: RuleOptions;
    triggers: TriggerBound[];
    worst: TriggerBound;
    /** The longest bound the stack accepts (`watchdog.maxGuardBound`): production refuses a worst bound above it. */
    limitSeconds: number;
    /** From the heal of a cut between the watchdog and the admin API to 0 % confirmed, a trigger still firing (lib/guard/bound.ts). */
    partitionHeal: { terms: BoundTerm[]; seconds: number };
    /** What a production stack is refused for (empty elsewhere, and when it is within the rules). */
    refusals: { key: string; message: string }[];
}

/** Prometheus's default scrape_timeout is 10s; it may not exceed the interval. */
export function scrapeTimeoutOf(c: Pick<StackConfig, "monitoring">): string {
    if (c.monitoring.scrapeTimeout) return c.monitoring.scrapeTimeout;
    return parseDuration(c.monitoring.scrapeInterval) < 10 ? c.monitoring.scrapeInterval : "10s";
}

/**
 * Resolves the guard's timings from the stack config and computes its bound.  Only the monitoring and watchdog keys
 * (and the environment) enter it: the triggers' `for:`s do not depend on the thresholds.
 */
export function guardPlan(c: Pick<StackConfig, "environment" | "monitoring" | "watchdog"> & Partial<Pick<StackConfig, "slo" | "canary">>): GuardPlan {
    const w = c.watchdog;
    const scrapeTimeout = scrapeTimeoutOf(c);
    const pollInterval = w.pollInterval ?? c.monitoring.evaluationInterval;
    const watchdog: WatchdogTimings = {
        revertDeadlineSeconds: parseDuration(w.revertDeadline),
        attemptTimeoutMs: Math.round(parseDuration(w.attemptTimeout) * 1000),
        adminApiTimeoutMs: Math.round(parseDuration(w.adminApiTimeout) * 1000),
        initialBackoffMs: WATCHDOG_BACKOFF.initialMs,
        maxBackoffMs: WATCHDOG_BACKOFF.maxMs,
        pollIntervalSeconds: parseDuration(pollInterval),
        // One read of the alerts may take at most a poll interval (and never more than 5 s).
        pollTimeoutMs: Math.round(Math.min(5, parseDuration(pollInterval)) * 1000),
    };
    const timings: GuardTimings = {
        scrapeIntervalSeconds: parseDuration(c.monitoring.scrapeInterval),
        scrapeTimeoutSeconds: parseDuration(scrapeTimeout),
        evaluationIntervalSeconds: parseDuration(c.monitoring.evaluationInterval),
        pollIntervalSeconds: watchdog.pollIntervalSeconds,
        queryTimeoutSeconds: watchdog.pollTimeoutMs / 1000,
        attempts: {
            initialTimeoutSeconds: watchdog.attemptTimeoutMs / 1000,
            adminApiTimeoutSeconds: watchdog.adminApiTimeoutMs / 1000,
            initialBackoffSeconds: watchdog.initialBackoffMs / 1000,
            maxBackoffSeconds: watchdog.maxBackoffMs / 1000,
        },
    };
    const ruleOptions: RuleOptions = {
        scrapeInterval: c.monitoring.scrapeInterval,
        ...(c.monitoring.rehearsalFor ? { rehearsalFor: c.monitoring.rehearsalFor } : {}),
        // The SLO's rules (lib/slo) with the stack's objective and release track: its fast burn is a trigger too.
        slo: sloSpec(c.slo, c.canary?.shiftMode),
    };
    const { triggers, worst } = guardBounds(timings, rollbackTriggerTimings(ruleGroups(DEFAULT_STAGE_THRESHOLDS, c.monitoring.evaluationInterval, ruleOptions)));
    const refusals: GuardPlan["refusals"] = [];
    const schedule = actionScheduleSeconds(timings.attempts);
    if (watchdog.revertDeadlineSeconds < schedule) {
        refusals.push({
            key: "watchdog.revertDeadline",
            message: `must be at least ${formatDuration(Math.ceil(schedule))}: the watchdog's attempts up to watchdog.adminApiTimeout (${w.adminApiTimeout}) take that long in the worst case`,
        });
    }
    const limitSeconds = parseDuration(w.maxGuardBound);
    if (c.environment === "production" && worst.seconds > limitSeconds) {
        const shares = boundByKey(c, worst);
        const [dominant] = shares.filter((x) => !x.fixed);
        const listed = shares.map((x) => `${x.key} ${formatBound(x.seconds)}`).join(", ");
        refusals.push({
            key: dominant.key,
            message: `contributes most of a guard bound of ${formatBound(worst.seconds)} (${worst.alert}: ${worst.terms.map((t) => `${t.step} ${formatBound(t.seconds)}`).join(" + ")}), ` +
                `above watchdog.maxGuardBound (${w.maxGuardBound}); by key: ${listed}. Shorten ${dominant.key}` +
                `${dominant.key === "watchdog.adminApiTimeout" ? " (or watchdog.attemptTimeout)" : ""}, or raise watchdog.maxGuardBound ` +
                "(the policy pack's guard-bound maxGuardBoundSeconds must allow it)",
        });
    }
    return {
        timings, watchdog, ruleOptions, triggers, worst, limitSeconds, refusals, partitionHeal: partitionHealBound(timings),
        prometheus: { scrapeInterval: c.monitoring.scrapeInterval, scrapeTimeout, evaluationInterval: c.monitoring.evaluationInterval },
    };
}

/** One stack key's share of a trigger's bound, seconds; `fixed`: not a stack key (the go/no-go table's `for:`). */
export interface KeyShare { key: string; seconds: number; fixed?: boolean }

/**
 * Which stack key each second of a trigger's bound comes from, largest first: the scrape interval (and the scrape
 * timeout, which defaults from it below 10 s), the evaluation interval (the recording and pending evaluations, the
 * `for:` rounded up to whole evaluations, and the poll when watchdog.pollInterval is unset), the poll, the admin API's
 * timeout (the attempt schedule grows to it).  A seed's `for:` is the go/no-go table's, not a stack key: listed, fixed.
 */
export function boundByKey(c: Pick<StackConfig, "monitoring" | "watchdog">, t: TriggerBound): KeyShare[] {
    const m = c.monitoring;
    const scrape = parseDuration(m.scrapeInterval);
    const shares = new Map<string, KeyShare>();
    const add = (key: string, seconds: number, fixed = false) => {
        if (seconds <= 0) return;
        const had = shares.get(key);
        shares.set(key, { key, seconds: round((had?.seconds ?? 0) + seconds), ...(fixed ? { fixed } : {}) });
    };
    const evaluation = "monitoring.evaluationInterval";
    for (const term of t.terms) {
        if (term.id === "scrape") {
            add("monitoring.scrapeInterval", scrape);
            add(m.scrapeTimeout || scrape >= 10 ? "monitoring.scrapeTimeout" : "monitoring.scrapeInterval", term.seconds - scrape);
        } else if (term.id === "recording" || term.id === "pending") {
            add(evaluation, term.seconds);
        } else if (term.id === "for") {
            if (t.alert === UNOBSERVABLE_ALERT) {
                // One missed scrape tolerated: its for: is a scrape interval and an evaluation interval.
                add("monitoring.scrapeInterval", scrape);
                add(evaluation, t.forSeconds - scrape);
            } else if (m.rehearsalFor) {
                add("monitoring.rehearsalFor", t.forSeconds);
            } else {
                add(`${t.alert}'s for: (the go/no-go table)`, t.forSeconds, true);
            }
            add(evaluation, term.seconds - t.forSeconds);
        } else if (term.id === "poll") {
            add(c.watchdog.pollInterval ? "watchdog.pollInterval" : evaluation, term.seconds);
        } else {
            add("watchdog.adminApiTimeout", term.seconds);
        }
    }
    return [...shares.values()].sort((a, b) => b.seconds - a.seconds);
}

const round = (s: number) => Math.round(s * 1000) / 1000;

/**
 * The bound as a stack output and a preview line: per trigger, the worst, and the limit the stack holds it to; and from
 * the heal of a cut between the watchdog and the admin API (while cut, nothing can confirm: the watchdog fails loudly at
 * its deadline and keeps trying).
 */
export function guardSummary(p: GuardPlan): {
    boundSeconds: number; bound: string; worstTrigger: string; triggers: Record<string, string>; formula: string; maxBoundSeconds: number; maxBound: string;
    afterWatchdogPartition: string;
} {
    return {
        boundSeconds: p.worst.seconds,
        bound: formatBound(p.worst.seconds),
        worstTrigger: p.worst.alert,
        triggers: Object.fromEntries(p.triggers.map((t) => [t.alert, formatBound(t.seconds)])),
        formula: p.worst.terms.map((t) => `${t.step} ${formatBound(t.seconds)}`).join(" + "),
        maxBoundSeconds: p.limitSeconds,
        maxBound: formatBound(p.limitSeconds),
        afterWatchdogPartition: formatBound(p.partitionHeal.seconds),
    };
}
