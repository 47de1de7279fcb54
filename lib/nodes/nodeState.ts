/**
 * What each node keeps about a rollout, beside its backups, so a rollout resumes from any machine (the operator's
 * local journal is only a cache), and the fleet lock that keeps a second run off the nodes while the first lives.
 * Pure: the shell text that writes them and the decisions on what was read; lib/nodes/rollout.ts runs them.
 *
 *   <backupPath>/.<service>-rollout.json   { rolloutId, stamp, version, step, backup, versionBefore, concluded, at }
 *   <backupPath>/.<service>-rollout.lock/  owner (JSON: token, owner, host, pid, since, version) and heartbeat (ms)
 */
import type { NodeStatus } from "./plan";

export interface NodeState {
    rolloutId: string;
    stamp: string;
    /** The version this rollout installs. */
    version: string;
    step: NodeStatus;
    backup?: string;
    versionBefore?: string;
    /** Set once the rollout failed and began restoring: a resume finishes the restore, never the deploy. */
    aborting?: string;
    /** True once the rollout ended (deployed, rolled back, restored): a later run starts a new rollout here. */
    concluded?: boolean;
    /** What went wrong, for a node whose restore failed: what a later run tells the operator. */
    detail?: string;
    at: string;
}

export interface LockOwner {
    /** Random per run: only the run holding it releases or refreshes it. */
    token: string;
    owner: string;
    host: string;
    pid: number;
    since: string;
    version: string;
}

export const HEARTBEAT_SECONDS = 20;
/** A lock whose heartbeat is older than this is stale: its run died without releasing it. */
export const STALE_AFTER_SECONDS = 90;

export function remotePaths(backupPath: string, serviceName: string): { state: string; lock: string } {
    return { state: `${backupPath}/.${serviceName}-rollout.json`, lock: `${backupPath}/.${serviceName}-rollout.lock` };
}

/** A literal for the node's shell, whatever it holds. */
export function shellLiteral(text: string): string {
    return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Shell text that replaces the node's state atomically (write, then rename). `statePath` is double-quoted. */
export function writeStateCommand(statePath: string, state: NodeState): string {
    return `printf '%s\\n' ${shellLiteral(JSON.stringify(state))} > "${statePath}.tmp" && mv -f "${statePath}.tmp" "${statePath}"`;
}

export function parseState(text: string | undefined): NodeState | undefined {
    if (!text?.trim()) return undefined;
    try {
        const s = JSON.parse(text) as NodeState;
        return typeof s.rolloutId === "string" && typeof s.step === "string" ? s : undefined;
    } catch { return undefined; }
}

/** The node's state is of this rollout and not finished: resume from its step. */
export function resumable(state: NodeState | undefined, rolloutId: string): state is NodeState {
    return !!state && state.rolloutId === rolloutId && !state.concluded;
}

export type LockVerdict =
    | { verdict: "stale"; owner?: LockOwner; why: string }
    | { verdict: "held"; owner?: LockOwner; why: string };

/**
 * Whether a lock found on a node may be taken over.  Stale when provably dead (same host, its process is gone) or
 * silent (no heartbeat for STALE_AFTER_SECONDS: the machine running it died); held otherwise.
 */
export function classifyLock(
    ownerText: string | undefined, heartbeatText: string | undefined,
    me: { host: string }, now: number, pidAlive: (pid: number) => boolean,
): LockVerdict {
    let owner: LockOwner | undefined;
    try { owner = ownerText?.trim() ? JSON.parse(ownerText) as LockOwner : undefined; } catch { owner = undefined; }
    const beat = Number(heartbeatText?.trim());
    const silentFor = Number.isFinite(beat) && beat > 0 ? Math.round((now - beat) / 1000) : undefined;
    const who = owner ? `${owner.owner}@${owner.host} (pid ${owner.pid}, rollout of ${owner.version} since ${owner.since})` : "an unknown run";
    if (owner && owner.host === me.host && !pidAlive(owner.pid)) return { verdict: "stale", owner, why: `${who}: that process is gone` };
    if (silentFor !== undefined && silentFor > STALE_AFTER_SECONDS) {
        return { verdict: "stale", owner, why: `${who}: no heartbeat for ${silentFor} s (more than ${STALE_AFTER_SECONDS} s)` };
    }
    if (silentFor === undefined && !owner) return { verdict: "stale", owner, why: "a lock without owner or heartbeat (a run killed while taking it)" };
    return { verdict: "held", owner, why: `${who}, last heartbeat ${silentFor ?? "?"} s ago` };
}

export function pidAlive(pid: number): boolean {
    try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === "EPERM"; }
}

