/**
 * The watchdog's attempts and its poll, pure (no server, no process): untilConfirmed (lib/watchdog/actions.ts) on a
 * virtual clock against a stub admin API, and pollOnce (lib/watchdog/poll.ts) with a stub Prometheus reader.  The
 * bound (lib/guard/bound.ts) is computed from exactly this schedule, so the attempts' timeouts and pauses are asserted
 * to the millisecond.
 */
import { expect } from "chai";
import { actionScheduleSeconds, AttemptSchedule } from "../../../lib/guard/bound";
import { Action, Clock, untilConfirmed } from "../../../lib/watchdog/actions";
import { FIRING_TRIGGERS_PROMQL, pollOnce, PollDeps } from "../../../lib/watchdog/poll";
import type { Measured } from "../../../lib/prometheus/read";
import type { VectorSample } from "../../../lib/prometheus/client";

const START = 1_700_000_000_000;

/** Time moves only when the code under test sleeps or a stub request takes time: no real waiting. */
function virtualClock(random = 1): Clock & { elapsed(): number; spend(ms: number): void } {
    let t = 0;
    return {
        now: () => START + t,
        sleep: async (ms) => { t += Math.max(0, ms); },
        random: () => random,
        elapsed: () => t,
        spend: (ms) => { t += ms; },
    };
}

/**
 * A feature-flag admin API that answers every request after `latencyMs` (Infinity: never); a request whose timeout is
 * shorter costs the whole timeout and fails, as the real client's abort does.  Writes are applied only when answered.
 */
function stubService(clock: ReturnType<typeof virtualClock>, latencyMs: number, state = { enabled: true, percentage: 10 }) {
    const requests: { op: string; timeoutMs: number; ok: boolean }[] = [];
    const call = async <T>(op: string, timeoutMs: number, answer: () => T): Promise<T> => {
        const ok = latencyMs <= timeoutMs;
        clock.spend(ok ? latencyMs : timeoutMs);
        requests.push({ op, timeoutMs, ok });
        if (!ok) throw new Error(`${op}: timeout after ${timeoutMs} ms`);
        return answer();
    };
    const action: Action = {
        read: (ms) => call("read", ms, () => ({ enabled: state.enabled, percentage: state.percentage })),
        show: (t) => `read back ${t.percentage} %`,
        done: (t) => t.percentage === 0,
        what: "REVERTED",
        paths: [
            { name: "admin-api", apply: (ms) => call("write", ms, () => { state.percentage = 0; }), confirmed: (t) => t.percentage === 0 },
            { name: "kill-switch", apply: (ms) => call("kill", ms, () => { state.enabled = false; state.percentage = 0; }), confirmed: (t) => t.enabled === false || t.percentage === 0 },
        ],
    };
    return { action, state, requests };
}

/** The local default's schedule (Pulumi.local.yaml): 1 s first, doubling to an 8 s admin API; pauses from 250 ms to 5 s. */
const SCHEDULE: AttemptSchedule = { initialTimeoutSeconds: 1, adminApiTimeoutSeconds: 8, initialBackoffSeconds: 0.25, maxBackoffSeconds: 5 };

describe("the watchdog's attempts (untilConfirmed, virtual clock)", () => {
    it("against an admin API that never answers: timeouts double to adminApiTimeout, pauses double to the maximum, and it tries until the deadline, the last attempt cut to it", async () => {
        const clock = virtualClock(1); // jitter at its top: every pause is the whole backoff
        const { action, requests } = stubService(clock, Infinity);
        const r = await untilConfirmed("revert", action, SCHEDULE, 60_000, undefined, clock);
        expect(r.outcome).to.equal("unconfirmed");
        expect(r.attempts.map((a) => a.timeout_ms)).to.deep.equal([1000, 2000, 4000, 8000, 8000, 8000, 8000, 3250]);
        // Each attempt starts after the previous one's timeout and its pause (250, 500, 1000, 2000, 4000, 5000, 5000 ms).
        expect(r.attempts.map((a) => Date.parse(a.at) - START)).to.deep.equal([0, 1250, 3750, 8750, 18750, 30750, 43750, 56750]);
        // Two attempts on the admin API, then the kill switch until the deadline.
        expect(r.attempts.map((a) => a.path)).to.deep.equal(["admin-api", "admin-api", ...Array(6).fill("kill-switch")]);
        expect(clock.elapsed(), "it stops at the deadline, not after it").to.equal(60_000);
        expect(requests.every((q) => !q.ok)).to.equal(true);
    });

    it("against a 5 s admin API: confirmed by the first attempt whose timeout reaches 5 s, within the schedule the bound counts", async () => {
        const clock = virtualClock(1);
        const { action, state } = stubService(clock, 5000);
        const r = await untilConfirmed("revert", action, SCHEDULE, 120_000, undefined, clock);
        expect(r).to.deep.include({ outcome: "confirmed", path: "kill-switch" });
        expect(r.attempts.map((a) => [a.timeout_ms, a.result.replace(/^failed: .*/, "failed")])).to.deep.equal([
            [1000, "failed"], [2000, "failed"], [4000, "failed"], [8000, "read back 0 %"],
        ]);
        expect(state).to.deep.equal({ enabled: false, percentage: 0 });
        // 1 + 0.25 + 2 + 0.5 + 4 + 1, then a write and a read-back of 5 s each.
        expect(clock.elapsed()).to.equal(18_750);
        expect(clock.elapsed() / 1000).to.be.at.most(actionScheduleSeconds(SCHEDULE));
    });

    it("traffic already at 0 % is nothing to do: one read, no write, nothing counted", async () => {
        const clock = virtualClock();
        const { action, requests } = stubService(clock, 10, { enabled: true, percentage: 0 });
        const r = await untilConfirmed("revert", action, SCHEDULE, 60_000, undefined, clock);
        expect(r).to.deep.equal({ outcome: "already-zero", attempts: [] });
        expect(requests.map((q) => q.op)).to.deep.equal(["read"]);
    });
});

