/**
 * The node-by-node rollout of seed 001 over SSH (SPEC §5):
 *   pre-checks on every node before touching any (host key, install folder, free disk, service, config parses,
 *   version before) and the fleet lock on every node
 *   → per batch (Ansible's `serial`), up to `forks` nodes at once, per node: backup (timestamped folder + `latest`
 *     link) → upload binary and config as `.new` → atomic rename + restart + grace + health poll + version check
 *   → a batch whose failures exceed `maxFailPercentage` of it stops new work; nodes in flight finish; then every
 *     touched node is restored from its backup, restarted and health-checked, and the rollout fails with a table
 *   → a node failing within the budget is restored at once; if its restore fails too, the rollout goes on but ends
 *     `restore-failed` (never `deployed`) and fails, as the abort path's does
 *   → a deployment record appended to the log, saying node by node what happened.
 *
 * Speed (issue 16): one SSH connection per node, kept for the whole rollout; one long-lived shell on it through
 * which every step runs (sshd starts the user's login shell once per node, not once per step — see
 * NodeSession.run); one SFTP session for the files and the lock heartbeat; each node's steps combined into three
 * commands (backup; upload; swap-restart-health-version) whose ends are the resume points.
 *
 * State: each node keeps its own (lib/nodes/nodeState.ts) — rollout stamp, step, version before — written by the
 * same command that does the step, so a rollout resumes from any machine.  The local journal is a cache of it.
 * Lifecycle: `interrupt()` is asked at every safe point (before a node starts, between its steps, between
 * batches); once it answers, the rollout starts nothing new, lets in-flight steps finish, leaves the journal and
 * every node's state accurate, and fails with an `interrupted` record.
 *
 * Paths and commands run in the node's shell inside double quotes, so they may use the node's environment.
 */
import { batchFailureBudget, formatNodeTable, NodeJournal, NodeStatus, nextStep, planBatches, RolloutJournal, RolloutOutcome, SerialEntry } from "./plan";
import { progressLine } from "../gate/progress";
import { captureBaseline, GateSpec, runGate } from "../gate/run";
import { connect, NodeAddress, NodeSession } from "./ssh";
import {
    HEARTBEAT_SECONDS, judgeLock, judgeUnsettled, LockOwner, NodeState, parseState, pidAlive, remotePaths, resumable, shellLiteral,
    unsettledError, writeStateCommand,
} from "./nodeState";

export interface RolloutSpec {
    version: string;
    nodes: NodeAddress[];
    privateKey: string;
    /** Local path of the new binary, and (optionally) of its config file. */
    binary: string;
    configFile?: string;
    /** sha256 of binary and config: part of the rollout's identity, so a changed file is a new rollout. */
    contentHash?: string;
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
    /** How many nodes of a batch are worked on at once (Ansible's `forks`); default 5. */
    forks?: number;
    /**
     * Acknowledged failed restores, `<node>@<stamp>` (nodes.clearRestoreFailed): a node whose last restore failed is
     * refused by every new rollout (nothing is touched) until the operator fixed it by hand and names exactly that
     * failure here; an acknowledged node must pass its health check before it is touched.
     */
    clearRestoreFailed?: string[];
    /**
     * Optional health gate between batches (the canary HealthGate's logic, lib/gate/run.ts): the service the nodes
     * serve must stay green for its bake before the next batch; a no-go restores every touched node.  The error-rate
     * baseline is measured before the first batch.
     */
    batchGate?: Omit<GateSpec, "baselineErrorRate">;
    /** Local files: the journal (a cache of the nodes' own state) and the deployment log (one JSON line per rollout). */
    journalPath: string;
    deploymentLog: string;
    operator: string;
}

