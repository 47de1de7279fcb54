/**
 * The node-by-node rollout of seed 001 over SSH (SPEC §5):
 *   pre-checks on every node before touching any (host key, install folder, free disk, service, config parses)
 *   → per batch, per node: backup (timestamped folder + `latest` link) → upload binary and config as `.new`
 *     → atomic rename → restart → grace → health poll
 *   → on failure beyond the budget: restore every touched node from its backup, restart, health-check, and fail
 *   → post-check: every node reports the version → a deployment record appended to the log.
 * Every step is journaled (a local JSON file, written after each transition) so a killed run resumes where it
 * stopped: a node's backup is made once per rollout, so the original backup is never replaced by the new binary.
 *
 * Paths and commands run in the node's shell inside double quotes, so they may use the node's environment.
 */
import { failureBudget, formatNodeTable, NodeJournal, NodeStatus, nodesToRestore, nextStep, planBatches, RolloutJournal, SerialEntry } from "./plan";
import { captureBaseline, GateSpec, runGate } from "../gate/run";
import { connect, NodeAddress, NodeSession } from "./ssh";

export interface RolloutSpec {
    version: string;
    nodes: NodeAddress[];
    privateKey: string;
    /** Local path of the new binary, and (optionally) of its config file. */
    binary: string;
    configFile?: string;
    installPath: string;
    backupPath: string;
    serviceName: string;
    restartCommand: string;
    healthCommand: string;
    versionCommand: string;
    serviceCheckCommand: string;
    healthRetries: number;
    healthIntervalSeconds: number;
    firstNodeGraceSeconds: number;
    nodeGraceSeconds: number;
    pauseSeconds: number;
    minFreeDiskGb: number;
    serial: SerialEntry[];
    maxFailPercentage: number;
    /**
     * Optional health gate between batches (the canary HealthGate's logic, lib/gate/run.ts): the service the nodes
     * serve must stay green for its bake before the next batch; a no-go restores every touched node.  The error-rate
     * baseline is measured before the first batch.
     */
    batchGate?: Omit<GateSpec, "baselineErrorRate">;
    /** Local files: the resumable journal and the deployment log (one JSON line per rollout). */
    journalPath: string;
    deploymentLog: string;
    operator: string;
}

export interface DeploymentRecord {
    date: string;
    version: string;
    status: "deployed" | "rolled-back" | "restored";
    nodeCount: number;
    durationSeconds: number;
    operator: string;
}

export interface RolloutResult {
    journal: RolloutJournal;
    record: DeploymentRecord;
    batches: number[];
}

export type RolloutError = Error & { journal: RolloutJournal; record?: DeploymentRecord };

/** A plain Error carrying the journal (a subclass of Error loses its message in a serialised dynamic provider). */
export function rolloutError(message: string, journal: RolloutJournal, record?: DeploymentRecord): RolloutError {
    return Object.assign(new Error(message), { name: "RolloutError", journal, record });
}

const q = (path: string) => `"${path}"`;
const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

/** A stamp per rollout, used to name its backups: the same on a resume, different for the next rollout. */
export function rolloutStamp(startedAt: string): string {
    return startedAt.replace(/[-:TZ.]/g, "").slice(0, 14);
}

export function loadJournal(path: string): RolloutJournal | undefined {
    const fs = require("fs") as typeof import("fs");
    try { return JSON.parse(fs.readFileSync(path, "utf8")); } catch { return undefined; }
}

function saveJournal(path: string, journal: RolloutJournal): void {
    const fs = require("fs") as typeof import("fs");
    const p = require("path") as typeof import("path");
    fs.mkdirSync(p.dirname(path), { recursive: true });
    // Write-then-rename: a kill mid-write leaves the previous journal, never a torn one.
    fs.writeFileSync(`${path}.tmp`, JSON.stringify(journal, null, 2));
    fs.renameSync(`${path}.tmp`, path);
}

function appendRecord(path: string, record: DeploymentRecord): void {
    const fs = require("fs") as typeof import("fs");
    const p = require("path") as typeof import("path");
    fs.mkdirSync(p.dirname(path), { recursive: true });
    fs.appendFileSync(path, JSON.stringify(record) + "\n");
}

