/**
 * BenchRun: the final bench before a release's first canary stage (SPEC §7).
 *   create/update → runs the bench command `limits.repeats` times, one after another (a local process, `sh -c`,
 *                   or on a node over SSH with `remote`; each run bounded by timeoutSeconds), prints a line per
 *                   repeat, reads each run's JSON result line, judges the median of the repeats against the last
 *                   accepted run (lib/bench/gates.ts judgeBench), writes final_bench_results.json, metrics.csv and
 *                   sign_off_summary.md under resultsDir.  Only a complete run (every repeat measured) that passed
 *                   becomes the baseline (state and baseline.json).  A rejected run fails the update with a table of
 *                   what missed; an inconclusive one (repeats spread wider than limits.maxSpread) fails it too, with
 *                   a message that says it is not a regression verdict; both are recorded as created-but-failed so
 *                   the next `up` runs the bench again.  A repeat whose command fails fails the update before
 *                   anything is written.
 *   read          → keeps the recorded run (re-benching on refresh would load production)
 *   diff          → a new version, command or limit runs the bench again
 */
import * as pulumi from "@pulumi/pulumi";
import { refuseWriteWithoutEngine } from "../lib/lifecycle/engine";
import { failStep } from "../lib/runbook/steps";
import { connect, NodeAddress } from "../lib/nodes/ssh";
import { acceptsBaseline, BenchGateRow, BenchLimits, BenchResult, BenchSample, BenchVerdict, formatBenchRows, judgeBench, metricsCsv, parseBenchOutput, signOffSummary } from "../lib/bench/gates";
import { runbookStepProvider } from "./runbookStep";

export const BENCH_RUN_TYPE = "BenchRun";

export interface BenchRunArgs {
    version: pulumi.Input<string>;
    command: pulumi.Input<string>;
    /** Absolute folder for the artifacts and baseline.json. */
    resultsDir: pulumi.Input<string>;
    limits: pulumi.Input<BenchLimits>;
    /** Passed to the command as BENCH_TARGET_URL. */
    targetUrl: pulumi.Input<string>;
    timeoutSeconds: pulumi.Input<number>;
    /**
     * Where a local command runs: the project folder, so a relative command (`./bench.sh`) means the same whether
     * the engine runs in the project (the CLI) or elsewhere (an Automation API work folder).
     */
    workingDir?: pulumi.Input<string>;
    /** Run the command on this node over SSH (pinned host key) instead of locally. */
    remote?: pulumi.Input<{ node: NodeAddress; privateKey: string }>;
}

interface BenchState {
    version: string;
    command: string;
    resultsDir: string;
    limits: BenchLimits;
    targetUrl: string;
    timeoutSeconds: number;
    workingDir?: string;
    remote?: { node: NodeAddress; privateKey: string };
    verdict: BenchVerdict;
    /** The median of the repeats: what the gates judged (and, on a pass, the new baseline). */
    result: BenchResult;
    /** Each repeat's result, in run order, and their spread (relative range of p95, p99/p95 and throughput). */
    repeats: BenchResult[];
    spread: BenchSample["spread"];
    rows: BenchGateRow[];
    /** The last accepted run: the baseline of the next one. */
    accepted?: BenchResult & { version: string; at: string };
    ranAt: string;
}

