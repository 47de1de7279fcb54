/**
 * The operator's workflows under the real Pulumi engine (the CLI built from Go modules, a file backend, a
 * passphrase, the Automation API), against the reference workloads and two local SSH nodes:
 * stage 1 → config edit → stage 2, drift seen by refresh, a fault failing the next stage at its gate with traffic
 * back at 0 %, preview with the policy pack per stack, destroy restoring everything, and no plaintext secret in
 * the state, the export or the logs.  The steps share one stack and run in order.
 */
import { expect } from "chai";
import { execFileSync } from "child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { LocalEnvironment, localConfig, openStack, policyConfig, POLICY_PACK, startLocalEnvironment, toolchain } from "../../scripts/localStack";

function filesUnder(dir: string): string[] {
    return readdirSync(dir).flatMap((f) => {
        const p = path.join(dir, f);
        return statSync(p).isDirectory() ? filesUnder(p) : [p];
    });
}

describe("the real engine: operator workflows on the local stack", function () {
    this.timeout(300_000);
    let env: LocalEnvironment;
    let stack: Stack;
    let logs = "";
    const log = (s: string) => { logs += s; };
    // A private registry's password (speculation:registryCredentials, a secret the signature verification takes as
    // an input): it must stay out of the state, the export and the logs like the other secrets.
    const registryPassword = `registry-${Date.now()}-0123456789`;
    // The Pushgateway's password (speculation:pushgatewayCredentials, a secret input of every step that pushes): the
    // local gateway takes no auth and ignores it, but it must stay out of the state, the export and the logs the same way.
    const pushgatewayPassword = `pushgateway-${Date.now()}-0123456789`;
    // Watch bake mode: each stage's up runs the live gate for its whole (3 s) bake, as staging does.
    const set = (pct: number, edit: (c: Record<string, any>) => void = () => undefined) => ({
        ...localConfig(env, (c) => { c["speculation:rolloutPercentage"] = pct; c["speculation:canary"].gate.bakeMode = "watch"; edit(c); }),
        "speculation:registryCredentials": { value: JSON.stringify({ "registry.example.com": { username: "ci", password: registryPassword } }), secret: true },
        "speculation:pushgatewayCredentials": { value: JSON.stringify({ username: "ci", password: pushgatewayPassword }), secret: true },
    });
    const open = async (pct: number, edit?: (c: Record<string, any>) => void) => { stack = await openStack(env, "e2e", set(pct, edit)); return stack; };
    const pack = (name: "local" | "staging" | "production") => ({ policyPacks: [POLICY_PACK], policyPackConfigs: [policyConfig(name)], onOutput: log });

    before(async () => {
        const binDir = toolchain();
        env = await startLocalEnvironment({ workDir: mkdtempSync(path.join(tmpdir(), "e2e-")), binDir, nodes: 2 });
        stack = await openStack(env, "e2e", set(10), true);
    });
    after(async () => env?.stop());

    it("runs on the project's one Node version, and so do the engine's Node plugins (they run `node` from PATH)", () => {
        const want = `v${readFileSync(path.resolve(__dirname, "../../.node-version"), "utf8").trim()}`;
        expect(process.version).to.equal(want);
        expect(execFileSync("node", ["--version"], { encoding: "utf8" }).trim()).to.equal(want);
    });

    it("pulumi up of stage 1 (10 %): bench, node rollout and the stage's gate pass; traffic is at 10 %", async () => {
        const up = await stack.up(pack("local"));
        expect(up.summary.result).to.equal("succeeded");
        expect(up.outputs.gateVerdicts.value).to.deep.equal(["pass"]);
        expect(up.outputs.benchVerdict.value).to.equal("pass");
        expect(up.outputs.preflightVerdict.value).to.equal("pass");
        expect(up.outputs.smokeVerdict.value).to.equal("pass");
        expect(env.chain.calls).to.include.members(["getHealth", "getBalance"]);
        expect(up.outputs.nodeDeployment.value).to.include({ status: "deployed", version: "v1.2.4", nodeCount: 2 });
        expect(env.service.state).to.include({ enabled: true, rolloutPercentage: 10 });
        for (const n of env.fleet!.nodes) expect(env.fleet!.installedVersion(n)).to.equal("v1.2.4");
    });

    it("pulumi config set to the next percentage and up again: stage 2 is measured and passes", async () => {
        await open(50);
        const up = await stack.up(pack("local"));
        expect(up.outputs.gateVerdicts.value).to.deep.equal(["pass", "pass"]);
        expect(up.summary.resourceChanges).to.include({ create: 4 });
        expect(env.service.state.rolloutPercentage).to.equal(50);
    });

    it("pulumi refresh shows a percentage changed out of band through the admin API, and up puts the stage's back", async () => {
        const res = await fetch(`${env.service.url}/admin/config`, {
            method: "POST", headers: { authorization: `Bearer ${env.adminToken}` },
            body: JSON.stringify({ "speculation.enabled": true, "speculation.features.rollout_percentage": 25 }),
        });
        expect(res.status).to.equal(200);
        const refresh = await stack.refresh({ onOutput: log });
        expect(refresh.summary.resourceChanges?.update, "refresh records the drift").to.be.at.least(1);
        const state = await stack.exportStack();
        const shift = state.deployment.resources.find((r: { urn: string }) => r.urn.endsWith("TrafficShift::stage-2-50pct-shift"));
        expect(shift.outputs.livePercentage).to.equal(25);
        await open(50);
        await stack.up(pack("local"));
        expect(env.service.state.rolloutPercentage, "the next up re-applies the stage's percentage").to.equal(50);
    });

    it("an unhealthy chain stops the next release edit at preflight with the table: traffic and stages unchanged", async () => {
        env.chain.setFaults({ unhealthy: true });
        await open(100);
        const err = await stack.up(pack("local")).then(() => undefined, (e: Error) => e);
        env.chain.setFaults({ unhealthy: false });
        expect(err, "a release edit went ahead with an unhealthy chain").to.not.equal(undefined);
        expect(err!.message).to.match(/preflight failed: 1 check\(s\) failed \(chain-health\); nothing after this step was changed/);
        expect(err!.message).to.match(/chain-health\s+getHealth at http:\S+\s+error: getHealth: RPC error -32005 Node is unhealthy\s+"ok"\s+FAIL/);
        expect(env.service.state.rolloutPercentage).to.equal(50);
        const state = await stack.exportStack();
        // Nothing of stage 3 measured or shifted: its baseline and shift wait for the preflight like stage 1's.
        expect(state.deployment.resources.filter((r: { urn: string }) => /(TrafficShift|ErrorBaseline)::stage-3-100pct/.test(r.urn))).to.deep.equal([]);
    });

    it("a failing service is never given more traffic: the health check right before the shift refuses it, nothing changes", async () => {
        // A component gone unhealthy (no alert rule covers it, so the watchdog stays out of this).
        env.service.setFaults({ unhealthy: ["stake_pool"] });
        await open(100);
        const err = await stack.up(pack("local")).then(() => undefined, (e: Error) => e);
        env.service.setFaults({ unhealthy: [] });
        expect(err, "traffic rose onto a service with an unhealthy component").to.not.equal(undefined);
        const said = err!.message.split("\n").filter((l) => /no-go|error|failed|refused/i.test(l)).slice(0, 6).join("\n");
        expect(err!.message, said).to.match(/stage-3-100pct: the health check before the shift to 100 % is a no-go — traffic was NOT raised: .*component stake_pool \(expected healthy\)/);
        expect(err!.message).to.match(/component stake_pool\s+GET \/health\/detailed\s+unhealthy\s+healthy\s+HOLD/);
        expect(env.service.state).to.include({ enabled: true, rolloutPercentage: 50 });
        const state = await stack.exportStack();
        expect(state.deployment.resources.filter((r: { urn: string }) => /(TrafficShift|HealthGate)::stage-3-100pct/.test(r.urn))).to.deep.equal([]);
    });

    it("a fault after the shift fails the stage at its gate — a fat latency tail: traffic back to 0 %, the message names p99/p95", async () => {
        // The fault goes in when the gate says it has started sampling (its first progress line), after the shift.
        let injected = false;
        const onOutput = (o: string) => {
            log(o);
            if (!injected && /\[gate stage-3-100pct\] bake: 100 % of traffic/.test(o)) { injected = true; env.service.setFaults({ tailLatencyMs: 200 }); }
        };
        await open(100, (c) => { c["speculation:canary"].steps[2].bake = "30s"; });
        const err = await stack.up({ ...pack("local"), onOutput }).then(() => undefined, (e: Error) => e);
        env.service.setFaults({ tailLatencyMs: 0 });
        expect(injected, "the gate never said it started").to.equal(true);
        expect(err, "the stage with a fat latency tail passed").to.not.equal(undefined);
        expect(err!.message).to.match(/health gate stage-3-100pct \(100 %, v1\.2\.4\) failed .*no-go: latencyTailRatio \(above the abort threshold 2\)/);
        expect(err!.message).to.include("Traffic reverted: rollout percentage is 0 (confirmed).");
        const rows = err!.message.split("\n").filter((l) => /latency|critical alerts/.test(l)).join("\n");
        expect(err!.message, rows).to.match(/latencyP99\s+p99 of Δspeculation_operation_duration_seconds_bucket between scrapes\s+0\.\d+\s+< 1 to promote, > 5 aborts\s+PASS/);
        expect(err!.message, rows).to.match(/critical alerts\s+GET http:\S+\/api\/v2\/alerts\?filter=severity="critical"\s+none\s+none firing\s+PASS/);
        expect(env.service.state.rolloutPercentage).to.equal(0);
    });

    it("pulumi preview with the policy pack: the valid plan passes; a violating one is rejected in production and warned in staging", async () => {
        await open(50);
        const ok = await stack.preview(pack("local"));
        expect(ok.stdout).to.not.match(/mandatory|advisory/);
        // The Guard records the computed bound as its inputs: an edit that lengthens it (a 3 s watchdog poll instead of
        // 1 s: the poll term 2 s → 6 s, the worst bound 32.75 s → 36.75 s) shows in the preview, per trigger too.
        await open(50, (c) => { c["speculation:watchdog"] = { ...c["speculation:watchdog"], pollInterval: "3s" }; });
        const slower = await stack.preview({ ...pack("local"), diff: true });
        expect(slower.stdout).to.match(/agenc:deploy:Guard/);
        expect(slower.stdout).to.match(/boundSeconds\s*:\s*32\.75\s*=>\s*36\.75/);
        expect(slower.stdout).to.match(/SpeculationErrorBudgetFastBurn\s*:\s*"30\.75s"\s*=>\s*"34\.75s"/);
        // A first node batch of two is against the node-rollout-limits policy (at most 1).
        await open(50, (c) => { c["speculation:nodes"].serial = [2]; });
        const warned = await stack.preview(pack("staging"));
        expect(warned.stdout).to.match(/\[advisory\] {2}node-rollout-limits/);
        expect(warned.stdout).to.match(/alys-nodes-ssh: the first batch has 2 nodes; at most 1\./);
        const rejected = await stack.preview(pack("production")).then(() => undefined, (e: Error) => e);
        expect(rejected, "production accepted a violating plan").to.not.equal(undefined);
        expect(rejected!.message).to.match(/\[mandatory\] {2}node-rollout-limits/);
        expect(rejected!.message).to.match(/the first batch has 2 nodes; at most 1\./);
        await open(50);
    });

    it("pulumi stack export, the state files and the logs hold no plaintext secret", async () => {
        const secrets = { adminToken: env.adminToken, passphrase: env.passphrase, sshKey: env.sshPrivateKey!.split("\n")[1], registryPassword, pushgatewayPassword };
        // Every dynamic resource carries its serialised provider in the state: the export is several MB, past
        // execFileSync's 1 MB default buffer (ENOBUFS).
        const exported = execFileSync(path.join(env.binDir, "pulumi"), ["stack", "export", "--stack", "e2e"], {
            cwd: env.workDir, env: { ...process.env, ...env.envVars }, maxBuffer: 256 * 1024 * 1024,
        }).toString();
        const state = filesUnder(path.join(env.workDir, "state")).map((f) => readFileSync(f, "utf8")).join("\n");
        for (const [name, value] of Object.entries(secrets)) {
            expect(value.length, name).to.be.greaterThan(10);
            expect(exported.includes(value), `${name} in pulumi stack export`).to.equal(false);
            expect(state.includes(value), `${name} in the state files`).to.equal(false);
            expect(logs.includes(value), `${name} in the engine's output`).to.equal(false);
        }
        expect(exported).to.match(/"ciphertext":/);
        // The credentials reached the verification step as a secret input (encrypted, not merely absent).
        const steps = JSON.parse(exported).deployment.resources.filter((r: { type: string }) => r.type.endsWith("dynamic/agenc:SignatureVerification"));
        expect(steps.map((r: { inputs: { registryCredentials?: unknown } }) => Object.keys(r.inputs.registryCredentials as object ?? {}))).to.deep.equal([["4dabf18193072939515e22adb298388d", "ciphertext"]]);
        // So did the Pushgateway's, to the deployment record and to each stage's baseline and gate.
        const pushers = JSON.parse(exported).deployment.resources.filter((r: { type: string }) => /dynamic\/agenc:(DeploymentRecord|ErrorBaseline|HealthGate)$/.test(r.type));
        expect(pushers.length).to.be.greaterThan(0);
        for (const r of pushers as { type: string; inputs: { pushgatewayAuth?: unknown } }[]) {
            expect(Object.keys(r.inputs.pushgatewayAuth as object ?? {}), r.type).to.deep.equal(["4dabf18193072939515e22adb298388d", "ciphertext"]);
        }
    });

    it("full rollback as one config edit: speculation disabled, pending operations drained with a line per poll, left disabled", async () => {
        // Live traffic with a backlog of in-flight speculative operations that settles at 100/s once disabled.
        Object.assign(env.service.state, { enabled: true, rolloutPercentage: 50 });
        env.service.setFaults({ pendingOperations: 300, drainPerSecond: 100 });
        let output = "";
        await open(50, (c) => { c["speculation:rollback"] = { mode: "full", drainPollInterval: "1s", drainTimeout: "60s" }; });
        const up = await stack.up({ ...pack("local"), onOutput: (o) => { output += o; log(o); } });
        expect(up.summary.result).to.equal("succeeded");
        expect(output).to.include("[drain] speculation disabled (read back: disabled at 0 %)");
        expect(output).to.match(/\[drain\] poll 1: pending operations \d+ \(waiting for < 10/);
        expect(output).to.match(/\[drain\] poll \d+: pending operations \d \(< 10: drained after/);
        expect(up.outputs.rolloutPercentage.value).to.equal(0);
        expect(up.outputs.rollback.value.verdict).to.equal("pass");
        // Every stage was removed and none handed traffic back: speculation stays disabled until the operator says.
        expect(env.service.state).to.include({ enabled: false, rolloutPercentage: 0 });
        const state = await stack.exportStack();
        expect(state.deployment.resources.filter((r: { type: string }) => r.type === "agenc:deploy:CanaryStage")).to.deep.equal([]);
        const records = readFileSync(path.join(env.workDir, "artifacts/releases/deployments.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
        expect(records[records.length - 1]).to.include({ outcome: "rollback-full", rolloutPercentage: 0 });
        expect(records[records.length - 1].verdicts).to.include({ drain: "pass", smoke: "pass" });
        env.service.setFaults({ pendingOperations: 0 });
    });

    it("pulumi destroy cleans up: traffic handed back to 0 %, every node restored to its backup", async () => {
        const destroy = await stack.destroy({ onOutput: log });
        expect(destroy.summary.result).to.equal("succeeded");
        expect(env.service.state.rolloutPercentage).to.equal(0);
        for (const n of env.fleet!.nodes) {
            expect(env.fleet!.installedVersion(n)).to.equal("v1.2.3");
            expect(await env.fleet!.healthy(n)).to.equal(true);
        }
        const state = await stack.exportStack();
        expect(state.deployment.resources ?? []).to.have.length(0);
    });
});
