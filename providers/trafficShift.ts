/**
 * TrafficShift: owns the live rollout percentage of one canary stage (feature-flag mode).
 *   create  → sets the stage's percentage through the admin API and confirms it took; when the stage's pre-shift
 *             health check (its ErrorBaseline) is older than a few seconds, takes it again first
 *   update  → re-applies the percentage (after a revert or an out-of-band edit found by refresh); raising traffic
 *             runs the pre-shift health check first (lib/preshift): a failing service never gets more traffic
 *   delete  → hands traffic back to the previous stage's percentage (0 for the first stage), never more than is live
 *   read    → reads /admin/status, so `pulumi refresh` shows a percentage changed out of band (or a gate's revert)
 * A killed `pulumi up` leaves this provider running in its own process group (lib/lifecycle): a create or update
 * then starts no write, abandons the one in flight (its connection closed) and the process exits — no percentage is
 * set for nobody.  The recovered stack's `up` sets the stage's percentage again and reads it back.  A delete, which
 * only ever lowers traffic, completes.
 */
import * as pulumi from "@pulumi/pulumi";
import { AdminStatus, readAdminStatus, setRolloutPercentage } from "../lib/adminApi";
import { providerLifecycle, exitingWithEngine } from "../lib/lifecycle/engine";
import { PreShiftSpec, preShiftCheck, refusalMessage } from "../lib/preshift/check";

export const TRAFFIC_SHIFT_TYPE = "TrafficShift";

export interface TrafficShiftInputs {
    serviceUrl: pulumi.Input<string>;
    adminToken: pulumi.Input<string>;
    percentage: pulumi.Input<number>;
    previousPercentage: pulumi.Input<number>;
    stage: pulumi.Input<string>;
    /** The health check run before traffic rises (the gate's settings); without it a shift is not checked here. */
    preShift?: pulumi.Input<Omit<PreShiftSpec, "stage" | "adminToken">>;
    /** When the stage's ErrorBaseline last checked health; a create within CHECK_FRESH_MS of it does not check again. */
    checkedAt?: pulumi.Input<string>;
}

interface ShiftState {
    serviceUrl: string;
    adminToken: string;
    percentage: number;
    previousPercentage: number;
    stage: string;
    preShift?: Omit<PreShiftSpec, "stage">;
    checkedAt?: string;
    livePercentage: number;
    appliedAt: string;
}

/** How recent the baseline's health check must be for a create to rely on it: its window plus reading time. */
const freshMs = (s: ShiftState) => ((s.preShift?.windowSeconds ?? 0) * 2 + 10) * 1000;

/** Raising traffic above what is live: the pre-shift health check first, refusing the shift on a no-go. */
async function checkBeforeRaise(s: ShiftState, recentlyChecked: boolean, signal: AbortSignal) {
    if (!s.preShift || recentlyChecked) return;
    const live = await readAdminStatus(s.serviceUrl, 5000, signal);
    const current = live.enabled ? live.rolloutPercentage : 0;
    if (s.percentage <= current) return;
    console.log(`[${s.stage}] pre-shift health check before raising traffic from ${current} % to ${s.percentage} %`);
    const result = await preShiftCheck({ ...s.preShift, stage: s.stage });
    if (result.verdict === "no-go") throw new Error(refusalMessage(s.stage, s.percentage, result));
    console.log(`[${s.stage}] pre-shift health check: go (${result.sample.checks.length} checks)`);
}

/**
 * Sets the stage's percentage while the engine is there to receive it: once the engine is gone the write is not
 * started, or is abandoned in flight, and the provider process exits when this was its last watched call.
 */
async function applyPercentage(s: ShiftState, recentlyChecked: boolean): Promise<AdminStatus> {
    const engine = providerLifecycle();
    try {
        await checkBeforeRaise(s, recentlyChecked, engine.signal);
        engine.signal.throwIfAborted();
        return await setRolloutPercentage(s.serviceUrl, s.adminToken, s.percentage, 5000, engine.signal);
    } finally {
        engine.done();
    }
}

export const trafficShiftProvider: pulumi.dynamic.ResourceProvider = exitingWithEngine({
    async check(_olds: ShiftState, news: ShiftState) {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        if (typeof news.percentage === "number" && (news.percentage < 0 || news.percentage > 100)) {
            failures.push({ property: "percentage", reason: "must be from 0 to 100" });
        }
        return { inputs: news, failures };
    },
    async diff(_id: string, olds: ShiftState, news: ShiftState) {
        const replaces = (["serviceUrl", "stage"] as const).filter((k) => olds[k] !== news[k]);
        const changed = (["percentage", "previousPercentage", "adminToken"] as const).filter((k) => olds[k] !== news[k]);
        // A refresh that found the live percentage elsewhere makes the next `up` re-apply the stage's percentage.
        const drifted = olds.livePercentage !== undefined && olds.livePercentage !== olds.percentage;
        return {
            changes: replaces.length + changed.length > 0 || drifted,
            replaces,
            deleteBeforeReplace: true,
        };
    },
    async create(inputs: ShiftState) {
        const checked = inputs.checkedAt ? Date.parse(inputs.checkedAt) : NaN;
        const status = await applyPercentage(inputs, Date.now() - checked < freshMs(inputs));
        const outs: ShiftState = { ...inputs, livePercentage: status.rolloutPercentage, appliedAt: new Date().toISOString() };
        return { id: `${inputs.stage}`, outs };
    },
    async update(_id: string, _olds: ShiftState, news: ShiftState) {
        const status = await applyPercentage(news, false);
        return { outs: { ...news, livePercentage: status.rolloutPercentage, appliedAt: new Date().toISOString() } };
    },
    async read(id: string, props: ShiftState) {
        // Traffic is off when speculation is disabled, whatever the percentage says: a kill switch that only disabled
        // it is drift too, and the next `up` turns the stage's percentage back on.
        const status = await readAdminStatus(props.serviceUrl);
        return { id, props: { ...props, livePercentage: status.enabled ? status.rolloutPercentage : 0 } };
    },
    async delete(_id: string, props: ShiftState) {
        // Hands traffic back to the previous stage, but never more than is live: after a rollback's disable or a
        // gate's revert (0 %, disabled) a removed stage leaves speculation disabled instead of re-enabling it.
        const live = await readAdminStatus(props.serviceUrl);
        const handBack = Math.min(props.previousPercentage ?? 0, live.enabled ? live.rolloutPercentage : 0);
        if (handBack === 0 && !live.enabled && live.rolloutPercentage === 0) return;
        await setRolloutPercentage(props.serviceUrl, props.adminToken, handBack);
    },
});

export class TrafficShift extends pulumi.dynamic.Resource {
    declare readonly livePercentage: pulumi.Output<number>;
    declare readonly percentage: pulumi.Output<number>;
    /** When the percentage was last applied: where a window-mode bake counts from. */
    declare readonly appliedAt: pulumi.Output<string>;

    constructor(name: string, args: TrafficShiftInputs, opts?: pulumi.CustomResourceOptions) {
        super(trafficShiftProvider, name, { ...args, livePercentage: undefined, appliedAt: undefined },
            { ...opts, additionalSecretOutputs: ["adminToken"] }, "agenc", TRAFFIC_SHIFT_TYPE);
    }
}
