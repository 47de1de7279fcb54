import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { StageThresholds } from "../config/thresholds";
import { PlannedStage } from "../lib/plan";
import { ShiftStrategy } from "../lib/shift";
import { ReleaseSmokeTest } from "../providers/releaseSmoke";
import { TrafficShiftInputs } from "../providers/trafficShift";
import { CanaryIngress, NewTrack, shiftResources, TrackSmoke } from "./shift";

export { CANARY_NAME, GREEN_NAME } from "../lib/shift";
export type { NewTrack } from "./shift";
export { PATCH_FORCE, SPECULATION_SECRET_KEY } from "./shift";

/**
 * How a stage is judged (program.ts builds it from the stack config; tests may pass their own).  `beforeShift`
 * creates what must be measured before traffic moves (the error-rate baseline); `judge` creates the gate that runs
 * after the shift and returns the resource that means "this stage passed".
 */
export type GateFactory = (stage: PlannedStage, parent: pulumi.Resource, after: pulumi.Input<pulumi.Resource>[]) => {
    beforeShift: pulumi.Resource[];
    judge: (shift: pulumi.Resource, beforeShift: pulumi.Resource[]) => pulumi.Resource;
    /**
     * Feature-flag mode: the health check a TrafficShift runs before it raises traffic again (lib/preshift), and when
     * the stage's baseline last ran it.
     */
    preShift?: TrafficShiftInputs["preShift"];
    checkedAt?: pulumi.Input<string>;
    /**
     * Window bake mode: creates what the NEXT stage waits for — the judgement of this stage's whole bake window
     * (providers/bakeWindow.ts).  Called only when a next stage is declared; without it the gate is the promotion.
     */
    promote?: (judged: pulumi.Resource) => pulumi.Resource;
};

export interface CanaryStageArgs {
    stage: PlannedStage;
    /** Every stage of the plan that is declared: the top one adopts the new track's workload, the others judge for the next. */
    declaredStages: PlannedStage[];
    /** How traffic moves (lib/shift); the stage's shift resources are components/shift/<mode>.ts. */
    strategy: ShiftStrategy;
    namespace: pulumi.Input<string>;
    /** Where the admin API answers (feature-flag mode). */
    serviceUrl: string;
    adminToken: pulumi.Input<string>;
    /** The stage before this one: this stage shifts only after it has passed. */
    previous?: CanaryStage;
    /** Ingress-weight mode: the canary Ingress beside the primary one (same host and paths). */
    ingress?: CanaryIngress;
    /** Ingress-weight and blue-green modes: the new version's workload. */
    track?: NewTrack;
    /**
     * Ingress-weight and blue-green modes: seed 000's smoke tests against the new track's own Service before it gets
     * any traffic (lib/smoke, the suite the stable service passed): where it answers, and how long it may retry.
     */
    smoke?: TrackSmoke;
    /** Blue-green mode, the 100 % stage: the primary Service whose selector switch to green is this stage's shift. */
    primarySwitch?: pulumi.Resource;
    /** The health gate seam (providers/healthGate.ts); without it the shift itself counts as the promotion. */
    gate?: GateFactory;
    /** Names of every step of the plan (declared or not), for ownership aliases. */
    allStageNames?: string[];
    /** Every step's percentage, declared or not: recorded on the component so the policy pack can judge the plan. */
    planPercentages?: number[];
    /** Resources every stage waits for before it measures or shifts (the service, preflight, smoke tests, bench). */
    dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/**
 * One step of the canary plan.  Stages form a chain: stage N+1 shifts traffic only after stage N passed.  How the
 * stage shifts is its strategy's (lib/shift, components/shift):
 *  - feature-flag: a TrafficShift sets speculation.features.rollout_percentage; removing the stage hands traffic
 *    back to the previous stage's percentage.
 *  - ingress-weight: the top declared stage owns the canary (ConfigMap, Deployment, Service labelled track=canary,
 *    ServiceMonitor) and the weighted canary Ingress beside the primary Ingress; aliases let ownership move between
 *    stages without replacing them.
 *  - blue-green: the top declared stage owns green (ConfigMap, Deployment, its own Service, ServiceMonitor) and the
 *    smoke tests against green's Service; lower stages hold (blue keeps serving), the 100 % stage's shift is the
 *    primary Service's selector switch to green (program.ts orders it after the smoke tests and the previous gate).
 */
export class CanaryStage extends pulumi.ComponentResource {
    static readonly type = "agenc:deploy:CanaryStage";
    readonly stage: PlannedStage;
    readonly thresholds: StageThresholds;
    readonly shift: pulumi.Resource;
    /** Depend on this to run after the stage has been judged healthy. */
    readonly promotion: pulumi.Resource;
    /**
     * What the next stage waits for: in window bake mode the judgement of this stage's whole bake window (created
     * with the stage when a next stage is declared, so it registers before the next stage's component: a refusal —
     * bake not elapsed — stops the update before anything of the next stage is recorded); otherwise the gate.
     */
    readonly passed: pulumi.Resource;
    /** The window judgement, when a next stage is declared in window bake mode. */
    readonly windowJudgement?: pulumi.Resource;
    readonly percentage: number;
    /** What ran before the shift (the baseline), and what must have passed before the shift (blue-green switch). */
    readonly beforeShift: pulumi.Resource[];
    /** The smoke tests against the new track (canary or green; top stage only). */
    readonly smokeTest?: ReleaseSmokeTest;
    /** The new track's Deployment (canary or green; top stage only): verification at 100 % checks it is ready. */
    readonly trackDeployment?: k8s.apps.v1.Deployment;

