import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { httpProbe, SPECULATION_PROBES } from "../lib/probes";
import * as random from "@pulumi/random";
import {
    CONFIG_CHECKSUM_ANNOTATION, configChecksum, exposeWorkload, ingressAwait, IngressAwaitPolicy, REPLACE_FIRST, rollingDeployment, scrapeAnnotations,
    speculationContainer, spreadAcrossNodes, WorkloadArgs,
} from "../lib/k8s";
import { SPECULATION_PORT } from "../lib/monitoring/scrape";
import { ingressPaths, PublicRoute } from "../lib/ingress/routes";

export interface SpeculationServiceArgs extends WorkloadArgs {
    /** speculation-<env>.toml, rendered from the stack config (lib/speculationToml.ts). */
    configToml: string;
    /** Resources that must be ready first: the proof workers. */
    dependsOn: pulumi.Input<pulumi.Resource>[];
    /**
     * The primary Ingress (ingress-weight and blue-green modes): host and public paths to this Service.  ingress-nginx
     * honours a canary Ingress only beside a primary Ingress for the same host and path.
     */
    ingress?: {
        host: string; className: string; await: IngressAwaitPolicy; annotations?: Record<string, string>;
        /** The only paths routed (canary.ingress.publicPaths): never `/`, `/admin` or `/metrics` (lib/ingress/routes.ts). */
        paths: PublicRoute[];
        /** What the primary Ingress waits for besides its Service (blue-green mirror: green's smoke tests). */
        dependsOn?: pulumi.Input<pulumi.Input<pulumi.Resource>[]>;
    };
    /** Blue-green: the `app` whose pods the primary Service selects (its own, blue, or green at 100 %). */
    selectApp?: pulumi.Input<string>;
    /** Blue-green: what the primary Service waits for before its selector may change. */
    serviceDependsOn?: pulumi.Input<pulumi.Input<pulumi.Resource>[]>;
    /** Emergency rollback: any change replaces the Deployment delete-first (all pods gone, then the new ones). */
    replaceFirst?: boolean;
    /**
     * The admin token, brought by the operator (`speculation:adminToken`, a secret from their secret manager).  When
     * absent the program generates one (a RandomPassword of 48 characters: needs the random provider plugin).
     */
    adminToken?: pulumi.Input<string>;
}

export const SPECULATION_NAME = "agenc-speculation";
export const SPECULATION_CONFIGMAP = "speculation-config";
export const SPECULATION_SECRET = "agenc-speculation-secrets";
/** The Secret's key holding the admin token (the Deployment and the watchdog read it by this name). */
export const ADMIN_TOKEN_KEY = "ADMIN_TOKEN";
export { CONFIG_CHECKSUM_ANNOTATION };

/** The speculation service: config, admin token, Deployment (speculation off until a stage turns it on). */
export class SpeculationService extends pulumi.ComponentResource {
    static readonly type = "agenc:deploy:SpeculationService";
    readonly name = SPECULATION_NAME;
    readonly configMap: k8s.core.v1.ConfigMap;
    readonly adminToken: pulumi.Output<string>;
    readonly secret: k8s.core.v1.Secret;
    /**
     * The keys this program writes into the Secret.  Read these, not the Secret's `stringData` output: the provider
     * folds `stringData` into `data`, so that output is absent, and an absent output is unknown in every preview.
     */
    readonly secretKeys: readonly string[] = [ADMIN_TOKEN_KEY];
    readonly deployment: k8s.apps.v1.Deployment;
    readonly service: k8s.core.v1.Service;
    readonly disruptionBudget: k8s.policy.v1.PodDisruptionBudget;
    readonly serviceMonitor?: k8s.apiextensions.CustomResource;
    readonly ingress?: k8s.networking.v1.Ingress;
    readonly serviceName: pulumi.Output<string>;
    readonly configChecksum: string;

    constructor(name: string, args: SpeculationServiceArgs, opts?: pulumi.ComponentResourceOptions) {
        super(SpeculationService.type, name, {}, opts);
        const labels = { app: this.name };
        const child = { parent: this };

        this.configMap = new k8s.core.v1.ConfigMap(`${name}-config`, {
            metadata: { name: SPECULATION_CONFIGMAP, namespace: args.namespace, labels },
            data: { "speculation.toml": args.configToml },
        }, child);
        this.configChecksum = configChecksum(args.configToml);

        this.adminToken = pulumi.secret(args.adminToken
            ?? new random.RandomPassword(`${name}-admin-token`, { length: 48, special: false }, child).result);
        this.secret = new k8s.core.v1.Secret(`${name}-secrets`, {
            metadata: { name: SPECULATION_SECRET, namespace: args.namespace, labels },
            type: "Opaque",
            stringData: { [ADMIN_TOKEN_KEY]: this.adminToken },
        }, child);

        this.deployment = new k8s.apps.v1.Deployment(`${name}-deployment`, rollingDeployment({
            name: this.name,
            namespace: args.namespace,
            version: args.version,
            replicas: args.replicas,
            annotations: {
                // A config change must roll the pods: the ConfigMap is only read at start-up.
                [CONFIG_CHECKSUM_ANNOTATION]: this.configChecksum,
                ...scrapeAnnotations(args.monitoringMode, SPECULATION_PORT),
            },
            pod: {
                containers: [speculationContainer({
                    image: args.image, version: args.version, secretName: SPECULATION_SECRET, secretKey: ADMIN_TOKEN_KEY,
                    resources: args.resources, port: SPECULATION_PORT,
                    probes: { liveness: httpProbe(SPECULATION_PROBES.liveness, SPECULATION_PORT), readiness: httpProbe(SPECULATION_PROBES.readiness, SPECULATION_PORT) },
                })],
                volumes: [{ name: "config", configMap: { name: SPECULATION_CONFIGMAP } }],
                topologySpreadConstraints: spreadAcrossNodes(this.name, args.spread),
            },
        }), { ...child, dependsOn: [...args.dependsOn, this.configMap, this.secret], ...(args.replaceFirst ? REPLACE_FIRST : {}) });

        ({ service: this.service, disruptionBudget: this.disruptionBudget, serviceMonitor: this.serviceMonitor } = exposeWorkload(name, {
            app: this.name, port: SPECULATION_PORT, namespace: args.namespace, namespaceName: args.namespaceName,
            monitoringMode: args.monitoringMode, releaseLabel: args.prometheusReleaseLabel, scrapeInterval: args.scrapeInterval,
            track: "stable", selectApp: args.selectApp, serviceDependsOn: args.serviceDependsOn,
        }, child));
        if (args.ingress) {
            const awaitPolicy = ingressAwait(args.ingress.await);
            this.ingress = new k8s.networking.v1.Ingress(`${name}-ingress`, {
                metadata: { name: this.name, namespace: args.namespace, labels, annotations: { ...awaitPolicy.annotations, ...args.ingress.annotations } },
                spec: {
                    ingressClassName: args.ingress.className,
                    // The public API only: the admin API and /metrics share port 9090 and stay inside the cluster.
                    rules: [{ host: args.ingress.host, http: { paths: ingressPaths(args.ingress.paths, this.name, SPECULATION_PORT) } }],
                },
            }, { ...child, ...awaitPolicy.opts, dependsOn: pulumi.output(args.ingress.dependsOn ?? []).apply((d) => [this.service, ...d]) });
        }
        this.serviceName = this.service.metadata.name;
        this.registerOutputs({ serviceName: this.serviceName, configChecksum: this.configChecksum });
    }
}