/** Where the operator acknowledges a node's failed restore once it is fixed by hand (config/schema.ts). */
export const CLEAR_RESTORE_FAILED_KEY = "speculation:nodes.clearRestoreFailed";

/** What a node's own state says about a new rollout starting on it. */
export type Settlement =
    | { verdict: "clear" }
    | { verdict: "acknowledged"; ack: string; why: string }
    | { verdict: "refused"; ack: string; why: string };

/** What the refusal tells the operator to do by hand: the rollout's paths and commands. */
export interface RestoreHint {
    installPath: string;
    restartCommand: string;
    healthCommand: string;
}

/** The acknowledgement that clears one node's failed restore: `<node>@<stamp of the failed rollout>`. */
export function restoreFailedAck(node: string, stamp: string): string {
    return `${node}@${stamp}`;
}

/**
 * Whether a new rollout may start on a node, from the node's own state.  A node is unsettled when a previous
 * rollout's restore of it failed (`restore-failed`), or when a rollout that was restoring it stopped and was never
 * resumed (its state is not concluded and says `aborting`, of another rollout): it may run neither version, and a
 * backup taken now would save that half state as "the version before".  Its own rollout resuming is not refused
 * (a resume finishes its restore); anything else is, until the operator fixes the node by hand and acknowledges
 * exactly that failure (`<node>@<stamp>` in nodes.clearRestoreFailed: an old acknowledgement never clears a newer
 * failure).  An acknowledged node is still health-checked before it is touched (lib/nodes/rollout.ts).
 */
export function settlementOf(node: string, state: NodeState | undefined, rolloutId: string, acks: readonly string[], hint: RestoreHint): Settlement {
    // Its own rollout, unfinished (resumable()): the resume retries the restore.
    if (!state || (state.rolloutId === rolloutId && !state.concluded)) return { verdict: "clear" };
    const failed = state.step === "restore-failed";
    if (!failed && !(state.aborting && !state.concluded)) return { verdict: "clear" };
    const ack = restoreFailedAck(node, state.stamp);
    const what = failed
        ? `the restore of rollout ${state.stamp} (${state.version} over ${state.versionBefore ?? "an unrecorded version"}) failed at ${state.at}: ${state.detail ?? "no detail recorded on the node"}`
        : `rollout ${state.stamp} (${state.version} over ${state.versionBefore ?? "an unrecorded version"}) failed (${state.aborting}) and stopped at ${state.at} while restoring this node (step ${state.step}); it was never resumed`;
    if (acks.includes(ack)) return { verdict: "acknowledged", ack, why: `${node}: ${what}; acknowledged by ${CLEAR_RESTORE_FAILED_KEY} ${ack}` };
    const other = acks.filter((a) => a.startsWith(`${node}@`));
    const backup = state.backup ?? "<its backup>";
    return {
        verdict: "refused",
        why: `${node}: ${what}. The node may run neither version, so no rollout touches it.` +
            (other.length > 0 ? ` (${CLEAR_RESTORE_FAILED_KEY} has ${other.join(", ")}, which acknowledges another failure, not this one.)` : "") +
            ` Restore it by hand (cp -a '${backup}/.' '${hint.installPath}/' && ${hint.restartCommand}; check: ${hint.healthCommand}),` +
            ` then acknowledge exactly this failure (${ack}), or remove ${node} from nodes.hosts to roll out without it`,
        ack,
    };
}

/** The error of a rollout refused over unsettled nodes: each node's story, then the commands that acknowledge them. */
export function unsettledError(refused: { why: string; ack: string }[]): string {
    return `pre-checks failed, no node was touched: ${refused.length} node(s) are in an unknown state after a failed restore\n  ` +
        refused.map((r) => r.why).join("\n  ") +
        "\nonce each is restored by hand and healthy, acknowledge it (each acknowledgement names the failed rollout's stamp; the node is health-checked again before it is touched):\n  " +
        refused.map((r, i) => `pulumi config set --path '${CLEAR_RESTORE_FAILED_KEY}[${i}]' '${r.ack}'`).join("\n  ");
}

