import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { exposeWorkload, imageRef, REPLACE_FIRST, rollingDeployment, scrapeAnnotations, spreadAcrossNodes, WorkloadArgs } from "../lib/k8s";
import { proofWorkerProbes } from "../lib/probes";
import { PROOF_WORKER_PORT } from "../lib/monitoring/scrape";

export interface ProofWorkersArgs extends WorkloadArgs {
    /** Readiness GET path; liveness is a TCP check on the same port. */
    readinessPath: string;
    /** What the Deployment waits for before it changes (the release's preflight, a rollback's drain). */
    dependsOn?: pulumi.Input<pulumi.Resource>[];
    /** Emergency rollback: any change replaces the Deployment delete-first (all pods gone, then the new ones). */
    replaceFirst?: boolean;
}

/** The proof workers (seed 000): deployed before the speculation service, CPU-heavy, at least two pods. */
export class ProofWorkers extends pulumi.ComponentResource {
    static readonly type = "agenc:deploy:ProofWorkers";
    readonly name = "proof-workers";
    readonly deployment: k8s.apps.v1.Deployment;
    readonly service: k8s.core.v1.Service;
    readonly disruptionBudget: k8s.policy.v1.PodDisruptionBudget;
    readonly serviceMonitor?: k8s.apiextensions.CustomResource;
    readonly serviceName: pulumi.Output<string>;

    constructor(name: string, args: ProofWorkersArgs, opts?: pulumi.ComponentResourceOptions) {
        super(ProofWorkers.type, name, {}, opts);
        const child = { parent: this };

        this.deployment = new k8s.apps.v1.Deployment(`${name}-deployment`, rollingDeployment({
            name: this.name,
            namespace: args.namespace,
            version: args.version,
            replicas: args.replicas,
            annotations: scrapeAnnotations(args.monitoringMode, PROOF_WORKER_PORT),
            pod: {
                containers: [{
                    name: "proof-worker",
                    image: imageRef(args.image, args.version),
                    ports: [{ name: "metrics", containerPort: PROOF_WORKER_PORT }],
                    resources: args.resources,
                    ...proofWorkerProbes(PROOF_WORKER_PORT, args.readinessPath),
                }],
                topologySpreadConstraints: spreadAcrossNodes(this.name, args.spread),
            },
        }), { ...child, dependsOn: args.dependsOn ?? [], ...(args.replaceFirst ? REPLACE_FIRST : {}) });

        ({ service: this.service, disruptionBudget: this.disruptionBudget, serviceMonitor: this.serviceMonitor } = exposeWorkload(name, {
            app: this.name, port: PROOF_WORKER_PORT, namespace: args.namespace, namespaceName: args.namespaceName,
            monitoringMode: args.monitoringMode, releaseLabel: args.prometheusReleaseLabel, scrapeInterval: args.scrapeInterval,
        }, child));
        this.serviceName = this.service.metadata.name;
        this.registerOutputs({ serviceName: this.serviceName, deploymentName: this.deployment.metadata.name });
    }
}
