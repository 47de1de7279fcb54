import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { StageThresholds } from "../config/thresholds";
import {
    CONFIG_CHECKSUM_ANNOTATION, configChecksum, disruptionBudgetSpec, ingressAwait, IngressAwaitPolicy, MonitoringMode, rollingDeployment, scrapeAnnotations,
    serviceMonitor, speculationContainer, spreadAcrossNodes, TopologySpread,
} from "../lib/k8s";
import { SPECULATION_PORT } from "../lib/monitoring/scrape";
import { ingressPaths, PublicRoute } from "../lib/ingress/routes";
import { PlannedStage } from "../lib/plan";
import { httpProbe, SPECULATION_PROBES } from "../lib/probes";
import { ReleaseSmokeTest } from "../providers/releaseSmoke";
import { TrafficShift, TrafficShiftInputs } from "../providers/trafficShift";

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

/** The new version's workload (ingress-weight: the canary; blue-green: green), owned by the top declared stage. */
export interface NewTrack {
    version: string;
    /**
     * Pods of the new track.  ingress-weight: its share of the stable pods, at least 1 (lib/plan.ts canaryReplicas;
     * while it has no ready pod, ingress-nginx sends that share to the primary backend).  blue-green: the service's
     * replicas, since green takes all traffic at 100 %.  Its PodDisruptionBudget follows it (disruptionBudgetSpec in lib/k8s.ts).
     */
    replicas: number;
    /** The image of `version`: its own digest, never another version's. */
    image: { repository: string; digest?: string };
    resources: k8s.types.input.core.v1.ResourceRequirements;
    /** speculation.toml for `version` (lib/speculationToml.ts). */
    configToml: string;
    /** Secret holding ADMIN_TOKEN, as the stable pods have it. */
    secretName: string;
    namespaceName: string;
    monitoringMode: MonitoringMode;
    prometheusReleaseLabel: string;
    scrapeInterval: string;
    /** Spread of the track's pods across nodes, as the stable workloads' (hardening.topologySpread). */
    spread: TopologySpread;
}

export interface CanaryStageArgs {
    stage: PlannedStage;
    /** Every stage of the plan that is declared, so the top stage can adopt the new track's workload. */
    declaredStages: PlannedStage[];
    shiftMode: "feature-flag" | "ingress-weight" | "blue-green";
    namespace: pulumi.Input<string>;
    /** Where the admin API answers (feature-flag mode). */
    serviceUrl: string;
    adminToken: pulumi.Input<string>;
    /** The stage before this one: this stage shifts only after it has passed. */
    previous?: CanaryStage;
    /** Ingress-weight mode: the canary Ingress beside the primary one (same host and paths). */
    ingress?: { host: string; className: string;
        /** Every Ingress states how it is awaited (lib/k8s.ts ingressAwait). */
        await: IngressAwaitPolicy;
        /** The public paths, exactly the primary Ingress's (canary.ingress.publicPaths): ingress-nginx pairs them by host and path. */
        paths: PublicRoute[] };
    /** Ingress-weight and blue-green modes: the new version's workload. */
    track?: NewTrack;
    /**
     * Ingress-weight and blue-green modes: seed 000's smoke tests against the new track's own Service before it gets
     * any traffic (lib/smoke, the suite the stable service passed): where it answers, and how long it may retry.
     */
    smoke?: { url: string; proofWorkerUrl?: string; timeoutMs: number; deadlineSeconds: number; pollSeconds: number; artifactsDir: string };
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

export const CANARY_NAME = "agenc-speculation-canary";
export const GREEN_NAME = "agenc-speculation-green";
export const SPECULATION_SECRET_KEY = "ADMIN_TOKEN";

/**
 * One step of the canary plan.  Stages form a chain: stage N+1 shifts traffic only after stage N's gate passed.
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
    readonly percentage: number;
    /** What ran before the shift (the baseline), and what must have passed before the shift (blue-green switch). */
    readonly beforeShift: pulumi.Resource[];
    /** The smoke tests against the new track (canary or green; top stage only), set while the track is created. */
    smokeTest?: ReleaseSmokeTest;
    /** The new track's Deployment (canary or green; top stage only): verification at 100 % checks it is ready. */
    trackDeployment?: k8s.apps.v1.Deployment;

