/**
 * Bakes that last days, rehearsed in seconds under the real engine: window bake mode against the reference
 * workloads and a real Prometheus, Alertmanager and watchdog (reference/localMonitoring.ts).  The steps share one
 * stack and run in order:
 *   stage 1's up returns after its entry analysis (with a progress line per sample), not its bake;
 *   an up before the bake ends is refused with nothing changed; refresh shows the verdict so far;
 *   after the bake the next up judges the window and promotes;
 *   a fault between ups, with no Pulumi process running, is reverted by the watchdog, and refresh reports it;
 *   a fault inside a window makes the next up revert and fail with the offending sample;
 *   a kill -9 of the whole `pulumi up` during an entry analysis, then the documented recovery, then a re-run.
 */
import { expect } from "chai";
import { execFile, spawn } from "child_process";
import { promisify } from "util";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { LocalEnvironment, localConfig, openStack, startLocalEnvironment, toolchain, waitForBakes } from "../../scripts/localStack";
import { instant, promValue } from "../helpers/prometheus";
import { RECORD_SERIES, RELEASES_EXPR } from "../../lib/records/series";
import { eventually } from "../helpers/wait";

const BAKES = { 10: 40, 50: 20, 100: 10 };

describe("the real engine: window bake mode, the watchdog, and recovery from a kill", function () {
    this.timeout(600_000);
    let env: LocalEnvironment;
    let stack: Stack;
    let logs = "";
    const log = (s: string) => { logs += s; };
    const config = (pct: number) => localConfig(env, (c) => {
        c["speculation:rolloutPercentage"] = pct;
        c["speculation:bench"] = { enabled: false };
        c["speculation:canary"].steps = [10, 50, 100].map((p) => ({ percentage: p, bake: `${BAKES[p as 10 | 50 | 100]}s` }));
        c["speculation:canary"].gate = { ...c["speculation:canary"].gate, bakeMode: "window", entryAnalysis: "2s" };
    });
    const open = async (pct: number, name = "bakes", fresh = false) => { stack = await openStack(env, name, config(pct), fresh); return stack; };
    const resource = async (suffix: string) => (await stack.exportStack()).deployment.resources?.find((r: { urn: string }) => r.urn.endsWith(suffix));

    before(async () => {
        const binDir = toolchain();
        env = await startLocalEnvironment({ workDir: mkdtempSync(path.join(tmpdir(), "e2e-bakes-")), binDir, nodes: 0 });
        await open(10, "bakes", true);
    });
    after(async () => env?.stop());

    it("stage 1's up returns after its 2 s entry analysis, not its 40 s bake, and prints a progress line per sample", async () => {
        const started = Date.now();
        const up = await stack.up({ onOutput: log });
        const seconds = (Date.now() - started) / 1000;
        console.log(`      (stage 1 up held the stack ${seconds.toFixed(1)} s; its bake is ${BAKES[10]} s)`);
        expect(up.summary.result).to.equal("succeeded");
        const [s1] = up.outputs.stages.value as { name: string; shiftedAt: string; bakeEndsAt: string; verdict: string }[];
        expect(s1.verdict).to.equal("baking");
        expect(Date.parse(s1.bakeEndsAt) - Date.parse(s1.shiftedAt)).to.equal(BAKES[10] * 1000);
        expect(Date.parse(s1.bakeEndsAt), "the up returned before the bake ended").to.be.greaterThan(Date.now());
        expect(env.service.state.rolloutPercentage).to.equal(10);
        // The lines a dynamic provider prints reach the operator's terminal through the CLI.
        expect(up.stdout).to.match(/\[gate stage-1-10pct\] entry analysis sample 1 \(1\/2 green in a row\) ok \| .*rollbackRate 0\.01 \(< 0\.05 to promote, > 0\.15 aborts\) ok/);
        expect(up.stdout).to.match(/\[gate stage-1-10pct\] entry analysis sample 2 \(PASSED\)/);
    });

    it("an up to the next stage before the bake has elapsed is refused, naming the stage, the time baked and the earliest promotion; nothing changes", async () => {
        const recorded = async () => ((await stack.exportStack()).deployment.resources as { type: string; urn: string }[])
            .filter((r) => r.type.startsWith("pulumi-nodejs:dynamic")).map((r) => r.urn).sort();
        const before = await recorded();
        await open(50);
        const err = await stack.up({ onOutput: log }).then(() => undefined, (e: Error) => e);
        expect(err, "the promotion was not refused").to.not.equal(undefined);
        expect(err!.message).to.match(/promotion refused: stage-1-10pct has baked \d+s of 40s since its shift at \S+; promotion is possible from \S+\. Nothing was changed\./);
        expect(env.service.state.rolloutPercentage).to.equal(10);
        expect(await recorded(), "resources recorded by the refused update").to.deep.equal(before);
        expect(err!.message).to.not.match(/stage-2-50pct-(baseline|shift)/);
    });

    it("pulumi refresh shows the verdict so far from Prometheus history", async () => {
        await open(10);
        const refresh = await stack.refresh({ onOutput: log });
        expect(refresh.stdout).to.match(/\[gate stage-1-10pct\] window so far: baking — stage-1-10pct has baked \d+s of 40s/);
        const gate = await resource("HealthGate::stage-1-10pct-gate");
        expect(gate.outputs.current.verdict).to.equal("baking");
        expect(gate.outputs.phase).to.equal("baking");
    });

    it("after the bake the next up judges stage 1's whole window from history and promotes to stage 2", async () => {
        await waitForBakes(stack);
        await open(50);
        const up = await stack.up({ onOutput: log });
        expect(up.summary.result).to.equal("succeeded");
        expect(up.stdout).to.match(/\[window stage-1-10pct\] pass: \d+s baked, \d+ point\(s\) per series, every point green/);
        const w = await resource("BakeWindow::stage-1-10pct-window");
        expect(w.outputs.verdict).to.equal("pass");
        expect(w.outputs.judgement.points).to.be.greaterThan(20);
        expect(env.service.state.rolloutPercentage).to.equal(50);
        const stages = up.outputs.stages.value as { verdict: string }[];
        expect(stages.map((s) => s.verdict)).to.deep.equal(["promoted", "baking"]);
        // The update's deployment record went to the Pushgateway, and Prometheus (scraping it with the stack's own
        // job) has the series the canary dashboard draws releases from: the rollout this update reached.
        const reached = await eventually("the deployment record scraped from the Pushgateway", async () => {
            const rows = await instant(env.monitoring.prometheusUrl, `${RECORD_SERIES.rolloutPercentage}{environment="local",job="agenc_deployments"}`);
            return rows.find((r) => Number(r.value[1]) === 50);
        }, 30_000);
        expect(reached.metric).to.include({ environment: "local", job: "agenc_deployments" });
        expect(await instant(env.monitoring.prometheusUrl, RELEASES_EXPR), "the dashboard's Releases annotation").to.have.length.greaterThan(0);
    });

    it("a rollback trigger between ups, with no Pulumi process running, is reverted by the watchdog; refresh and the next up report it", async () => {
        const injected = Date.now();
        env.service.setFaults({ memoryPercent: 95 });
        await eventually("the watchdog's revert", async () => (env.service.state.rolloutPercentage === 0 ? true : undefined), 90_000);
        console.log(`      (fault → traffic at 0 % by the watchdog in ${((Date.now() - injected) / 1000).toFixed(1)} s: 1 s scrape, 2 s for:, group_wait 0 s)`);
        env.service.setFaults({ memoryPercent: 45 });
        await eventually("the revert in Prometheus", async () => ((await promValue(env.monitoring.prometheusUrl, "agenc_watchdog_last_revert_timestamp_seconds")) ?? 0) * 1000 >= injected - 1000 ? true : undefined, 90_000);
        const refresh = await stack.refresh({ onOutput: log });
        expect(refresh.stdout).to.match(/\[gate stage-2-50pct\] window so far: fail — .*watchdog reverts reverted at/);
        const shift = await resource("TrafficShift::stage-2-50pct-shift");
        expect(shift.outputs.livePercentage).to.equal(0);
        // The operator fixes the cause and runs up: every stage's shift drifted to 0 %, so the plan re-enters at
        // stage 1 (10 %) and re-bakes it before stage 2 shifts again — traffic errs toward less, as Argo's retry.
        await eventually("the memory alert resolved", async () => ((await promValue(env.monitoring.prometheusUrl, 'ALERTS{alertname="SpeculationMemoryCritical",alertstate="firing"}')) === undefined ? true : undefined), 90_000);
        const reentered = await stack.up({ onOutput: log }).then(() => undefined, (e: Error) => e);
        expect(reentered?.message ?? "", "stage 2 re-shifted without re-baking stage 1").to.match(/promotion refused: stage-1-10pct has baked \d+s of 40s/);
        expect(env.service.state.rolloutPercentage).to.equal(10);
        await waitForBakes(stack);
        const up = await stack.up({ onOutput: log });
        expect(up.summary.result).to.equal("succeeded");
        expect(env.service.state.rolloutPercentage).to.equal(50);
        const gate = await resource("HealthGate::stage-2-50pct-gate");
        expect(Date.parse(gate.outputs.shiftedAt)).to.be.greaterThan(injected);
    });

    it("a fault inside the window makes the next up revert to 0 % and fail, naming the check, the time and the value", async () => {
        env.service.setFaults({ errorRate: 0.3 });
        await eventually("the error rate in Prometheus", async () => (((await promValue(env.monitoring.prometheusUrl, "speculation:error_rate:ratio_rate5m")) ?? 0) > 0.1 ? true : undefined), 90_000);
        env.service.setFaults({ errorRate: 0.002 });
        await waitForBakes(stack);
        await open(100);
        const err = await stack.up({ onOutput: log }).then(() => undefined, (e: Error) => e);
        expect(err, "a window with an error rate of 30 % promoted").to.not.equal(undefined);
        expect(err!.message).to.match(/bake window of stage-2-50pct \(50 %, v1\.2\.4\) failed: no-go in the bake window: errorRate \d\.\d+ at \d{4}-\d\d-\d\dT\S+ \(above the abort threshold 0\.1\)/);
        expect(err!.message).to.include("Traffic reverted: rollout percentage is 0 (confirmed).");
        expect(err!.message).to.match(/errorRate\s+max_over_time\(speculation:error_rate:ratio_rate5m\[1s\]\)\s+\S+\s+0\.\d+\s+< 0\.01 to promote, > 0\.1 aborts\s+FAIL/);
        expect(env.service.state.rolloutPercentage).to.equal(0);
        expect((await resource("TrafficShift::stage-3-100pct-shift")), "stage 3 shifted").to.equal(undefined);
    });

    it("kill -9 of the whole pulumi up during an entry analysis: the documented recovery clears the lock, and the re-run resumes", async () => {
        // The previous case's 30 % error burst keeps SpeculationErrorRateAbort firing until it leaves the 5 min rate
        // window, and the watchdog (and the pre-shift check) would rightly keep traffic off until then.
        await eventually("no rollback trigger firing", async () =>
            ((await promValue(env.monitoring.prometheusUrl, 'count(ALERTS{rollback_trigger="true"})')) ?? 0) === 0 ? true : undefined, 420_000);
        await open(10, "killed", true);
        const gates = path.join(env.workDir, "artifacts/gates");
        const gateFiles = () => (existsSync(gates) ? readdirSync(gates) : []).filter((f) => f.startsWith("stage-1-10pct-"));
        const earlier = new Set(gateFiles());
        const args = path.join(env.workDir, "child.json");
        writeFileSync(args, JSON.stringify({ workDir: env.workDir, binDir: env.binDir, envVars: env.envVars, stack: "killed" }));
        const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(__dirname, "../helpers/upInChild.ts"), args],
            { detached: true, stdio: ["ignore", "pipe", "pipe"], cwd: path.join(__dirname, "../..") });
        let out = "";
        child.stdout!.on("data", (c) => (out += c));
        const exited = new Promise((r) => child.once("exit", r));
        await eventually("the entry analysis's first sample", async () => (/\[gate stage-1-10pct\] entry analysis sample 1/.test(out) ? true : undefined), 180_000).catch((e: Error) => { throw new Error(`${e.message}; the child said:\n${out.slice(-3000)}`); });
        process.kill(-child.pid!, "SIGKILL");
        await exited;
        console.log(`      (killed: ${out.split("\n").filter((l) => /\[gate|updating|creat/.test(l)).slice(-3).join(" / ").slice(0, 300)})`);
        expect(out).to.not.match(/\[child\] succeeded/);
        // The gate's provider outlives the kill in its own process group: it notices the engine is gone, stops at the
        // next sample and records what it saw as interrupted — never a verdict nobody received.
        const records = () => gateFiles().filter((f) => !earlier.has(f))
            .map((f) => JSON.parse(readFileSync(path.join(gates, f), "utf8")) as { verdict: string; reason: string; sampleCount: number });
        const interrupted = await eventually("the orphaned gate records an interruption", async () => records().find((r) => r.verdict === "interrupted"), 60_000);
        expect(interrupted.reason).to.match(/^interrupted after \d+ sample\(s\) .*: the engine(?:'s gRPC endpoint| process)/);
        expect(records().map((r) => r.verdict), "no pass or fail recorded for the killed update").to.deep.equal(["interrupted"]);
        // The shift took and stays recorded; the gate's update was interrupted.
        expect(env.service.state.rolloutPercentage).to.equal(10);
        // Asynchronously: the reference service lives in this process and must keep answering while the CLI runs.
        const pulumi = async (...a: string[]) => {
            try {
                return (await promisify(execFile)(path.join(env.binDir, "pulumi"), [...a, "--stack", "killed", "--non-interactive"], {
                    cwd: env.workDir, env: { ...process.env, ...env.envVars }, encoding: "utf8",
                })).stdout;
            } catch (e) {
                const x = e as { stdout?: string; stderr?: string };
                throw new Error(`pulumi ${a.join(" ")}: ${x.stdout ?? ""}${x.stderr ?? ""}`);
            }
        };
        const locked = await stack.up({ onOutput: log }).then(() => undefined, (e: Error) => e);
        expect(locked?.message ?? "", "the killed update left the stack locked").to.match(/locked|conflict|currently running/i);
        // The recovery the README documents: npm run recover (pulumi cancel, then refresh --clear-pending-creates).
        const recovered = await promisify(execFile)(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(__dirname, "../../scripts/recover.ts"),
            "--stack", "killed", "--cwd", env.workDir, "--pulumi", path.join(env.binDir, "pulumi")],
        { cwd: path.join(__dirname, "../.."), env: { ...process.env, ...env.envVars }, encoding: "utf8" });
        expect(recovered.stdout).to.match(/\[recover\] stale lock .* its process is gone/);
        expect(recovered.stdout).to.match(/\[recover\] killed is whole again/);
        // With the lock gone, a second recovery finds nothing to cancel and still succeeds.
        await pulumi("refresh", "--yes", "--skip-preview");
        const up = await stack.up({ onOutput: log });
        expect(up.summary.result).to.equal("succeeded");
        expect(up.stdout).to.match(/\[gate stage-1-10pct\] entry analysis sample 2 \(PASSED\)/);
        const shift = await resource("TrafficShift::stage-1-10pct-shift");
        expect(shift, "the shift recorded before the kill").to.not.equal(undefined);
        expect((up.outputs.stages.value as { verdict: string }[])[0].verdict).to.equal("baking");
        const state = JSON.stringify(await stack.exportStack());
        expect(state).to.not.match(/pending_operations"\s*:\s*\[\s*\{/);
    });
});
