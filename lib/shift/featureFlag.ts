/**
 * Feature-flag mode: one Deployment serves everyone, and a stage's shift sets the admin API's
 * `speculation.features.rollout_percentage` (providers/trafficShift.ts).  The gate judges the service at the release;
 * a failing gate reverts through the admin API, and a refresh reads the percentage back.
 */
import { ShiftStrategy } from "./strategy";

export const featureFlag: ShiftStrategy = {
    mode: "feature-flag",
    gateTarget: (ctx) => ({ url: ctx.serviceUrl, version: ctx.config.release.version }),
    // The baseline reads the service the shift raises.
    raisedTrack: () => undefined,
    newTrack: () => undefined,
    stable: (ctx) => ({ version: ctx.config.release.version, primaryIngress: false, newTrackServesPrimary: false }),
    switchesPrimary: () => false,
    // The admin API is the traffic path: the gate may always lower it.  Its no-go's default sentence says what it left.
    gateFailure: (ctx) => ({ onFailure: ctx.config.canary.gate.onFailure, revertTarget: "rollout-percentage" }),
    refreshReadsRolloutPercentage: true,
};