export function runCommand(command: string, env: Record<string, string>, timeoutSeconds: number, cwd?: string): Promise<string> {
    const { spawn } = require("child_process") as typeof import("child_process");
    return new Promise((resolve, reject) => {
        const child = spawn("sh", ["-c", command], { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
        // The command runs in a process group of its own (so a timeout kills all of it): when this provider process
        // exits first — its engine is gone (lib/lifecycle/engine.ts) — the command goes with it, never measuring for
        // an update that no longer exists.
        const reap = () => { try { process.kill(-child.pid!, "SIGKILL"); } catch { /* already gone */ } };
        process.once("exit", reap);
        child.once("close", () => process.removeListener("exit", reap));
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (c) => (stdout += c));
        child.stderr.on("data", (c) => (stderr += c));
        const timer = setTimeout(() => {
            try { process.kill(-child.pid!, "SIGKILL"); } catch { /* already gone */ }
            reject(new Error(`bench command did not finish within ${timeoutSeconds} s: ${command}`));
        }, timeoutSeconds * 1000);
        child.on("error", (e) => { clearTimeout(timer); reject(e); });
        child.on("close", (code) => {
            clearTimeout(timer);
            if (code !== 0) reject(new Error(`bench command exited with ${code}: ${command}\n${stderr.trim().slice(-2000)}`));
            else resolve(stdout);
        });
    });
}

/** The same command on a node over SSH; the environment is passed on the command line (sshd drops most of it). */
export async function runRemoteCommand(remote: { node: NodeAddress; privateKey: string }, command: string, env: Record<string, string>, timeoutSeconds: number): Promise<string> {
    const quote = (v: string) => `'${v.replace(/'/g, "'\\''")}'`;
    const session = await connect(remote.node, remote.privateKey);
    try {
        const exports = Object.entries(env).map(([k, v]) => `${k}=${quote(v)}`).join(" ");
        const r = await session.exec(`export ${exports}; ${command}`, timeoutSeconds * 1000);
        if (r.code !== 0) throw new Error(`bench command exited with ${r.code} on ${remote.node.name}: ${command}\n${r.stderr.trim().slice(-2000)}`);
        return r.stdout;
    } finally {
        session.close();
    }
}

function readBaselineFile(dir: string): (BenchResult & { version: string; at: string }) | undefined {
    const fs = require("fs") as typeof import("fs");
    const path = require("path") as typeof import("path");
    try {
        return JSON.parse(fs.readFileSync(path.join(dir, "baseline.json"), "utf8"));
    } catch {
        return undefined;
    }
}

const fixed = (v: number) => (Number.isFinite(v) ? v.toFixed(3).replace(/\.?0+$/, "") : String(v));

async function bench(inputs: BenchState, olds: BenchState | undefined, id: string) {
    const fs = require("fs") as typeof import("fs");
    const path = require("path") as typeof import("path");
    const baseline = olds?.accepted ?? readBaselineFile(inputs.resultsDir);
    const env = { BENCH_TARGET_URL: inputs.targetUrl, BENCH_VERSION: inputs.version };
    const configured = inputs.limits.repeats ?? 1;
    const repeats: BenchResult[] = [];
    for (let i = 1; i <= configured; i++) {
        const stdout = inputs.remote
            ? await runRemoteCommand(inputs.remote, inputs.command, env, inputs.timeoutSeconds)
            : await runCommand(inputs.command, env, inputs.timeoutSeconds, inputs.workingDir);
        const r = parseBenchOutput(stdout);
        repeats.push(r);
        // Under the engine a provider's console.log reaches the operator as the resource's diagnostic: progress.
        console.log(`bench ${inputs.version}: repeat ${i}/${configured}: p95 ${fixed(r.p95_ms)} ms, p99/p95 ${fixed(r.p99_ms / r.p95_ms)}, throughput ${fixed(r.throughput_per_s)}/s`);
    }
    const { verdict, rows, sample } = judgeBench(repeats, baseline, inputs.limits);
    const result = sample.median;
    const ranAt = new Date().toISOString();
    refuseWriteWithoutEngine(`bench results of ${inputs.version} (and any baseline)`);
    fs.mkdirSync(inputs.resultsDir, { recursive: true });
    const baselineFrom = baseline ? `${baseline.version} at ${baseline.at}` : undefined;
    fs.writeFileSync(path.join(inputs.resultsDir, "final_bench_results.json"), JSON.stringify({
        version: inputs.version, at: ranAt, verdict, result, repeats, spread: sample.spread,
        maxSpread: inputs.limits.maxSpread ?? null, baseline: baseline ?? null, gates: rows,
    }, null, 2));
    fs.writeFileSync(path.join(inputs.resultsDir, "metrics.csv"), metricsCsv(result, baseline, repeats));
    fs.writeFileSync(path.join(inputs.resultsDir, "sign_off_summary.md"), signOffSummary({
        version: inputs.version, command: inputs.command, at: ranAt, verdict, rows, baselineFrom,
        repeats: configured, ...(inputs.limits.maxSpread !== undefined ? { maxSpread: inputs.limits.maxSpread } : {}),
    }));
    // The one place a baseline is accepted: a complete run that passed (lib/bench/gates.ts acceptsBaseline).
    const accept = acceptsBaseline(verdict, repeats.length, configured);
    const accepted = accept ? { ...result, version: inputs.version, at: ranAt } : baseline;
    if (accept) fs.writeFileSync(path.join(inputs.resultsDir, "baseline.json"), JSON.stringify(accepted, null, 2));
    // A spread with nothing to scale by is Infinity, which the engine's state cannot hold: recorded as null.
    const spread = JSON.parse(JSON.stringify(sample.spread)) as BenchSample["spread"];
    const outs: BenchState = { ...inputs, verdict, result, repeats, spread, rows, accepted, ranAt };
    // Under the engine only `reasons` reach the operator (the message is dropped): the whole table goes there.
    if (verdict === "fail") {
        const message = `bench run for ${inputs.version} missed its gates (median of ${configured} repeat(s); results in ${inputs.resultsDir}):\n${formatBenchRows(rows)}`;
        failStep(id, outs as unknown as Record<string, unknown>, message);
    }
    if (verdict === "inconclusive") {
        const message = `bench run for ${inputs.version} is INCONCLUSIVE — this is NOT a regression verdict: its ${configured} repeats spread ` +
            `wider than bench.maxSpread (${inputs.limits.maxSpread}) and disagree on a gate, so the machine was too busy to tell a regression ` +
            `from noise. The stage holds; the baseline is unchanged. Re-run \`pulumi up\` when the machine is quiet ` +
            `(results in ${inputs.resultsDir}):\n${formatBenchRows(rows)}`;
        failStep(id, outs as unknown as Record<string, unknown>, message);
    }
    return outs;
}

/** The artifacts and the baseline stay on delete: the next release compares with them. */
export const benchRunProvider: pulumi.dynamic.ResourceProvider = runbookStepProvider<BenchState>({
    id: (inputs) => `bench-${inputs.version}`,
    run: (inputs, id, olds) => bench(inputs, olds, id),
    rerunOn: ["version", "command", "limits", "targetUrl", "resultsDir", "remote"],
});

export class BenchRun extends pulumi.dynamic.Resource {
    declare readonly verdict: pulumi.Output<BenchVerdict>;
    /** The median of the repeats. */
    declare readonly result: pulumi.Output<BenchResult>;

    constructor(name: string, args: BenchRunArgs, opts?: pulumi.CustomResourceOptions) {
        super(benchRunProvider, name, { ...args, verdict: undefined, result: undefined, repeats: undefined, spread: undefined, rows: undefined, accepted: undefined, ranAt: undefined },
            { ...opts, additionalSecretOutputs: ["remote"] }, "agenc", BENCH_RUN_TYPE);
    }
}
