import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { EgressArgs, egressPolicies, IsolationPolicy, isolationPolicies } from "../lib/network/peers";

export interface NetworkIsolationArgs extends EgressArgs {
    /** The Namespace resource's name output: every policy is created after the Namespace. */
    namespaceRef: pulumi.Input<string>;
}

/**
 * The namespace's NetworkPolicies: default-deny for ingress, then one allow per workload port from the peers that
 * lib/network/peers.ts names (the admin port 9090 only from Prometheus, the watchdog and the gate's origin); and one
 * egress policy per workload (egressPolicies: DNS and what that workload calls, nothing else).
 */
export class NetworkIsolation extends pulumi.ComponentResource {
    static readonly type = "agenc:deploy:NetworkIsolation";
    readonly policies: IsolationPolicy[];
    readonly networkPolicies: k8s.networking.v1.NetworkPolicy[];

    constructor(name: string, args: NetworkIsolationArgs, opts?: pulumi.ComponentResourceOptions) {
        super(NetworkIsolation.type, name, {}, opts);
        this.policies = [...isolationPolicies(args), ...egressPolicies(args)];
        this.networkPolicies = this.policies.map((p) => new k8s.networking.v1.NetworkPolicy(`${name}-${p.name}`, {
            metadata: {
                name: p.name, namespace: args.namespaceRef,
                labels: { "app.kubernetes.io/part-of": "agenc-speculation" },
                annotations: { "agenc.io/purpose": p.purpose },
            },
            spec: p.spec,
        }, { parent: this }));
        this.registerOutputs({ policies: this.policies.map((p) => p.name) });
    }
}
