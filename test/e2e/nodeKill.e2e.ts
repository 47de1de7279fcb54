/**
 * A killed `pulumi up` under the real engine, with real sshd nodes (issue 15): the CLI's process group is killed
 * (SIGKILL) while a node is being swapped, and again while a failed rollout restores its nodes.  The dynamic
 * provider lives on in its own process group; it must notice the engine is gone, stop at its next safe point
 * (never mid-swap), leave every node's state accurate, record `interrupted`, release the fleet lock and exit.
 * Then the documented recovery — `pulumi cancel`, `pulumi refresh --clear-pending-creates`, `pulumi up` — resumes
 * from the nodes' own state (the local journal deleted: as from another machine).
 */
import { expect } from "chai";
import { ChildProcess, execFileSync, spawn } from "child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { LocalEnvironment, localConfig, openStack, startLocalEnvironment, toolchain } from "../../scripts/localStack";
import { TestNode, writeAlysBinary } from "../../reference/sshFleet";
import { alive, providerPids } from "../helpers/processes";

const STACK = "nodekill";

describe("the real engine: a killed pulumi up while nodes roll, and the recovery", function () {
    this.timeout(600_000);
    let env: LocalEnvironment;
    let stack: Stack;
    let artifacts: string;
    const nodes = () => env.fleet!.nodes;
    const statePath = (n: TestNode) => path.join(n.home, "backups/rollback/.alys-rollout.json");
    const nodeState = (n: TestNode) => existsSync(statePath(n)) ? JSON.parse(readFileSync(statePath(n), "utf8")) : undefined;
    const records = () => readFileSync(path.join(artifacts, "deployments.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const lockHeld = (n: TestNode) => existsSync(path.join(n.home, "backups/rollback/.alys-rollout.lock"));
    const config = (edit: (nodes: Record<string, any>, c: Record<string, any>) => void = () => undefined) => localConfig(env, (c) => {
        c["speculation:rolloutPercentage"] = 0;
        c["speculation:bench"] = { ...c["speculation:bench"], enabled: false };
        // A node made sick (a marker file) fails its restart at once.  A second of grace per node gives the kill a
        // window inside a node's step.
        c["speculation:nodes"] = { ...c["speculation:nodes"], serial: [1], forks: 1, nodeGrace: "1s", firstNodeGrace: "1s", healthRetries: 120, healthInterval: "1s",
            restartCommand: `test ! -e "$NODE_HOME/sick" && ${env.fleet!.paths.restartCommand}`, artifactsDir: artifacts };
        edit(c["speculation:nodes"], c);
    });
    const cli = (...args: string[]) => execFileSync(path.join(env.binDir, "pulumi"), [...args, "--stack", STACK, "--non-interactive"], {
        cwd: env.workDir, env: { ...process.env, ...env.envVars }, stdio: ["ignore", "pipe", "pipe"],
    }).toString();

    const until = async (what: string, ok: () => boolean, ms = 120_000) => {
        const end = Date.now() + ms;
        while (!ok()) {
            if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
            await new Promise((r) => setTimeout(r, 25));
        }
    };

    /** Starts `pulumi up` in its own process group; kills the group (SIGKILL) once `killWhen` holds. */
    async function upKilledWhen(cfg: ReturnType<typeof config>, killWhen: () => boolean): Promise<{ output: string; providers: number[] }> {
        const job = path.join(env.workDir, `job-${Date.now()}.json`);
        writeFileSync(job, JSON.stringify({ env: { workDir: env.workDir, binDir: env.binDir, envVars: env.envVars }, stackName: STACK, config: cfg }), { mode: 0o600 });
        const child: ChildProcess = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(__dirname, "nodeKill.up.ts"), job], {
            cwd: path.resolve(__dirname, "../.."), detached: true, stdio: ["ignore", "pipe", "pipe"],
        });
        let output = "";
        child.stdout!.on("data", (c) => (output += c));
        child.stderr!.on("data", (c) => (output += c));
        const exited = new Promise((r) => child.on("exit", r));
        await until("the kill point", () => killWhen() || child.exitCode !== null, 300_000);
        expect(child.exitCode, `pulumi up ended before the kill point:\n${output}`).to.equal(null);
        const providers = providerPids(env.envVars.PULUMI_HOME);
        expect(providers, "a dynamic provider runs").to.not.deep.equal([]);
        process.kill(-child.pid!, "SIGKILL");
        await exited;
        rmSync(job);
        return { output, providers };
    }

    before(async () => {
        const binDir = toolchain();
        env = await startLocalEnvironment({ workDir: mkdtempSync(path.join(tmpdir(), "e2e-nodekill-")), binDir, nodes: 3 });
        artifacts = path.join(env.workDir, "artifacts/nodes");
        stack = await openStack(env, STACK, config(), true);
    });
    after(async () => env?.stop());

    it("kill at node swap: the provider finishes that node's step, starts no other, records interrupted and exits", async () => {
        const { providers } = await upKilledWhen(config(), () => nodeState(nodes()[1])?.step === "switched");
        // The provider outlived the kill (its own process group) and must end by itself, after a safe stop.
        await until("the provider to stop by itself", () => providers.every((p) => !alive(p)));
        const rec = records().pop();
        expect(rec).to.include({ status: "interrupted", version: "v1.2.4" });
        expect(rec.next).to.match(/pulumi cancel.*pulumi refresh --clear-pending-creates.*pulumi up/s);
        // node-2's swap was in flight: it finished (healthy on the new version), never left half-swapped.
        expect(rec.nodes).to.deep.equal({ "node-1": "healthy", "node-2": "healthy", "node-3": "untouched" });
        expect(nodeState(nodes()[1])).to.include({ step: "healthy", version: "v1.2.4" });
        expect(nodeState(nodes()[1]).concluded).to.equal(undefined);
        expect(nodeState(nodes()[2]), "node-3 never touched").to.equal(undefined);
        expect(env.fleet!.installedVersion(nodes()[2])).to.equal("v1.2.3");
        for (const n of nodes()) {
            expect(await env.fleet!.healthy(n), `${n.name} healthy`).to.equal(true);
            expect(lockHeld(n), `${n.name}'s lock released`).to.equal(false);
        }
    });

    it("recovery: pulumi cancel, pulumi refresh --clear-pending-creates, pulumi up resumes from the nodes (no local journal)", async () => {
        rmSync(path.join(artifacts, "rollout-journal.json"), { force: true });
        const cancel = cli("cancel", "--yes");
        expect(cancel).to.match(/cancel/i);
        await openStack(env, STACK, config());
        const refresh = await stack.refresh({ clearPendingCreates: true });
        expect(refresh.summary.result).to.equal("succeeded");
        const exported = await stack.exportStack();
        expect(exported.deployment.pending_operations ?? [], "no pending operation left").to.deep.equal([]);
        const before = nodes().map((n) => env.fleet!.backups(n));
        let progress = "";
        const up = await stack.up({ onOutput: (s) => (progress += s) });
        expect(up.summary.result).to.equal("succeeded");
        expect(progress).to.match(/resuming rollout \w+ of v1\.2\.4 \(stamp \d+\) from the nodes' own state \(no local journal\)/);
        expect(up.outputs.nodeDeployment.value).to.include({ status: "deployed", version: "v1.2.4" });
        for (const [i, n] of nodes().entries()) {
            expect(env.fleet!.installedVersion(n)).to.equal("v1.2.4");
            expect(env.fleet!.backups(n), `${n.name}: one backup`).to.have.length(1);
            if (i < 2) expect(env.fleet!.backups(n), `${n.name}: the killed run's backup kept`).to.deep.equal(before[i]);
        }
        expect(progress).to.not.match(/warning: .*pending/i);
    });

    it("kill at node restore: the restore stops at a safe point; the next up finishes the restore (rolled-back), never deploys it", async () => {
        const binary = writeAlysBinary(path.join(env.workDir, "alys-v1.2.5"), "v1.2.5");
        writeFileSync(path.join(nodes()[2].home, "sick"), "");
        const v125 = () => config((n, c) => {
            n.binary = binary;
            n.serial = ["100%"];
            c["speculation:release"] = { ...c["speculation:release"], version: "v1.2.5", previousVersion: "v1.2.4" };
        });
        // node-3 fails → the rollout restores node-1, node-2, one at a time (forks 1): kill once restoring began.
        const { providers } = await upKilledWhen(v125(), () => !!nodeState(nodes()[0])?.aborting);
        await until("the provider to stop by itself", () => providers.every((p) => !alive(p)));
        const rec = records().pop();
        expect(rec.status, JSON.stringify(rec)).to.equal("interrupted");
        expect(rec.next).to.match(/pulumi cancel/);
        for (const n of nodes()) {
            const s = nodeState(n);
            // Each node is whole: restored (old version, healthy) or still as the failed rollout left it — never mid-copy.
            if (s.step === "restored") {
                expect(env.fleet!.installedVersion(n)).to.equal("v1.2.4");
                expect(await env.fleet!.healthy(n)).to.equal(true);
            } else {
                expect(s.aborting, `${n.name} knows its rollout is being restored`).to.match(/node\(s\) in batch 1 failed/);
            }
            expect(lockHeld(n)).to.equal(false);
        }
        expect(nodes().some((n) => nodeState(n).step !== "restored"), "the kill landed before every restore was done").to.equal(true);

        rmSync(path.join(nodes()[2].home, "sick"));
        cli("cancel", "--yes");
        await openStack(env, STACK, v125());
        await stack.refresh({ clearPendingCreates: true });
        const err = await stack.up().then(() => undefined, (e: Error) => e);
        expect(err?.message).to.match(/every touched node was restored from its backup and is healthy/);
        expect(err?.message).to.match(/resumed the restore of a failed rollout/);
        expect(records().pop()).to.include({ status: "rolled-back", version: "v1.2.5" });
        for (const n of nodes()) {
            expect(env.fleet!.installedVersion(n), n.name).to.equal("v1.2.4");
            expect(await env.fleet!.healthy(n)).to.equal(true);
        }
        // The failed rollout is over: the next up is a new rollout of v1.2.5, which now passes.
        const up = await stack.up();
        expect(up.outputs.nodeDeployment.value).to.include({ status: "deployed", version: "v1.2.5" });
        for (const n of nodes()) expect(env.fleet!.installedVersion(n)).to.equal("v1.2.5");
    });
});