/** Reads the local config file the way the node will, so a broken one stops the rollout before any node. */
export function checkConfigFile(path: string): void {
    const fs = require("fs") as typeof import("fs");
    const text = fs.readFileSync(path, "utf8");
    try {
        if (/\.toml$/i.test(path)) (require("smol-toml") as typeof import("smol-toml")).parse(text);
        else if (/\.json$/i.test(path)) JSON.parse(text);
        else if (/\.ya?ml$/i.test(path)) (require("yaml") as typeof import("yaml")).parse(text);
    } catch (e) {
        throw new Error(`config file ${path} does not parse: ${(e as Error).message}`);
    }
}

interface Ctx {
    spec: RolloutSpec;
    journal: RolloutJournal;
    onTransition?: (node: string, status: NodeStatus) => void;
}

function mark(ctx: Ctx, node: string, status: NodeStatus, extra: Partial<NodeJournal> = {}): void {
    const prev = ctx.journal.nodes[node];
    ctx.journal.nodes[node] = { ...prev, name: node, status, ...extra, at: new Date().toISOString() };
    saveJournal(ctx.spec.journalPath, ctx.journal);
    ctx.onTransition?.(node, status);
}

async function runOnNode(s: NodeSession, node: string, what: string, command: string, timeoutMs?: number): Promise<string> {
    const r = await s.exec(command, timeoutMs);
    if (r.code !== 0) throw new Error(`${node}: ${what} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(-500)}`);
    return r.stdout;
}

async function precheck(spec: RolloutSpec, node: NodeAddress): Promise<void> {
    const s = await connect(node, spec.privateKey);
    try {
        await runOnNode(s, node.name, "install folder check", `test -d ${q(spec.installPath)}`);
        const freeKb = Number((await runOnNode(s, node.name, "free disk check", `df -Pk ${q(spec.installPath)} | awk 'NR==2 {print $4}'`)).trim());
        const needKb = spec.minFreeDiskGb * 1024 * 1024;
        if (!(freeKb >= needKb)) {
            throw new Error(`${node.name}: ${(freeKb / 1048576).toFixed(1)} GB free under ${spec.installPath}; at least ${spec.minFreeDiskGb} GB required`);
        }
        await runOnNode(s, node.name, `service ${spec.serviceName} check`, spec.serviceCheckCommand);
    } finally {
        s.close();
    }
}

async function healthy(s: NodeSession, spec: RolloutSpec): Promise<boolean> {
    for (let i = 0; i < spec.healthRetries; i++) {
        if ((await s.exec(spec.healthCommand, 30_000)).code === 0) return true;
        if (i < spec.healthRetries - 1) await sleep(spec.healthIntervalSeconds);
    }
    return false;
}

async function deployNode(ctx: Ctx, node: NodeAddress, first: boolean): Promise<void> {
    const { spec, journal } = ctx;
    const I = spec.installPath;
    const backup = `${spec.backupPath}/${spec.serviceName}-${rolloutStamp(journal.startedAt)}`;
    const bin = `${I}/bin/${spec.serviceName}`;
    const config = spec.configFile ? `${I}/config/${(require("path") as typeof import("path")).basename(spec.configFile)}` : undefined;
    const s = await connect(node, spec.privateKey);
    try {
        let step = nextStep(journal.nodes[node.name]);
        if (step === "backup") {
            // Copy into .partial and rename: a kill mid-copy never leaves a half backup under the final name; a
            // backup this rollout already finished (killed before the journal said so) is kept, not redone.
            await runOnNode(s, node.name, "backup", [
                `if [ ! -d ${q(backup)} ]; then rm -rf ${q(backup + ".partial")} && mkdir -p ${q(backup + ".partial")}`,
                `cp -a ${q(I + "/.")} ${q(backup + ".partial/")} && mv ${q(backup + ".partial")} ${q(backup)}; fi`,
                `ln -sfn ${q(backup)} ${q(spec.backupPath + "/latest")}`,
            ].join(" && "));
            mark(ctx, node.name, "backed-up", { backup });
            step = "upload";
        }
        if (step === "upload") {
            // SFTP takes literal paths: let the node's shell expand them first.
            const [binPath, configPath] = (await runOnNode(s, node.name, "path expansion", `printf '%s\\n' ${q(bin)} ${q(config ?? "")}`)).split("\n");
            await s.upload(spec.binary, `${binPath}.new`, 0o755);
            if (spec.configFile && config) await s.upload(spec.configFile, `${configPath}.new`, 0o644);
            mark(ctx, node.name, "uploaded");
            step = "switch";
        }
        if (step === "switch") {
            await runOnNode(s, node.name, "atomic rename", [`mv -f ${q(bin + ".new")} ${q(bin)}`, ...(config ? [`mv -f ${q(config + ".new")} ${q(config)}`] : [])].join(" && "));
            mark(ctx, node.name, "switched");
            step = "restart";
        }
        if (step === "restart") {
            await runOnNode(s, node.name, "restart", spec.restartCommand);
            await sleep(first ? spec.firstNodeGraceSeconds : spec.nodeGraceSeconds);
            if (!(await healthy(s, spec))) {
                mark(ctx, node.name, "failed", { detail: `not healthy after ${spec.healthRetries} × ${spec.healthIntervalSeconds} s` });
                throw new Error(`${node.name}: not healthy after ${spec.healthRetries} checks, ${spec.healthIntervalSeconds} s apart`);
            }
            mark(ctx, node.name, "healthy", { version: spec.version, detail: undefined });
        }
    } finally {
        s.close();
    }
}

