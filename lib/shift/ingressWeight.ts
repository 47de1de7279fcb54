/**
 * Ingress-weight mode: the top declared stage owns a canary track (Deployment, Service, smoke tests) and a weighted
 * canary Ingress beside the primary one (components/shift/ingressWeight.ts); the weight is the stage's percentage.
 * The gate judges the canary against the stable track over the same window.  A failing gate lowers the canary's
 * weight through the watchdog's action where the stack runs both; the watchdog's own revert lowers it too.
 */
import { CANARY_NAME, compareWithStable, inCluster, ShiftContext, ShiftStrategy } from "./strategy";

/**
 * Pods of the ingress-weight canary at a weight: its share of the stable track's pods, rounded up, so a canary pod
 * carries about what a stable pod carries (one pod at 50 % of production would carry half the service alone).  At
 * least one: while a canary backend has no ready endpoint ingress-nginx sends its share to the primary backend.
 */
export function canaryReplicas(serviceReplicas: number, percentage: number): number {
    return Math.max(1, Math.min(serviceReplicas, Math.ceil(serviceReplicas * percentage / 100)));
}

/** Where the gate and the smoke tests reach the canary: canary.gate.canaryUrl, else its in-cluster Service. */
const canaryUrl = (ctx: ShiftContext) => ctx.config.canary.gate.canaryUrl ?? inCluster(CANARY_NAME, ctx.namespace);

/**
 * The canary's weight is ours to lower only where the stack deploys the canary Ingress and the watchdog that may
 * patch it (kubernetes.enabled), and the gate can reach the watchdog's action; elsewhere whoever runs the ingress
 * owns the weight.
 */
const canLowerWeight = (ctx: ShiftContext) =>
    ctx.config.kubernetes.enabled && ctx.config.watchdog.enabled && !!ctx.config.canary.gate.revert.watchdogActionUrl;

/** A no-go that leaves the weight: why the gate could not lower it, and how the operator does. */
function notReverted(ctx: ShiftContext): string {
    const { config } = ctx;
    const lower = "Lower it: `pulumi config set speculation:rolloutPercentage <a lower step, or 0> && pulumi up`; the watchdog sets it to 0 if a rollback trigger fires.";
    if (config.canary.gate.onFailure !== "revert") return `Traffic left as it is (onFailure: fail): the canary keeps its weight. ${lower}`;
    const why = !config.kubernetes.enabled ? "kubernetes.enabled is false: whoever runs the ingress owns the weight"
        : !config.watchdog.enabled ? "watchdog.enabled is false"
            : "ingress-weight mode without canary.gate.revert.watchdogActionUrl";
    return `Traffic left as it is: the canary keeps its weight. The gate cannot reach it (${why}); ${lower}`;
}

export const ingressWeight: ShiftStrategy = {
    mode: "ingress-weight",
    gateTarget: (ctx) => ({ url: canaryUrl(ctx), version: ctx.config.release.version, compare: compareWithStable(ctx) }),
    // Past the first stage the canary exists (the previous stage's gate judged it) and its weight rises; stage 1's
    // canary is new, and its smoke tests come first.
    raisedTrack: (_ctx, step, targetUrl) => (step.previousPercentage > 0 ? targetUrl : undefined),
    newTrack: (ctx, top) => ({ name: CANARY_NAME, prefix: "canary", url: canaryUrl(ctx), replicas: canaryReplicas(ctx.config.service.replicas, top) }),
    // Blue keeps the known-good version until the plan reaches 100 %.
    stable: (ctx, top) => ({
        version: top < 100 ? ctx.config.release.previousVersion : ctx.config.release.version,
        primaryIngress: true, newTrackServesPrimary: false,
    }),
    switchesPrimary: () => false,
    gateFailure: (ctx) => {
        const onFailure = canLowerWeight(ctx) ? ctx.config.canary.gate.onFailure : "fail";
        return { onFailure, revertTarget: "canary-weight", ...(onFailure === "revert" ? {} : { leftAs: notReverted(ctx) }) };
    },
    refreshReadsRolloutPercentage: false,
    // A revert takes the canary's weight to 0 (the admin API is not its traffic path).
    watchdogLowersIngress: CANARY_NAME,
};
