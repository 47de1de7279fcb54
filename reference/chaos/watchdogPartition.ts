/**
 * The watchdog ↔ admin API partition, between `up`s (issue 24), on real parts: the reference service and proof worker,
 * Debian's Prometheus and Alertmanager with the stack's rules and routes, and the watchdog (lib/watchdog/main.ts) —
 * everything reference/guardFaults.ts starts — except that the watchdog reaches the admin API through a link that can
 * be cut (reference/chaos/link.ts: a loopback relay that, cut, swallows bytes both ways and answers nothing, as a
 * black-holed route does).  Prometheus still scrapes the service directly, so the rollback trigger keeps firing.
 *
 * With traffic at 10 %: the link is cut and the rollback rate goes to 0.2.  Safe means:
 *   - while cut, traffic stays where it is (nothing can reach the service) and the watchdog keeps trying on its
 *     schedule — request timeouts growing to the admin API's, pauses between attempts — until its deadline;
 *   - it fails loudly at the deadline: a `REVERT FAILED` log line, a failed entry in GET /reverts, its failure
 *     counter, and SpeculationWatchdogRevertFailed (critical) firing in Prometheus and active in Alertmanager;
 *   - it does not give up: the trigger still firing, it starts a new action (its next read of the firing triggers);
 *   - once the link heals, traffic reaches 0 % confirmed within the bound lib/guard computes for the heal
 *     (partitionHealBound), measured from the heal.
 * Used by the chaos matrix (reference/chaos/run.ts, fault `watchdog-admin-partition`).
 */
import { setRolloutPercentage } from "../../lib/adminApi";
import { GuardPlan } from "../../lib/guard/plan";
import { instantVector } from "../../lib/prometheus/client";
import { startLocalMonitoring } from "../localMonitoring";
import { startProofWorker } from "../proofWorker";
import { startSpeculationService } from "../speculationService";
import { startLink } from "./link";

const TOKEN = "watchdog-partition-admin-token-0123456789";

/** The scenario's name in a chaos matrix guard entry (reference/chaos/run.ts). */
export const WATCHDOG_PARTITION = "watchdog-admin-partition";

export interface PartitionMeasurement {
    cutAt: number;
    /** When the watchdog first logged an unconfirmed attempt (it noticed it cannot reach the admin API). */
    firstRetryAt: number;
    /** The deadline's loud failure: the REVERT FAILED entry. */
    failedAt: number;
    /** SpeculationWatchdogRevertFailed firing in Prometheus and active in Alertmanager. */
    alertAt: number;
    /** The watchdog logged REVERT FAILED (level error) at its deadline. */
    loud: boolean;
    /** The first attempt of a new action after the failure (the trigger still firing). */
    retriedAfterFailureAt: number;
    healedAt: number;
    confirmedAt: number;
    /** Seconds from the heal to 0 % confirmed, and the bound for it. */
    seconds: number;
    boundSeconds: number;
    /** The failed action's attempts: each request timeout (ms), in order, and the gaps between attempt starts (ms). */
    attemptTimeoutsMs: number[];
    attemptGapsMs: number[];
    /** What traffic read while the link was cut (the service's own state), and at the end. */
    percentageWhileCut: number;
    finalPercentage: number;
    /** The action that confirmed: path and attempts. */
    confirmed: { path?: string; attempts: number };
    /** What does not hold (empty: safe). */
    violations: string[];
}

