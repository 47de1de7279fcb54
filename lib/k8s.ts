/** Small shared pieces of the workload components (kept here so both workloads stay identical where they should). */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { StackConfig } from "../config/schema";

export type MonitoringMode = StackConfig["monitoring"]["mode"];
export type Resources = StackConfig["service"]["resources"];

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
