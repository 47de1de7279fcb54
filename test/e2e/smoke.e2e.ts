/**
 * Blue-green's smoke tests under the real engine (issue 13): the SmokeTest dynamic resource as the engine runs it
 * (serialised provider, file backend, passphrase), against a reference service playing green on loopback.  A green
 * at the release version passes; a green that does not answer at the release fails the update with every check named.
 */
import { expect } from "chai";
import { mkdtempSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { SmokeTest } from "../../providers/smokeTest";
import { LocalEnvironment, PROJECT, startLocalEnvironment, toolchain } from "../../scripts/localStack";

describe("the real engine: smoke tests against green before it gets traffic", function () {
    this.timeout(300_000);
    let env: LocalEnvironment;
    let stack: Stack;
    let version = "v1.2.4";
    let output = "";

    before(async () => {
        env = await startLocalEnvironment({ workDir: mkdtempSync(path.join(tmpdir(), "e2e-smoke-")), binDir: toolchain(), nodes: 0, release: "v1.2.4" });
        const ws = await LocalWorkspace.create({
            workDir: env.workDir,
            pulumiCommand: await PulumiCommand.get({ root: path.dirname(env.binDir), skipVersionCheck: true }),
            envVars: env.envVars,
            projectSettings: { name: PROJECT, runtime: "nodejs", description: "SmokeTest under the engine" },
            program: async () => {
                const smoke = new SmokeTest("green-smoke", { stage: "stage-3-100pct", url: env.service.url, version, timeoutMs: 2000, deadlineSeconds: 3, pollSeconds: 0.5 });
                return { passedAt: smoke.passedAt };
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
        expect(up.outputs.passedAt.value).to.match(/^\d{4}-\d\d-\d\dT/);
        expect(output, "the provider's progress reaches the operator").to.match(/\[smoke\] http:\/\/127\.0\.0\.1:\d+ attempt 1: all green/);
    });

    it("fails the update, naming each check, when green does not run the release", async () => {
        version = "v1.2.5";
        const err = await stack.up({ onOutput: () => undefined }).then(() => undefined, (e: Error) => e);
        expect(err, "a green at another version passed its smoke tests").to.not.equal(undefined);
        expect(err!.message).to.match(/smoke tests against green \(http:\/\/127\.0\.0\.1:\d+, v1\.2\.5\) failed after \d+ attempt\(s\); the primary Service stays on blue/);
        expect(err!.message).to.match(/FAIL {2}GET \/health is healthy at v1\.2\.5: healthy v1\.2\.4/);
    });
});