interface WatchdogAction { at: string; action: string; alerts: string[]; path?: string; failed?: boolean; attempts: { at: string; timeout_ms: number; result: string }[] }
interface LogLine { time?: string; level?: string; msg?: string }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the partition once on a fresh loop with the plan's timings (its revert deadline decides how long the cut lasts). */
export async function runWatchdogPartition(plan: GuardPlan, log: (line: string) => void = () => undefined): Promise<PartitionMeasurement> {
    const service = await startSpeculationService({ adminToken: TOKEN, version: "v1.2.4" });
    const worker = await startProofWorker({ adminToken: TOKEN });
    const link = await startLink(service.url);
    const monitoring = await startLocalMonitoring({ serviceUrl: service.url, watchdogServiceUrl: link.url, proofWorkerUrl: worker.url, adminToken: TOKEN, guard: plan });
    const actions = async (): Promise<WatchdogAction[]> => ((await (await fetch(`${monitoring.watchdogUrl}/reverts`)).json()) as { reverts: WatchdogAction[] }).reverts;
    const lines = (): LogLine[] => monitoring.watchdogLog().split("\n").flatMap((l) => { try { return [JSON.parse(l) as LogLine]; } catch { return []; } });
    const deadlineMs = plan.watchdog.revertDeadlineSeconds * 1000;
    /** Polls `probe` every 50 ms until it returns a time, or throws naming `what` after `ms`. */
    const until = async (what: string, ms: number, probe: () => Promise<number | undefined> | number | undefined): Promise<number> => {
        const end = Date.now() + ms;
        for (;;) {
            const t = await probe();
            if (t !== undefined) return t;
            if (Date.now() > end) throw new Error(`${what}: not within ${ms / 1000} s; the watchdog said:\n${monitoring.watchdogLog().slice(-3000)}`);
            await sleep(50);
        }
    };
    /** As until(), but NaN instead of a throw: what it waits for is then a violation of its own, and the run goes on to the heal. */
    const within = (what: string, ms: number, probe: () => Promise<number | undefined> | number | undefined) =>
        until(what, ms, probe).catch((e: Error) => { log(`[partition] ${e.message.split("\n")[0]}`); return Number.NaN; });
    try {
        await setRolloutPercentage(service.url, TOKEN, 10);
        await until("Prometheus scraping the service at 10 %", 60_000, async () => {
            const r = await instantVector(monitoring.prometheusUrl, 'max(speculation_rollout_percentage{job="agenc-speculation"}) == 10', 10_000);
            return r.ok && r.value.length > 0 ? Date.now() : undefined;
        });
        link.cut();
        const cutAt = link.cutAt!;
        service.setFaults({ rollbackRate: 0.2 });
        log(`[partition] link to the admin API cut; rollback rate 0.2 (the watchdog's deadline: ${plan.watchdog.revertDeadlineSeconds} s)`);
        const retryLines = (after: number) => lines().filter((l) => l.msg === "revert not confirmed yet, retrying" && Date.parse(l.time ?? "") >= after);
        const firstRetryAt = await until("a first unconfirmed attempt", 60_000, () => { const l = retryLines(cutAt)[0]; return l ? Date.parse(l.time!) : undefined; });
        const failedAction = async () => (await actions()).find((a) => a.failed && Date.parse(a.at) >= cutAt);
        const failedAt = await until("the deadline's REVERT FAILED", deadlineMs + 60_000, async () => {
            const a = await failedAction();
            return a ? Date.parse(a.at) : undefined;
        });
        const failed = (await failedAction())!;
        const loud = lines().some((l) => l.level === "error" && /^REVERT FAILED/.test(l.msg ?? "") && Date.parse(l.time ?? "") >= cutAt);
        log(`[partition] REVERT FAILED after ${failed.attempts.length} attempts`);
        const percentageWhileCut = service.state.rolloutPercentage;
        const alertAt = await within("SpeculationWatchdogRevertFailed firing and in Alertmanager", 60_000, async () => {
            const firing = await instantVector(monitoring.prometheusUrl, 'ALERTS{alertname="SpeculationWatchdogRevertFailed",alertstate="firing"}', 5000);
            if (!firing.ok || firing.value.length === 0) return undefined;
            const am = await fetch(`${monitoring.alertmanagerUrl}/api/v2/alerts?filter=${encodeURIComponent('alertname="SpeculationWatchdogRevertFailed"')}`);
            const active = ((await am.json()) as { status?: { state?: string } }[]).filter((a) => a.status?.state === "active");
            return active.length > 0 ? Date.now() : undefined;
        });
        const retriedAfterFailureAt = await within("a new action after the failure", 60_000, () => {
            const l = retryLines(failedAt + 1)[0];
            return l ? Date.parse(l.time!) : undefined;
        });
        log(`[partition] loud (alert at +${((alertAt - cutAt) / 1000).toFixed(1)} s) and trying again (+${((retriedAfterFailureAt - cutAt) / 1000).toFixed(1)} s): healing the link`);
        link.mend();
        const healedAt = Date.now();
        const confirmedAt = await within("0 % confirmed after the heal", (plan.partitionHeal.seconds + 60) * 1000, async () => {
            const done = (await actions()).find((a) => !a.failed && Date.parse(a.at) >= healedAt);
            return done ? Date.parse(done.at) : undefined;
        });
        const done = (await actions()).find((a) => !a.failed && Date.parse(a.at) === confirmedAt);
        const starts = failed.attempts.map((a) => Date.parse(a.at));
        const m: PartitionMeasurement = {
            cutAt, firstRetryAt, failedAt, loud, alertAt, retriedAfterFailureAt, healedAt, confirmedAt,
            seconds: (confirmedAt - healedAt) / 1000, boundSeconds: plan.partitionHeal.seconds,
            attemptTimeoutsMs: failed.attempts.map((a) => a.timeout_ms), attemptGapsMs: starts.slice(1).map((t, i) => t - starts[i]),
            percentageWhileCut, finalPercentage: service.state.rolloutPercentage,
            confirmed: { path: done?.path, attempts: done?.attempts.length ?? 0 }, violations: [],
        };
        m.violations.push(...partitionViolations(m, plan));
        log(`[partition] 0 % confirmed ${m.seconds.toFixed(2)} s after the heal (bound ${m.boundSeconds} s)`);
        return m;
    } finally {
        await monitoring.stop();
        await link.close();
        await worker.close();
        await service.close();
    }
}

