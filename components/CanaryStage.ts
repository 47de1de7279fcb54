import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { StageThresholds } from "../config/thresholds";
import { imageRef, ingressAwait, IngressAwaitPolicy } from "../lib/k8s";
import { SPECULATION_PORT } from "../lib/monitoring/scrape";
import { PlannedStage } from "../lib/plan";
import { httpProbe, SPECULATION_PROBES } from "../lib/probes";
import { TrafficShift } from "../providers/trafficShift";

/**
 * How a stage is judged (program.ts builds it from the stack config; tests may pass their own).  `beforeShift`
 * creates what must be measured before traffic moves (the error-rate baseline); `judge` creates the gate that runs
 * after the shift and returns the resource that means "this stage passed".
 */
export type GateFactory = (stage: PlannedStage, parent: pulumi.Resource, after: pulumi.Input<pulumi.Resource>[]) => {
    beforeShift: pulumi.Resource[];
    judge: (shift: pulumi.Resource, beforeShift: pulumi.Resource[]) => pulumi.Resource;
};

export interface CanaryStageArgs {
    stage: PlannedStage;
    /** Every stage of the plan that is declared, so the top stage can adopt the canary workload (ingress mode). */
    declaredStages: PlannedStage[];
    shiftMode: "feature-flag" | "ingress-weight";
    namespace: pulumi.Input<string>;
    /** Where the admin API answers (feature-flag mode). */
    serviceUrl: string;
    adminToken: pulumi.Input<string>;
    /** The stage before this one: this stage shifts only after it has passed. */
    previous?: CanaryStage;
    /** Ingress-weight mode: the canary workload this stage routes to. */
    ingress?: { host: string; className: string; version: string; image: { repository: string; digest?: string };
        resources: k8s.types.input.core.v1.ResourceRequirements;
        /** Every Ingress states how it is awaited (lib/k8s.ts ingressAwait). */
        await: IngressAwaitPolicy };
    /** The health gate seam (providers/healthGate.ts); without it the shift itself counts as the promotion. */
    gate?: GateFactory;
    /** Names of every step of the plan (declared or not), for ownership aliases. */
    allStageNames?: string[];
    /** Every step's percentage, declared or not: recorded on the component so the policy pack can judge the plan. */
    planPercentages?: number[];
    /** Resources the first stage waits for (the service it shifts traffic on). */
    dependsOn?: pulumi.Input<pulumi.Resource>[];
}

export const CANARY_NAME = "agenc-speculation-canary";

/**
 * One step of the canary plan.  Stages form a chain: stage N+1 shifts traffic only after stage N's gate passed.
 *  - feature-flag: a TrafficShift sets speculation.features.rollout_percentage; removing the stage hands traffic
 *    back to the previous stage's percentage.
 *  - ingress-weight: the top declared stage owns the canary Deployment, Service and weighted canary Ingress (the
 *    weight is its percentage); aliases let ownership move between stages without replacing them.
 */
export class CanaryStage extends pulumi.ComponentResource {
    static readonly type = "agenc:deploy:CanaryStage";
    readonly stage: PlannedStage;
    readonly thresholds: StageThresholds;
    readonly shift: pulumi.Resource;
    /** Depend on this to run after the stage has been judged healthy. */
    readonly promotion: pulumi.Resource;
    readonly percentage: number;

