/**
 * How one chaos fault runs on the local default (`npm run chaos`, test/e2e/chaos.e2e.ts): a fresh local environment
 * (scripts/localStack.ts: the reference service and proof worker, the Solana stub, two SSH nodes, Prometheus,
 * Alertmanager, the Pushgateway and the watchdog), a fresh stack, and `pulumi up` under the real engine with the
 * policy pack, in a process group of its own (test/helpers/upInChild.ts) so a fault can kill it as a terminal would.
 *
 * A fault during an `up` is injected when its condition holds (a node's step, a line of the engine's output); from
 * then on the harness polls, every 50 ms, when the product noticed (detected) and when things were safe again
 * (traffic at 0 % confirmed, or the nodes whole and healthy).  Afterwards it checks, for every fault:
 *   - no process of the update is left 5 s after it ended (or was killed);
 *   - after a kill, nothing was written for the dead update but records that say it was interrupted;
 *   - the records are truthful: a node the node record calls healthy runs the record's version (its own /health
 *     answer, not the file on disk), one it calls restored or untouched runs the previous version, and the release
 *     record's node verdict is the node record's;
 *   - nothing was lost: every node still has the previous binary, installed or in a backup.
 * Faults between `up`s are reference/guardFaults.ts's scenarios, measured against lib/guard's computed bound.
 */
import { ChildProcess, spawn } from "child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "fs";
import * as path from "path";
import type { NodeState } from "../../lib/nodes/nodeState";
import type { DeploymentRecord, NodeRolloutRecord } from "../../lib/records/record";
import type { LocalEnvironment } from "../../scripts/localStack";
import type { TestNode } from "../sshFleet";
import { engineProcesses, EngineProcess } from "./processes";

export const STACK = "chaos";
export const RELEASE = "v1.2.4";
export const PREVIOUS = "v1.2.3";
/** How long a process of a finished or killed update may live on (issue 24: "no process left within 5 s"). */
export const LEFTOVER_LIMIT_MS = 5_000;

/** What a fault's probes, injector and checks see. */
export interface ChaosContext {
    env: LocalEnvironment;
    /** When the `up` started, epoch ms. */
    startedAt: number;
    /** The `up` under fault, once started. */
    up?: RunningUp;
    /** The engine's output so far. */
    output(): string;
    nodes: TestNode[];
    /** A node's own record of the rollout (<backups>/rollback/.alys-rollout.json), if any. */
    nodeState(i: number): NodeState | undefined;
    /** The version a node's running program answers with on /health (undefined: it does not answer). */
    runningVersion(i: number): Promise<string | undefined>;
    /** The node rollout's records (artifacts/nodes/deployments.log) and the release's (artifacts/releases/…). */
    nodeRecords(): NodeRolloutRecord[];
    releaseRecords(): DeploymentRecord[];
    /** Processes of this update still alive. */
    processes(): EngineProcess[];
    /** Runs the next `up` of the stack as it is configured (after the fault healed) to its end; set by the runner. */
    nextUp(): Promise<RunningUp>;
    /** Scratch space for a fault's injector and its heal step (a stopped pid, a mount). */
    data: Record<string, unknown>;
    /** Lines for the report. */
    notes: string[];
}

/** How the `up` ended. */
export type UpOutcome = "succeeded" | "failed" | "killed" | "running";

/** One row of the table. */
export interface ChaosRow {
    fault: string;
    group: string;
    /** Epoch ms; undefined when not reached. */
    startedAt: number;
    injectedAt?: number;
    detectedAt?: number;
    safeAt?: number;
    /** The bound the program computes, where one applies. */
    boundSeconds?: number;
    /** Seconds from injection (or the guard's condition) to safe. */
    safeSeconds?: number;
    outcome: string;
    /** Untrue records found (empty: truthful). */
    untrue: string[];
    /** What was lost (empty: nothing). */
    lost: string[];
    /** Every violation (untrue and lost included); the suite exits non-zero on any. */
    violations: string[];
    notes: string[];
}

const readLines = <T>(file: string): T[] => existsSync(file)
    ? readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as T) : [];

