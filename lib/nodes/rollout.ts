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
 * The folder: script.ts (the shell text each step runs: pure), journal.ts (the local journal, the rollout's identity,
 * its resume and its record), nodeState.ts (what each node keeps, and the lock), plan.ts (batches and budgets), and
 * this file, which runs them: fleet, pre-checks, batches, and conclude() — the one way every run ends.
 */
import { progressLine } from "../gate/progress";
import { captureBaseline, GateSpec, runGate } from "../gate/run";
import { appendRecord, NodeRolloutRecord } from "../records/record";
import { loadJournal, nodeRolloutRecord, nodeTable, resume, rolloutIdOf, rolloutStamp, saveJournal, touched } from "./journal";
import { batchFailureBudget, NodeJournal, NodeStatus, nextStep, planBatches, RolloutJournal, RolloutOutcome, SerialEntry } from "./plan";
import { backupScript, healthBudgetMs, ScriptSpec, healthCheckScript, lockTakeoverScript, parsePrecheck, precheckScript, releaseScript, restoreScript, StateWriter, switchScript } from "./script";
import { connect, NodeAddress, NodeSession } from "./ssh";
import { keyFingerprint, PublicKey, signerOf } from "../signatures/keys";
import { NODE_OPENSSL_MISSING, NODE_SIGNATURE_REFUSED, nodeRefusal, nodeSignaturePaths, nodeSigner } from "../signatures/node";
import {
    HEARTBEAT_SECONDS, classifyLock, settlementOf, LockOwner, NodeState, parseState, pidAlive, remotePaths, unsettledError, writeStateCommand,
} from "./nodeState";

// Moved to journal.ts; re-exported for the provider, the tests and scripts/bench-node-rollout.ts.
export { loadJournal, rolloutIdOf, rolloutStamp };

/** The rollout: what the scripts use (ScriptSpec, lib/nodes/script.ts) plus where, how many at once and how it is judged. */
export interface RolloutSpec extends ScriptSpec {
    nodes: NodeAddress[];
    privateKey: string;
    /** Local path of the new binary, and (optionally) of its config file. */
    binary: string;
    configFile?: string;
    /** sha256 of binary and config: part of the rollout's identity, so a changed file is a new rollout. */
    contentHash?: string;
    firstNodeGraceSeconds: number;
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
    /**
     * A signed release (speculation:signing, docs/signing.md): the binary's detached signature (the base64 file
     * `cosign sign-blob --output-signature` writes) and the keys it may verify with.  Checked here before any node is
     * touched, and on every node after the upload and before the swap (openssl), where a refusal leaves the node as it was.
     */
    signature?: { file: string; keys: PublicKey[] };
    /** Local files: the journal (a cache of the nodes' own state) and the deployment log (one JSON line per rollout). */
    journalPath: string;
    deploymentLog: string;
    operator: string;
}

export interface RolloutResult {
    journal: RolloutJournal;
    record: NodeRolloutRecord;
    batches: number[];
}

export type RolloutError = Error & { journal: RolloutJournal; record?: NodeRolloutRecord };

