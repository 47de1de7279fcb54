/**
 * The pull-request workflow (.github/workflows/preview.yml) and the scripts a hosted runner runs: actionlint (built
 * from the Go module proxy at the pinned version) passes on the workflow and catches a broken copy; the workflow
 * uses the project's Node version, caches the built toolchain, runs the root-needing suites under sudo; setup.sh
 * installs Debian packages through sudo when it is not root.
 */
import { expect } from "chai";
import { execFileSync, spawnSync } from "child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { parse } from "yaml";
import { requireRoot } from "../../reference/root";

const ROOT = path.resolve(__dirname, "../..");
const WORKFLOW = path.join(ROOT, ".github/workflows/preview.yml");
const versions = Object.fromEntries(readFileSync(path.join(ROOT, "scripts/versions.env"), "utf8").split("\n")
    .filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split("=", 2) as [string, string]));

describe("the pull-request workflow on a hosted runner", function () {
    this.timeout(300_000); // a cold actionlint build
    let actionlint: string;
    before(() => {
        const out = execFileSync("bash", [path.join(ROOT, "scripts/build-actionlint.sh")], { encoding: "utf8" }).trim().split("\n");
        actionlint = out[out.length - 1];
    });

    it(`is clean under actionlint v${versions.ACTIONLINT_VERSION}, built from the Go module proxy`, () => {
        expect(execFileSync(actionlint, ["-version"], { encoding: "utf8" }).split("\n")[0]).to.equal(`v${versions.ACTIONLINT_VERSION}`);
        const run = spawnSync(actionlint, ["-no-color", WORKFLOW], { encoding: "utf8" });
        expect(run.stdout + run.stderr, "actionlint findings").to.equal("");
        expect(run.status).to.equal(0);
    });

    it("actionlint really lints: a broken copy of the workflow fails with the line", () => {
        const dir = mkdtempSync(path.join(tmpdir(), "workflow-"));
        const broken = path.join(dir, "preview.yml");
        writeFileSync(broken, readFileSync(WORKFLOW, "utf8").replace("${{ matrix.stack }}.json", "${{ matrix.stacks }}.json"));
        const run = spawnSync(actionlint, ["-no-color", broken], { encoding: "utf8" });
        expect(run.status).to.equal(1);
        expect(run.stdout).to.match(/property "stacks" is not defined/);
    });

    const workflow = () => parse(readFileSync(WORKFLOW, "utf8")) as { jobs: Record<string, { "runs-on": string; needs?: string; steps: Record<string, any>[] }> };

    it("runs the tests on a hosted Ubuntu runner with the project's Node version and the toolchain cached", () => {
        const { test } = workflow().jobs;
        expect(test["runs-on"]).to.match(/^ubuntu-\d/);
        const node = test.steps.find((s) => String(s.uses).startsWith("actions/setup-node@"))!;
        expect(node.with["node-version-file"]).to.equal(".node-version");
        const cache = test.steps.find((s) => String(s.uses).startsWith("actions/cache@"))!;
        expect(cache.with.path).to.contain("~/.cache/agenc-deploy/toolchain").and.contain("~/.cache/agenc-deploy/tools");
        expect(cache.with.key).to.contain("scripts/versions.env");
        const runs = test.steps.map((s) => String(s.run ?? ""));
        expect(runs).to.include("bash scripts/setup.sh");
        expect(runs.filter((r) => /npm (test|run test:e2e)/.test(r))).to.deep.equal([
            'sudo -E env "PATH=$PATH" "HOME=$HOME" npm test', 'sudo -E env "PATH=$PATH" "HOME=$HOME" npm run test:e2e',
        ]);
    });

    it("previews both stacks only after the tests passed, with the CLI of the SDK's version", () => {
        const { preview } = workflow().jobs;
        expect(preview.needs).to.equal("test");
        const action = preview.steps.find((s) => String(s.uses).startsWith("pulumi/actions@"))!;
        expect(action.with["pulumi-version"]).to.equal(versions.PULUMI_VERSION);
        expect(preview.steps.find((s) => String(s.uses).startsWith("actions/setup-node@"))!.with["node-version-file"]).to.equal(".node-version");
    });

    it("setup.sh installs Debian packages through sudo when it is not root", () => {
        // Stubs: `id` says uid 1000, `sudo` only records what it was asked to run (and stops at the install), and
        // PATH holds nothing else, so every tool looks missing.
        const bin = mkdtempSync(path.join(tmpdir(), "setup-stubs-"));
        const log = path.join(bin, "sudo.log");
        const stub = (name: string, body: string) => { writeFileSync(path.join(bin, name), `#!/bin/bash\n${body}\n`); chmodSync(path.join(bin, name), 0o755); };
        stub("id", 'echo 1000');
        stub("sudo", `echo "sudo $*" >> '${log}'; [ "$1" = tee ] && cat >/dev/null; case "$*" in *" install "*) exit 42;; esac; exit 0`);
        stub("dirname", 'exec /usr/bin/dirname "$@"');
        const run = spawnSync("/bin/bash", [path.join(ROOT, "scripts/setup.sh")], { encoding: "utf8", env: { PATH: bin, HOME: bin } });
        expect(run.status, run.stderr).to.equal(42);
        expect(run.stderr).to.match(/apt-get install .*prometheus.* \(with sudo\)/);
        const calls = readFileSync(log, "utf8").trim().split("\n");
        expect(calls[0]).to.equal("sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq");
        expect(calls[1]).to.equal("sudo tee /usr/sbin/policy-rc.d");
        expect(calls[3]).to.match(/^sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus prometheus-alertmanager/);
    });

    it("the suites that need root say so, with the sudo command, instead of failing on unshare", () => {
        const getuid = process.getuid;
        process.getuid = () => 1000;
        try {
            expect(() => requireRoot("an SSH test node")).to.throw(/^an SSH test node needs root \(unshare creates Linux namespaces\); run the tests as root, or under sudo keeping PATH and HOME: sudo -E env "PATH=\$PATH" "HOME=\$HOME" npm test$/);
        } finally {
            process.getuid = getuid;
        }
        expect(() => requireRoot("as root here")).to.not.throw();
    });
});
