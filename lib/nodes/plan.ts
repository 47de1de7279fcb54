/**
 * The node rollout's plan and bookkeeping, pure: batches from an Ansible-style serial list, the per-batch failure
 * budget, and the per-node journal (a cache of each node's own state, lib/nodes/nodeState.ts) that lets a killed
 * rollout resume without a second backup.
 */

import { formatTable } from "../table";
import type { NodeRolloutOutcome } from "../records/record";

export type SerialEntry = number | string;

/**
 * Batch sizes for `nodeCount` nodes: each entry is a count or a percentage of all nodes (rounded down, at least 1);
 * the last entry repeats until every node is in a batch (Ansible's `serial`).
 */
export function planBatches(serial: SerialEntry[], nodeCount: number): number[] {
    if (serial.length === 0) throw new Error("serial: must have at least one batch size");
    const size = (e: SerialEntry): number => {
        if (typeof e === "number") {
            if (!Number.isInteger(e) || e < 1) throw new Error(`serial: ${e} is not a node count (a whole number ≥ 1) or a percentage ("20%")`);
            return e;
        }
        const m = /^(\d{1,3})%$/.exec(e);
        if (!m || Number(m[1]) < 1 || Number(m[1]) > 100) throw new Error(`serial: "${e}" is not a node count or a percentage from "1%" to "100%"`);
        return Math.max(1, Math.floor(nodeCount * Number(m[1]) / 100));
    };
    const batches: number[] = [];
    let left = nodeCount;
    for (let i = 0; left > 0; i++) {
        const b = Math.min(left, size(serial[Math.min(i, serial.length - 1)]));
        batches.push(b);
        left -= b;
    }
    return batches;
}

/**
 * How many of a batch's nodes may fail before the rollout stops: Ansible's `max_fail_percentage`, judged per batch,
 * which must be *exceeded* to stop — with 30 % a batch of 10 carries on with 3 failures and stops at 4; with 0 %
 * the first failure stops it.
 */
export function batchFailureBudget(batchSize: number, maxFailPercentage: number): number {
    return Math.floor(batchSize * maxFailPercentage / 100);
}
/**
 * Where one node stands.  The order is the order a node moves through; `restored` and `failed` end it.  `refused`: the
 * node refused the uploaded binary (its signature did not verify there, lib/signatures/node.ts) before the swap — the
 * upload was removed and nothing else changed, so it is not restored; the next `up` uploads again.
 */
export type NodeStatus = "pending" | "backed-up" | "uploaded" | "switched" | "healthy" | "failed" | "restored" | "restore-failed" | "refused";

export interface NodeJournal {
    name: string;
    status: NodeStatus;
    /** The backup folder made for this rollout (kept once made: a resume never backs up the new binary). */
    backup?: string;
    version?: string;
    /** What the node reported before this rollout touched it (its `versionCommand` output). */
    versionBefore?: string;
    detail?: string;
    at: string;
}

/** How a rollout (or its undo) ended.  `rolled-back` only when every touched node was restored and is healthy. */
/** How a rollout ended: the status of its record (lib/records/record.ts). */
export type RolloutOutcome = NodeRolloutOutcome;

export interface RolloutJournal {
    rolloutId: string;
    version: string;
    startedAt: string;
    /** The stamp that names this rollout's backups and marks its state on every node. */
    stamp?: string;
    /** Why the rollout failed, once it began restoring: a resume finishes the restore. */
    aborting?: string;
    /** Set when the rollout ended: only an unconcluded journal is resumed. */
    concluded?: Exclude<RolloutOutcome, "interrupted">;
    nodes: Record<string, NodeJournal>;
}

/** What a node needs next, from its journal entry: a resume continues where the killed run stopped. */
export function nextStep(entry: NodeJournal | undefined): "backup" | "upload" | "switch" | "restart" | "done" {
    switch (entry?.status) {
        case undefined: case "pending": case "refused": return "backup";
        case "backed-up": return "upload";
        case "uploaded": return "switch";
        case "switched": case "failed": return "restart";
        default: return "done";
    }
}

export interface NodeRow { node: string; status: string; version: string; detail: string }

export function formatNodeTable(rows: NodeRow[]): string {
    return formatTable([["node", "status", "version", "detail"], ...rows.map((r) => [r.node, r.status, r.version, r.detail])]);
}
