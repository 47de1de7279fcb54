/**
 * Seed 000's smoke-test and health-check scripts, run as the seed gives them (verbatim, bash + curl + jq, the
 * service on localhost:9090 and the proof workers on localhost:9091) against the reference workloads.  The fixed
 * ports are the seed's, so each run gets its own network namespace: no clash with other tests or worktrees.
 */
import { expect } from "chai";
import { spawn } from "child_process";
import { mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { requireRoot } from "../../reference/root";
import { seedScript } from "../helpers/seedScripts";
import { skipWithoutShared } from "../helpers/shared";

const ROOT = path.resolve(__dirname, "../..");
const TOKEN = "seed-script-admin-token";

/** Starts the reference workloads on the seed's ports inside a fresh network namespace and runs `script` there. */
function inNamespace(script: string, faults: string[] = []): Promise<{ code: number; out: string }> {
    requireRoot("seed 000's scripts in their own network namespace");
    const dir = mkdtempSync(path.join(tmpdir(), "seed-scripts-"));
    writeFileSync(path.join(dir, "run.sh"), script);
    const serve = `node -r ts-node/register/transpile-only reference/cli.ts serve --port 9090 --worker-port 9091 ${faults.map((f) => `--fault ${f}`).join(" ")}`;
    const wrapper = [
        "set -u",
        "ip link set lo up",
        `${serve} >"${dir}/serve.log" 2>&1 & pid=$!`,
        // Wait for the service to listen (curl's own connection retries), then run the seed's script.
        "curl -s -o /dev/null --retry 200 --retry-connrefused --retry-delay 0 --retry-max-time 60 http://127.0.0.1:9090/ready",
        `bash "${dir}/run.sh"; rc=$?`,
        "kill $pid; wait $pid 2>/dev/null; exit $rc",
    ].join("\n");
    return new Promise((resolve, reject) => {
        const child = spawn("unshare", ["--net", "bash", "-c", wrapper], { cwd: ROOT, env: { ...process.env, ADMIN_TOKEN: TOKEN } });
        let out = "";
        child.stdout.on("data", (c) => (out += c));
        child.stderr.on("data", (c) => (out += c));
        child.on("error", reject);
        child.on("exit", (code) => resolve({ code: code ?? -1, out }));
    });
}

describe("seed 000's scripts against the reference workloads", function () {
    this.timeout(120_000);
    // The scripts are read from ../shared/seeds: a clone without it skips these (CI requires it: .ci/run).
    beforeEach(function () { skipWithoutShared(this, "seeds"); });

    it("smoke-test.sh passes all six tests, the config API answering the documented .speculation.enabled", async () => {
        const { code, out } = await inNamespace(seedScript("smoke-test.sh"));
        expect(out, out).to.match(/4\. Config API\.\.\. ✅ PASS/);
        expect(out).to.match(/5\. Proof workers\.\.\. ✅ PASS/);
        expect(out).to.match(/=== All smoke tests passed ===/);
        expect(code).to.equal(0);
    });

    it("health-check.sh passes against a healthy service and names the unhealthy component otherwise", async () => {
        const ok = await inNamespace(`set -- http://localhost:9090\n${seedScript("health-check.sh")}`);
        expect(ok.out, ok.out).to.match(/✅ All health checks passed/);
        expect(ok.code).to.equal(0);
        const bad = await inNamespace(`set -- http://localhost:9090\n${seedScript("health-check.sh")}`, ["unhealthy=stake_pool"]);
        expect(bad.out).to.not.match(/All health checks passed/);
        expect(bad.code).to.not.equal(0);
    });
});
