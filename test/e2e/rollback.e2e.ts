/**
 * The "killed during a shift" recovery under the real engine on the local stack (feature-flag mode, watch bakes, no
 * nodes, no bench), against the reference service, whose admin API is read for every percentage: kill -9 of the
 * whole `pulumi up` while a TrafficShift's write is in flight (the admin API made slow): the orphaned provider
 * abandons the write and exits, `npm run recover` and the re-run set the stage's percentage.
 */
import { expect } from "chai";
import { execFile, spawn } from "child_process";
import { IncomingMessage, ServerResponse } from "http";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { promisify } from "util";
import { Stack } from "@pulumi/pulumi/automation";
import { LocalEnvironment, localConfig, openStack, ROOT, startLocalEnvironment, toolchain } from "../../scripts/localStack";
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
    /** What the service says, over its admin API (not the test's handle on its state). */
    const live = async () => {
        const body = await (await fetch(`${env.service.url}/admin/status`)).json() as { speculation: { enabled: boolean; rollout_percentage: number } };
        return { enabled: body.speculation.enabled, rolloutPercentage: body.speculation.rollout_percentage };
    };
    before(async () => {
        env = await startLocalEnvironment({ workDir: mkdtempSync(path.join(tmpdir(), "e2e-rollback-")), binDir: toolchain(), nodes: 0 });
    });
    after(async () => env?.stop());

    describe("a kill during a shift", () => {
        const STACK = "shiftkill";

        /** The dynamic-provider processes of this work folder's engine (found by the PULUMI_HOME they inherit). */
        function providerPids(): number[] {
            const home = `PULUMI_HOME=${env.envVars.PULUMI_HOME}`;
            return readdirSync("/proc").filter((d) => /^\d+$/.test(d)).filter((pid) => {
                try {
                    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("dynamic-provider") &&
                        readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(home);
                } catch { return false; }
            }).map(Number);
        }
        const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
        const processGroup = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")[2]);

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
                const providers = providerPids();
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
});
