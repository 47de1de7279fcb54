/** Small shared pieces of the workload components (kept here so both workloads stay identical where they should). */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "crypto";
import { StackConfig } from "../config/schema";

export type MonitoringMode = StackConfig["monitoring"]["mode"];
export type Resources = StackConfig["service"]["resources"];

/** Pod-template annotation whose change rolls the pods when a mounted config (read only at start-up) changes. */
export const CONFIG_CHECKSUM_ANNOTATION = "agenc.io/config-checksum";

export function configChecksum(text: string): string {
    return createHash("sha256").update(text).digest("hex");
}

export function imageRef(image: { repository: string; digest?: string }, version: string): string {
    // With a digest the tag is informational and the digest is what the kubelet pulls.
    return image.digest ? `${image.repository}:${version}@${image.digest}` : `${image.repository}:${version}`;
}

/** Pod annotations for annotation-based scraping (standalone mode). */
export function scrapeAnnotations(mode: MonitoringMode, port: number): Record<string, string> {
    return mode === "standalone"
        ? { "prometheus.io/scrape": "true", "prometheus.io/port": String(port), "prometheus.io/path": "/metrics" }
        : {};
}

/** A ServiceMonitor that kube-prometheus-stack picks up through its release label (operator mode). */
export function serviceMonitor(name: string, args: {
    namespace: string; app: string; releaseLabel: string; interval: string;
}, opts: pulumi.CustomResourceOptions): k8s.apiextensions.CustomResource {
    return new k8s.apiextensions.CustomResource(name, {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "ServiceMonitor",
        metadata: { name: args.app, namespace: args.namespace, labels: { app: args.app, release: args.releaseLabel } },
        spec: {
            selector: { matchLabels: { app: args.app } },
            namespaceSelector: { matchNames: [args.namespace] },
            endpoints: [{ port: "metrics", path: "/metrics", interval: args.interval }],
        },
    }, opts);
}

/**
 * What every workload here gets around its Deployment: a Service on its metrics port, a PodDisruptionBudget that lets
 * one pod go at a time, and (operator mode) a ServiceMonitor.
 */
export function exposeWorkload(name: string, args: {
    app: string; port: number; namespace: pulumi.Input<string>; namespaceName: string;
    monitoringMode: MonitoringMode; releaseLabel: string; scrapeInterval: string;
}, opts: pulumi.CustomResourceOptions) {
    const labels = { app: args.app };
    const service = new k8s.core.v1.Service(`${name}-service`, {
        metadata: { name: args.app, namespace: args.namespace, labels },
        spec: { selector: labels, ports: [{ name: "metrics", port: args.port, targetPort: args.port }] },
    }, opts);
    const disruptionBudget = new k8s.policy.v1.PodDisruptionBudget(`${name}-pdb`, {
        metadata: { name: args.app, namespace: args.namespace, labels },
        spec: { maxUnavailable: 1, selector: { matchLabels: labels } },
    }, opts);
    const monitor = args.monitoringMode === "operator"
        ? serviceMonitor(`${name}-servicemonitor`, {
            namespace: args.namespaceName, app: args.app, releaseLabel: args.releaseLabel, interval: args.scrapeInterval,
        }, opts)
        : undefined;
    return { service, disruptionBudget, serviceMonitor: monitor };
}

/**
 * The Deployment shape both workloads share: labelled with their version, rolled one extra pod at a time and never
 * below the desired count (maxUnavailable 0), the pod template carrying the given annotations and pod spec.
 */
export function rollingDeployment(args: {
    name: string;
    namespace: pulumi.Input<string>;
    version: string;
    replicas: number;
    annotations: pulumi.Input<Record<string, pulumi.Input<string>>>;
    pod: k8s.types.input.core.v1.PodSpec;
}): k8s.apps.v1.DeploymentArgs {
    const labels = { app: args.name };
    return {
        metadata: { name: args.name, namespace: args.namespace, labels: { ...labels, version: args.version } },
        spec: {
            replicas: args.replicas,
            selector: { matchLabels: labels },
            strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
            template: {
                metadata: { labels: { ...labels, version: args.version }, annotations: args.annotations },
                spec: args.pod,
            },
        },
    };
}
