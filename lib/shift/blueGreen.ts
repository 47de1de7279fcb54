/**
 * Blue-green mode (seed 002): the top declared stage owns green, a full copy of blue at the release with its own
 * Service and smoke tests (components/shift/blueGreen.ts).  Below 100 % blue keeps serving (`hold`), or the primary
 * Ingress mirrors every request to green (`mirror`); the 100 % stage's shift is the primary Service's selector switch
 * to green.  A failing gate only fails the update: traffic moves only with the switch.
 */
import { compareWithStable, GREEN_NAME, inCluster, ShiftContext, ShiftStrategy, STABLE_NAME } from "./strategy";

/** Where the gate and the smoke tests reach green: canary.blueGreen.greenUrl, else its in-cluster Service. */
const greenUrl = (ctx: ShiftContext) => ctx.config.canary.blueGreen.greenUrl ?? inCluster(GREEN_NAME, ctx.namespace);
const mirrored = (ctx: ShiftContext) => ctx.config.canary.blueGreen.lowerSteps === "mirror";

export const blueGreen: ShiftStrategy = {
    mode: "blue-green",
    // Below 100 %: `hold` judges blue (the primary Service) at the previous version, `mirror` judges green (which gets
    // a mirror of the requests) against blue; at 100 % the primary Service, which now selects green, at the release.
    gateTarget: (ctx, percentage) => {
        const { release } = ctx.config;
        if (percentage === 100) return { url: ctx.serviceUrl, version: release.version };
        if (mirrored(ctx)) return { url: greenUrl(ctx), version: release.version, compare: compareWithStable(ctx) };
        return { url: ctx.serviceUrl, version: release.previousVersion };
    },
    // At 100 % the switch hands green all traffic while the primary Service still selects blue: green's smoke tests
    // may be days old.
    raisedTrack: (ctx, step) => (step.percentage === 100 ? greenUrl(ctx) : undefined),
    newTrack: (ctx) => ({ name: GREEN_NAME, prefix: "green", url: greenUrl(ctx), replicas: ctx.config.service.replicas }),
    // Blue keeps the known-good version until the next release: green takes the primary Service at 100 %, blue stays
    // for the switch back.  The mirror always targets green's in-cluster Service (ingress-nginx runs in the cluster).
    stable: (ctx, top) => ({
        version: ctx.config.release.previousVersion,
        primaryIngress: true,
        ...(mirrored(ctx) && top > 0 && top < 100 ? { mirrorTo: inCluster(GREEN_NAME, ctx.namespace) } : {}),
        primarySelects: top === 100 ? GREEN_NAME : STABLE_NAME,
        newTrackServesPrimary: top === 100,
    }),
    switchesPrimary: (percentage) => percentage === 100,
    gateFailure: () => ({
        onFailure: "fail", revertTarget: "rollout-percentage",
        leftAs: "Traffic left as it is (blue-green: traffic moves only with the switch). Back to blue: `pulumi config set speculation:rolloutPercentage <below 100> && pulumi up`.",
    }),
    refreshReadsRolloutPercentage: false,
};