    constructor(name: string, args: CanaryStageArgs, opts?: pulumi.ComponentResourceOptions) {
        super(CanaryStage.type, name, {
            percentage: args.stage.percentage, bake: args.stage.bake, bakeSeconds: args.stage.bakeSeconds,
            plan: args.planPercentages ?? args.declaredStages.map((s) => s.percentage), shiftMode: args.strategy.mode,
        }, opts);
        this.stage = args.stage;
        this.thresholds = args.stage.thresholds;
        this.percentage = args.stage.percentage;
        // Every stage waits for what the first waits for (the service ready, preflight, smoke tests, bench), not only
        // for the stage before it: a release edit that fails its preflight must not shift a later stage either.
        const previousPassed = [...(args.previous ? [args.previous.passed] : []), ...(args.dependsOn ?? [])];
        const gate = args.gate?.(args.stage, this, previousPassed);
        const after = [...previousPassed, ...(gate?.beforeShift ?? [])];
        this.beforeShift = gate?.beforeShift ?? [];
        const isTop = args.declaredStages[args.declaredStages.length - 1].index === args.stage.index;

        const shifted = shiftResources(args.strategy.mode)({
            mode: args.strategy.mode, stage: this, name, step: args.stage, isTop,
            namespace: args.namespace, serviceUrl: args.serviceUrl, adminToken: args.adminToken,
            dependsOn: args.dependsOn ?? [], after, owned: (dependsOn) => this.owned(args, dependsOn),
            track: args.track, smoke: args.smoke, ingress: args.ingress, primarySwitch: args.primarySwitch,
            ...(gate?.preShift ? { preShift: gate.preShift } : {}),
            ...(gate?.checkedAt ? { checkedAt: gate.checkedAt } : {}),
        });
        this.shift = shifted.shift;
        this.smokeTest = shifted.smokeTest;
        this.trackDeployment = shifted.trackDeployment;
        this.promotion = gate ? gate.judge(this.shift, gate.beforeShift) : this.shift;
        this.windowJudgement = !isTop && gate?.promote ? gate.promote(this.promotion) : undefined;
        this.passed = this.windowJudgement ?? this.promotion;
        this.registerOutputs({ percentage: this.percentage, bake: args.stage.bake });
    }

    /**
     * Options for the new track's objects: when the target moves, they move to the new top stage; an alias per other
     * stage keeps them the same resources instead of deleting and recreating the live workload.
     */
    private owned(args: CanaryStageArgs, dependsOn: pulumi.Input<pulumi.Resource>[]) {
        const otherStages = (args.allStageNames ?? args.declaredStages.map((s) => s.name)).filter((n) => n !== args.stage.name);
        return (logical: string, extra: pulumi.Input<pulumi.Resource>[] = []): pulumi.CustomResourceOptions => ({
            parent: this,
            dependsOn: [...dependsOn, ...extra],
            aliases: otherStages.map((stageName) => ({ name: logical, parent: pulumi.createUrn(stageName, CanaryStage.type) })),
        });
    }
}