    constructor(name: string, args: CanaryStageArgs, opts?: pulumi.ComponentResourceOptions) {
        super(CanaryStage.type, name, {
            percentage: args.stage.percentage, bake: args.stage.bake, bakeSeconds: args.stage.bakeSeconds,
            plan: args.planPercentages ?? args.declaredStages.map((s) => s.percentage), shiftMode: args.shiftMode,
        }, opts);
        this.stage = args.stage;
        this.thresholds = args.stage.thresholds;
        this.percentage = args.stage.percentage;
        // Every stage waits for what the first waits for (the service ready, preflight, smoke tests, bench), not only
        // for the stage before it: a release edit that fails its preflight must not shift a later stage either.
        const previousPassed = [...(args.previous ? [args.previous.promotionForNext()] : []), ...(args.dependsOn ?? [])];
        const gate = args.gate?.(args.stage, this, previousPassed);
        this.promote = gate?.promote;
        const after = [...previousPassed, ...(gate?.beforeShift ?? [])];
        this.beforeShift = gate?.beforeShift ?? [];

        if (args.shiftMode === "feature-flag") {
            this.shift = new TrafficShift(`${name}-shift`, {
                serviceUrl: args.serviceUrl,
                adminToken: args.adminToken,
                percentage: args.stage.percentage,
                previousPercentage: args.stage.previousPercentage,
                stage: name,
                ...(gate?.preShift ? { preShift: gate.preShift } : {}),
                ...(gate?.checkedAt ? { checkedAt: gate.checkedAt } : {}),
            }, { parent: this, dependsOn: after });
        } else if (args.shiftMode === "ingress-weight") {
            this.shift = this.canaryWorkload(args, after);
        } else {
            const smoke = this.greenWorkload(args);
            this.smokeTest = smoke;
            // Lower stages hold: nothing moves, blue keeps serving.  At 100 % the primary Service's switch is the shift.
            this.shift = args.stage.percentage === 100 && args.primarySwitch ? args.primarySwitch : (smoke ?? this);
        }
        this.promotion = gate ? gate.judge(this.shift, gate.beforeShift) : this.shift;
        this.registerOutputs({ percentage: this.percentage, bake: args.stage.bake });
    }

    private readonly promote?: (judged: pulumi.Resource) => pulumi.Resource;
    private forNext?: pulumi.Resource;

    /**
     * What the next stage waits for: in window bake mode the judgement of this stage's whole bake window (created
     * here, the first time a next stage asks), otherwise this stage's gate.
     */
    /** The window judgement, once a next stage has asked for it (window bake mode). */
    get windowJudgement(): pulumi.Resource | undefined {
        return this.forNext;
    }

    promotionForNext(): pulumi.Resource {
        if (!this.promote) return this.promotion;
        this.forNext ??= this.promote(this.promotion);
        return this.forNext;
    }