export interface DeploymentRecord {
    date: string;
    version: string;
    status: RolloutOutcome;
    nodeCount: number;
    durationSeconds: number;
    operator: string;
    /** What happened to each node: its last status (`untouched` when this rollout never changed it). */
    nodes?: Record<string, string>;
    /** For anything but `deployed` and `restored`: what the operator does next. */
    next?: string;
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

export interface RolloutHooks {
    /** Called after every journaled transition (tests kill the process at one). */
    onTransition?: (node: string, status: NodeStatus) => void;
    /** Asked at every safe point: a reason to stop (the engine is gone), or undefined to go on. */
    interrupt?: () => string | undefined;
    /** Progress lines for the operator. */
    progress?: (line: string) => void;
}

const q = (path: string) => `"${path}"`;
const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

/** A stamp per rollout, used to name its backups: the same on a resume, different for the next rollout. */
export function rolloutStamp(startedAt: string): string {
    return startedAt.replace(/[-:TZ.]/g, "").slice(0, 14);
}

/** The identity of a rollout: what is installed where.  A node's state of another rollout is not resumed. */
export function rolloutIdOf(spec: Pick<RolloutSpec, "version" | "contentHash" | "nodes">): string {
    const { createHash } = require("crypto") as typeof import("crypto");
    return createHash("sha256").update(JSON.stringify([spec.version, spec.contentHash ?? "", spec.nodes.map((n) => `${n.name}@${n.host}:${n.port}`)]))
        .digest("hex").slice(0, 16);
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

/** Runs `work` over `items`, at most `limit` at once, starting a new item only while `mayStart()` says so. */
export async function forEachLimited<T>(items: T[], limit: number, mayStart: () => boolean, work: (item: T, index: number) => Promise<void>): Promise<void> {
    let next = 0;
    const worker = async () => {
        while (next < items.length && mayStart()) {
            const i = next++;
            await work(items[i], i);
        }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

/** What the pre-check found on a node, and the paths as its shell expands them. */
interface NodeInfo {
    bin: string;
    config?: string;
    backupPath: string;
    state?: NodeState;
    versionBefore: string;
    lock: string;
}

/**
 * The connections of one run: one per node, opened by the pre-check, kept until the end, reopened if dropped.
 * (A factory, not a class: class fields do not survive the dynamic provider's closure serialisation.)
 */
interface Fleet {
    info: Map<string, NodeInfo>;
    session(node: NodeAddress): Promise<NodeSession>;
    run(node: NodeAddress, what: string, command: string, timeoutMs?: number): Promise<string>;
    closeAll(): Promise<void>;
}

function openFleet(spec: RolloutSpec): Fleet {
    const sessions = new Map<string, Promise<NodeSession>>();
    const session = async (node: NodeAddress): Promise<NodeSession> => {
        const open = sessions.get(node.name);
        if (open) {
            const s = await open.catch(() => undefined);
            if (s && !s.closed) return s;
        }
        const fresh = connect(node, spec.privateKey, 30_000);
        sessions.set(node.name, fresh);
        fresh.catch(() => sessions.delete(node.name));
        return fresh;
    };
    return {
        info: new Map<string, NodeInfo>(),
        session,
        run: async (node, what, command, timeoutMs) => {
            const r = await (await session(node)).run(command, timeoutMs);
            if (r.code !== 0) throw new Error(`${node.name}: ${what} failed (exit ${r.code}): ${r.stdout.trim().slice(-500)}`);
            return r.stdout;
        },
        closeAll: async () => {
            for (const open of sessions.values()) (await open.catch(() => undefined))?.close();
            sessions.clear();
        },
    };
}

interface Ctx {
    spec: RolloutSpec;
    fleet: Fleet;
    journal: RolloutJournal;
    lockOwner: LockOwner;
    hooks: RolloutHooks;
}

function mark(ctx: Ctx, node: string, status: NodeStatus, extra: Partial<NodeJournal> = {}): void {
    const prev = ctx.journal.nodes[node];
    ctx.journal.nodes[node] = { ...prev, name: node, status, ...extra, at: new Date().toISOString() };
    saveJournal(ctx.spec.journalPath, ctx.journal);
    ctx.hooks.progress?.(`${node}: ${status}${extra.detail ? ` (${extra.detail})` : ""}`);
    ctx.hooks.onTransition?.(node, status);
}

/** Shell text for the node's state at `step`, from its journal entry. */
function stateCommand(ctx: Ctx, node: string, step: NodeStatus, extra: Partial<NodeState> = {}): string {
    const j = ctx.journal.nodes[node];
    const info = ctx.fleet.info.get(node)!;
    return writeStateCommand(remotePaths(info.backupPath, ctx.spec.serviceName).state, {
        rolloutId: ctx.journal.rolloutId, stamp: ctx.journal.stamp!, version: ctx.spec.version, step,
        backup: j?.backup, versionBefore: j?.versionBefore ?? info.versionBefore, at: new Date().toISOString(),
        ...(ctx.journal.aborting ? { aborting: ctx.journal.aborting } : {}), ...extra,
    });
}

/** Polls the node's health on the node itself (one command, not one round trip per poll). */
function healthLoop(spec: RolloutSpec, failCode: number): string {
    return [
        "i=0",
        `while ! ( ${spec.healthCommand} ) >/dev/null 2>&1; do`,
        `  i=$((i+1)); if [ "$i" -ge ${spec.healthRetries} ]; then echo "not healthy after ${spec.healthRetries} checks, ${spec.healthIntervalSeconds} s apart"; exit ${failCode}; fi`,
        `  sleep ${spec.healthIntervalSeconds}`,
        "done",
    ].join("\n");
}

function healthBudgetMs(spec: RolloutSpec, grace: number): number {
    // Generous on purpose: a deadline for a stuck command, not the health verdict (that is the retry count).
    return (grace + spec.healthRetries * (spec.healthIntervalSeconds + 30)) * 1000 + 120_000;
}

const TAG = (line: string, tag: string) => line.startsWith(`${tag} `) ? line.slice(tag.length + 1) : undefined;

async function precheck(ctx: Pick<Ctx, "spec" | "fleet" | "lockOwner">, node: NodeAddress): Promise<{ takeover?: string }> {
    const { spec, fleet } = ctx;
    const I = spec.installPath;
    const bin = `${I}/bin/${spec.serviceName}`;
    const config = spec.configFile ? `${I}/config/${(require("path") as typeof import("path")).basename(spec.configFile)}` : "";
    const paths = remotePaths(spec.backupPath, spec.serviceName);
    const owner = JSON.stringify(ctx.lockOwner);
    const out = await fleet.run(node, "pre-check", [
        `test -d ${q(I)} || { echo "ERR install folder ${I} does not exist"; exit 10; }`,
        `echo "FREEKB $(df -Pk ${q(I)} | awk 'NR==2 {print $4}')"`,
        `svc=$( ( ${spec.serviceCheckCommand} ) 2>&1 ) || { echo "ERR service ${spec.serviceName} check failed: $(printf '%s' "$svc" | tail -c 300)"; exit 11; }`,
        `echo "VERSION $( ( ${spec.versionCommand} ) 2>&1 | head -n 1)"`,
        `printf 'PATHS\\t%s\\t%s\\t%s\\n' ${q(bin)} ${q(config)} ${q(spec.backupPath)}`,
        `mkdir -p ${q(spec.backupPath)} || { echo "ERR cannot create ${spec.backupPath}"; exit 12; }`,
        `echo "STATE $(tr -d '\\n' < ${q(paths.state)} 2>/dev/null)"`,
        // The lock is a folder renamed into place with its owner inside: taking it is atomic, never half-made.
        `t=${q(paths.lock)}.$$; rm -rf "$t"; mkdir "$t" && printf '%s' ${shellLiteral(owner)} > "$t/owner" && echo ${Date.now()} > "$t/heartbeat"`,
        `if mv -T "$t" ${q(paths.lock)} 2>/dev/null; then echo "LOCK acquired"; else rm -rf "$t"; echo "LOCK held"`,
        `  echo "OWNER $(tr -d '\\n' < ${q(paths.lock + "/owner")} 2>/dev/null)"; echo "BEAT $(cat ${q(paths.lock + "/heartbeat")} 2>/dev/null)"; fi`,
    ].join("\n"), 60_000);
    const lines = out.split("\n");
    const get = (tag: string) => lines.map((l) => TAG(l, tag)).find((v) => v !== undefined);
    const freeKb = Number(get("FREEKB"));
    const [, binPath, configPath, backupPath] = (lines.find((l) => l.startsWith("PATHS\t")) ?? "").split("\t");
    fleet.info.set(node.name, {
        bin: binPath, config: configPath || undefined, backupPath, state: parseState(get("STATE")), versionBefore: get("VERSION") ?? "",
        lock: `${backupPath}/${paths.lock.slice(spec.backupPath.length + 1)}`,
    });
    let takeover: string | undefined;
    if (get("LOCK") === "held") {
        const verdict = judgeLock(get("OWNER"), get("BEAT"), { host: ctx.lockOwner.host }, Date.now(), pidAlive);
        if (verdict.verdict === "held") throw new Error(`${node.name}: another rollout is acting on this fleet: locked by ${verdict.why}`);
        // Stale: taken over, and said so.
        await fleet.run(node, "lock takeover", [
            `printf '%s' ${shellLiteral(owner)} > ${q(paths.lock + "/owner.tmp")} && mv -f ${q(paths.lock + "/owner.tmp")} ${q(paths.lock + "/owner")}`,
            `echo ${Date.now()} > ${q(paths.lock + "/heartbeat")}`,
        ].join(" && "));
        takeover = `${node.name}: took over a stale lock of ${verdict.why}`;
    }
    const needKb = spec.minFreeDiskGb * 1024 * 1024;
    if (!(freeKb >= needKb)) {
        throw new Error(`${node.name}: ${(freeKb / 1048576).toFixed(1)} GB free under ${spec.installPath}; at least ${spec.minFreeDiskGb} GB required`);
    }
    return { takeover };
}

/** Releases this run's lock (only if it still holds it) and, when the rollout ended, concludes the node's state. */
async function release(ctx: Ctx, node: NodeAddress, conclude: boolean): Promise<void> {
    const info = ctx.fleet.info.get(node.name);
    if (!info) return;
    const paths = remotePaths(info.backupPath, ctx.spec.serviceName);
    const j = ctx.journal.nodes[node.name];
    const lines = [
        `if grep -q ${shellLiteral(ctx.lockOwner.token)} ${q(paths.lock + "/owner")} 2>/dev/null; then rm -rf ${q(paths.lock)}; fi`,
    ];
    // A failed restore keeps when and why it failed on the node, for the refusal of the next rollout.
    const failure = j?.status === "restore-failed" ? { detail: j.detail, at: j.at } : {};
    if (conclude && j && j.status !== "pending") lines.unshift(`${stateCommand(ctx, node.name, j.status, { concluded: true, ...failure })} || true`);
    await ctx.fleet.run(node, "lock release", lines.join("\n"), 30_000).catch(() => undefined);
}

/** A stop at a safe point: not a node failure.  (A plain Error with a flag: subclasses do not survive serialisation.) */
const interruption = (why: string) => Object.assign(new Error(why), { interrupted: true });
const isInterruption = (e: unknown) => (e as { interrupted?: boolean } | undefined)?.interrupted === true;

async function deployNode(ctx: Ctx, node: NodeAddress, first: boolean): Promise<void> {
    const { spec, journal, fleet } = ctx;
    const info = fleet.info.get(node.name)!;
    const I = spec.installPath;
    const backup = `${info.backupPath}/${spec.serviceName}-${journal.stamp}`;
    const stop = () => { const why = ctx.hooks.interrupt?.(); if (why) throw interruption(why); };
    let step = nextStep(journal.nodes[node.name]);
    if (step === "backup") {
        stop();
        // Copy into .partial and rename: a kill mid-copy never leaves a half backup under the final name; a
        // backup this rollout already finished (killed before the journal said so) is kept, not redone.
        if (!journal.nodes[node.name]) journal.nodes[node.name] = { name: node.name, status: "pending", versionBefore: info.versionBefore, at: new Date().toISOString() };
        journal.nodes[node.name].backup = backup;
        await fleet.run(node, "backup", [
            `if [ ! -d ${q(backup)} ]; then rm -rf ${q(backup + ".partial")} && mkdir -p ${q(backup + ".partial")} &&`,
            `  cp -a ${q(I + "/.")} ${q(backup + ".partial/")} && mv ${q(backup + ".partial")} ${q(backup)}; fi &&`,
            `ln -sfn ${q(backup)} ${q(info.backupPath + "/latest")} &&`,
            stateCommand(ctx, node.name, "backed-up"),
        ].join("\n"));
        mark(ctx, node.name, "backed-up", { backup });
        step = "upload";
    }
    if (step === "upload") {
        stop();
        const s = await fleet.session(node);
        await s.upload(spec.binary, `${info.bin}.new`, 0o755);
        if (spec.configFile && info.config) await s.upload(spec.configFile, `${info.config}.new`, 0o644);
        mark(ctx, node.name, "uploaded");
        step = "switch";
    }
    if (step === "switch" || step === "restart") {
        stop();
        const grace = first ? spec.firstNodeGraceSeconds : spec.nodeGraceSeconds;
        const swap = step === "switch";
        // One command from the swap to the verdict: rename (atomic), say so on the node, restart, grace, health
        // poll, version check, and the node's state says how it ended.
        const r = await (await fleet.session(node)).run([
            ...(swap ? [
                `mv -f ${q(info.bin + ".new")} ${q(info.bin)} ${info.config ? `&& mv -f ${q(info.config + ".new")} ${q(info.config)}` : ""} || { echo "atomic rename failed"; exit 30; }`,
                stateCommand(ctx, node.name, "switched"),
                `echo "SWITCHED"`,
            ] : []),
            `out=$( ( ${spec.restartCommand} ) 2>&1 ) || { echo "restart failed: $out"; ${stateCommand(ctx, node.name, "failed")}; exit 31; }`,
            `sleep ${grace}`,
            healthLoop(spec, 32).replace(/exit 32/, `${stateCommand(ctx, node.name, "failed")}; exit 32`),
            `v=$( ( ${spec.versionCommand} ) 2>&1 | head -n 1)`,
            `case "$v" in *${shellLiteral(spec.version)}*) ;; *) echo "reports \\"$v\\", not ${spec.version}"; ${stateCommand(ctx, node.name, "failed")}; exit 33;; esac`,
            stateCommand(ctx, node.name, "healthy", { version: spec.version }),
        ].join("\n"), healthBudgetMs(spec, grace));
        if (swap && (r.code === 0 || r.stdout.includes("SWITCHED"))) mark(ctx, node.name, "switched");
        if (r.code !== 0) {
            const detail = r.stdout.replace("SWITCHED\n", "").trim().slice(-300);
            if (r.code === 30) throw new Error(`${node.name}: ${detail}`);
            mark(ctx, node.name, "failed", { detail });
            throw new Error(`${node.name}: ${detail}`);
        }
        mark(ctx, node.name, "healthy", { version: spec.version, detail: undefined });
    }
}

/** Puts one node back on its backup; `restored` only when it is healthy again and reports its version before. */
async function restoreNode(ctx: Ctx, node: NodeAddress): Promise<void> {
    const { spec } = ctx;
    const entry = ctx.journal.nodes[node.name];
    const I = spec.installPath;
    const before = entry.versionBefore;
    try {
        const r = await (await ctx.fleet.session(node)).run([
            `test -d ${q(entry.backup!)} || { echo "its backup ${entry.backup} is missing"; exit 40; }`,
            `rm -f ${q(I)}/bin/*.new ${q(I)}/config/*.new`,
            `cp -a ${q(entry.backup + "/.")} ${q(I + "/")} || { echo "copying the backup back failed"; exit 41; }`,
            `out=$( ( ${spec.restartCommand} ) 2>&1 ) || { echo "restart failed: $out"; exit 42; }`,
            `sleep ${spec.nodeGraceSeconds}`,
            healthLoop(spec, 43),
            `v=$( ( ${spec.versionCommand} ) 2>&1 | head -n 1)`,
            ...(before ? [`[ "$v" = ${shellLiteral(before)} ] || { echo "restored but reports \\"$v\\", not \\"${before.replace(/["`$\\]/g, "")}\\""; exit 44; }`] : []),
            stateCommand(ctx, node.name, "restored", { version: before }),
        ].join("\n"), healthBudgetMs(spec, spec.nodeGraceSeconds));
        if (r.code === 0) mark(ctx, node.name, "restored", { version: before ?? "previous", detail: `from ${entry.backup}` });
        else {
            // The node keeps what failed: a later rollout, from any machine, refuses it naming this (nodeState.ts).
            const detail = `restore: ${r.stdout.trim().slice(-300)}`;
            await ctx.fleet.run(node, "state", stateCommand(ctx, node.name, "restore-failed", { detail })).catch(() => undefined);
            mark(ctx, node.name, "restore-failed", { detail });
        }
    } catch (e) {
        const detail = `restore: ${(e as Error).message}`;
        await ctx.fleet.run(node, "state", stateCommand(ctx, node.name, "restore-failed", { detail }), 30_000).catch(() => undefined);
        mark(ctx, node.name, "restore-failed", { detail });
    }
}

function table(spec: RolloutSpec, journal: RolloutJournal): string {
    return formatNodeTable(spec.nodes.map((n) => {
        const j = journal.nodes[n.name];
        return { node: n.name, status: j?.status ?? "untouched", version: j?.version ?? (j ? "" : "previous"), detail: j?.detail ?? "" };
    }));
}

/** Nodes this rollout touched (backed up or further) that are not back on their backup yet. */
function touched(journal: RolloutJournal): string[] {
    return Object.values(journal.nodes).filter((n) => n.backup && n.status !== "pending" && n.status !== "restored").map((n) => n.name);
}

/** Restores every touched node, `forks` at a time, starting none once interrupted. */
async function restoreAll(ctx: Ctx): Promise<void> {
    const nodes = touched(ctx.journal).map((name) => ctx.spec.nodes.find((n) => n.name === name)).filter((n): n is NodeAddress => !!n);
    await forEachLimited(nodes, ctx.spec.forks ?? 5, () => !ctx.hooks.interrupt?.(), (n) => restoreNode(ctx, n));
}

function nextSteps(spec: RolloutSpec, journal: RolloutJournal, outcome: RolloutOutcome, why?: string): string | undefined {
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

function makeRecord(spec: RolloutSpec, journal: RolloutJournal, status: RolloutOutcome, started: number, why?: string): DeploymentRecord {
    const next = nextSteps(spec, journal, status, why);
    return {
        date: new Date().toISOString(), version: spec.version, status, nodeCount: spec.nodes.length,
        durationSeconds: Math.round((Date.now() - started) / 100) / 10, operator: spec.operator,
        nodes: Object.fromEntries(spec.nodes.map((n) => [n.name, journal.nodes[n.name]?.status ?? "untouched"])),
        ...(next ? { next } : {}),
    };
}

function hooksOf(h?: RolloutHooks | RolloutHooks["onTransition"]): RolloutHooks {
    return typeof h === "function" ? { onTransition: h } : h ?? {};
}

function newOwner(spec: RolloutSpec): LockOwner {
    const os = require("os") as typeof import("os");
    const { randomBytes } = require("crypto") as typeof import("crypto");
    return { token: randomBytes(12).toString("hex"), owner: spec.operator, host: os.hostname(), pid: process.pid, since: new Date().toISOString(), version: spec.version };
}

/** Pre-checks and locks every node (read-only but for the lock), at least 10 at once; throws before anything is touched. */
async function checkAll(ctx: Ctx): Promise<string[]> {
    const { spec } = ctx;
    const refused: string[] = [];
    const notes: string[] = [];
    await forEachLimited(spec.nodes, Math.max(spec.forks ?? 5, 10), () => true, async (n) => {
        try {
            const { takeover } = await precheck(ctx, n);
            if (takeover) { notes.push(takeover); ctx.hooks.progress?.(takeover); }
        } catch (e) {
            refused.push(`${n.name}: ${(e as Error).message}`);
        }
    });
    if (refused.length > 0) {
        throw new Error(`pre-checks failed, no node was touched:\n  ${refused.sort().join("\n  ")}`);
    }
    return notes;
}

/**
 * Refuses the whole rollout, before anything is touched, while any node is in an unknown state after a failed
 * restore (nodeState.ts judgeUnsettled) — not just that node: a fleet with a node on neither version is an incident,
 * and skipping it silently would end in a `deployed` record for a fleet that is not.  An acknowledged node must
 * pass its health check now, or it is refused too.
 */
async function refuseUnsettled(ctx: Ctx, rolloutId: string): Promise<void> {
    const { spec, fleet } = ctx;
    const acks = spec.clearRestoreFailed ?? [];
    const refused: { why: string; ack: string }[] = [];
    const used = new Set<string>();
    await forEachLimited(spec.nodes, Math.max(spec.forks ?? 5, 10), () => true, async (n) => {
        const verdict = judgeUnsettled(n.name, fleet.info.get(n.name)!.state, rolloutId, acks, spec);
        if (verdict.verdict === "clear") return;
        used.add(verdict.ack);
        if (verdict.verdict === "refused") { refused.push(verdict); return; }
        const check = await (await fleet.session(n)).run(`out=$( ( ${spec.healthCommand} ) 2>&1 ); rc=$?; printf '%s' "$out" | tail -c 300; exit $rc`, 60_000);
        if (check.code !== 0) {
            refused.push({ ack: verdict.ack, why: `${verdict.why}, but its health check fails now (${spec.healthCommand}: exit ${check.code}${check.stdout.trim() ? `, ${check.stdout.trim()}` : ""}): fix it by hand first` });
        } else ctx.hooks.progress?.(`${verdict.why}; healthy now: rolled out over what it runs (${fleet.info.get(n.name)!.versionBefore})`);
    });
    for (const a of acks.filter((x) => !used.has(x))) ctx.hooks.progress?.(`${a} in nodes.clearRestoreFailed matches no failed restore on the nodes (already cleared): it can be removed`);
    if (refused.length > 0) throw new Error(unsettledError(refused.sort((a, b) => a.why.localeCompare(b.why))));
}

/** Keeps this run's lock fresh on every node, over SFTP (never queued behind a running step). */
function heartbeat(ctx: Ctx): () => void {
    const timer = setInterval(() => {
        for (const n of ctx.spec.nodes) {
            const info = ctx.fleet.info.get(n.name);
            if (info) void ctx.fleet.session(n).then((s) => s.writeFile(`${info.lock}/heartbeat`, `${Date.now()}\n`)).catch(() => undefined);
        }
    }, HEARTBEAT_SECONDS * 1000);
    timer.unref();
    return () => clearInterval(timer);
}

/**
 * The gate between node batches, judged against the service as it was before the first batch: the spike check's error
 * rate and the latency CUSUM's p95, as a canary stage's gate is against its ErrorBaseline.
 */
export function batchGateSpec(batchGate: Omit<GateSpec, "baselineErrorRate">, baseline: { errorRate: number; p95Seconds?: number }): GateSpec {
    return { ...batchGate, baselineErrorRate: baseline.errorRate, ...(baseline.p95Seconds !== undefined ? { baselineP95Seconds: baseline.p95Seconds } : {}) };
}

export async function runRollout(spec: RolloutSpec, hooksOrTransition?: RolloutHooks | RolloutHooks["onTransition"]): Promise<RolloutResult> {
    const hooks = hooksOf(hooksOrTransition);
    const started = Date.now();
    const rolloutId = rolloutIdOf(spec);
    if (spec.configFile) checkConfigFile(spec.configFile);
    const fleet = openFleet(spec);
    const ctx: Ctx = { spec, fleet, hooks, lockOwner: newOwner(spec), journal: { rolloutId, version: spec.version, startedAt: new Date().toISOString(), nodes: {} } };
    let concluded = false;
    let stopBeat = () => undefined as void;
    try {
        await checkAll(ctx);
        await refuseUnsettled(ctx, rolloutId);
        stopBeat = heartbeat(ctx);
        // The nodes' own state decides where this rollout stands; the local journal only fills in what they lack.
        const cached = loadJournal(spec.journalPath);
        const local = cached && cached.rolloutId === rolloutId && !cached.concluded ? cached : undefined;
        const onNodes = spec.nodes.map((n) => fleet.info.get(n.name)!.state).filter((s): s is NodeState => resumable(s, rolloutId));
        const journal = ctx.journal;
        if (onNodes.length > 0) {
            journal.stamp = onNodes[0].stamp;
            journal.startedAt = local?.startedAt ?? onNodes[0].at;
            for (const n of spec.nodes) {
                const s = fleet.info.get(n.name)!.state;
                if (resumable(s, rolloutId)) {
                    journal.nodes[n.name] = { name: n.name, status: s.step, backup: s.backup, versionBefore: s.versionBefore, at: s.at, ...(s.step === "healthy" ? { version: s.version } : {}) };
                }
            }
            journal.aborting = onNodes.find((s) => s.aborting)?.aborting ?? local?.aborting;
            hooks.progress?.(`resuming rollout ${rolloutId} of ${spec.version} (stamp ${journal.stamp}) from the nodes' own state${local ? "" : " (no local journal)"}`);
        } else if (local) {
            // Nodes say nothing of this rollout (none was touched yet): keep the cached start only.
            journal.startedAt = local.startedAt;
            journal.stamp = local.stamp;
        }
        journal.stamp ??= rolloutStamp(journal.startedAt);
        saveJournal(spec.journalPath, journal);

        const batches = planBatches(spec.serial, spec.nodes.length);
        const forks = spec.forks ?? 5;
        const failures: string[] = [];
        // A rollout that had failed and was restoring when it stopped finishes its restore, never its deploy.
        let abort: string | undefined = journal.aborting ? `resumed the restore of a failed rollout: ${journal.aborting}` : undefined;
        let interrupted: string | undefined;
        const gate = spec.batchGate ? batchGateSpec(spec.batchGate, await captureBaseline(spec.batchGate, spec.batchGate.pollSeconds)) : undefined;
        let index = 0;
        let deployedAny = Object.values(journal.nodes).some((n) => n.status === "healthy");
        for (const [b, size] of abort ? [] : batches.entries()) {
            const batch = spec.nodes.slice(index, index + size);
            index += size;
            const pending = batch.filter((n) => nextStep(journal.nodes[n.name]) !== "done");
            const budget = batchFailureBudget(size, spec.maxFailPercentage);
            let failedInBatch = batch.filter((n) => journal.nodes[n.name]?.status === "restore-failed").length;
            if (pending.length > 0) hooks.progress?.(`batch ${b + 1}/${batches.length}: ${pending.map((n) => n.name).join(", ")} (forks ${forks}, may fail ${budget})`);
            const firstOfAll = !deployedAny;
            await forEachLimited(pending, forks, () => !abort && !(interrupted ??= hooks.interrupt?.()), async (n, i) => {
                try {
                    await deployNode(ctx, n, firstOfAll && i === 0);
                } catch (e) {
                    if (isInterruption(e)) { interrupted ??= (e as Error).message; return; }
                    failures.push(`${n.name}: ${(e as Error).message.replace(`${n.name}: `, "")}`);
                    failedInBatch++;
                    // Past the batch's budget: no new node starts; those in flight finish, then all are restored.
                    if (failedInBatch > budget) abort ??= `${failedInBatch} of ${size} node(s) in batch ${b + 1} failed (more than ${spec.maxFailPercentage} %):\n  ${failures.join("\n  ")}`;
                    // Within it: this node does not stay on a binary that never became healthy.
                    else if (journal.nodes[n.name]?.backup) await restoreNode(ctx, n);
                }
            });
            deployedAny = deployedAny || pending.length > 0;
            if (abort || interrupted) break;
            if (b < batches.length - 1 && pending.length > 0) {
                await sleep(spec.pauseSeconds);
                if ((interrupted = hooks.interrupt?.())) break;
                if (gate) {
                    // A progress line per sample, as every watching gate prints (lib/gate/progress.ts).
                    const gateStage = `${gate.stage}-after-batch-${b + 1}`;
                    const gateStarted = Date.now();
                    const { record } = await runGate({ ...gate, stage: gateStage }, undefined, (sample, bake) => {
                        const now = Date.now();
                        console.log(progressLine(gateStage, "between node batches", sample, bake,
                            gateStarted + gate.bakeSeconds * 1000 - now, gateStarted + gate.deadlineSeconds * 1000 - now));
                    });
                    if (record.verdict !== "pass") { abort = `health gate after batch ${b + 1}: ${record.reason}`; break; }
                }
            }
        }

        if (interrupted) {
            saveJournal(spec.journalPath, journal);
            const rec = makeRecord(spec, journal, "interrupted", started, `stopped: ${interrupted}`);
            appendRecord(spec.deploymentLog, rec);
            throw rolloutError(`node rollout of ${spec.version} stopped at a safe point: ${interrupted}.\n${rec.next}\n${table(spec, journal)}`, journal, rec);
        }
        if (abort) {
            // Said on every touched node first: a run resumed anywhere finishes this restore.
            journal.aborting ??= abort.split("\n")[0];
            saveJournal(spec.journalPath, journal);
            await forEachLimited(touched(journal), Math.max(forks, 10), () => true, (name) =>
                fleet.run(spec.nodes.find((n) => n.name === name)!, "state", stateCommand(ctx, name, journal.nodes[name].status)).then(() => undefined, () => undefined));
            await restoreAll(ctx);
            const why = hooks.interrupt?.();
            const left = touched(journal);
            const outcome: RolloutOutcome = why && left.some((n) => journal.nodes[n].status !== "restore-failed") ? "interrupted" : left.length > 0 ? "restore-failed" : "rolled-back";
            concluded = outcome !== "interrupted";
            if (concluded) journal.concluded = outcome as Exclude<RolloutOutcome, "interrupted">;
            saveJournal(spec.journalPath, journal);
            const rec = makeRecord(spec, journal, outcome, started, why && `stopped while restoring: ${why}`);
            appendRecord(spec.deploymentLog, rec);
            const head = outcome === "rolled-back"
                ? `node rollout of ${spec.version} failed; every touched node was restored from its backup and is healthy.`
                : outcome === "restore-failed"
                    ? `node rollout of ${spec.version} failed, and restoring ${left.join(", ")} failed too: they are NOT on their previous version.`
                    : `node rollout of ${spec.version} failed and its restore stopped at a safe point: ${why}.`;
            throw rolloutError(`${head}\n${abort}\n${rec.next ? `next: ${rec.next}\n` : ""}${table(spec, journal)}`, journal, rec);
        }
        // A node that failed within the budget was restored at once; if that restore failed too, the node runs
        // neither version and the record says so (restore-failed, not deployed), as the abort path's does.
        const unrestored = spec.nodes.filter((n) => journal.nodes[n.name]?.status === "restore-failed").map((n) => n.name);
        const outcome = unrestored.length > 0 ? "restore-failed" : "deployed";
        journal.concluded = outcome;
        concluded = true;
        saveJournal(spec.journalPath, journal);
        const rec = makeRecord(spec, journal, outcome, started);
        appendRecord(spec.deploymentLog, rec);
        if (outcome === "restore-failed") {
            const them = unrestored.length === 1 ? "it is" : "they are";
            throw rolloutError(`node rollout of ${spec.version}: ${unrestored.join(", ")} failed within the maxFailPercentage budget (${spec.maxFailPercentage} %) ` +
                `and restoring ${unrestored.length === 1 ? "it" : "them"} failed too: ${them} NOT on ${unrestored.length === 1 ? "its" : "their"} previous version; ` +
                `every other node runs ${spec.version} or was restored.${failures.map((f) => `\n  ${f}`).join("")}\nnext: ${rec.next}\n${table(spec, journal)}`, journal, rec);
        }
        return { journal, record: rec, batches };
    } finally {
        stopBeat();
        await forEachLimited(spec.nodes, Math.max(spec.forks ?? 5, 10), () => true, (n) => release(ctx, n, concluded));
        await fleet.closeAll();
    }
}

/** `pulumi destroy` of a rollout: every node it deployed goes back to its backup; a record says how that went. */
export async function undoRollout(spec: RolloutSpec, journal: RolloutJournal, hooks: RolloutHooks = {}): Promise<{ journal: RolloutJournal; record: DeploymentRecord }> {
    const started = Date.now();
    const fleet = openFleet(spec);
    const ctx: Ctx = { spec, fleet, hooks, journal, lockOwner: newOwner(spec) };
    journal.stamp ??= rolloutStamp(journal.startedAt);
    let concluded = false;
    try {
        // Only the touched nodes are locked and restored; the rest are left alone.
        const nodes = touched(journal);
        ctx.spec = { ...spec, nodes: spec.nodes.filter((n) => nodes.includes(n.name)) };
        // Reachable, pinned, locked: that is all a restore needs (a broken service is why one restores).
        await checkAll({ ...ctx, spec: { ...ctx.spec, minFreeDiskGb: 0, serviceCheckCommand: "true" } });
        ctx.spec = spec;
        await restoreAll(ctx);
        const why = hooks.interrupt?.();
        const left = touched(journal);
        const outcome: RolloutOutcome = left.length === 0 ? "restored" : why && left.some((n) => journal.nodes[n].status !== "restore-failed") ? "interrupted" : "restore-failed";
        concluded = outcome !== "interrupted";
        if (concluded) journal.concluded = outcome as Exclude<RolloutOutcome, "interrupted">;
        saveJournal(spec.journalPath, journal);
        const record = makeRecord(spec, journal, outcome, started, why && `stopped while restoring: ${why}`);
        appendRecord(spec.deploymentLog, record);
        if (outcome !== "restored") {
            throw rolloutError(`restoring the nodes of ${spec.version} did not finish (${outcome}) on ${left.join(", ")}:\nnext: ${record.next}\n${table(spec, journal)}`, journal, record);
        }
        return { journal, record };
    } finally {
        await forEachLimited(spec.nodes, Math.max(spec.forks ?? 5, 10), () => true, (n) => release(ctx, n, concluded));
        await fleet.closeAll();
    }
}
