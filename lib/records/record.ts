/**
 * The deployment record of a release (date, version, stages reached, verdicts, duration, operator): appended as one
 * JSON line to a log and pushed as rollout series to a Prometheus Pushgateway (prom-client's client), so the canary
 * dashboard shows releases and reverts.  A record never claims more than happened: it is written after the steps it
 * names, from their recorded verdicts.
 */
import { pushgatewayOptions, PushgatewayAuth } from "./pushgateway";
import { redactUrl } from "./redact";
import { RECORD_JOB, RECORD_SERIES } from "./series";
export type { PushgatewayAuth } from "./pushgateway";

/** gate-revert: a gate (live or window) said no-go and took the stage's traffic away (its revert's outcome decides the percentage). */
export type RecordOutcome = "released" | "rollback-full" | "rollback-emergency" | "gate-revert";

/** What every record says: when, which version, how long it took, who ran it. */
export interface RecordBase {
    date: string;
    version: string;
    durationSeconds: number;
    operator: string;
}

/** The record of a release: one per `pulumi up` that changes what the release reached (providers/deploymentRecord.ts). */
export interface DeploymentRecord extends RecordBase {
    environment: string;
    previousVersion: string;
    outcome: RecordOutcome;
    /** Stages declared by this update, each passed (their gates precede the record). */
    stagesReached: { name: string; percentage: number }[];
    rolloutPercentage: number;
    /** Step → verdict (preflight, smoke, bench, each stage's gate, verify, drain, nodes). */
    verdicts: Record<string, string>;
    /**
     * Stage → the error budget it spent (lib/slo/judge.ts): the release track's burn rate over its bake, the share of
     * the SLO window's budget that is, and the share the service had left when the stage was judged.
     */
    errorBudget?: Record<string, { burnRate: number; overSeconds: number; budgetSpent: number; budgetRemaining?: number }>;
    /** Subject → `<repository@digest or file> signed by <key (SHA256:…)>`: what the signature verification found (docs/signing.md). */
    signatures?: Record<string, string>;
}

/** How a node rollout over SSH ended (lib/nodes/rollout.ts). */
export type NodeRolloutOutcome = "deployed" | "rolled-back" | "restore-failed" | "restored" | "interrupted";

/**
 * The record of a node rollout (or of its undo on `pulumi destroy`): appended to the nodes' deployment log and the
 * SshRollout's `record` output.  The release's DeploymentRecord names it by its status (verdicts.nodes).
 */
export interface NodeRolloutRecord extends RecordBase {
    status: NodeRolloutOutcome;
    nodeCount: number;
    /** What happened to each node: its last status (`untouched` when this rollout never changed it). */
    nodes?: Record<string, string>;
    /** For anything but `deployed` and `restored`: what the operator does next. */
    next?: string;
}

/** What a record says about one update, beside where it goes (RecordSink) and when. */
export type RecordFacts = Pick<DeploymentRecord, "version" | "outcome" | "stagesReached" | "rolloutPercentage" | "verdicts"> & Pick<Partial<DeploymentRecord>, "errorBudget" | "signatures">;

/** A record as of `now`: its sink's environment, previous version and operator, the duration since `startedAt`. */
export function recordOf(sink: Pick<RecordSink, "environment" | "previousVersion" | "operator">, facts: RecordFacts, startedAt: string,
    now: Date = new Date()): DeploymentRecord {
    return {
        date: now.toISOString(), environment: sink.environment, version: facts.version, previousVersion: sink.previousVersion,
        outcome: facts.outcome, stagesReached: facts.stagesReached, rolloutPercentage: facts.rolloutPercentage, verdicts: facts.verdicts,
        ...(facts.errorBudget && Object.keys(facts.errorBudget).length > 0 ? { errorBudget: facts.errorBudget } : {}),
        ...(facts.signatures && Object.keys(facts.signatures).length > 0 ? { signatures: facts.signatures } : {}),
        durationSeconds: Math.max(0, Math.round((now.getTime() - Date.parse(startedAt)) / 100) / 10), operator: sink.operator,
    };
}

/** Appends one record as a JSON line to `logFile` (its folder made if missing). */
export function appendRecord(logFile: string, record: DeploymentRecord | NodeRolloutRecord): void {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fs = require("fs") as typeof import("fs");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const path = require("path") as typeof import("path");
    fs.mkdirSync(path.dirname(logFile), { recursive: true });
    fs.appendFileSync(logFile, JSON.stringify(record) + "\n");
}

