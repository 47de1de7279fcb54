/**
 * What a stage hands its shift (components/shift/<mode>.ts): the free functions here create a stage's shift
 * resources as children of the stage, and the CanaryStage component assigns what they return.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { IngressAwaitPolicy, MonitoringMode, TopologySpread } from "../../lib/k8s";
import { PublicRoute } from "../../lib/ingress/routes";
import { PlannedStage } from "../../lib/plan";
import { ShiftMode } from "../../lib/shift";
import { ReleaseSmokeTest } from "../../providers/releaseSmoke";
import { TrafficShiftInputs } from "../../providers/trafficShift";

/** The new version's workload (ingress-weight: the canary; blue-green: green), owned by the top declared stage. */
export interface NewTrack {
    version: string;
    /**
     * Pods of the new track.  ingress-weight: its share of the stable pods, at least 1 (lib/shift canaryReplicas;
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

/** Ingress-weight mode: the canary Ingress beside the primary one (same host and paths). */
export interface CanaryIngress {
    host: string;
    className: string;
    /** Every Ingress states how it is awaited (lib/k8s.ts ingressAwait). */
    await: IngressAwaitPolicy;
    /** The public paths, exactly the primary Ingress's (canary.ingress.publicPaths): ingress-nginx pairs them by host and path. */
    paths: PublicRoute[];
}

/**
 * Seed 000's smoke tests against the new track's own Service before it gets any traffic (lib/smoke, the suite the
 * stable service passed): where it answers, and how long it may retry.
 */
export interface TrackSmoke {
    url: string;
    proofWorkerUrl?: string;
    timeoutMs: number;
    deadlineSeconds: number;
    pollSeconds: number;
    artifactsDir: string;
}

/** Resource options of one of the new track's objects (logical name, extra dependencies): parented, aliased. */
export type Owned = (logical: string, extra?: pulumi.Input<pulumi.Resource>[]) => pulumi.CustomResourceOptions;

/** One stage's shift, as its CanaryStage hands it over. */
export interface ShiftSite {
    mode: ShiftMode;
    /** The stage component: parent of what the shift creates, and the shift itself where nothing moves. */
    stage: pulumi.Resource;
    /** The stage's logical name. */
    name: string;
    step: PlannedStage;
    /** Whether this is the top declared stage, which owns the new track's workload. */
    isTop: boolean;
    namespace: pulumi.Input<string>;
    /** Where the admin API answers (feature-flag mode). */
    serviceUrl: string;
    adminToken: pulumi.Input<string>;
    /** What every stage waits for before it measures or shifts (the service, preflight, smoke tests, bench). */
    dependsOn: pulumi.Input<pulumi.Resource>[];
    /** What this stage's shift waits for: the previous stage passed, and what the gate measured before the shift. */
    after: pulumi.Input<pulumi.Resource>[];
    /** Options for the new track's objects, waiting for `dependsOn` (they move between stages by alias). */
    owned: (dependsOn: pulumi.Input<pulumi.Resource>[]) => Owned;
    track?: NewTrack;
    smoke?: TrackSmoke;
    ingress?: CanaryIngress;
    /** Blue-green mode, the 100 % stage: the primary Service whose selector switch to green is this stage's shift. */
    primarySwitch?: pulumi.Resource;
    /** Feature-flag mode: the health check a TrafficShift runs before it raises traffic again, and when it last ran. */
    preShift?: TrafficShiftInputs["preShift"];
    checkedAt?: pulumi.Input<string>;
}

/** What a stage's shift created: the resource whose success means traffic moved, and the new track's parts. */
export interface StageShift {
    shift: pulumi.Resource;
    /** The smoke tests against the new track (canary or green; top stage only). */
    smokeTest?: ReleaseSmokeTest;
    /** The new track's Deployment (canary or green; top stage only): verification at 100 % checks it is ready. */
    trackDeployment?: k8s.apps.v1.Deployment;
}

/** Creates one stage's shift. */
export type CreateShift = (site: ShiftSite) => StageShift;
