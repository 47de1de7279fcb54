/**
 * When the watchdog probes (issue 14, seed 003's sentinels): once the plan has reached 100 %.  Below 100 % every
 * stage has its own gate and window judgement, which own the verdict on the release; a second judge that can pull
 * the kill switch would make a stage's outcome depend on two mechanisms.  At 100 % no gate is left, and the
 * sentinels take over for as long as the release stays there.  A full or emergency rollback, and a stack whose kill
 * switch (`service.speculationEnabled: false`) is set by config, leave speculation off: nothing to probe for.
 */
import { parseDuration } from "../../config/duration";
import { SentinelConfig } from "../../config/sentinel";

/** The environment of the watchdog's scheduler (lib/watchdog/main.ts). */
export interface SentinelSchedule {
    /** SENTINEL_INTERVAL_SECONDS. */
    intervalSeconds: number;
    /** SENTINEL_TIMEOUT_MS: each of a probe's two requests. */
    timeoutMs: number;
}

export interface SentinelPlan {
    /** `watchdog.sentinel`. */
    sentinel: Pick<SentinelConfig, "enabled" | "interval" | "timeout">;
    /** The topmost planned stage's percentage (0 when no stage is declared). */
    topPercentage: number;
    /** `service.speculationEnabled`. */
    speculationEnabled: boolean;
    /** `rollback.mode`. */
    rollbackMode: string;
}

/** The probes' schedule, or why there is none (for the stack's outputs and the README's table). */
export function sentinelSchedule(p: SentinelPlan): { schedule: SentinelSchedule } | { off: string } {
    if (!p.sentinel.enabled) return { off: "watchdog.sentinel.enabled is false" };
    if (p.rollbackMode !== "none") return { off: `rollback.mode is ${p.rollbackMode}: speculation stays off` };
    if (!p.speculationEnabled) return { off: "service.speculationEnabled is false: speculation is off" };
    if (p.topPercentage < 100) return { off: `the plan is at ${p.topPercentage} %, below 100 %: the stages' gates judge it` };
    return { schedule: { intervalSeconds: parseDuration(p.sentinel.interval), timeoutMs: parseDuration(p.sentinel.timeout) * 1000 } };
}