    constructor(name: string, args: CanaryStageArgs, opts?: pulumi.ComponentResourceOptions) {
        super(CanaryStage.type, name, {
            percentage: args.stage.percentage, bake: args.stage.bake, bakeSeconds: args.stage.bakeSeconds,
            plan: args.planPercentages ?? args.declaredStages.map((s) => s.percentage), shiftMode: args.shiftMode,
        }, opts);
        this.stage = args.stage;
        this.thresholds = args.stage.thresholds;
        this.percentage = args.stage.percentage;
        const previousPassed = args.previous ? [args.previous.promotion] : (args.dependsOn ?? []);
        const gate = args.gate?.(args.stage, this, previousPassed);
        const after = [...previousPassed, ...(gate?.beforeShift ?? [])];

        if (args.shiftMode === "feature-flag") {
            this.shift = new TrafficShift(`${name}-shift`, {
                serviceUrl: args.serviceUrl,
                adminToken: args.adminToken,
                percentage: args.stage.percentage,
                previousPercentage: args.stage.previousPercentage,
                stage: name,
            }, { parent: this, dependsOn: after });
        } else {
            this.shift = this.canaryWorkload(args, after);
        }
        this.promotion = gate ? gate.judge(this.shift, gate.beforeShift) : this.shift;
        this.registerOutputs({ percentage: this.percentage, bake: args.stage.bake });
    }

    private canaryWorkload(args: CanaryStageArgs, after: pulumi.Input<pulumi.Resource>[]): pulumi.Resource {
        const ing = args.ingress;
        if (!ing) throw new Error("CanaryStage: ingress-weight mode needs args.ingress");
        const top = args.declaredStages[args.declaredStages.length - 1];
        const isTop = top.index === args.stage.index;
        if (!isTop) {
            // Lower stages keep their place in the chain (and their gate), the weight belongs to the top stage.
            return this;
        }
        // When the target moves, the canary workload moves to the new top stage: an alias per other stage keeps it
        // the same resource instead of deleting and recreating the live canary.
        const otherStages = (args.allStageNames ?? args.declaredStages.map((s) => s.name)).filter((n) => n !== args.stage.name);
        const withAliases = (logical: string) => ({
            parent: this,
            dependsOn: after,
            aliases: otherStages.map((stageName) => ({ name: logical, parent: pulumi.createUrn(stageName, CanaryStage.type) })),
        });
        const labels = { app: CANARY_NAME, track: "canary" };
        const deployment = new k8s.apps.v1.Deployment("canary-deployment", {
            metadata: { name: CANARY_NAME, namespace: args.namespace, labels: { ...labels, version: ing.version } },
            spec: {
                replicas: 1,
                selector: { matchLabels: labels },
                template: {
                    metadata: { labels: { ...labels, version: ing.version } },
                    spec: {
                        containers: [{
                            name: "speculation",
                            image: imageRef(ing.image, ing.version),
                            ports: [{ name: "metrics", containerPort: SPECULATION_PORT }],
                            resources: ing.resources,
                            livenessProbe: httpProbe(SPECULATION_PROBES.liveness, SPECULATION_PORT),
                            readinessProbe: httpProbe(SPECULATION_PROBES.readiness, SPECULATION_PORT),
                        }],
                    },
                },
            },
        }, withAliases("canary-deployment"));
        const service = new k8s.core.v1.Service("canary-service", {
            metadata: { name: CANARY_NAME, namespace: args.namespace, labels },
            spec: { selector: labels, ports: [{ name: "metrics", port: SPECULATION_PORT, targetPort: SPECULATION_PORT }] },
        }, withAliases("canary-service"));
        const awaitPolicy = ingressAwait(ing.await);
        return new k8s.networking.v1.Ingress("canary-ingress", {
            metadata: {
                name: CANARY_NAME,
                namespace: args.namespace,
                annotations: {
                    ...awaitPolicy.annotations,
                    "nginx.ingress.kubernetes.io/canary": "true",
                    "nginx.ingress.kubernetes.io/canary-weight": String(args.stage.percentage),
                },
            },
            spec: {
                ingressClassName: ing.className,
                rules: [{ host: ing.host, http: { paths: [{ path: "/", pathType: "Prefix", backend: { service: { name: CANARY_NAME, port: { number: SPECULATION_PORT } } } }] } }],
            },
        }, { ...withAliases("canary-ingress"), ...awaitPolicy.opts, dependsOn: [...after, deployment, service] });
    }
}