/** A plain Error carrying the journal (a subclass of Error loses its message in a serialised dynamic provider). */
export function rolloutError(message: string, journal: RolloutJournal, record?: NodeRolloutRecord): RolloutError {
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

const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

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
    /** When this run began (Date.now()): the record's duration runs from here. */
    startedMs: number;
    /** Set by conclude() alone: how this run ended.  Once set, and not `interrupted`, releasing a node concludes its state. */
    outcome?: RolloutOutcome;
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

/** The state writer the scripts take (script.ts's StateWriter), for one node. */
const stateOf = (ctx: Ctx, node: string): StateWriter => (step, extra) => stateCommand(ctx, node, step, extra);

async function precheck(ctx: Pick<Ctx, "spec" | "fleet" | "lockOwner">, node: NodeAddress): Promise<{ takeover?: string }> {
    const { spec, fleet } = ctx;
    const paths = remotePaths(spec.backupPath, spec.serviceName);
    const owner = JSON.stringify(ctx.lockOwner);
    const out = await fleet.run(node, "pre-check", precheckScript(spec, {
        bin: `${spec.installPath}/bin/${spec.serviceName}`,
        config: spec.configFile ? `${spec.installPath}/config/${(require("path") as typeof import("path")).basename(spec.configFile)}` : "",
        ...paths,
    }, owner, Date.now(), spec.signature !== undefined), 60_000);
    const found = parsePrecheck(out);
    fleet.info.set(node.name, {
        bin: found.bin, config: found.config, backupPath: found.backupPath, state: parseState(found.state), versionBefore: found.versionBefore,
        lock: `${found.backupPath}/${paths.lock.slice(spec.backupPath.length + 1)}`,
    });
    let takeover: string | undefined;
    if (found.lock === "held") {
        const verdict = classifyLock(found.owner, found.beat, { host: ctx.lockOwner.host }, Date.now(), pidAlive);
        if (verdict.verdict === "held") throw new Error(`${node.name}: another rollout is acting on this fleet: locked by ${verdict.why}`);
        // Stale: taken over, and said so.
        await fleet.run(node, "lock takeover", lockTakeoverScript(paths.lock, owner, Date.now()));
        takeover = `${node.name}: took over a stale lock of ${verdict.why}`;
    }
    const needKb = spec.minFreeDiskGb * 1024 * 1024;
    if (!(found.freeKb >= needKb)) {
        throw new Error(`${node.name}: ${(found.freeKb / 1048576).toFixed(1)} GB free under ${spec.installPath}; at least ${spec.minFreeDiskGb} GB required`);
    }
    return { takeover };
}

/** Releases this run's lock (only if it still holds it) and, when the run concluded, concludes the node's state. */
async function release(ctx: Ctx, node: NodeAddress): Promise<void> {
    const info = ctx.fleet.info.get(node.name);
    if (!info) return;
    const paths = remotePaths(info.backupPath, ctx.spec.serviceName);
    const j = ctx.journal.nodes[node.name];
    const concluded = ctx.outcome !== undefined && ctx.outcome !== "interrupted";
    // A failed restore keeps when and why it failed on the node, for the refusal of the next rollout.
    const failure = j?.status === "restore-failed" ? { detail: j.detail, at: j.at } : {};
    const conclude = concluded && j && j.status !== "pending" ? stateCommand(ctx, node.name, j.status, { concluded: true, ...failure }) : undefined;
    await ctx.fleet.run(node, "lock release", releaseScript(paths.lock, ctx.lockOwner.token, conclude), 30_000).catch(() => undefined);
}

/** A stop at a safe point: not a node failure.  (A plain Error with a flag: subclasses do not survive serialisation.) */
const interruption = (why: string) => Object.assign(new Error(why), { interrupted: true });
const isInterruption = (e: unknown) => (e as { interrupted?: boolean } | undefined)?.interrupted === true;
/** A node refused the uploaded binary before the swap (its signature did not verify there): the rollout stops. */
const isRefusal = (e: unknown) => (e as { refused?: boolean } | undefined)?.refused === true;

/** The keys as the node's check names them. */
const signatureCheck = (spec: RolloutSpec) => spec.signature
    ? { keys: spec.signature.keys.map((k) => ({ name: k.name, fingerprint: keyFingerprint(k.pem) })) } : undefined;

/**
 * Before any node is touched: the binary's signature verifies under one of the keys here, on this machine (the same
 * ECDSA check as cosign verify-blob and the nodes' openssl).  The verification step checked it with cosign before this
 * resource ran; this holds a file changed since.
 */
function checkSignatureHere(spec: RolloutSpec): void {
    if (!spec.signature) return;
    const fs = require("fs") as typeof import("fs");
    const { createHash } = require("crypto") as typeof import("crypto");
    const data = fs.readFileSync(spec.binary);
    const sum = createHash("sha256").update(data).digest("hex");
    let signature = "";
    try { signature = fs.readFileSync(spec.signature.file, "utf8"); } catch { /* missing: refused below */ }
    const keys = spec.signature.keys.map((k) => `${k.name} (${keyFingerprint(k.pem)})`).join(", ");
    if (!signature.trim()) {
        throw new Error(`pre-checks failed, no node was touched: the binary ${spec.binary} (sha256:${sum}) is unsigned: ${spec.signature.file} is missing or empty (expected a signature from ${keys})`);
    }
    if (!signerOf(data, signature, spec.signature.keys)) {
        throw new Error(`pre-checks failed, no node was touched: the binary ${spec.binary} (sha256:${sum}): ${spec.signature.file} verifies with none of ${keys} (signed by another key, or the file changed after it was signed)`);
    }
}

async function deployNode(ctx: Ctx, node: NodeAddress, first: boolean): Promise<void> {
    const { spec, journal, fleet } = ctx;
    const info = fleet.info.get(node.name)!;
    const backup = `${info.backupPath}/${spec.serviceName}-${journal.stamp}`;
    const state = stateOf(ctx, node.name);
    const stop = () => { const why = ctx.hooks.interrupt?.(); if (why) throw interruption(why); };
    let step = nextStep(journal.nodes[node.name]);
    if (step === "backup") {
        stop();
        if (!journal.nodes[node.name]) journal.nodes[node.name] = { name: node.name, status: "pending", versionBefore: info.versionBefore, at: new Date().toISOString() };
        journal.nodes[node.name].backup = backup;
        await fleet.run(node, "backup", backupScript(spec.installPath, backup, info.backupPath, state));
        mark(ctx, node.name, "backed-up", { backup });
        step = "upload";
    }
    if (step === "upload") {
        stop();
        const s = await fleet.session(node);
        await s.upload(spec.binary, `${info.bin}.new`, 0o755);
        if (spec.signature) {
            // The detached signature (DER, as openssl reads it) and the keys, beside the upload: the node checks them before the swap.
            const fs = require("fs") as typeof import("fs");
            const files = nodeSignaturePaths(`${info.bin}.new`, spec.signature.keys.length);
            await s.writeFile(files.signature, Buffer.from(fs.readFileSync(spec.signature.file, "utf8").trim(), "base64"));
            for (const [i, k] of spec.signature.keys.entries()) await s.writeFile(files.keys[i], k.pem);
        }
        if (spec.configFile && info.config) await s.upload(spec.configFile, `${info.config}.new`, 0o644);
        mark(ctx, node.name, "uploaded");
        step = "switch";
    }
    if (step === "switch" || step === "restart") {
        stop();
        const grace = first ? spec.firstNodeGraceSeconds : spec.nodeGraceSeconds;
        const swap = step === "switch";
        const r = await (await fleet.session(node)).run(switchScript(spec, info, swap, grace, state, signatureCheck(spec)), healthBudgetMs(spec, grace));
        if (swap && (r.code === NODE_SIGNATURE_REFUSED || r.code === NODE_OPENSSL_MISSING)) {
            // Nothing was renamed or restarted and the upload is gone: the node runs what it ran, nothing to restore.
            const detail = nodeRefusal(r.stdout) ?? r.stdout.trim().slice(-300);
            mark(ctx, node.name, "refused", { detail });
            throw Object.assign(new Error(`${node.name}: ${detail}`), { refused: true });
        }
        if (swap && (r.code === 0 || r.stdout.includes("SWITCHED"))) mark(ctx, node.name, "switched");
        if (r.code !== 0) {
            const detail = r.stdout.replace("SWITCHED\n", "").trim().slice(-300);
            if (r.code === 30) throw new Error(`${node.name}: ${detail}`);
            mark(ctx, node.name, "failed", { detail });
            throw new Error(`${node.name}: ${detail}`);
        }
        const signer = nodeSigner(r.stdout);
        mark(ctx, node.name, "healthy", { version: spec.version, detail: signer ? `signature verified on the node: ${signer}` : undefined });
    }
}

/** Puts one node back on its backup; `restored` only when it is healthy again and reports its version before. */
async function restoreNode(ctx: Ctx, node: NodeAddress): Promise<void> {
    const { spec } = ctx;
    const entry = ctx.journal.nodes[node.name];
    const before = entry.versionBefore;
    const state = stateOf(ctx, node.name);
    try {
        const r = await (await ctx.fleet.session(node)).run(restoreScript(spec, entry.backup!, before, state), healthBudgetMs(spec, spec.nodeGraceSeconds));
        if (r.code === 0) mark(ctx, node.name, "restored", { version: before ?? "previous", detail: `from ${entry.backup}` });
        else {
            // The node keeps what failed: a later rollout, from any machine, refuses it naming this (nodeState.ts).
            const detail = `restore: ${r.stdout.trim().slice(-300)}`;
            await ctx.fleet.run(node, "state", state("restore-failed", { detail })).catch(() => undefined);
            mark(ctx, node.name, "restore-failed", { detail });
        }
    } catch (e) {
        const detail = `restore: ${(e as Error).message}`;
        await ctx.fleet.run(node, "state", state("restore-failed", { detail }), 30_000).catch(() => undefined);
        mark(ctx, node.name, "restore-failed", { detail });
    }
}

/** Restores every touched node, `forks` at a time, starting none once interrupted. */
async function restoreAll(ctx: Ctx): Promise<void> {
    const nodes = touched(ctx.journal).map((name) => ctx.spec.nodes.find((n) => n.name === name)).filter((n): n is NodeAddress => !!n);
    await forEachLimited(nodes, ctx.spec.forks ?? 5, () => !ctx.hooks.interrupt?.(), (n) => restoreNode(ctx, n));
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
async function checkAll(ctx: Pick<Ctx, "spec" | "fleet" | "lockOwner" | "hooks">): Promise<string[]> {
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
 * restore (nodeState.ts settlementOf) — not just that node: a fleet with a node on neither version is an incident,
 * and skipping it silently would end in a `deployed` record for a fleet that is not.  An acknowledged node must
 * pass its health check now, or it is refused too.
 */
async function refuseUnsettled(ctx: Ctx, rolloutId: string): Promise<void> {
    const { spec, fleet } = ctx;
    const acks = spec.clearRestoreFailed ?? [];
    const refused: { why: string; ack: string }[] = [];
    const used = new Set<string>();
    await forEachLimited(spec.nodes, Math.max(spec.forks ?? 5, 10), () => true, async (n) => {
        const verdict = settlementOf(n.name, fleet.info.get(n.name)!.state, rolloutId, acks, spec);
        if (verdict.verdict === "clear") return;
        used.add(verdict.ack);
        if (verdict.verdict === "refused") { refused.push(verdict); return; }
        const check = await (await fleet.session(n)).run(healthCheckScript(spec), 60_000);
        if (check.code !== 0) {
            refused.push({ ack: verdict.ack, why: `${verdict.why}, but its health check fails now (${spec.healthCommand}: exit ${check.code}${check.stdout.trim() ? `, ${check.stdout.trim()}` : ""}): fix it by hand first` });
        } else ctx.hooks.progress?.(`${verdict.why}; healthy now: rolled out over what it runs (${fleet.info.get(n.name)!.versionBefore})`);
    });
    for (const a of acks.filter((x) => !used.has(x))) ctx.hooks.progress?.(`${a} in nodes.clearRestoreFailed matches no failed restore on the nodes (already cleared): it can be removed`);
    if (refused.length > 0) throw new Error(unsettledError(refused.sort((a, b) => a.why.localeCompare(b.why))));
}

/** Keeps this run's lock fresh on every node, over SFTP (never queued behind a running step).  Returns its stop. */
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

/** Runs the gate after batch `b` (0-based), a progress line per sample as every watching gate prints; the no-go's reason, if any. */
async function gateAfterBatch(gate: GateSpec, b: number): Promise<string | undefined> {
    const gateStage = `${gate.stage}-after-batch-${b + 1}`;
    const gateStarted = Date.now();
    const { record } = await runGate({ ...gate, stage: gateStage }, undefined, (sample, bake) => {
        const now = Date.now();
        console.log(progressLine(gateStage, "between node batches", sample, bake,
            gateStarted + gate.bakeSeconds * 1000 - now, gateStarted + gate.deadlineSeconds * 1000 - now));
    });
    return record.verdict !== "pass" ? `health gate after batch ${b + 1}: ${record.reason}` : undefined;
}

/** How the batches ended: every node done, or stopped (`abort`: a failure past its budget or a gate's no-go; `interrupted`: a safe point). */
interface BatchesRun { failures: string[]; abort?: string; interrupted?: string }

/**
 * Deploys batch after batch, up to `forks` nodes of a batch at once.  A node failing within its batch's budget is
 * restored at once; past the budget no new node starts, those in flight finish, and the run stops to restore all.
 */
async function deployBatches(ctx: Ctx, batches: number[], gate: GateSpec | undefined): Promise<BatchesRun> {
    const { spec, journal, hooks } = ctx;
    const forks = spec.forks ?? 5;
    const failures: string[] = [];
    const stop: { abort?: string; interrupted?: string } = {};
    let index = 0;
    let deployedAny = Object.values(journal.nodes).some((n) => n.status === "healthy");
    for (const [b, size] of batches.entries()) {
        const batch = spec.nodes.slice(index, index + size);
        index += size;
        const pending = batch.filter((n) => nextStep(journal.nodes[n.name]) !== "done");
        const budget = batchFailureBudget(size, spec.maxFailPercentage);
        let failedInBatch = batch.filter((n) => journal.nodes[n.name]?.status === "restore-failed").length;
        if (pending.length > 0) hooks.progress?.(`batch ${b + 1}/${batches.length}: ${pending.map((n) => n.name).join(", ")} (forks ${forks}, may fail ${budget})`);
        const firstOfAll = !deployedAny;
        await forEachLimited(pending, forks, () => !stop.abort && !(stop.interrupted ??= hooks.interrupt?.()), async (n, i) => {
            try {
                await deployNode(ctx, n, firstOfAll && i === 0);
            } catch (e) {
                if (isInterruption(e)) { stop.interrupted ??= (e as Error).message; return; }
                failures.push(`${n.name}: ${(e as Error).message.replace(`${n.name}: `, "")}`);
                // A binary a node refused is not a node failure within a budget: whatever changed it since it was
                // verified may have reached the others.  No new node starts, whatever maxFailPercentage allows.
                if (isRefusal(e)) {
                    stop.abort ??= `${n.name} refused the binary before the swap (its signature did not verify on the node); no other node starts:\n  ${failures.join("\n  ")}`;
                    return;
                }
                failedInBatch++;
                // Past the batch's budget: no new node starts; those in flight finish, then all are restored.
                if (failedInBatch > budget) stop.abort ??= `${failedInBatch} of ${size} node(s) in batch ${b + 1} failed (more than ${spec.maxFailPercentage} %):\n  ${failures.join("\n  ")}`;
                // Within it: this node does not stay on a binary that never became healthy.
                else if (journal.nodes[n.name]?.backup) await restoreNode(ctx, n);
            }
        });
        deployedAny = deployedAny || pending.length > 0;
        if (stop.abort || stop.interrupted) break;
        if (b < batches.length - 1 && pending.length > 0) {
            await sleep(spec.pauseSeconds);
            if ((stop.interrupted = hooks.interrupt?.())) break;
            if (gate && (stop.abort = await gateAfterBatch(gate, b))) break;
        }
    }
    return { failures, ...stop };
}

/**
 * How every run ends, in one place: the outcome goes into the journal (unless `interrupted`: a later run resumes),
 * the journal is saved, and the record (`why`: what stopped it) is appended to the deployment log.
 */
function conclude(ctx: Ctx, outcome: RolloutOutcome, why?: string): NodeRolloutRecord {
    const { spec, journal } = ctx;
    ctx.outcome = outcome;
    if (outcome !== "interrupted") journal.concluded = outcome;
    saveJournal(spec.journalPath, journal);
    const record = nodeRolloutRecord(spec, journal, outcome, ctx.startedMs, why);
    appendRecord(spec.deploymentLog, record);
    return record;
}

/** Concludes a run that did not deploy (or restore) every node, and throws the rollout error `message` builds from its record. */
function concludeFailed(ctx: Ctx, outcome: RolloutOutcome, why: string | undefined, message: (record: NodeRolloutRecord) => string): never {
    const record = conclude(ctx, outcome, why);
    throw rolloutError(message(record), ctx.journal, record);
}

/**
 * After a failure past its budget or a gate's no-go: says so on every touched node first (a run resumed anywhere
 * finishes this restore), restores them all, and concludes rolled-back, restore-failed or (stopped) interrupted.
 */
async function abortAndRestore(ctx: Ctx, abort: string): Promise<never> {
    const { spec, journal, fleet, hooks } = ctx;
    journal.aborting ??= abort.split("\n")[0];
    saveJournal(spec.journalPath, journal);
    await forEachLimited(touched(journal), Math.max(spec.forks ?? 5, 10), () => true, (name) =>
        fleet.run(spec.nodes.find((n) => n.name === name)!, "state", stateCommand(ctx, name, journal.nodes[name].status)).then(() => undefined, () => undefined));
    await restoreAll(ctx);
    const why = hooks.interrupt?.();
    const left = touched(journal);
    const outcome: RolloutOutcome = why && left.some((n) => journal.nodes[n].status !== "restore-failed") ? "interrupted" : left.length > 0 ? "restore-failed" : "rolled-back";
    const head = outcome === "rolled-back"
        ? `node rollout of ${spec.version} failed; every touched node was restored from its backup and is healthy.`
        : outcome === "restore-failed"
            ? `node rollout of ${spec.version} failed, and restoring ${left.join(", ")} failed too: they are NOT on their previous version.`
            : `node rollout of ${spec.version} failed and its restore stopped at a safe point: ${why}.`;
    return concludeFailed(ctx, outcome, why && `stopped while restoring: ${why}`,
        (rec) => `${head}\n${abort}\n${rec.next ? `next: ${rec.next}\n` : ""}${nodeTable(spec.nodes, journal)}`);
}

/** Runs `run` on the fleet; however it ends, releases every lock this run took (concluding each node's state once the run concluded) and closes every connection. */
async function withFleet<T>(ctx: Ctx, run: () => Promise<T>): Promise<T> {
    try {
        return await run();
    } finally {
        await forEachLimited(ctx.spec.nodes, Math.max(ctx.spec.forks ?? 5, 10), () => true, (n) => release(ctx, n));
        await ctx.fleet.closeAll();
    }
}

/**
 * One `pulumi up` of the nodes: pre-checks and locks every node, refuses a fleet with an unsettled node, resumes
 * where the nodes say this rollout stands, deploys batch by batch (gated between batches when configured), and
 * concludes: deployed, rolled back, restore-failed or interrupted (conclude()).
 */
export async function runRollout(spec: RolloutSpec, hooksOrTransition?: RolloutHooks | RolloutHooks["onTransition"]): Promise<RolloutResult> {
    const hooks = hooksOf(hooksOrTransition);
    const startedMs = Date.now();
    const rolloutId = rolloutIdOf(spec);
    if (spec.configFile) checkConfigFile(spec.configFile);
    checkSignatureHere(spec);
    const ctx: Ctx = {
        spec, fleet: openFleet(spec), hooks, lockOwner: newOwner(spec), startedMs,
        journal: { rolloutId, version: spec.version, startedAt: new Date().toISOString(), nodes: {} },
    };
    const { journal } = ctx;
    return withFleet(ctx, async () => {
        await checkAll(ctx);
        await refuseUnsettled(ctx, rolloutId);
        const stopBeat = heartbeat(ctx);
        try {
            const resumed = resume(journal, spec.nodes.map((n) => ({ name: n.name, state: ctx.fleet.info.get(n.name)!.state })), loadJournal(spec.journalPath));
            if (resumed) hooks.progress?.(resumed);
            saveJournal(spec.journalPath, journal);

            const batches = planBatches(spec.serial, spec.nodes.length);
            // A rollout that had failed and was restoring when it stopped finishes its restore, never its deploy.
            const resumedAbort = journal.aborting ? `resumed the restore of a failed rollout: ${journal.aborting}` : undefined;
            const gate = spec.batchGate ? batchGateSpec(spec.batchGate, await captureBaseline(spec.batchGate, spec.batchGate.pollSeconds)) : undefined;
            const run: BatchesRun = resumedAbort ? { failures: [], abort: resumedAbort } : await deployBatches(ctx, batches, gate);

            if (run.interrupted) {
                const stopped = run.interrupted;
                concludeFailed(ctx, "interrupted", `stopped: ${stopped}`,
                    (rec) => `node rollout of ${spec.version} stopped at a safe point: ${stopped}.\n${rec.next}\n${nodeTable(spec.nodes, journal)}`);
            }
            if (run.abort) await abortAndRestore(ctx, run.abort);
            // A node that failed within the budget was restored at once; if that restore failed too, the node runs
            // neither version and the record says so (restore-failed, not deployed), as the abort path's does.
            const unrestored = spec.nodes.filter((n) => journal.nodes[n.name]?.status === "restore-failed").map((n) => n.name);
            if (unrestored.length > 0) {
                const one = unrestored.length === 1;
                concludeFailed(ctx, "restore-failed", undefined, (rec) =>
                    `node rollout of ${spec.version}: ${unrestored.join(", ")} failed within the maxFailPercentage budget (${spec.maxFailPercentage} %) ` +
                    `and restoring ${one ? "it" : "them"} failed too: ${one ? "it is" : "they are"} NOT on ${one ? "its" : "their"} previous version; ` +
                    `every other node runs ${spec.version} or was restored.${run.failures.map((f) => `\n  ${f}`).join("")}\nnext: ${rec.next}\n${nodeTable(spec.nodes, journal)}`);
            }
            // Every node is done, but a record is still a write for this update: once its engine is gone, the run says
            // interrupted (the nodes' own states say healthy), and the next `up` concludes it deployed.
            const gone = hooks.interrupt?.();
            if (gone) {
                concludeFailed(ctx, "interrupted", `stopped: ${gone}`,
                    (rec) => `node rollout of ${spec.version}: every node was deployed, but the engine is gone (${gone}); no deployed record for an update that no longer exists.\n${rec.next}\n${nodeTable(spec.nodes, journal)}`);
            }
            const record = conclude(ctx, "deployed");
            return { journal, record, batches };
        } finally {
            stopBeat();
        }
    });
}

/** `pulumi destroy` of a rollout: every node it deployed goes back to its backup; a record says how that went. */
export async function undoRollout(spec: RolloutSpec, journal: RolloutJournal, hooks: RolloutHooks = {}): Promise<{ journal: RolloutJournal; record: NodeRolloutRecord }> {
    const ctx: Ctx = { spec, fleet: openFleet(spec), hooks, journal, lockOwner: newOwner(spec), startedMs: Date.now() };
    journal.stamp ??= rolloutStamp(journal.startedAt);
    return withFleet(ctx, async () => {
        // Only the touched nodes are locked and restored; the rest are left alone.  Reachable, pinned, locked: that
        // is all a restore needs (a broken service is why one restores).
        const nodes = touched(journal);
        await checkAll({ ...ctx, spec: { ...spec, nodes: spec.nodes.filter((n) => nodes.includes(n.name)), minFreeDiskGb: 0, serviceCheckCommand: "true" } });
        await restoreAll(ctx);
        const why = hooks.interrupt?.();
        const left = touched(journal);
        const outcome: RolloutOutcome = left.length === 0 ? "restored" : why && left.some((n) => journal.nodes[n].status !== "restore-failed") ? "interrupted" : "restore-failed";
        if (outcome !== "restored") {
            concludeFailed(ctx, outcome, why && `stopped while restoring: ${why}`, (rec) =>
                `restoring the nodes of ${spec.version} did not finish (${outcome}) on ${left.join(", ")}:\nnext: ${rec.next}\n${nodeTable(spec.nodes, journal)}`);
        }
        const record = conclude(ctx, "restored");
        return { journal, record };
    });
}
