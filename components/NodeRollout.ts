import { createHash } from "crypto";
import { existsSync, readFileSync } from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { parseDuration } from "../config/duration";
import { StackConfig } from "../config/schema";
import { nodeAddress } from "../lib/nodes/address";
import { planBatches } from "../lib/nodes/plan";
import { RolloutSpec } from "../lib/nodes/rollout";
import { operatorName } from "../lib/records/operator";
import { SshRollout } from "../providers/sshRollout";

export interface NodeRolloutArgs {
    version: string;
    nodes: StackConfig["nodes"];
    privateKey: pulumi.Input<string>;
    /** The health gate between batches (built from canary.gate by program.ts), when nodes.batchGate is enabled. */
    batchGate?: RolloutSpec["batchGate"];
    /**
     * A signed release: the binary's detached signature and the keys, checked before any node is touched and on every
     * node before the swap (docs/signing.md).
     */
    signature?: RolloutSpec["signature"];
    /** What the rollout waits for before it touches a node (the release's preflight, the signature verification). */
    dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** Reads a local file the rollout uploads; a missing one is a config error naming its key. */
function localFile(key: string, file: string): Buffer {
    const full = path.resolve(file);
    if (!existsSync(full)) throw new Error(`speculation:${key}: ${full} does not exist (a local path of the file to roll out)`);
    return readFileSync(full);
}

/**
 * The bare-metal nodes (seed 001): one SshRollout over every declared node, with the seed's paths and commands as
 * defaults.  It does not wait for the Kubernetes side: the nodes are a separate fleet.
 */
export class NodeRollout extends pulumi.ComponentResource {
    static readonly type = "agenc:deploy:NodeRollout";
    readonly rollout: SshRollout;

    constructor(name: string, args: NodeRolloutArgs, opts?: pulumi.ComponentResourceOptions) {
        // The private key never enters the component's recorded inputs.
        super(NodeRollout.type, name, { version: args.version, nodes: args.nodes.hosts.map((h) => h.name) }, opts);
        const n = args.nodes;
        const binary = localFile("nodes.binary", n.binary!);
        const config = n.configFile ? localFile("nodes.configFile", n.configFile) : Buffer.alloc(0);
        const svc = n.serviceName;
        this.rollout = new SshRollout(`${name}-ssh`, {
            version: args.version,
            nodes: n.hosts.map(nodeAddress),
            privateKey: args.privateKey,
            binary: path.resolve(n.binary!),
            configFile: n.configFile ? path.resolve(n.configFile) : undefined,
            contentHash: createHash("sha256").update(binary).update(config).digest("hex"),
            installPath: n.installPath,
            backupPath: n.backupPath,
            serviceName: svc,
            restartCommand: n.restartCommand ?? `systemctl restart ${svc}`,
            healthCommand: n.healthCommand,
            versionCommand: n.versionCommand ?? `${n.installPath}/bin/${svc} --version`,
            serviceCheckCommand: n.serviceCheckCommand ?? `systemctl cat ${svc} >/dev/null`,
            healthRetries: n.healthRetries,
            healthIntervalSeconds: parseDuration(n.healthInterval),
            firstNodeGraceSeconds: parseDuration(n.firstNodeGrace),
            nodeGraceSeconds: parseDuration(n.nodeGrace),
            pauseSeconds: parseDuration(n.pauseBetweenNodes),
            minFreeDiskGb: n.minFreeDiskGb,
            serial: n.serial,
            forks: n.forks,
            batches: planBatches(n.serial, n.hosts.length),
            maxFailPercentage: n.maxFailPercentage,
            clearRestoreFailed: n.clearRestoreFailed,
            journalPath: path.resolve(n.artifactsDir, "rollout-journal.json"),
            deploymentLog: path.resolve(n.artifactsDir, "deployments.log"),
            operator: operatorName(n.operator),
            ...(args.batchGate ? { batchGate: args.batchGate } : {}),
            ...(args.signature ? { signature: args.signature } : {}),
        }, { parent: this, dependsOn: args.dependsOn ?? [] });
        this.registerOutputs({ record: this.rollout.record });
    }
}
