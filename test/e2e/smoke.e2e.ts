/**
 * A new track's smoke tests under the real engine (issues 13, 14): the ReleaseSmokeTest dynamic resource as the
 * engine runs it for green or a canary (serialised provider, file backend, passphrase), against a reference service
 * playing green on loopback.  A green at the release version passes seed 000's suite; a green that does not answer at
 * the release fails the update with every check named.
 */
import { expect } from "chai";
import { mkdtempSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { ReleaseSmokeTest } from "../../providers/releaseSmoke";
import { isolateInlineGrpcChannels, LocalEnvironment, PROJECT, startLocalEnvironment, toolchain } from "../../scripts/localStack";

describe("the real engine: smoke tests against green before it gets traffic", function () {
    this.timeout(300_000);
    let env: LocalEnvironment;
    let stack: Stack;
    let version = "v1.2.4";
    let output = "";

    before(async () => {
        env = await startLocalEnvironment({ workDir: mkdtempSync(path.join(tmpdir(), "e2e-smoke-")), binDir: toolchain(), nodes: 0, release: "v1.2.4" });
        isolateInlineGrpcChannels();
        const ws = await LocalWorkspace.create({
            workDir: env.workDir,
            pulumiCommand: await PulumiCommand.get({ root: path.dirname(env.binDir), skipVersionCheck: true }),
            envVars: env.envVars,
            projectSettings: { name: PROJECT, runtime: "nodejs", description: "SmokeTest under the engine" },
            program: async () => {
                const smoke = new ReleaseSmokeTest("green-smoke", {
                    track: "green", version, serviceUrl: env.service.url, adminToken: env.adminToken, timeoutMs: 2000, expectVersion: true,
                    retry: { deadlineSeconds: 3, pollSeconds: 0.5 }, artifactsDir: path.join(env.workDir, "artifacts/releases"),
                });
                return { verdict: smoke.verdict };
            },
        });
        stack = await Stack.createOrSelect("e2e-smoke", ws);
    });
    after(async () => {
        await stack?.destroy({ onOutput: () => undefined }).catch(() => undefined);
        await env?.stop();
    });

    it("passes a green that is healthy and ready at the release version, with its metrics", async () => {
        const up = await stack.up({ onOutput: (s) => { output += s; } });
        expect(up.summary.result).to.equal("succeeded");
        expect(up.outputs.verdict.value).to.equal("pass");
        expect(output, "the provider's progress reaches the operator").to.match(/\[smoke-green\] http:\/\/127\.0\.0\.1:\d+ attempt 1: all green/);
    });

    it("fails the update, naming each check, when green does not run the release", async () => {
        version = "v1.2.5";
        const err = await stack.up({ onOutput: () => undefined }).then(() => undefined, (e: Error) => e);
        expect(err, "a green at another version passed its smoke tests").to.not.equal(undefined);
        expect(err!.message).to.match(/smoke tests of the green track \(http:\/\/127\.0\.0\.1:\d+, v1\.2\.5\) failed after \d+ attempt\(s\); no traffic moved to it: 1 check\(s\) failed \(1-health\)/);
        expect(err!.message).to.match(/1-health\s+GET http:\S+\/health\s+HTTP 200 .*"version":"v1\.2\.4".*\s+\.status == "healthy" and \.version == "v1\.2\.5"\s+FAIL/);
    });
});
