/**
 * The node rollout's bookkeeping on the operator's machine: the local journal (a cache of every node's own state,
 * written then renamed so a kill never tears it), the rollout's identity and stamp, the resume from the nodes' own
 * state, and the deployment record that ends every run (lib/records/record.ts's NodeRolloutRecord).
 * File access through `require()` inside the functions: a dynamic provider captures them when it is serialised.
 */
import { NodeRolloutRecord } from "../records/record";
import { NodeAddress } from "./address";
import { NodeState, resumable } from "./nodeState";
import { formatNodeTable, RolloutJournal, RolloutOutcome } from "./plan";

/** A stamp per rollout, used to name its backups: the same on a resume, different for the next rollout. */
export function rolloutStamp(startedAt: string): string {
    return startedAt.replace(/[-:TZ.]/g, "").slice(0, 14);
}

/** The identity of a rollout: what is installed where.  A node's state of another rollout is not resumed. */
export function rolloutIdOf(spec: { version: string; contentHash?: string; nodes: Pick<NodeAddress, "name" | "host" | "port">[] }): string {
    const { createHash } = require("crypto") as typeof import("crypto");
    return createHash("sha256").update(JSON.stringify([spec.version, spec.contentHash ?? "", spec.nodes.map((n) => `${n.name}@${n.host}:${n.port}`)]))
        .digest("hex").slice(0, 16);
}

/** The local journal at `path`, or undefined when there is none (or it does not parse). */
export function loadJournal(path: string): RolloutJournal | undefined {
    const fs = require("fs") as typeof import("fs");
    try { return JSON.parse(fs.readFileSync(path, "utf8")); } catch { return undefined; }
}

/** Writes the journal: write-then-rename, so a kill mid-write leaves the previous journal, never a torn one. */
export function saveJournal(path: string, journal: RolloutJournal): void {
    const fs = require("fs") as typeof import("fs");
    const p = require("path") as typeof import("path");
    fs.mkdirSync(p.dirname(path), { recursive: true });
    fs.writeFileSync(`${path}.tmp`, JSON.stringify(journal, null, 2));
    fs.renameSync(`${path}.tmp`, path);
}

/**
 * Where a rollout stands, from the nodes' own state first and the local journal (`cached`) only for what they lack:
 * `journal` is filled in (stamp, start, each node this rollout touched, whether it was restoring); the line says
 * it resumed, when it did.
 */
export function resume(journal: RolloutJournal, nodes: { name: string; state?: NodeState }[], cached: RolloutJournal | undefined): string | undefined {
    const rolloutId = journal.rolloutId;
    const local = cached && cached.rolloutId === rolloutId && !cached.concluded ? cached : undefined;
    const onNodes = nodes.map((n) => n.state).filter((s): s is NodeState => resumable(s, rolloutId));
    let line: string | undefined;
    if (onNodes.length > 0) {
        journal.stamp = onNodes[0].stamp;
        journal.startedAt = local?.startedAt ?? onNodes[0].at;
        for (const { name, state: s } of nodes) {
            if (resumable(s, rolloutId)) {
                journal.nodes[name] = { name, status: s.step, backup: s.backup, versionBefore: s.versionBefore, at: s.at, ...(s.step === "healthy" ? { version: s.version } : {}) };
            }
        }
        journal.aborting = onNodes.find((s) => s.aborting)?.aborting ?? local?.aborting;
        line = `resuming rollout ${rolloutId} of ${journal.version} (stamp ${journal.stamp}) from the nodes' own state${local ? "" : " (no local journal)"}`;
    } else if (local) {
        // Nodes say nothing of this rollout (none was touched yet): keep the cached start only.
        journal.startedAt = local.startedAt;
        journal.stamp = local.stamp;
    }
    journal.stamp ??= rolloutStamp(journal.startedAt);
    return line;
}

/**
 * Nodes this rollout touched (backed up or further) that are not back on their backup yet.  A node that refused the
 * upload before the swap runs what it ran: nothing to restore.
 */
export function touched(journal: RolloutJournal): string[] {
    return Object.values(journal.nodes).filter((n) => n.backup && n.status !== "pending" && n.status !== "restored" && n.status !== "refused").map((n) => n.name);
}

/** The per-node table every failure message ends with. */
export function nodeTable(nodes: Pick<NodeAddress, "name">[], journal: RolloutJournal): string {
    return formatNodeTable(nodes.map((n) => {
        const j = journal.nodes[n.name];
        return { node: n.name, status: j?.status ?? "untouched", version: j?.version ?? (j ? "" : "previous"), detail: j?.detail ?? "" };
    }));
}

/** The spec fields a record names. */
export interface RecordSpec {
    version: string;
    nodes: Pick<NodeAddress, "name">[];
    installPath: string;
    serviceName: string;
    restartCommand: string;
    healthCommand: string;
    operator: string;
}

/** What the operator does next after `outcome` (`why`: what stopped an interrupted run); undefined when nothing. */
export function nextSteps(spec: RecordSpec, journal: RolloutJournal, outcome: RolloutOutcome, why?: string): string | undefined {
    const failed = Object.values(journal.nodes).filter((n) => n.status === "restore-failed");
    const bin = `${spec.installPath}/bin/${spec.serviceName}`;
    switch (outcome) {
        case "restore-failed":
            return `restore by hand: ${failed.map((n) => `${n.name} (cp -a '${n.backup}/.' '${spec.installPath}/' && ${spec.restartCommand}; check: ${spec.healthCommand})`).join("; ")}` +
                `; then \`pulumi refresh\` and \`pulumi up\` again (each node's backup is kept; ${bin} is what it runs now)`;
        case "interrupted":
            return `${why}; every node is at a safe point (its state is on the node). To go on: \`pulumi cancel\` (if the stack is still locked), ` +
                "`pulumi refresh --clear-pending-creates` (clears the interrupted create), then `pulumi up` resumes where it stopped — from any machine; " +
                "or `pulumi destroy --target <this SshRollout's URN>` restores every touched node";
        case "rolled-back":
            return "every touched node runs its previous version again; fix the cause in the table, then `pulumi up`";
        default:
            return undefined;
    }
}

/** The record of a run that began at `startedMs` and ended `status`, node by node. */
export function nodeRolloutRecord(spec: RecordSpec, journal: RolloutJournal, status: RolloutOutcome, startedMs: number, why?: string): NodeRolloutRecord {
    const next = nextSteps(spec, journal, status, why);
    return {
        date: new Date().toISOString(), version: spec.version, status, nodeCount: spec.nodes.length,
        durationSeconds: Math.round((Date.now() - startedMs) / 100) / 10, operator: spec.operator,
        nodes: Object.fromEntries(spec.nodes.map((n) => [n.name, journal.nodes[n.name]?.status ?? "untouched"])),
        ...(next ? { next } : {}),
    };
}