    private isTop(args: CanaryStageArgs): boolean {
        return args.declaredStages[args.declaredStages.length - 1].index === args.stage.index;
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

    /** Deployment, ConfigMap, Service (labelled with its track), PodDisruptionBudget and ServiceMonitor of the new version. */
    private newTrack(args: CanaryStageArgs, name: string, prefix: string,
        withAliases: (logical: string, extra?: pulumi.Input<pulumi.Resource>[]) => pulumi.CustomResourceOptions) {
        const t = args.track;
        if (!t) throw new Error(`CanaryStage: ${args.shiftMode} mode needs args.track`);
        const labels = { app: name, track: "canary" };
        const configName = `${SPECULATION_CONFIGMAP_PREFIX}-${prefix}`;
        const config = new k8s.core.v1.ConfigMap(`${prefix}-config`, {
            metadata: { name: configName, namespace: args.namespace, labels },
            data: { "speculation.toml": t.configToml },
        }, withAliases(`${prefix}-config`));
        // Built like the stable Deployment (lib/k8s.ts): the same container, a rolling update that never drops below
        // the replicas, the config's checksum (a config edit rolls the pods: the file is read at start-up), the
        // scrape annotations, and the spread across nodes — green serves everything at 100 %.
        const deployment = new k8s.apps.v1.Deployment(`${prefix}-deployment`, rollingDeployment({
            name, namespace: args.namespace, version: t.version, replicas: t.replicas, labels: { track: "canary" },
            annotations: { [CONFIG_CHECKSUM_ANNOTATION]: configChecksum(t.configToml), ...scrapeAnnotations(t.monitoringMode, SPECULATION_PORT) },
            pod: {
                containers: [speculationContainer({
                    image: t.image, version: t.version, secretName: t.secretName, secretKey: SPECULATION_SECRET_KEY, resources: t.resources, port: SPECULATION_PORT,
                    probes: { liveness: httpProbe(SPECULATION_PROBES.liveness, SPECULATION_PORT), readiness: httpProbe(SPECULATION_PROBES.readiness, SPECULATION_PORT) },
                })],
                volumes: [{ name: "config", configMap: { name: configName } }],
                topologySpreadConstraints: spreadAcrossNodes(name, t.spread),
            },
        }), withAliases(`${prefix}-deployment`, [config]));
        const service = new k8s.core.v1.Service(`${prefix}-service`, {
            metadata: { name, namespace: args.namespace, labels },
            spec: { selector: { app: name }, ports: [{ name: "metrics", port: SPECULATION_PORT, targetPort: SPECULATION_PORT }] },
        }, withAliases(`${prefix}-service`));
        // Like the stable workloads' budgets, and owned like the rest of the track: a drain takes one pod at a time
        // and is never blocked by it, whatever the replicas (disruptionBudgetSpec in lib/k8s.ts).
        new k8s.policy.v1.PodDisruptionBudget(`${prefix}-pdb`, {
            metadata: { name, namespace: args.namespace, labels },
            spec: disruptionBudgetSpec({ app: name }),
        }, withAliases(`${prefix}-pdb`));
        // Blue-green at 100 %: the primary Service selects green's pods and its ServiceMonitor scrapes them (as
        // track="stable", which green now is); green's own would scrape each pod a second time.
        const greenServesPrimary = prefix === "green" && args.stage.percentage === 100;
        if (t.monitoringMode === "operator" && !greenServesPrimary) {
            serviceMonitor(`${prefix}-servicemonitor`, {
                namespace: args.namespace, namespaceName: t.namespaceName, app: name, releaseLabel: t.prometheusReleaseLabel, interval: t.scrapeInterval,
                targetLabels: ["track"],
            }, withAliases(`${prefix}-servicemonitor`));
        }
        this.trackDeployment = deployment;
        return { deployment, service };
    }

    private canaryWorkload(args: CanaryStageArgs, after: pulumi.Input<pulumi.Resource>[]): pulumi.Resource {
        const ing = args.ingress;
        if (!ing) throw new Error("CanaryStage: ingress-weight mode needs args.ingress");
        // Lower stages keep their place in the chain (and their gate), the weight belongs to the top stage.  Without
        // a track (kubernetes.enabled false) nothing is deployed: the weight is set by whoever runs the ingress, and
        // the gate judges the two tracks at the addresses configured.
        if (!this.isTop(args) || !args.track) return this;
        const withAliases = this.owned(args, after);
        const { deployment, service } = this.newTrack(args, CANARY_NAME, "canary", withAliases);
        // The canary's first weight waits for its smoke tests against its own Service.
        const smoke = this.trackSmoke(args, "canary", withAliases, [deployment, service]);
        this.smokeTest = smoke;
        const awaitPolicy = ingressAwait(ing.await);
        return new k8s.networking.v1.Ingress("canary-ingress", {
            metadata: {
                name: CANARY_NAME,
                namespace: args.namespace,
                annotations: {
                    ...awaitPolicy.annotations,
                    // The watchdog may set the weight to 0 (a revert, with its own field manager).  Server-side apply
                    // would then refuse the next `pulumi up`'s weight as a field conflict; the provider forces it when
                    // this annotation is set: the operator's explicit `pulumi up` takes the field back.
                    [PATCH_FORCE]: "true",
                    "nginx.ingress.kubernetes.io/canary": "true",
                    "nginx.ingress.kubernetes.io/canary-weight": String(args.stage.percentage),
                },
            },
            spec: {
                ingressClassName: ing.className,
                // The primary Ingress's paths, built by the same function: the pair matches, and /admin is in neither.
                rules: [{ host: ing.host, http: { paths: ingressPaths(ing.paths, CANARY_NAME, SPECULATION_PORT) } }],
            },
        }, { ...withAliases("canary-ingress", [deployment, service, ...(smoke ? [smoke] : [])]), ...awaitPolicy.opts });
    }

    /** Green and its smoke tests (top stage only); green is created as soon as the service is, not after a gate. */
    private greenWorkload(args: CanaryStageArgs): ReleaseSmokeTest | undefined {
        if (!this.isTop(args)) return undefined;
        if (!args.smoke) throw new Error("CanaryStage: blue-green mode needs args.smoke");
        const withAliases = this.owned(args, args.dependsOn ?? []);
        const { deployment, service } = this.newTrack(args, GREEN_NAME, "green", withAliases);
        return this.trackSmoke(args, "green", withAliases, [deployment, service]);
    }

    /**
     * Seed 000's smoke tests and the synthetic speculation against a new track's own Service (lib/smoke: the suite the
     * stable service passed before stage 1), at the release version, retried while the track's pods come up.
     */
    private trackSmoke(args: CanaryStageArgs, track: "canary" | "green",
        withAliases: (logical: string, extra?: pulumi.Input<pulumi.Resource>[]) => pulumi.CustomResourceOptions,
        after: pulumi.Resource[]): ReleaseSmokeTest | undefined {
        const smoke = args.smoke;
        if (!smoke) return undefined;
        return new ReleaseSmokeTest(`${track}-smoke`, {
            track, version: args.track!.version, serviceUrl: smoke.url, adminToken: args.adminToken, timeoutMs: smoke.timeoutMs,
            artifactsDir: smoke.artifactsDir, expectVersion: true, retry: { deadlineSeconds: smoke.deadlineSeconds, pollSeconds: smoke.pollSeconds },
            ...(smoke.proofWorkerUrl ? { proofWorkerUrl: smoke.proofWorkerUrl } : {}),
        }, withAliases(`${track}-smoke`, after));
    }
}

const SPECULATION_CONFIGMAP_PREFIX = "speculation-config";
/** pulumi-kubernetes: apply this object with force, taking fields back from other field managers. */
export const PATCH_FORCE = "pulumi.com/patchForce";
