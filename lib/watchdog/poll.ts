/**
 * The watchdog's second way to learn of a trigger: it reads Prometheus's firing alerts itself (the ALERTS series, as
 * the gates read critical alerts) every POLL_INTERVAL_SECONDS and acts on them exactly as on Alertmanager's webhook.
 * An alert that fires again soon after a revert is "already notified" for Alertmanager until repeat_interval;
 * Prometheus has no such state, so this read is what the guard's bound counts on (lib/guard/bound.ts, the poll term).
 * A silence in Alertmanager does not stop it either: a silence hides a page, not a failing service.
 *
 * Pure of I/O: the reader, the action and the log are given, so lib/watchdog/main.ts wires the real ones and the
 * tests stubs.
 */
import type { Measured } from "../prometheus/read";
import type { VectorSample } from "../prometheus/client";

/** What the watchdog acts on, as Prometheus's ALERTS series has it: every firing rollback trigger and kill-switch alert. */
export const FIRING_TRIGGERS_PROMQL = 'ALERTS{alertstate="firing",rollback_trigger="true"} or ALERTS{alertstate="firing",kill_switch="true"}';

export interface PollDeps {
    /** One read of FIRING_TRIGGERS_PROMQL (lib/prometheus instantVector, with the poll's timeout). */
    read(expr: string): Promise<Measured<VectorSample[]>>;
    /** Whether an action is queued or running: the poll adds none then (it would find the work done). */
    busy(): boolean;
    /** The action, given the firing alerts as Alertmanager's webhook would carry them. */
    act(payload: { alerts: { status: "firing"; labels: Record<string, string> }[] }): Promise<unknown>;
    /** Counts and logs one read (ok or failed). */
    record(read: { ok: true; firing: number } | { ok: false; detail: string }): void;
}

export type PollResult = "busy" | "read-failed" | "none-firing" | "acted";

/** One poll: read the firing triggers, and act on them unless an action is already under way. */
export async function pollOnce(d: PollDeps): Promise<PollResult> {
    if (d.busy()) return "busy";
    const read = await d.read(FIRING_TRIGGERS_PROMQL);
    if (!read.ok) {
        d.record({ ok: false, detail: read.detail });
        return "read-failed";
    }
    d.record({ ok: true, firing: read.value.length });
    if (read.value.length === 0) return "none-firing";
    // An action may have started (a webhook) while the read was in flight.
    if (d.busy()) return "busy";
    await d.act({ alerts: read.value.map((r) => ({ status: "firing" as const, labels: r.metric })) });
    return "acted";
}