export function chaosContext(env: LocalEnvironment): ChaosContext {
    const nodes = env.fleet?.nodes ?? [];
    const ctx: ChaosContext = {
        env, nodes, data: {}, notes: [], startedAt: Date.now(),
        output: () => ctx.up?.output() ?? "",
        nodeState: (i) => {
            const file = path.join(nodes[i].home, "backups/rollback/.alys-rollout.json");
            try { return JSON.parse(readFileSync(file, "utf8")) as NodeState; } catch { return undefined; }
        },
        runningVersion: async (i) => {
            try {
                const r = await fetch(`http://127.0.0.1:${nodes[i].httpPort}/health`, { signal: AbortSignal.timeout(2000) });
                return r.ok ? ((await r.json()) as { version?: string }).version : undefined;
            } catch { return undefined; }
        },
        nodeRecords: () => readLines<NodeRolloutRecord>(path.join(env.workDir, "artifacts/nodes/deployments.log")),
        releaseRecords: () => readLines<DeploymentRecord>(path.join(env.workDir, "artifacts/releases/deployments.log")),
        processes: () => engineProcesses(env.envVars.PULUMI_HOME),
        nextUp: () => { throw new Error("nextUp: set by the runner"); },
    };
    return ctx;
}

/** A running `pulumi up` in its own process group. */
export interface RunningUp {
    child: ChildProcess;
    output(): string;
    outcome(): UpOutcome;
    exited: Promise<void>;
    /** kill -9 of the whole process group (the Automation API host, the CLI); returns when it was sent. */
    killGroup(): number;
}

/**
 * Starts `pulumi up` of the chaos stack (its config already set) with the local policy pack.  `extraEnv` goes to the
 * whole process tree of the `up` (the Automation API host, the CLI, its plugins and providers): the deployer's
 * environment, e.g. a faked clock.  `program`: a module whose `program({ workDir })` is the `up`'s inline program
 * instead of the stack's (test/helpers/upInChild.ts).
 */
export function startUp(env: LocalEnvironment, root: string, policy: { pack: string; config: string } | undefined, extraEnv: Record<string, string> = {},
    program?: string): RunningUp {
    const args = path.join(env.workDir, `up-${Date.now()}.json`);
    writeFileSync(args, JSON.stringify({
        workDir: env.workDir, binDir: env.binDir, envVars: env.envVars, stack: STACK,
        ...(policy ? { policyPacks: [policy.pack], policyPackConfigs: [policy.config] } : {}),
        ...(program ? { program } : {}),
    }), { mode: 0o600 });
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(root, "test/helpers/upInChild.ts"), args], {
        cwd: root, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...extraEnv },
    });
    let out = "";
    let killed = false;
    child.stdout!.on("data", (c) => (out += c));
    child.stderr!.on("data", (c) => (out += c));
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    return {
        child, exited, output: () => out,
        outcome: () => killed ? "killed" : child.exitCode === null ? "running" : /\[child\] succeeded/.test(out) ? "succeeded" : "failed",
        killGroup: () => {
            killed = true;
            try { process.kill(-child.pid!, "SIGKILL"); } catch { /* already gone */ }
            return Date.now();
        },
    };
}

/** Files under `dir` modified after `since` (epoch ms). */
export function filesWrittenAfter(dir: string, since: number): string[] {
    if (!existsSync(dir)) return [];
    return readdirSync(dir).flatMap((name) => {
        const full = path.join(dir, name);
        const s = statSync(full);
        return s.isDirectory() ? filesWrittenAfter(full, since) : s.mtimeMs > since ? [full] : [];
    });
}

/**
 * What a killed update may still write: a record saying it was interrupted (the node rollout's record and journal,
 * a gate's interrupted record), or a gate's or window's failure (its revert protects traffic after the kill too).  Anything else written after the kill is a record of an update that no longer exists.
 */
