import * as pulumi from "@pulumi/pulumi";
import { guardSummary, GuardPlan } from "../lib/guard/plan";

/** What the Guard records as its inputs: what the policy pack checks (guard-floor, guard-bound) and preview shows. */
export interface GuardArgs {
    /** The stack's environment: production is held to the floor and the bound's limit. */
    environment: string;
    /** How stages bake (`canary.gate.bakeMode`): in window mode the watchdog is the only guard between `up`s. */
    bakeMode: "watch" | "window";
    /**
     * Whether the watchdog runs, whether its sentinel probes may run after 100 %, and how many replicas it runs (one
     * has no PodDisruptionBudget and no spread over nodes).
     */
    watchdog: { enabled: boolean; sentinels: boolean; replicas: number };
    /** CUSUM in the live gates, or the canary judge where a two-track mode has it replace CUSUM. */
    driftDetection: "cusum" | "canary-judge" | "off";
    /** What a failing gate does (`canary.gate.onFailure`). */
    onFailure: "revert" | "fail";
    /** Whether each stage's pre-shift error baseline reaches Prometheus (`records.pushgatewayUrl`): the relative error-rate trigger reads it. */
    errorBaseline: boolean;
    /** The computed guard (lib/guard/plan.ts). */
    plan: GuardPlan;
}

/**
 * The guard between `pulumi up`s, as a resource: no cloud object, only what protects a stage while no Pulumi process
 * runs — whether the watchdog (and how many replicas), its sentinels, drift detection and the gate's revert are on — and
 * the worst-case time from a rollback condition to 0 % confirmed that the stack's timings give (lib/guard/bound.ts), per
 * trigger, with the limit the stack holds it to (`watchdog.maxGuardBound`).
 * Recorded as the component's inputs, so `pulumi preview --diff` shows a change to the bound, and the policy pack
 * (guard-floor, guard-bound) checks them before anything changes.
 */
export class Guard extends pulumi.ComponentResource {
    static readonly type = "agenc:deploy:Guard";
    /** What `pulumi stack output guard` shows: the bound, its worst trigger, every trigger's bound, the formula and the limit. */
    readonly summary: ReturnType<typeof guardSummary> & { floor: GuardArgs["watchdog"] & { driftDetection: string; onFailure: string; bakeMode: string; errorBaseline: boolean } };

    constructor(name: string, args: GuardArgs, opts?: pulumi.ComponentResourceOptions) {
        const summary = {
            ...guardSummary(args.plan),
            floor: { ...args.watchdog, driftDetection: args.driftDetection, onFailure: args.onFailure, bakeMode: args.bakeMode, errorBaseline: args.errorBaseline },
        };
        super(Guard.type, name, { environment: args.environment, ...summary }, opts);
        this.summary = summary;
        this.registerOutputs({ summary });
    }
}
