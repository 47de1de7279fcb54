/**
 * Runs one fault of the chaos matrix (reference/chaos/matrix.ts) and returns its row: the three kinds of entry —
 *   up     a fault injected during a `pulumi up` when its condition holds, then watched until detected and safe;
 *   kill   kill -9 of the `up`'s whole process group when its condition holds (a provider's step, the policy pack);
 *   guard  a fault between `up`s: a reference/guardFaults.ts scenario against lib/guard's computed bound.
 * See reference/chaos/harness.ts for what every row checks.
 */
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from "fs";
import * as path from "path";
import type { GuardPlan } from "../../lib/guard/plan";
import { localConfig, LocalEnvironment, localGuardPlan, openStack, POLICY_PACK, policyConfig, ROOT, startLocalEnvironment, waitForBakes } from "../../scripts/localStack";
import { GUARD_SCENARIOS, runGuardScenario } from "../guardFaults";
import { runWatchdogPartition, WATCHDOG_PARTITION } from "./watchdogPartition";
import {
    ChaosContext, chaosContext, ChaosRow, leftoversAfter, RunningUp, LEFTOVER_LIMIT_MS, lostBinaries, STACK, startUp, untrueRecords, UpOutcome,
    writtenForDeadUpdate,
} from "./harness";

type Probe = (ctx: ChaosContext) => boolean | Promise<boolean>;

interface Entry {
    name: string;
    group: "node" | "partition" | "exhaustion" | "byzantine" | "kill";
    /** What goes wrong, in an operator's words (and how it is simulated where the real thing is not available). */
    fault: string;
    /** In the short matrix (CI) as well as the full one. */
    short: boolean;
}

/** A fault injected during an `up`. */
export interface UpFault extends Entry {
    kind: "up";
    /**
     * Edits the stack config (Pulumi.local.yaml plus the run-time keys; runs after prepare); the bench is off unless
     * `bench`, nodes fail after 3 health checks, and `ctx.data.binary` (set by prepare) is the binary the nodes get.
     * `faulted` is false for the clean `up`s before the faulted one (`from`).
     */
    config?: (c: Record<string, any>, ctx: ChaosContext, faulted: boolean) => void;
    bench?: boolean;
    /**
     * The stages reached cleanly first (`up`s without the fault, each bake waited out as `npm run local --to`
     * does); the faulted `up` then takes the next step of the local plan (10 → 50 → 100).  Default: none, the
     * faulted `up` is the first, to 10 %.
     */
    from?: 10 | 50;
    /** Before anything, the clean `up`s included (a link the config points through). */
    setup?: (ctx: ChaosContext) => void | Promise<void>;
    /** Before the faulted `up` starts (a binary to ship, a fault set from the start). */
    prepare?: (ctx: ChaosContext) => void | Promise<void>;
    when: Probe;
    inject: (ctx: ChaosContext) => void | Promise<void>;
    /** When the fault really took effect, where that is later than inject (a link cut by the step's first request). */
    tookEffectAt?: (ctx: ChaosContext) => number | undefined;
    detected: Probe;
    safe: Probe;
    /** After the `up` ended: undoes the fault (a stopped process continued). */
    heal?: (ctx: ChaosContext) => void | Promise<void>;
    /** How the `up` may end. */
    expect: UpOutcome[];
    /** Fault-specific untrue records. */
    check?: (ctx: ChaosContext) => string[] | Promise<string[]>;
    /** Seconds from injection to detected and safe before the fault counts as not handled (default 120). */
    deadlineSeconds?: number;
    /** Checks, and installs idempotently, what the fault needs on this machine (a package): before any fault of the run. */
    preflight?: (log: (s: string) => void) => void;
    /** The deployer's environment for the faulted `up` (a faked clock): every process of that `up` gets it. */
    upEnv?: (ctx: ChaosContext) => Record<string, string>;
    /**
     * After heal and the checks: what must resolve the fault (the next `up`, ctx.nextUp(), or `npm run recover`);
     * returns what did not.
     */
    after?: (ctx: ChaosContext) => Promise<string[]>;
}

/**
 * kill -9 of the `up`'s process group once `when` holds.  The engine's dynamic-provider processes are frozen
 * (the cgroup freezer) for the kill and thawed once the CLI is gone, so the provider's step is certainly in flight when its engine dies
 * (a step of a few milliseconds would otherwise often be over before the kill lands): it resumes for nobody, as it
 * would on a busy machine, and must notice, write nothing and exit.
 */
