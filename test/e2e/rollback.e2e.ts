/**
 * The README's "Rollback" rows and the "killed during a shift" recovery, under the real engine on the local stack
 * (feature-flag mode, watch bakes, no nodes, no bench), against the reference service, whose admin API is read for
 * every percentage:
 *   kill -9 of the whole `pulumi up` while a TrafficShift's write is in flight (the admin API made slow): the orphaned
 *   provider abandons the write and exits, `npm run recover` and the re-run set the stage's percentage;
 *   then, on a stack at stage 2: remove one stage (pulumi destroy --target), back one stage, previous version, and
 *   the kill switch (under an unhealthy chain RPC: a lower target is never held back by the preflight) — each the
 *   README's command, each checked on the service.  The steps share one environment and run in order.
 */
import { expect } from "chai";
import { execFile, spawn } from "child_process";
import { IncomingMessage, ServerResponse } from "http";
import { mkdtempSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { promisify } from "util";
import { Stack } from "@pulumi/pulumi/automation";
import { LocalEnvironment, localConfig, openStack, ROOT, startLocalEnvironment, toolchain } from "../../scripts/localStack";
import { instant } from "../helpers/prometheus";
import { alive, processGroup, providerPids } from "../helpers/processes";
import { eventually } from "../helpers/wait";

type Resource = { urn: string; type: string; outputs?: Record<string, any> };

describe("the real engine: the rollback table, and a kill during a shift", function () {
    this.timeout(300_000);
    let env: LocalEnvironment;
    let stack: Stack;
    const config = (pct: number, edit: (c: Record<string, any>) => void = () => undefined) => localConfig(env, (c) => {
        c["speculation:rolloutPercentage"] = pct;
        c["speculation:bench"] = { enabled: false };
        // Watch bake mode with 1 s bakes: each up judges its stages' whole bakes, so going down and up needs no waiting.
        c["speculation:canary"].gate.bakeMode = "watch";
        c["speculation:canary"].steps = c["speculation:canary"].steps.map((step: Record<string, unknown>) => ({ ...step, bake: "1s" }));
        edit(c);
    });
    const open = async (name: string, pct: number, edit?: (c: Record<string, any>) => void, fresh = false) => {
        stack = await openStack(env, name, config(pct, edit), fresh);
        return stack;
    };
    const resources = async (): Promise<Resource[]> => (await stack.exportStack()).deployment.resources ?? [];
    /** The names of a stage's component and children in the state. */
    const ofStage = (state: Resource[], stage: string) => state.filter((r) => r.urn.includes(`::${stage}`)).map((r) => r.urn.split("::").pop());
    /** What the service says, over its admin API (not the test's handle on its state). */
    const live = async () => {
        const body = await (await fetch(`${env.service.url}/admin/status`)).json() as { speculation: { enabled: boolean; rollout_percentage: number } };
        return { enabled: body.speculation.enabled, rolloutPercentage: body.speculation.rollout_percentage };
    };
    /** The pulumi CLI, as an operator runs it in the project (asynchronously: the service lives in this process). */
    const cli = async (stackName: string, ...args: string[]) => {
        try {
            return (await promisify(execFile)(path.join(env.binDir, "pulumi"), [...args, "--stack", stackName, "--non-interactive"], {
                cwd: env.workDir, env: { ...process.env, ...env.envVars }, encoding: "utf8", maxBuffer: 64 * 1024 * 1024,
            })).stdout;
        } catch (e) {
            const x = e as { stdout?: string; stderr?: string };
            throw new Error(`pulumi ${args.join(" ")}: ${x.stdout ?? ""}${x.stderr ?? ""}`);
        }
    };

    before(async () => {
        env = await startLocalEnvironment({ workDir: mkdtempSync(path.join(tmpdir(), "e2e-rollback-")), binDir: toolchain(), nodes: 0 });
    });
    after(async () => env?.stop());

    describe("a kill during a shift", () => {
        const STACK = "shiftkill";


        it("kill -9 of the whole pulumi up while its TrafficShift's write is in flight: the orphaned provider abandons the write and exits; " +
            "npm run recover, then up sets the stage's percentage and reads it back; no pending operation", async () => {
            await open(STACK, 10, undefined, true);
            // The first POST /admin/config of this up is stage 1's shift (preflight and smoke tests only read the
            // config).  The service holds it 3 s (adminDelayMs, set before the request is handled; below the
            // provider's 5 s timeout, so a provider left alone would complete it).
            let write: { answered: boolean; closedAt?: number } | undefined;
            const onRequest = (req: IncomingMessage, res: ServerResponse) => {
                if (write || req.method !== "POST" || req.url !== "/admin/config") return;
                env.service.setFaults({ adminDelayMs: 3000 });
                const w: { answered: boolean; closedAt?: number } = { answered: false };
                write = w;
                res.once("finish", () => { w.answered = true; });
                req.socket.once("close", () => { w.closedAt = Date.now(); });
            };
            env.service.server.prependListener("request", onRequest);
            try {
                const args = path.join(env.workDir, "shiftkill.json");
                writeFileSync(args, JSON.stringify({ workDir: env.workDir, binDir: env.binDir, envVars: env.envVars, stack: STACK }), { mode: 0o600 });
                const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(__dirname, "../helpers/upInChild.ts"), args],
                    { detached: true, stdio: ["ignore", "pipe", "pipe"], cwd: ROOT });
                let out = "";
                child.stdout!.on("data", (c) => (out += c));
                child.stderr!.on("data", (c) => (out += c));
                const exited = new Promise((r) => child.once("exit", r));
                await eventually("the shift's write reaching the service", async () => write ?? (child.exitCode !== null ? Promise.reject(Object.assign(new Error(`up ended first:\n${out}`), { fatal: true })) : undefined), 180_000);
                const providers = providerPids(env.envVars.PULUMI_HOME);
                process.kill(-child.pid!, "SIGKILL");
                const killedAt = Date.now();
                await exited;
                expect(out, "the killed up finished").to.not.match(/\[child\] succeeded/);
                expect(write!.answered, "the write had been answered before the kill").to.equal(false);
                expect(providers, "a dynamic provider runs").to.not.deep.equal([]);
                // The providers run in process groups of their own: the kill of the CLI's group leaves them running.
                for (const p of providers) expect(processGroup(p), `provider ${p}'s process group`).to.not.equal(child.pid);

                // What the orphaned provider does with the write in flight: it must not complete it for nobody.
                await eventually("the orphaned provider to drop the write and exit", async () => {
                    if (write!.answered || env.service.state.rolloutPercentage !== 0) {
                        throw Object.assign(new Error(`the orphaned TrafficShift provider wrote ${env.service.state.rolloutPercentage} % after the kill (answered: ${write!.answered})`), { fatal: true });
                    }
                    return write!.closedAt !== undefined && providers.every((p) => !alive(p));
                }, 60_000);
                console.log(`      (${providers.length} provider process(es); the orphaned one dropped the write ${write!.closedAt! - killedAt} ms after the kill, and exited)`);
            } finally {
                env.service.server.removeListener("request", onRequest);
                env.service.setFaults({ adminDelayMs: 0 });
            }
            expect(await live(), "traffic after the kill").to.deep.equal({ enabled: false, rolloutPercentage: 0 });

            // The state: the shift's create is a pending operation (and the stack locked: recover finds the stale lock).
            const killed = await stack.exportStack();
            const pending = (killed.deployment.pending_operations ?? []) as { type: string; resource: { urn: string } }[];
            expect(pending.map((p) => `${p.type} ${p.resource.urn.split("::").pop()}`)).to.include("creating stage-1-10pct-shift");

            // The documented recovery: npm run recover (pulumi cancel, then refresh --clear-pending-creates).
            const recovered = await promisify(execFile)(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(ROOT, "scripts/recover.ts"),
                "--stack", STACK, "--cwd", env.workDir, "--pulumi", path.join(env.binDir, "pulumi")],
            { cwd: ROOT, env: { ...process.env, ...env.envVars }, encoding: "utf8" });
            expect(recovered.stdout).to.match(/\[recover\] stale lock .* its process is gone/);
            expect(recovered.stdout).to.match(/\[recover\] shiftkill is whole again/);
            expect((await stack.exportStack()).deployment.pending_operations ?? [], "pending operations after recovery").to.deep.equal([]);

            const up = await stack.up();
            expect(up.summary.result).to.equal("succeeded");
            expect(up.outputs.gateVerdicts.value).to.deep.equal(["pass"]);
            expect(await live()).to.deep.equal({ enabled: true, rolloutPercentage: 10 });
            const state = (await stack.exportStack()).deployment;
            const shift = (state.resources as Resource[]).find((r) => r.urn.endsWith("TrafficShift::stage-1-10pct-shift"));
            expect(shift?.outputs?.livePercentage, "the shift's read-back").to.equal(10);
            expect(state.pending_operations ?? []).to.deep.equal([]);
        });
    });

    describe("the rollback table, from stage 2", () => {
        const STACK = "rollback";
        const stage2 = "stage-2-50pct";
        const record = () => readFileSync(path.join(env.workDir, "artifacts/releases/deployments.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l)).pop();

        it("pulumi up to stage 2: 10 %, then 50 % once stage 1's gate passed", async () => {
            await open(STACK, 50, undefined, true);
            const up = await stack.up();
            expect(up.outputs.gateVerdicts.value).to.deep.equal(["pass", "pass"]);
            expect(await live()).to.deep.equal({ enabled: true, rolloutPercentage: 50 });
        });

        it("remove one stage: pulumi destroy --target <stage 2's CanaryStage URN> --target-dependents hands traffic back to 10 %; an up at the unchanged config puts it back", async () => {
            const urn = (await resources()).find((r) => r.type === "agenc:deploy:CanaryStage" && r.urn.endsWith(`::${stage2}`))!.urn;
            const destroyed = await cli(STACK, "destroy", "--target", urn, "--target-dependents", "--yes", "--skip-preview");
            expect(destroyed).to.match(/Resources:[\s\S]*deleted/);
            expect(await live()).to.deep.equal({ enabled: true, rolloutPercentage: 10 });
            const state = await resources();
            expect(ofStage(state, stage2)).to.deep.equal([]);
            expect(ofStage(state, "stage-1-10pct")).to.include.members(["stage-1-10pct", "stage-1-10pct-shift", "stage-1-10pct-gate"]);
            // rolloutPercentage still says 50: the next up re-creates stage 2 (set it to 10 to keep the stage removed).
            const up = await stack.up();
            expect(up.outputs.gateVerdicts.value).to.deep.equal(["pass", "pass"]);
            expect(await live(), "stage 2 re-created").to.deep.equal({ enabled: true, rolloutPercentage: 50 });
        });

        it("back one stage: rolloutPercentage 50 → 10 and up: stage 2 is removed, handing traffic back to the first step's 10 %", async () => {
            await open(STACK, 10);
            const up = await stack.up();
            expect(up.summary.resourceChanges?.delete, "stage 2's component, baseline, shift and gate").to.equal(4);
            expect(await live()).to.deep.equal({ enabled: true, rolloutPercentage: 10 });
            const state = await resources();
            expect(ofStage(state, stage2)).to.deep.equal([]);
            expect(ofStage(state, "stage-1-10pct")).to.include("stage-1-10pct-shift");
            expect(up.outputs.rolloutPercentage.value).to.equal(10);
        });

        it("previous version: release.version back to v1.2.3 (previousVersion v1.2.2) and up, the service running v1.2.3: its gate judges v1.2.3, traffic stays at 10 %", async () => {
            // kubernetes.enabled is false on the local stack: the service runs outside it, so the known-good version is
            // deployed beside the stack (on Kubernetes the same up rolls both Deployments to it).
            env.service.state.version = "v1.2.3";
            await open(STACK, 10, (c) => { c["speculation:release"] = { ...c["speculation:release"], version: "v1.2.3", previousVersion: "v1.2.2" }; });
            const up = await stack.up();
            expect(up.outputs.version.value).to.equal("v1.2.3");
            expect(up.outputs.previousVersion.value).to.equal("v1.2.2");
            expect(up.outputs.gateVerdicts.value).to.deep.equal(["pass"]);
            const gate = (await resources()).find((r) => r.urn.endsWith("HealthGate::stage-1-10pct-gate"))!;
            expect(gate.outputs!.decision).to.include({ version: "v1.2.3", verdict: "pass" });
            const health = (gate.outputs!.decision.decisive.checks as { check: string }[]).find((c) => c.check === "health");
            expect(health).to.include({ observed: "healthy v1.2.3", threshold: "healthy v1.2.3", verdict: "pass" });
            expect(record()).to.include({ version: "v1.2.3", previousVersion: "v1.2.2", outcome: "released", rolloutPercentage: 10 });
            expect(await live()).to.deep.equal({ enabled: true, rolloutPercentage: 10 });
        });

        it("the kill switch as the README had it — service.speculationEnabled false alone — is refused by the config: nothing changes", async () => {
            await cli(STACK, "config", "set", "--path", "speculation:service.speculationEnabled", "false");
            const err = await stack.up().then(() => undefined, (e: Error) => e);
            expect(err?.message ?? "", "the row's command went through").to.match(/speculation:rolloutPercentage: must be 0 while service\.speculationEnabled is false/);
            expect(await live()).to.deep.equal({ enabled: true, rolloutPercentage: 10 });
            await cli(STACK, "config", "rm", "speculation:service");
        });

        it("kill switch: pulumi config set speculation:rolloutPercentage 0 && pulumi config set --path speculation:service.speculationEnabled false && pulumi up — " +
            "every stage removed, speculation disabled at 0 %; not held back by an unhealthy chain (the preflight does not run for a lower target)", async () => {
            await cli(STACK, "config", "set", "speculation:rolloutPercentage", "0");
            await cli(STACK, "config", "set", "--path", "speculation:service.speculationEnabled", "false");
            env.chain.setFaults({ unhealthy: true });
            const up = await stack.up().finally(() => env.chain.setFaults({ unhealthy: false }));
            expect(up.summary.result).to.equal("succeeded");
            expect(up.stdout).to.include("[preflight] not run: rolloutPercentage 10 → 0 only lowers traffic");
            expect(await live()).to.deep.equal({ enabled: false, rolloutPercentage: 0 });
            expect((await resources()).filter((r) => r.type === "agenc:deploy:CanaryStage")).to.deep.equal([]);
            expect(up.outputs.rolloutPercentage.value).to.equal(0);
            expect(record()).to.include({ outcome: "released", rolloutPercentage: 0 });
        });

        it("while the kill switch is set, raising the rollout is refused by the config until speculationEnabled is true again", async () => {
            await cli(STACK, "config", "set", "speculation:rolloutPercentage", "10");
            const err = await stack.up().then(() => undefined, (e: Error) => e);
            expect(err?.message ?? "").to.match(/speculation:rolloutPercentage: must be 0 while service\.speculationEnabled is false/);
            expect(await live()).to.deep.equal({ enabled: false, rolloutPercentage: 0 });
        });

        it("after the watchdog's kill switch: pulumi refresh && pulumi up turns speculation back on at the stage's percentage", async () => {
            // Speculation allowed again; rolloutPercentage is still the 10 the previous step set (the release v1.2.3).
            await cli(STACK, "config", "set", "--path", "speculation:service.speculationEnabled", "true");
            expect((await stack.up()).summary.result).to.equal("succeeded");
            expect(await live()).to.deep.equal({ enabled: true, rolloutPercentage: 10 });
            // What Alertmanager sends the watchdog when SpeculationSentinelFailing (kill_switch="true") fires.
            const res = await fetch(`${env.monitoring.watchdogUrl}/alerts`, {
                method: "POST", headers: { "content-type": "application/json" },
                body: JSON.stringify({ version: "4", status: "firing", alerts: [{ status: "firing", labels: { alertname: "SpeculationSentinelFailing", kill_switch: "true", severity: "critical" } }] }),
            });
            expect(res.status, await res.text()).to.equal(200);
            expect(await live(), "the kill switch pulled").to.deep.equal({ enabled: false, rolloutPercentage: 0 });
            // The row's commands, as the operator runs them.  While SpeculationKillSwitchActivated (critical) fires
            // — 15 min after a kill switch in a cluster, 30 s in the rehearsal — the pre-shift check refuses to turn
            // traffic back on: nothing changes.
            await eventually("SpeculationKillSwitchActivated firing", async () =>
                (await instant(env.monitoring.prometheusUrl, 'ALERTS{alertname="SpeculationKillSwitchActivated",alertstate="firing"}')).length > 0 || undefined, 30_000);
            await stack.refresh();
            const early = await stack.up().then(() => undefined, (e: Error) => e);
            expect(early?.message ?? "", "an up while the kill switch's alert fires").to.match(/traffic was NOT raised: critical alerts \(critical alert firing: SpeculationKillSwitchActivated\)/);
            expect(await live()).to.deep.equal({ enabled: false, rolloutPercentage: 0 });
            await eventually("SpeculationKillSwitchActivated resolved", async () =>
                (await instant(env.monitoring.prometheusUrl, 'ALERTS{alertname="SpeculationKillSwitchActivated",alertstate="firing"}')).length === 0 || undefined, 120_000);
            await eventually("Alertmanager no longer holding it", async () => {
                const firing = await (await fetch(`${env.monitoring.alertmanagerUrl}/api/v2/alerts?filter=alertname="SpeculationKillSwitchActivated"&active=true`)).json() as unknown[];
                return firing.length === 0 || undefined;
            }, 120_000);
            const refreshed = await stack.refresh();
            expect(refreshed.summary.result).to.equal("succeeded");
            const shift = (await resources()).find((r) => r.urn.endsWith("TrafficShift::stage-1-10pct-shift"));
            expect(shift?.outputs?.livePercentage, "refresh records what the kill switch left").to.equal(0);
            const up = await stack.up();
            expect(up.summary.result).to.equal("succeeded");
            expect(await live(), "speculation back on at the stage's percentage").to.deep.equal({ enabled: true, rolloutPercentage: 10 });
        });
    });
});