export function writtenForDeadUpdate(workDir: string, killedAt: number): string[] {
    const artifacts = path.join(workDir, "artifacts");
    return filesWrittenAfter(artifacts, killedAt).filter((file) => {
        const text = readFileSync(file, "utf8");
        const rel = path.relative(artifacts, file);
        if (rel === "nodes/rollout-journal.json" || rel === "nodes/rollout-journal.json.tmp") return false;
        if (rel === "nodes/deployments.log") return !/"status":"interrupted"/.test(text.trim().split("\n").pop() ?? "");
        // A gate's or window's failure goes on to its revert whoever listens: its record says what happened.
        if (rel.startsWith("gates/")) return !/"verdict":\s*"(interrupted|fail)"/.test(text);
        return true;
    }).map((f) => path.relative(workDir, f));
}

/** The records against the fleet as it is (see the file comment). */
export async function untrueRecords(ctx: ChaosContext): Promise<string[]> {
    const problems: string[] = [];
    const rec = ctx.nodeRecords().filter((r) => Date.parse(r.date) >= ctx.startedAt - 1000).pop();
    if (rec?.nodes) {
        for (const [name, status] of Object.entries(rec.nodes)) {
            const i = ctx.nodes.findIndex((n) => n.name === name);
            if (i < 0) continue;
            const running = await ctx.runningVersion(i);
            if (status === "healthy" && running !== rec.version) problems.push(`node record: ${name} healthy on ${rec.version}, but it runs ${running ?? "nothing"}`);
            if ((status === "restored" || status === "untouched") && running !== PREVIOUS) problems.push(`node record: ${name} ${status}, but it runs ${running ?? "nothing"} (expected ${PREVIOUS})`);
        }
        if (rec.status === "deployed") {
            for (const [i, n] of ctx.nodes.entries()) {
                const running = await ctx.runningVersion(i);
                if (running !== rec.version) problems.push(`node record: deployed ${rec.version}, but ${n.name} runs ${running ?? "nothing"}`);
            }
        }
    }
    const release = ctx.releaseRecords().filter((r) => Date.parse(r.date) >= ctx.startedAt - 1000).pop();
    if (release && rec && release.verdicts.nodes !== undefined && release.verdicts.nodes !== rec.status) {
        problems.push(`release record: nodes ${release.verdicts.nodes}, the node record says ${rec.status}`);
    }
    if (release && release.rolloutPercentage > 0 && ctx.env.service.state.rolloutPercentage !== release.rolloutPercentage && !ctx.data.revertedAfterRecord) {
        problems.push(`release record: ${release.rolloutPercentage} %, the service reads ${ctx.env.service.state.rolloutPercentage} %`);
    }
    return problems;
}

/** A node that has neither the previous binary installed nor in a backup has lost it. */
export function lostBinaries(ctx: ChaosContext): string[] {
    const fleet = ctx.env.fleet;
    if (!fleet) return [];
    return ctx.nodes.flatMap((n) => {
        const versions: string[] = [];
        try { versions.push(fleet.installedVersion(n)); } catch { /* unreadable binary */ }
        for (const b of fleet.backups(n)) {
            try { versions.push(fleet.backupVersion(n, b)); } catch { /* a partial backup */ }
        }
        return versions.includes(PREVIOUS) ? [] : [`${n.name}'s previous binary (${PREVIOUS}): installed ${versions[0] ?? "unreadable"}, backups ${versions.slice(1).join(", ") || "none"}`];
    });
}

/** Waits (polling) until no process of the update is left, up to `limitMs`; kills what is left (by pid) and names it. */
export async function leftoversAfter(ctx: ChaosContext, from: number, limitMs = LEFTOVER_LIMIT_MS): Promise<{ left: EngineProcess[]; goneAt?: number }> {
    for (;;) {
        const left = ctx.processes();
        if (left.length === 0) return { left: [], goneAt: Date.now() };
        if (Date.now() - from > limitMs) {
            for (const p of left) { try { process.kill(p.pid, "SIGKILL"); } catch { /* gone */ } }
            return { left };
        }
        await new Promise((r) => setTimeout(r, 50));
    }
}

/** Makes a folder for one fault's run under the chaos run's folder. */
export function faultDir(runDir: string, name: string): string {
    const dir = path.join(runDir, name);
    mkdirSync(dir, { recursive: true });
    return dir;
}
