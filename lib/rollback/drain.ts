/**
 * The first half of seed 000's full rollback (`rollback.sh` steps 1 and 2): disable speculation through the admin
 * API (confirmed by reading it back), then wait until the pending speculative operations fall below the threshold
 * (< 10), reading `speculation_pending_operations_count` every poll interval, one progress line per poll, until a
 * deadline.  Past the deadline, or when the metric cannot be read, the drain fails (and nothing that waits for it —
 * the workloads' rollback — changes).  The emergency rollback only disables (the seed does not drain it).
 */
import { setRolloutPercentage } from "../adminApi";
import { fetchWithin } from "../http";
import { parseExposition } from "../prometheus/exposition";
import { CheckResult, StepReport } from "../runbook/steps";
import { redactUrl } from "../records/redact";

export const PENDING_METRIC = "speculation_pending_operations_count";

export interface DrainSpec {
    serviceUrl: string;
    adminToken: string;
    /** Pending operations must fall below this (seed 000: 10). */
    maxPending: number;
    pollSeconds: number;
    deadlineSeconds: number;
    timeoutMs: number;
    /** false: disable only (emergency rollback). */
    drain: boolean;
}

export interface DrainClock {
    now: () => number;
    sleep: (ms: number) => Promise<void>;
}

const realClock: DrainClock = { now: Date.now, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

/** Reads the pending operations (the sum over every series of the gauge). */
export async function readPending(serviceUrl: string, timeoutMs: number): Promise<number> {
    const res = await fetchWithin(`${serviceUrl}/metrics`, {}, timeoutMs);
    if (!res.ok) throw new Error(`${redactUrl(serviceUrl)}/metrics: ${res.why}`);
    if (res.status !== 200) throw new Error(`${redactUrl(serviceUrl)}/metrics: HTTP ${res.status}`);
    const fam = parseExposition(res.text)?.find((f) => f.name === PENDING_METRIC);
    if (!fam || fam.metrics.length === 0) throw new Error(`${PENDING_METRIC} is not exposed`);
    const sum = fam.metrics.reduce((n, m) => n + Number(m.value), 0);
    if (Number.isNaN(sum)) throw new Error(`${PENDING_METRIC} is NaN`);
    return sum;
}

export async function disableAndDrain(spec: DrainSpec, log: (line: string) => void = (l) => console.log(l), clock: DrainClock = realClock): Promise<StepReport> {
    const started = clock.now();
    const checks: CheckResult[] = [];
    const report = (): StepReport => ({
        step: "drain", verdict: checks.some((c) => c.verdict === "fail") ? "fail" : "pass",
        startedAt: new Date(started).toISOString(), finishedAt: new Date(clock.now()).toISOString(), durationMs: clock.now() - started, checks,
    });
    try {
        const status = await setRolloutPercentage(spec.serviceUrl, spec.adminToken, 0, spec.timeoutMs);
        const ok = !status.enabled && status.rolloutPercentage === 0;
        checks.push({ name: "disable", target: `POST ${redactUrl(spec.serviceUrl)}/admin/config`, expected: "disabled at 0 %", observed: `${status.enabled ? "enabled" : "disabled"} at ${status.rolloutPercentage} %`, verdict: ok ? "pass" : "fail" });
        log(`[drain] speculation disabled (read back: ${status.enabled ? "enabled" : "disabled"} at ${status.rolloutPercentage} %)`);
        if (!ok) return report();
    } catch (e) {
        checks.push({ name: "disable", target: `POST ${redactUrl(spec.serviceUrl)}/admin/config`, expected: "disabled at 0 %", observed: `error: ${(e as Error).message}`, verdict: "fail" });
        return report();
    }
    if (!spec.drain) return report();

    const deadline = started + spec.deadlineSeconds * 1000;
    const row = (observed: string, verdict: "pass" | "fail") => checks.push({
        name: "drain", target: PENDING_METRIC, expected: `< ${spec.maxPending} within ${spec.deadlineSeconds} s`, observed, verdict,
    });
    for (let poll = 1; ; poll++) {
        let pending: number;
        try {
            pending = await readPending(spec.serviceUrl, spec.timeoutMs);
        } catch (e) {
            // A metric that cannot be read is a no-go: the workloads must not change on a guess.
            row(`error after ${poll} poll(s): ${(e as Error).message}`, "fail");
            log(`[drain] poll ${poll}: cannot read ${PENDING_METRIC}: ${(e as Error).message}`);
            return report();
        }
        const elapsed = ((clock.now() - started) / 1000).toFixed(1);
        if (pending < spec.maxPending) {
            log(`[drain] poll ${poll}: pending operations ${pending} (< ${spec.maxPending}: drained after ${elapsed} s)`);
            row(`${pending} after ${poll} poll(s), ${elapsed} s`, "pass");
            return report();
        }
        if (clock.now() + spec.pollSeconds * 1000 > deadline) {
            log(`[drain] poll ${poll}: pending operations ${pending} (still ≥ ${spec.maxPending}; deadline ${spec.deadlineSeconds} s reached)`);
            row(`${pending} after ${poll} poll(s), ${elapsed} s: deadline passed`, "fail");
            return report();
        }
        log(`[drain] poll ${poll}: pending operations ${pending} (waiting for < ${spec.maxPending}; ${elapsed} s of ${spec.deadlineSeconds} s)`);
        await clock.sleep(spec.pollSeconds * 1000);
    }
}