describe("the watchdog's poll of Prometheus (pollOnce, stub reader)", () => {
    const firing = (...alerts: string[]): Measured<VectorSample[]> => ({
        ok: true, value: alerts.map((a) => ({ metric: { __name__: "ALERTS", alertname: a, alertstate: "firing", rollback_trigger: "true" }, value: 1 })),
    });
    function deps(reads: Measured<VectorSample[]>[], act: PollDeps["act"] = async () => undefined, busy = () => false) {
        const seen = { exprs: [] as string[], acted: [] as unknown[], records: [] as unknown[] };
        const d: PollDeps = {
            read: async (expr) => { seen.exprs.push(expr); return reads.shift()!; },
            busy,
            act: async (payload) => { seen.acted.push(payload); return act(payload); },
            record: (r) => { seen.records.push(r); },
        };
        return { d, seen };
    }

    it("reads the firing rollback triggers and kill-switch alerts from Prometheus's ALERTS, and acts on them as on a webhook", async () => {
        const { d, seen } = deps([firing("SpeculationRollbackRateAbort")]);
        expect(await pollOnce(d)).to.equal("acted");
        expect(seen.exprs).to.deep.equal([FIRING_TRIGGERS_PROMQL]);
        expect(FIRING_TRIGGERS_PROMQL).to.include('rollback_trigger="true"').and.to.include('kill_switch="true"').and.to.include('alertstate="firing"');
        expect(seen.acted).to.deep.equal([{ alerts: [{ status: "firing", labels: { __name__: "ALERTS", alertname: "SpeculationRollbackRateAbort", alertstate: "firing", rollback_trigger: "true" } }] }]);
        expect(seen.records).to.deep.equal([{ ok: true, firing: 1 }]);
    });

    it("nothing firing: no action; a failed read is recorded with its detail and acts on nothing", async () => {
        const { d, seen } = deps([firing(), { ok: false, failure: "unreachable", detail: "GET http://prometheus:9090/api/v1/query: ECONNREFUSED" }]);
        expect(await pollOnce(d)).to.equal("none-firing");
        expect(await pollOnce(d)).to.equal("read-failed");
        expect(seen.acted).to.deep.equal([]);
        expect(seen.records).to.deep.equal([{ ok: true, firing: 0 }, { ok: false, detail: "GET http://prometheus:9090/api/v1/query: ECONNREFUSED" }]);
    });

    it("while an action is queued or running it neither reads nor acts (it would find the work done)", async () => {
        const { d, seen } = deps([firing("SpeculationUnobservable")], undefined, () => true);
        expect(await pollOnce(d)).to.equal("busy");
        expect(seen.exprs).to.deep.equal([]);
        expect(seen.acted).to.deep.equal([]);
    });

    it("a trigger that fires again after a revert (traffic turned back on, fault still there) is acted on at the next poll, whatever Alertmanager's grouping state", async () => {
        // The alert stays firing in Prometheus the whole time (Alertmanager would treat it as already notified
        // until repeat_interval); each poll reads it and the revert runs against the stub admin API.
        const clock = virtualClock();
        const { action, state } = stubService(clock, 20);
        const outcomes: string[] = [];
        const revert: PollDeps["act"] = async () => { outcomes.push((await untilConfirmed("revert", action, SCHEDULE, 60_000, undefined, clock)).outcome); };
        const { d } = deps([firing("SpeculationRollbackRateAbort"), firing("SpeculationRollbackRateAbort"), firing("SpeculationRollbackRateAbort")], revert);
        expect(await pollOnce(d)).to.equal("acted");
        expect(state.percentage).to.equal(0);
        state.percentage = 10; // the operator turns traffic back on with the fault still there
        expect(await pollOnce(d)).to.equal("acted");
        expect(state.percentage, "reverted again at the very next poll").to.equal(0);
        // A third poll finds the work done: nothing written, nothing counted.
        expect(await pollOnce(d)).to.equal("acted");
        expect(outcomes).to.deep.equal(["confirmed", "confirmed", "already-zero"]);
    });
});