/**
 * Pushes the record's series to the version's group (RECORD_GROUPING).  POST replaces only the metric names pushed,
 * so a revert keeps the release timestamp and a later release keeps the last revert.
 */
export async function pushRecord(pushgatewayUrl: string, record: DeploymentRecord, timeoutMs: number, auth?: PushgatewayAuth): Promise<void> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const prom = require("prom-client") as typeof import("prom-client");
    const registry = new prom.Registry();
    const g = (name: string, help: string, labelNames: string[]) => new prom.Gauge({ name, help, labelNames, registers: [registry] });
    const base = { environment: record.environment, version: record.version };
    const at = Date.parse(record.date) / 1000;
    if (record.outcome === "released") {
        g(RECORD_SERIES.releaseTimestamp, "Unix time of the last record that released this version", ["environment", "version"]).set(base, at);
    }
    g(RECORD_SERIES.rolloutPercentage, "Rollout percentage the release reached", ["environment", "version"]).set(base, record.rolloutPercentage);
    g(RECORD_SERIES.stagesReached, "Canary stages reached", ["environment", "version"]).set(base, record.stagesReached.length);
    g(RECORD_SERIES.duration, "Seconds the update took up to the record", ["environment", "version"]).set(base, record.durationSeconds);
    const verdictLabels = Object.fromEntries(Object.entries(record.verdicts).map(([k, v]) => [`verdict_${k.replace(/[^a-zA-Z0-9_]/g, "_")}`, v]));
    g(RECORD_SERIES.info, "Deployment record", ["environment", "version", "outcome", "previous_version", "operator", ...Object.keys(verdictLabels)])
        .set({ ...base, outcome: record.outcome, previous_version: record.previousVersion, operator: record.operator, ...verdictLabels }, 1);
    if (record.outcome !== "released") {
        g(RECORD_SERIES.revertTimestamp, "Unix time of the last revert", ["environment", "version", "mode"])
            .set({ ...base, mode: record.outcome === "gate-revert" ? "gate" : record.outcome.replace("rollback-", "") }, at);
    }
    if (record.errorBudget) {
        // The share of the SLO window's error budget each stage spent: the dashboard's budget panel shows it per release.
        const spent = g(RECORD_SERIES.stageBudgetSpent, "Share of the SLO window's error budget a stage spent over its bake", ["environment", "version", "stage"]);
        for (const [stage, b] of Object.entries(record.errorBudget)) spent.set({ ...base, stage }, b.budgetSpent);
    }
    const gateway = new prom.Pushgateway(pushgatewayUrl, pushgatewayOptions(timeoutMs, auth), registry);
    await gateway.pushAdd({ jobName: RECORD_JOB, groupings: base });
}

/** Where a gate writes the record of its revert (the stack's `records` settings), passed to the gate providers. */
export interface RecordSink {
    environment: string;
    previousVersion: string;
    operator: string;
    logFile: string;
    pushgatewayUrl?: string;
    /** speculation:pushgatewayCredentials (a secret input of the providers that push; never in a failure's properties). */
    pushgatewayAuth?: PushgatewayAuth;
    timeoutMs: number;
}

/**
 * The record of a gate's revert: which stage said no-go, and the percentage traffic reads back at (0 when the revert
 * was confirmed; the stage's own when it was not — a record never claims more than happened).  Appended and pushed;
 * returns one line for the gate's failure message (a failed push is said there, never thrown over the no-go).
 */
export async function recordGateRevert(sink: RecordSink, gate: { stage: string; percentage: number; version: string; reason: string;
    confirmed: boolean; startedAt: string }, now: Date = new Date()): Promise<string> {
    const record = recordOf(sink, {
        version: gate.version, outcome: "gate-revert", stagesReached: [], rolloutPercentage: gate.confirmed ? 0 : gate.percentage,
        verdicts: { [gate.stage]: `fail: ${gate.reason}`.slice(0, 200), revert: gate.confirmed ? "confirmed" : "unconfirmed" },
    }, gate.startedAt, now);
    appendRecord(sink.logFile, record);
    if (!sink.pushgatewayUrl) return `Deployment record: gate-revert appended to ${sink.logFile}.`;
    try {
        await pushRecord(sink.pushgatewayUrl, record, sink.timeoutMs, sink.pushgatewayAuth);
        return `Deployment record: gate-revert appended to ${sink.logFile} and pushed to ${redactUrl(sink.pushgatewayUrl)}.`;
    } catch (e) {
        return `Deployment record: gate-revert appended to ${sink.logFile}; the push to ${redactUrl(sink.pushgatewayUrl)} FAILED: ${(e as Error).message}.`;
    }
}
