/**
 * SshRollout: the bare-metal half of a release (seed 001, SPEC §5), node by node over SSH (lib/nodes/rollout.ts).
 *   create/update → pre-checks every node, then rolls the binary and config out batch by batch; on failure every
 *                   touched node is restored from its backup and the update fails with a per-node table; a run
 *                   killed midway resumes from its journal on the next `pulumi up`
 *   delete        → `pulumi destroy` restores every node this rollout deployed from its backup
 *   read          → asks every node for its version (`liveVersions`), so `pulumi refresh` shows a node changed by hand
 *   diff          → a new version, binary, config file or node list rolls out again
 * The private key is a secret input; host keys are pinned per node.
 * When the engine goes away (killed `pulumi up`: the provider lives on in its own process group), the rollout stops
 * at its next safe point, leaves every node's state and the journal accurate, records `interrupted`, and this
 * provider process exits.
 */
import * as pulumi from "@pulumi/pulumi";
import { forEachLimited, RolloutError, RolloutHooks, RolloutSpec, runRollout, undoRollout } from "../lib/nodes/rollout";
import { NodeRolloutRecord } from "../lib/records/record";
import { providerLifecycle, exitingWithEngine } from "../lib/lifecycle/engine";
import { PINNED_HOST_KEY } from "../lib/nodes/address";
import { RolloutJournal } from "../lib/nodes/plan";
import { connect } from "../lib/nodes/ssh";

export const SSH_ROLLOUT_TYPE = "SshRollout";

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

export interface SshRolloutArgs extends Inputs<RolloutSpec> {
    /** sha256 of the binary and config file: a changed file rolls out again even under the same version. */
    contentHash: pulumi.Input<string>;
    /** The batch sizes the serial plan gives for these nodes (recorded for the policy pack). */
    batches: pulumi.Input<number[]>;
}

interface RolloutState extends RolloutSpec {
    contentHash: string;
    batches: number[];
    journal: RolloutJournal;
    record: NodeRolloutRecord;
    liveVersions?: Record<string, string>;
}

/** Progress on the operator's terminal, and the engine watched: the rollout stops at a safe point once it is gone. */
function lifecycle(inputs: RolloutState): { hooks: RolloutHooks; done: () => void } {
    const engine = providerLifecycle();
    const label = `[${inputs.serviceName} nodes]`;
    return {
        hooks: {
            interrupt: () => engine.gone,
            progress: (line) => console.log(`${label} ${line}`),
        },
        done: engine.done,
    };
}

async function rollOut(inputs: RolloutState) {
    const { hooks, done } = lifecycle(inputs);
    try {
        const { journal, record } = await runRollout(inputs, hooks);
        // Through JSON: the engine's protobuf Struct refuses nested `undefined` ("Unexpected struct type"), which
        // the journal's optional fields carry; mocks accept it, the real engine does not.
        return JSON.parse(JSON.stringify({ ...inputs, journal, record })) as RolloutState;
    } catch (e) {
        // Nodes are back on their backups, or stopped at a safe point, or the pre-checks touched nothing: the update
        // fails with the table and the record's next steps.
        const err = e as RolloutError | undefined;
        throw new Error(err instanceof Error ? (err.message || err.stack || err.name) : `node rollout failed: ${JSON.stringify(e)}`);
    } finally {
        done();
    }
}

export const sshRolloutProvider: pulumi.dynamic.ResourceProvider = exitingWithEngine({
    async check(_olds: RolloutState, news: RolloutState) {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        if (Array.isArray(news.nodes) && news.nodes.length === 0) failures.push({ property: "nodes", reason: "must list at least one node" });
        for (const [i, n] of (Array.isArray(news.nodes) ? news.nodes : []).entries()) {
            if (typeof n?.hostKey === "string" && !PINNED_HOST_KEY.test(n.hostKey)) {
                failures.push({ property: `nodes[${i}].hostKey`, reason: "must be a pinned public host key (\"ssh-ed25519 AAAA…\")" });
            }
        }
        return { inputs: news, failures };
    },
    async diff(_id: string, olds: RolloutState, news: RolloutState) {
        const keys = ["version", "contentHash", "nodes", "installPath", "configFile", "binary"] as const;
        const changed = keys.filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
        const drifted = olds.liveVersions !== undefined && Object.values(olds.liveVersions).some((v) => !v.includes(olds.version));
        // Who runs the update is what its record names, not a setting: another operator's preview is still a no-op.
        const settingsOf = (s: RolloutState) => JSON.stringify({ ...s, journal: undefined, record: undefined, liveVersions: undefined, operator: undefined });
        const settings = settingsOf(news) !== settingsOf(olds);
        return { changes: changed.length > 0 || drifted || settings };
    },
    async create(inputs: RolloutState) {
        return { id: `rollout-${inputs.serviceName}`, outs: await rollOut(inputs) };
    },
    async update(_id: string, olds: RolloutState, news: RolloutState) {
        const rolledOut = JSON.stringify([olds.version, olds.contentHash, olds.nodes]) !== JSON.stringify([news.version, news.contentHash, news.nodes]);
        const drifted = olds.liveVersions !== undefined && Object.values(olds.liveVersions).some((v) => !v.includes(olds.version));
        if (!rolledOut && !drifted) return { outs: JSON.parse(JSON.stringify({ ...news, journal: olds.journal, record: olds.record })) };
        return { outs: await rollOut(news) };
    },
    async read(id: string, props: RolloutState) {
        const liveVersions: Record<string, string> = {};
        const nodes = props.nodes ?? [];
        await forEachLimited(nodes, Math.max(props.forks ?? 5, 10), () => true, async (node) => {
            try {
                const s = await connect(node, props.privateKey);
                try { liveVersions[node.name] = (await s.run(props.versionCommand, 30_000)).stdout.trim(); } finally { s.close(); }
            } catch (e) {
                liveVersions[node.name] = `unreachable: ${(e as Error).message}`;
            }
        });
        // In the nodes' order, whatever order they answered in.
        return { id, props: { ...props, liveVersions: Object.fromEntries(nodes.map((n) => [n.name, liveVersions[n.name]])) } };
    },
    async delete(_id: string, props: RolloutState) {
        if (!props.journal) return;
        const { hooks, done } = lifecycle(props);
        try {
            await undoRollout(props, props.journal, hooks);
        } finally {
            done();
        }
    },
});

export class SshRollout extends pulumi.dynamic.Resource {
    declare readonly record: pulumi.Output<NodeRolloutRecord>;
    declare readonly journal: pulumi.Output<RolloutJournal>;

    constructor(name: string, args: SshRolloutArgs, opts?: pulumi.CustomResourceOptions) {
        super(sshRolloutProvider, name, { ...args, journal: undefined, record: undefined, liveVersions: undefined },
            { ...opts, additionalSecretOutputs: ["privateKey"] }, "agenc", SSH_ROLLOUT_TYPE);
    }
}