export interface KillFault extends Entry {
    kind: "kill";
    config?: (c: Record<string, any>, ctx: ChaosContext, faulted: boolean) => void;
    bench?: boolean;
    from?: 10 | 50;
    prepare?: (ctx: ChaosContext) => void | Promise<void>;
    when: Probe;
    /**
     * A provider kind the local default never reaches (EmergencyStop: Kubernetes only): a module whose
     * `program({ workDir })` is the `up`'s inline program (that step alone), run without the policy pack.
     */
    program?: string;
    /** What that program needs beside the local environment (the test control plane); stopped after the fault. */
    environment?: (env: LocalEnvironment, log: (s: string) => void) => Promise<{ stop(): Promise<void> }>;
}

/** A fault between `up`s: a reference/guardFaults.ts scenario, or the watchdog ↔ admin API partition (./watchdogPartition.ts). */
export interface GuardFault extends Entry {
    kind: "guard";
    scenario: string;
    /** Edits the local config the guard plan is computed from (Pulumi.local.yaml's keys), for this fault only. */
    config?: (c: Record<string, any>) => void;
}

export type ChaosFault = UpFault | KillFault | GuardFault;

/** The chaos stack's config: the local default at 10 %, nodes quick to fail, the bench only where a fault needs it. */
function stackConfig(ctx: ChaosContext, f: UpFault | KillFault, percentage: number, faulted: boolean) {
    return localConfig(ctx.env, (c) => {
        c["speculation:rolloutPercentage"] = percentage;
        if (!f.bench) c["speculation:bench"] = { ...c["speculation:bench"], enabled: false };
        c["speculation:nodes"] = { ...c["speculation:nodes"], healthRetries: 3, ...(ctx.data.binary ? { binary: ctx.data.binary } : {}) };
        f.config?.(c, ctx, faulted);
    });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const FREEZER = "/sys/fs/cgroup/freezer";

/**
 * Freezes the update's provider processes, kills the `up`'s group, waits until it is gone, thaws them; returns the
 * kill's time.  The cgroup freezer, not SIGSTOP: a process stopped by SIGSTOP when its parent (the CLI) dies is in a
 * newly orphaned process group, and the kernel sends such a group SIGHUP (POSIX job control), which kills Node before
 * any exit handler runs — an artefact no real kill produces.  SIGSTOP is the fallback where the freezer is missing
 * (the row says so).
 */
async function killFrozen(ctx: ChaosContext, up: RunningUp): Promise<number> {
    const providers = ctx.processes().filter((p) => p.kind === "dynamic-provider").map((p) => p.pid);
    if (providers.length === 0) ctx.notes.push("no dynamic-provider process ran at the kill");
    const group = path.join(FREEZER, `agenc-chaos-${process.pid}`);
    let frozen = false;
    try {
        mkdirSync(group, { recursive: true });
        for (const pid of providers) { try { writeFileSync(path.join(group, "tasks"), String(pid)); } catch { /* gone */ } }
        writeFileSync(path.join(group, "freezer.state"), "FROZEN");
        while (readFileSync(path.join(group, "freezer.state"), "utf8").trim() !== "FROZEN") await sleep(5);
        frozen = true;
    } catch {
        ctx.notes.push("no cgroup freezer: the providers were stopped with SIGSTOP across the kill");
        for (const pid of providers) { try { process.kill(pid, "SIGSTOP"); } catch { /* gone */ } }
    }
    const killedAt = up.killGroup();
    if (frozen) {
        await up.exited;
        writeFileSync(path.join(group, "freezer.state"), "THAWED");
        for (const pid of readFileSync(path.join(group, "tasks"), "utf8").split("\n").filter(Boolean)) {
            try { writeFileSync(path.join(FREEZER, "tasks"), pid); } catch { /* gone */ }
        }
        try { rmdirSync(group); } catch { /* a task still in it: left for the next run */ }
    } else {
        for (const pid of providers) { try { process.kill(pid, "SIGCONT"); } catch { /* gone */ } }
    }
    return killedAt;
}

async function runOnStack(f: UpFault | KillFault, env: LocalEnvironment, log: (s: string) => void): Promise<ChaosRow> {
    const ctx = chaosContext(env);
    const steps = [10, 50, 100];
    const from = f.from;
    const before = from ? steps.filter((p) => p <= from) : [];
    if (f.kind === "up") {
        f.preflight?.(log);
        await f.setup?.(ctx);
    }
    for (const [i, pct] of before.entries()) {
        const stack = await openStack(env, STACK, stackConfig(ctx, f, pct, false), i === 0);
        if (i > 0) await waitForBakes(stack, log);
        const r = await stack.up({ policyPacks: [POLICY_PACK], policyPackConfigs: [policyConfig("local")] });
        log(`[chaos ${f.name}] clean up to ${pct} %: ${r.summary.result}`);
    }
    await f.prepare?.(ctx);
    const stack = await openStack(env, STACK, stackConfig(ctx, f, steps[before.length], true), before.length === 0);
    if (before.length > 0) await waitForBakes(stack, log);
    const row: ChaosRow = { fault: f.name, group: f.group, startedAt: Date.now(), outcome: "", untrue: [], lost: [], violations: [], notes: ctx.notes };
    ctx.startedAt = row.startedAt;
    const own = f.kind === "kill" ? f.program : undefined;
    const policy = own ? undefined : { pack: POLICY_PACK, config: policyConfig("local") };
    const up = startUp(env, ROOT, policy, f.kind === "up" ? f.upEnv?.(ctx) : undefined, own);
    ctx.up = up;
    ctx.nextUp = async () => {
        const next = startUp(env, ROOT, policy);
        await next.exited;
        writeFileSync(path.join(env.workDir, `engine-output-next-${Date.now()}.txt`), next.output());
        return next;
    };
    const deadlineMs = ((f.kind === "up" ? f.deadlineSeconds : undefined) ?? 120) * 1000;
    let killedAt: number | undefined;
    try {
        for (;;) {
            const now = Date.now();
            if (row.injectedAt === undefined) {
                if (up.outcome() !== "running") { row.violations.push(`the up ended (${up.outcome()}) before the fault's moment came`); break; }
                if (now - row.startedAt > 300_000) { row.violations.push("the fault's moment did not come within 300 s"); break; }
                if (await f.when(ctx)) {
                    row.injectedAt = Date.now();
                    if (f.kind === "kill") killedAt = row.injectedAt = await killFrozen(ctx, up);
                    else await f.inject(ctx);
                    log(`[chaos ${f.name}] injected at +${((row.injectedAt - row.startedAt) / 1000).toFixed(1)} s`);
                }
            } else {
                const ended = up.outcome() !== "running";
                if (f.kind === "kill") {
                    // Detected: every process of the dead update noticed and exited.
                    if (ctx.processes().length === 0) { row.detectedAt = row.safeAt = now; break; }
                    if (now - killedAt! > LEFTOVER_LIMIT_MS) break;
                } else {
                    const effect = f.tookEffectAt?.(ctx);
                    if (effect !== undefined && effect > row.injectedAt) row.injectedAt = effect;
                    if (row.detectedAt === undefined && await f.detected(ctx)) row.detectedAt = Date.now();
                    if (row.safeAt === undefined && await f.safe(ctx)) row.safeAt = Date.now();
                    if (ended && row.detectedAt !== undefined && row.safeAt !== undefined) break;
                }
                if (now - row.injectedAt > deadlineMs) break;
            }
            await sleep(50);
        }
    } finally {
        if (up.outcome() === "running") {
            row.violations.push(`the up was still running ${deadlineMs / 1000} s after the fault: killed`);
            up.killGroup();
        }
        await up.exited;
        if (f.kind === "up") await f.heal?.(ctx);
    }
    row.outcome = f.kind === "kill" ? "killed" : up.outcome();
    writeFileSync(path.join(env.workDir, "engine-output.txt"), up.output());
    if (f.kind === "up" && !f.expect.includes(up.outcome())) row.violations.push(`the up ${up.outcome()} (expected ${f.expect.join(" or ")})`);
    if (row.injectedAt !== undefined && f.kind === "up") {
        if (row.detectedAt === undefined) row.violations.push("never detected");
        if (row.safeAt === undefined) row.violations.push("never safe");
    }
    // No process of the update may outlive it by more than 5 s.
    const left = await leftoversAfter(ctx, killedAt ?? Date.now());
    for (const p of left.left) row.violations.push(`left running ${LEFTOVER_LIMIT_MS / 1000} s after the ${killedAt ? "kill" : "up ended"}: ${p.kind} pid ${p.pid} (${p.cmd})`);
    if (killedAt !== undefined) {
        if (row.safeAt === undefined && left.goneAt !== undefined) row.detectedAt = row.safeAt = left.goneAt;
        for (const file of writtenForDeadUpdate(env.workDir, killedAt)) row.untrue.push(`${file} written after the kill`);
    }
    if (row.injectedAt !== undefined && row.safeAt !== undefined) row.safeSeconds = (row.safeAt - row.injectedAt) / 1000;
    row.untrue.push(...await untrueRecords(ctx));
    if (f.kind === "up" && f.check) row.untrue.push(...await f.check(ctx));
    row.lost.push(...lostBinaries(ctx));
    row.violations.push(...row.untrue.map((u) => `untrue: ${u}`), ...row.lost.map((l) => `lost: ${l}`));
    if (f.kind === "up" && f.after) {
        row.violations.push(...await f.after(ctx));
        const next = await leftoversAfter(ctx, Date.now());
        for (const p of next.left) row.violations.push(`left running ${LEFTOVER_LIMIT_MS / 1000} s after the next up ended: ${p.kind} pid ${p.pid} (${p.cmd})`);
    }
    return row;
}

async function runGuard(f: GuardFault, base: GuardPlan, log: (s: string) => void): Promise<ChaosRow> {
    const plan = f.config ? localGuardPlan(f.config) : base;
    if (plan.refusals.length > 0) throw new Error(`${f.name}: the edited config is refused: ${plan.refusals.map((r) => `${r.key} ${r.message}`).join("; ")}`);
    if (f.scenario === WATCHDOG_PARTITION) return runPartition(f, plan, log);
    const s = GUARD_SCENARIOS.find((x) => x.name === f.scenario);
    if (!s) throw new Error(`${f.name}: no guard scenario ${f.scenario}; allowed: ${GUARD_SCENARIOS.map((x) => x.name).join(", ")}`);
    const m = await runGuardScenario(s, plan, log);
    const row: ChaosRow = {
        fault: f.name, group: f.group, startedAt: m.injectedAt, injectedAt: m.injectedAt, detectedAt: m.conditionAt, safeAt: m.confirmedAt,
        boundSeconds: m.boundSeconds, safeSeconds: m.seconds, outcome: `0 % by ${m.action.alerts.join("+")} (${m.action.attempts} attempt${m.action.attempts === 1 ? "" : "s"})`,
        untrue: [], lost: [], violations: [], notes: [`between ups; detected = the rollback condition true (${s.trigger}); time to safe counts from there`],
    };
    if (m.finalPercentage !== 0) row.violations.push(`traffic reads ${m.finalPercentage} % at the end`);
    if (m.seconds > m.boundSeconds) row.violations.push(`0 % confirmed ${m.seconds} s after the condition, over the bound ${m.boundSeconds} s`);
    if (!m.action.path) row.untrue.push("the watchdog's record of the revert names no path");
    row.violations.push(...row.untrue.map((u) => `untrue: ${u}`));
    return row;
}

/** The watchdog ↔ admin API partition: detected = the first unconfirmed attempt; time to safe and the bound from the heal. */
async function runPartition(f: GuardFault, plan: GuardPlan, log: (s: string) => void): Promise<ChaosRow> {
    const m = await runWatchdogPartition(plan, log);
    const s = (t: number) => `+${((t - m.cutAt) / 1000).toFixed(1)} s`;
    return {
        fault: f.name, group: f.group, startedAt: m.cutAt, injectedAt: m.cutAt, detectedAt: m.firstRetryAt,
        ...(Number.isNaN(m.confirmedAt) ? {} : { safeAt: m.confirmedAt, safeSeconds: m.seconds }), boundSeconds: m.boundSeconds,
        outcome: `0 % after the heal by ${m.confirmed.path ?? "?"} (${m.confirmed.attempts} attempt${m.confirmed.attempts === 1 ? "" : "s"})`,
        untrue: [], lost: [], violations: m.violations,
        notes: [
            `between ups; time to safe and the bound count from the heal (link mended at ${s(m.healedAt)}), not from the cut`,
            `cut ${s(m.cutAt)}: first unconfirmed attempt ${s(m.firstRetryAt)}, REVERT FAILED ${s(m.failedAt)} after ${m.attemptTimeoutsMs.length} attempts ` +
                `(timeouts ${m.attemptTimeoutsMs.join(", ")} ms), SpeculationWatchdogRevertFailed active ${s(m.alertAt)}, a new action ${s(m.retriedAfterFailureAt)}; ` +
                `traffic ${m.percentageWhileCut} % while cut`,
        ],
    };
}

/** Runs one fault on a fresh local environment in `<runDir>/<name>` (its state, artifacts and engine output stay there). */
export async function runChaosFault(f: ChaosFault, ctx: { runDir: string; binDir: string; plan: GuardPlan; log: (s: string) => void }): Promise<ChaosRow> {
    if (f.kind === "guard") return runGuard(f, ctx.plan, ctx.log);
    const workDir = path.join(ctx.runDir, f.name);
    mkdirSync(workDir, { recursive: true });
    const env = await startLocalEnvironment({ workDir, binDir: ctx.binDir, nodes: f.kind === "kill" && f.program ? 0 : 2 });
    let extra: { stop(): Promise<void> } | undefined;
    try {
        if (f.kind === "kill" && f.environment) extra = await f.environment(env, ctx.log);
        return await runOnStack(f, env, ctx.log);
    } finally {
        await extra?.stop();
        await env.stop();
    }
}