async function restoreNode(ctx: Ctx, node: NodeAddress): Promise<void> {
    const { spec } = ctx;
    const entry = ctx.journal.nodes[node.name];
    const I = spec.installPath;
    try {
        const s = await connect(node, spec.privateKey);
        try {
            await runOnNode(s, node.name, "restore", [
                `test -d ${q(entry.backup!)}`,
                `rm -f ${q(I)}/bin/*.new ${q(I)}/config/*.new`,
                `cp -a ${q(entry.backup + "/.")} ${q(I + "/")}`,
            ].join(" && "));
            await runOnNode(s, node.name, "restart", spec.restartCommand);
            await sleep(spec.nodeGraceSeconds);
            const ok = await healthy(s, spec);
            mark(ctx, node.name, ok ? "restored" : "restore-failed", { version: "previous", detail: ok ? `from ${entry.backup}` : "restored but not healthy" });
        } finally {
            s.close();
        }
    } catch (e) {
        mark(ctx, node.name, "restore-failed", { detail: (e as Error).message });
    }
}

function table(spec: RolloutSpec, journal: RolloutJournal): string {
    return formatNodeTable(spec.nodes.map((n) => {
        const j = journal.nodes[n.name];
        return { node: n.name, status: j?.status ?? "untouched", version: j?.version ?? (j ? "" : "previous"), detail: j?.detail ?? "" };
    }));
}

/** Puts back every node this rollout touched (failure, or `pulumi destroy`). */
export async function restoreAll(spec: RolloutSpec, journal: RolloutJournal, onTransition?: Ctx["onTransition"]): Promise<RolloutJournal> {
    const ctx: Ctx = { spec, journal, onTransition };
    for (const name of nodesToRestore(journal)) {
        const node = spec.nodes.find((n) => n.name === name);
        if (node) await restoreNode(ctx, node);
    }
    return journal;
}

/** `pulumi destroy` of a rollout: every node it deployed goes back to its backup; a record says so. */
export async function undoRollout(spec: RolloutSpec, journal: RolloutJournal): Promise<{ journal: RolloutJournal; record: DeploymentRecord }> {
    const started = Date.now();
    await restoreAll(spec, journal);
    journal.concluded = "restored";
    saveJournal(spec.journalPath, journal);
    const failed = Object.values(journal.nodes).filter((n) => n.status === "restore-failed");
    const record: DeploymentRecord = {
        date: new Date().toISOString(), version: spec.version, status: "restored", nodeCount: spec.nodes.length,
        durationSeconds: Math.round((Date.now() - started) / 100) / 10, operator: spec.operator,
    };
    appendRecord(spec.deploymentLog, record);
    if (failed.length > 0) {
        throw rolloutError(`restoring the nodes of ${spec.version} failed on ${failed.map((n) => n.name).join(", ")}:\n${table(spec, journal)}`, journal, record);
    }
    return { journal, record };
}

