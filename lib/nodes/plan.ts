/**
 * The node rollout's plan and bookkeeping, pure: batches from an Ansible-style serial list, the failure budget,
 * and the per-node journal that lets a killed rollout resume without a second backup.
 */

import { formatTable } from "../table";

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

/** How many nodes may fail before the rollout stops and restores: floor(count × pct / 100). 0 % means none. */
export function failureBudget(nodeCount: number, maxFailPercentage: number): number {
    return Math.floor(nodeCount * maxFailPercentage / 100);
}

/** Where one node stands.  The order is the order a node moves through; `restored` and `failed` end it. */
export type NodeStatus = "pending" | "backed-up" | "uploaded" | "switched" | "healthy" | "failed" | "restored" | "restore-failed";

export interface NodeJournal {
    name: string;
    status: NodeStatus;
    /** The backup folder made for this rollout (kept once made: a resume never backs up the new binary). */
    backup?: string;
    version?: string;
    detail?: string;
    at: string;
}

export interface RolloutJournal {
    rolloutId: string;
    version: string;
    startedAt: string;
    /** Set when the rollout ended (deployed or rolled back): only an unconcluded journal is resumed. */
    concluded?: "deployed" | "rolled-back" | "restored";
    nodes: Record<string, NodeJournal>;
}

/** What a node needs next, from its journal entry: a resume continues where the killed run stopped. */
export function nextStep(entry: NodeJournal | undefined): "backup" | "upload" | "switch" | "restart" | "done" {
    switch (entry?.status) {
        case undefined: case "pending": return "backup";
        case "backed-up": return "upload";
        case "uploaded": return "switch";
        case "switched": case "failed": return "restart";
        default: return "done";
    }
}

/** Nodes touched by this rollout (backed up or further) that must be put back when it fails or is destroyed. */
export function nodesToRestore(journal: RolloutJournal): string[] {
    return Object.values(journal.nodes)
        .filter((n) => n.backup && !["pending", "restored"].includes(n.status))
        .map((n) => n.name);
}

export interface NodeRow { node: string; status: string; version: string; detail: string }

export function formatNodeTable(rows: NodeRow[]): string {
    return formatTable([["node", "status", "version", "detail"], ...rows.map((r) => [r.node, r.status, r.version, r.detail])]);
}
