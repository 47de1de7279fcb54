/**
 * How a release moves traffic, one implementation per `speculation:canary.shiftMode` (as Flagger's pkg/router keeps
 * one router per mesh behind one interface).  Everything here is pure: it answers from the stack config which
 * address a gate reads, which track a shift raises, what the stable side looks like, how a failing gate reverts and
 * what a refresh reads back.  The resources a stage's shift creates are components/shift/<mode>.ts.
 *
 * The factory is ./index.ts (`shiftStrategy(mode)`); nothing else tests the mode's name.
 */
import type { StackConfig } from "../../config/schema";
import type { CompareSpec } from "../gate/compare";
import { SPECULATION_PORT } from "../monitoring/scrape";

/** `speculation:canary.shiftMode`. */
export type ShiftMode = StackConfig["canary"]["shiftMode"];

/** The stable track's Deployment, Service and primary Ingress. */
export const STABLE_NAME = "agenc-speculation";
/** Ingress-weight mode's new track: its Deployment, Service and weighted Ingress. */
export const CANARY_NAME = "agenc-speculation-canary";
/** Blue-green mode's new track: its Deployment and its own Service. */
export const GREEN_NAME = "agenc-speculation-green";

/** What a strategy reads: the (rollback-applied) stack config, its namespace and where the gates reach the service. */
export interface ShiftContext {
    config: StackConfig;
    namespace: string;
    /** The stable service's address as the gates reach it (canary.gate.serviceUrl, or the in-cluster Service). */
    serviceUrl: string;
}

/** A stage's step, as far as a strategy cares: its percentage and the one it hands back to. */
export interface ShiftStep {
    percentage: number;
    previousPercentage: number;
}

/** What a stage's gate reads: which address, at which version, compared with which stable track. */
export interface GateTarget {
    url: string;
    version: string;
    /** Two tracks: the new one (url) judged against the stable one over the same window (lib/judge). */
    compare?: CompareSpec;
}

/** The new version's workload beside the stable one (ingress-weight: the canary; blue-green: green). */
export interface NewTrackPlan {
    /** Its Deployment's and Service's name. */
    name: typeof CANARY_NAME | typeof GREEN_NAME;
    /** Prefix of its objects' logical names, and the `track` its smoke tests record. */
    prefix: "canary" | "green";
    /** Where its smoke tests (and, for the canary, the gate) reach its own Service. */
    url: string;
    /** Its pods: the canary is sized to its share, green is a full copy of blue. */
    replicas: number;
}

/** The stable side as a mode shapes it: what the primary Service and Ingress do, and which version blue runs. */
export interface StableTrack {
    /** The version the stable Deployment runs (outside a rollback). */
    version: string;
    /** Whether a primary Ingress routes the public paths to the stable Service (the modes that move traffic there). */
    primaryIngress: boolean;
    /** Blue-green, mirror, below 100 %: the primary Ingress mirrors every request to this address (green's). */
    mirrorTo?: string;
    /**
     * Blue-green: the app the primary Service selects (green at 100 %, else blue).  The Service then switches only
     * after what the 100 % stage names (program.ts), and the stages do not wait for it.
     */
    primarySelects?: string;
    /** Blue-green at 100 %: green serves the primary Service (its own ServiceMonitor would scrape its pods twice). */
    newTrackServesPrimary: boolean;
}

/** How a failing gate's no-go acts in this mode. */
export interface GateFailure {
    /** `canary.gate.onFailure` where the gate can lower the traffic itself, else fail. */
    onFailure: "revert" | "fail";
    /** What a revert lowers (lib/revert): the admin API's rollout percentage, or the canary Ingress's weight. */
    revertTarget: "rollout-percentage" | "canary-weight";
    /** A no-go that does not revert: what it left and how to lower it, in the mode's words (undefined: the default sentence). */
    leftAs?: string;
}

/** One shift mode. */
export interface ShiftStrategy {
    readonly mode: ShiftMode;
    /** What a stage's gate judges at `percentage`. */
    gateTarget(ctx: ShiftContext, percentage: number): GateTarget;
    /**
     * The track a stage's shift gives more traffic, where that is not the service the baseline reads: the stage's
     * pre-shift check reads it too (undefined: none).
     */
    raisedTrack(ctx: ShiftContext, step: ShiftStep, targetUrl: string): string | undefined;
    /** The new version's workload when the plan reaches `topPercentage` (undefined: the mode has none). */
    newTrack(ctx: ShiftContext, topPercentage: number): NewTrackPlan | undefined;
    /** The stable side when the plan reaches `topPercentage`. */
    stable(ctx: ShiftContext, topPercentage: number): StableTrack;
    /** Whether the stage at `percentage`'s shift is the primary Service's selector switch (blue-green at 100 %). */
    switchesPrimary(percentage: number): boolean;
    /** How a failing gate acts. */
    gateFailure(ctx: ShiftContext): GateFailure;
    /**
     * What `pulumi refresh` (and the verification at 100 %) reads back: the admin API's rollout percentage, in the
     * one mode where that percentage is the traffic.
     */
    readonly refreshReadsRolloutPercentage: boolean;
    /** The Ingress whose weight the watchdog's revert lowers to 0 (ingress-weight), where the admin API is not the traffic path. */
    readonly watchdogLowersIngress?: string;
}

/** In-cluster address of one of the speculation Services. */
export const inCluster = (name: string, namespace: string): string => `http://${name}.${namespace}.svc.cluster.local:${SPECULATION_PORT}`;

/** The judge's comparison of a new track with the stable one (the service the gates reach). */
export const compareWithStable = (ctx: ShiftContext): CompareSpec => ({ stableUrl: ctx.serviceUrl, ...ctx.config.canary.judge });