/** What a partition's measurement must show (see the file comment); pure, so the rules have a test of their own. */
export function partitionViolations(m: Omit<PartitionMeasurement, "violations">, plan: Pick<GuardPlan, "watchdog">): string[] {
    const v: string[] = [];
    if (m.percentageWhileCut !== 10) v.push(`traffic read ${m.percentageWhileCut} % while the link was cut: something reached the service around the cut`);
    // Kept trying up to the deadline, on the schedule: more than two attempts, timeouts growing to the admin API's, pauses between them.
    const t = m.attemptTimeoutsMs;
    if (t.length < 3) v.push(`the watchdog made ${t.length} attempt(s) before its deadline; it must keep trying until then`);
    if (t.some((x, i) => i > 0 && i < t.length - 1 && x < t[i - 1])) v.push(`the attempts' timeouts did not grow: ${t.join(", ")} ms`);
    if (Math.max(0, ...t) < plan.watchdog.adminApiTimeoutMs) v.push(`no attempt gave the admin API its ${plan.watchdog.adminApiTimeoutMs} ms (${t.join(", ")} ms)`);
    const lastFull = t.findIndex((x) => x >= plan.watchdog.adminApiTimeoutMs);
    if (lastFull >= 0 && m.attemptGapsMs.slice(lastFull).some((g) => g < plan.watchdog.adminApiTimeoutMs)) {
        v.push(`attempts at the full timeout started less than it apart: ${m.attemptGapsMs.join(", ")} ms`);
    }
    const gaveUpAfter = m.failedAt - m.cutAt;
    if (gaveUpAfter < plan.watchdog.revertDeadlineSeconds * 1000) v.push(`failed ${gaveUpAfter} ms after the cut, before its ${plan.watchdog.revertDeadlineSeconds} s deadline could have passed`);
    if (!m.loud) v.push("no REVERT FAILED log line at the deadline");
    if (Number.isNaN(m.alertAt)) v.push("SpeculationWatchdogRevertFailed was never firing in Prometheus and active in Alertmanager");
    if (!(m.retriedAfterFailureAt > m.failedAt)) v.push("no new action after the failure while the trigger kept firing");
    if (m.finalPercentage !== 0) v.push(`traffic reads ${m.finalPercentage} % at the end`);
    if (Number.isNaN(m.seconds)) v.push("0 % was never confirmed after the heal");
    if (m.seconds > m.boundSeconds) v.push(`0 % confirmed ${m.seconds} s after the heal, over the bound ${m.boundSeconds} s`);
    return v;
}