export async function runRollout(spec: RolloutSpec, onTransition?: Ctx["onTransition"]): Promise<RolloutResult> {
    const started = Date.now();
    const rolloutId = `${spec.version}:${spec.nodes.map((n) => `${n.name}@${n.host}:${n.port}`).join(",")}`;
    const previous = loadJournal(spec.journalPath);
    // A journal of the same rollout that did not finish is resumed; anything else starts fresh.
    const journal: RolloutJournal = previous && previous.rolloutId === rolloutId && !previous.concluded
        ? previous
        : { rolloutId, version: spec.version, startedAt: new Date().toISOString(), nodes: {} };
    const ctx: Ctx = { spec, journal, onTransition };
    const batches = planBatches(spec.serial, spec.nodes.length);
    const record = (status: DeploymentRecord["status"]): DeploymentRecord => ({
        date: new Date().toISOString(), version: spec.version, status, nodeCount: spec.nodes.length,
        durationSeconds: Math.round((Date.now() - started) / 100) / 10, operator: spec.operator,
    });

    // Pre-checks: nothing is touched unless every node passes.
    if (spec.configFile) checkConfigFile(spec.configFile);
    const checks = await Promise.allSettled(spec.nodes.map((n) => precheck(spec, n)));
    const refused = checks.map((c, i) => (c.status === "rejected" ? `${spec.nodes[i].name}: ${(c.reason as Error).message}` : "")).filter(Boolean);
    if (refused.length > 0) {
        throw rolloutError(`pre-checks failed, no node was touched:\n  ${refused.join("\n  ")}`, journal);
    }

    const budget = failureBudget(spec.nodes.length, spec.maxFailPercentage);
    const failures: string[] = [];
    let gateFailure: string | undefined;
    const gate = spec.batchGate
        ? { ...spec.batchGate, baselineErrorRate: (await captureBaseline(spec.batchGate, spec.batchGate.pollSeconds)).errorRate }
        : undefined;
    let index = 0;
    let deployedAny = Object.values(journal.nodes).some((n) => n.status === "healthy");
    for (const [b, size] of batches.entries()) {
        const batch = spec.nodes.slice(index, index + size);
        index += size;
        const pending = batch.filter((n) => nextStep(journal.nodes[n.name]) !== "done");
        const results = await Promise.allSettled(pending.map((n, i) => deployNode(ctx, n, !deployedAny && i === 0)));
        deployedAny = true;
        results.forEach((r, i) => { if (r.status === "rejected") failures.push(`${pending[i].name}: ${(r.reason as Error).message}`); });
        if (failures.length > budget) break;
        if (b < batches.length - 1 && pending.length > 0) {
            await sleep(spec.pauseSeconds);
            if (gate) {
                const { record } = await runGate({ ...gate, stage: `${gate.stage}-after-batch-${b + 1}` });
                if (record.verdict !== "pass") { gateFailure = `health gate after batch ${b + 1}: ${record.reason}`; break; }
            }
        }
    }

    // Nodes that failed within the budget do not stay on a binary that never became healthy.
    if (failures.length <= budget && !gateFailure) {
        for (const n of spec.nodes.filter((x) => journal.nodes[x.name]?.status === "failed")) await restoreNode(ctx, n);
    }
    let failure = failures.length > budget ? `${failures.length} node(s) failed (budget ${budget}):\n  ${failures.join("\n  ")}` : gateFailure;
    if (!failure) {
        // Post-check: every node runs the version it was given.
        const reports = await Promise.allSettled(spec.nodes.filter((n) => journal.nodes[n.name]?.status === "healthy").map(async (n) => {
            const s = await connect(n, spec.privateKey);
            try {
                const out = (await s.exec(spec.versionCommand)).stdout.trim();
                if (!out.includes(spec.version)) throw new Error(`${n.name} reports "${out}"`);
            } finally { s.close(); }
        }));
        const wrong = reports.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => (r.reason as Error).message);
        if (wrong.length > 0) failure = `post-check: not every node reports ${spec.version}: ${wrong.join("; ")}`;
    }
    if (failure) {
        await restoreAll(spec, journal, onTransition);
        journal.concluded = "rolled-back";
        saveJournal(spec.journalPath, journal);
        const rec = record("rolled-back");
        appendRecord(spec.deploymentLog, rec);
        throw rolloutError(`node rollout of ${spec.version} failed; every touched node was restored from its backup.\n${failure}\n${table(spec, journal)}`, journal, rec);
    }
    journal.concluded = "deployed";
    saveJournal(spec.journalPath, journal);
    const rec = record("deployed");
    appendRecord(spec.deploymentLog, rec);
    return { journal, record: rec, batches };
}
