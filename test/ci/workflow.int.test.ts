/**
 * The pull-request workflow (.github/workflows/preview.yml) and the scripts a hosted runner runs: actionlint (built
 * from the Go module proxy at the pinned version) passes on the workflow and catches a broken copy; the workflow
 * uses the project's Node version and its Go version (.go-version, at least every pinned Go module's `go` line),
 * caches the built toolchain and the test control plane, runs the root-needing suites under sudo; setup.sh installs
 * Debian packages through sudo when it is not root.
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

    // A cache restored before its build and saved right after it (not at the end of the job: a failing test would
    // throw a cold build away), under the restore step's key, only when it missed.
    const cacheAround = (steps: Record<string, any>[], dir: string, build: string) => {
        const restore = steps.findIndex((s) => String(s.uses).startsWith("actions/cache/restore@") && String(s.with.path).includes(dir));
        const built = steps.findIndex((s) => s.run === build);
        const save = steps.findIndex((s) => String(s.uses).startsWith("actions/cache/save@") && String(s.with.path).includes(dir));
        expect(restore, `restore of ${dir}`).to.be.at.least(0);
        expect(built, build).to.be.greaterThan(restore);
        expect(save, `save of ${dir} right after \`${build}\``).to.equal(built + 1);
        const id = steps[restore].id;
        expect(steps[save].with.path).to.equal(steps[restore].with.path);
        expect(steps[save].with.key).to.equal(`\${{ steps.${id}.outputs.cache-primary-key }}`);
        expect(steps[save].if).to.equal(`steps.${id}.outputs.cache-hit != 'true'`);
        return steps[restore].with as { path: string; key: string };
    };

    it("runs the tests on a hosted Ubuntu runner with the project's Node version and the toolchain cached", () => {
        const { test } = workflow().jobs;
        expect(test["runs-on"]).to.match(/^ubuntu-\d/);
        const node = test.steps.find((s) => String(s.uses).startsWith("actions/setup-node@"))!;
        expect(node.with["node-version-file"]).to.equal(".node-version");
        const cache = cacheAround(test.steps, "~/.cache/agenc-deploy/toolchain", "bash scripts/build-toolchain.sh");
        expect(cache.path).to.contain("~/.cache/agenc-deploy/toolchain").and.contain("~/.cache/agenc-deploy/tools");
        expect(cache.key).to.contain("scripts/versions.env").and.contain("scripts/build-toolchain.sh").and.contain("scripts/build-actionlint.sh")
            .and.contain("scripts/build-signing.sh");
        // crane and cosign go into the same tools cache: built before it is saved.
        expect(test.steps.findIndex((s) => s.run === "bash scripts/build-signing.sh"), "the signing tools built before the save")
            .to.be.greaterThan(-1).and.lessThan(test.steps.findIndex((s) => s.run === "bash scripts/build-toolchain.sh"));
        expect(test.steps.findIndex((s) => s.run === "bash scripts/setup.sh"), "actionlint (setup.sh) built before the save")
            .to.be.lessThan(test.steps.findIndex((s) => s.run === "bash scripts/build-toolchain.sh"));
        const runs = test.steps.map((s) => String(s.run ?? ""));
        expect(runs).to.include("bash scripts/setup.sh");
        expect(runs.filter((r) => /npm (test|run test:e2e)/.test(r))).to.deep.equal([
            'sudo -E env "PATH=$PATH" "HOME=$HOME" npm test', 'sudo -E env "PATH=$PATH" "HOME=$HOME" npm run test:e2e',
        ]);
    });

    it("caches the test control plane (build-k8s.sh) keyed by its versions and the script, built before the tests", () => {
        const { test } = workflow().jobs;
        const cache = cacheAround(test.steps, "~/.cache/agenc-deploy/k8s", "bash scripts/build-k8s.sh");
        expect(cache.path).to.equal("~/.cache/agenc-deploy/k8s");
        expect(cache.key).to.contain("hashFiles('scripts/build-k8s.sh')");
        // The versions that name build-k8s.sh's cache folder, read from versions.env by the `versions` step.
        const versionsStep = test.steps.find((s) => s.id === "versions")!;
        expect(versionsStep.run).to.equal(`grep -E '^[A-Z_]+=' scripts/versions.env >> "$GITHUB_OUTPUT"`);
        expect(test.steps.indexOf(versionsStep)).to.be.lessThan(test.steps.findIndex((s) => s.id === "k8s-cache"));
        for (const v of ["KUBERNETES_VERSION", "ETCD_VERSION", "KWOK_VERSION", "PROMETHEUS_OPERATOR_VERSION"]) {
            expect(readFileSync(path.join(ROOT, "scripts/build-k8s.sh"), "utf8")).to.contain(`$${v}`);
            expect(cache.key).to.contain(`\${{ steps.versions.outputs.${v} }}`);
        }
        expect(test.steps.findIndex((s) => s.run === "bash scripts/build-k8s.sh")).to.be.lessThan(test.steps.findIndex((s) => /npm test/.test(String(s.run ?? ""))));
    });

    it("installs the project's one Go version (.go-version), at least every pinned Go module's `go` line", () => {
        const go = readFileSync(path.join(ROOT, ".go-version"), "utf8").trim();
        expect(go, "an exact release, as the local runs used").to.match(/^\d+\.\d+\.\d+$/);
        const setupGo = workflow().jobs.test.steps.find((s) => String(s.uses).startsWith("actions/setup-go@"))!;
        expect(setupGo.with).to.deep.equal({ "go-version-file": ".go-version", cache: false });
        // What the scripts build: build-k8s.sh (GOTOOLCHAIN=local: an older Go refuses, none is downloaded),
        // build-toolchain.sh, build-actionlint.sh.  The wrappers' `go mod tidy` raises their own go line to these
        // (the 33 k8s.io staging modules at v0.X.Y declare the same as k8s.io/kubernetes).
        const modules = [
            `k8s.io/kubernetes@v${versions.KUBERNETES_VERSION}`, `go.etcd.io/etcd/server/v3@v${versions.ETCD_VERSION}`,
            `sigs.k8s.io/kwok@v${versions.KWOK_VERSION}`, `github.com/pulumi/pulumi/pkg/v3@v${versions.PULUMI_VERSION}`,
            `github.com/pulumi/pulumi/sdk/v3@v${versions.PULUMI_VERSION}`, `github.com/rhysd/actionlint@v${versions.ACTIONLINT_VERSION}`,
            // build-signing.sh builds them with GOTOOLCHAIN=local.
            `github.com/google/go-containerregistry@v${versions.CRANE_VERSION}`, `github.com/sigstore/cosign/v2@v${versions.COSIGN_VERSION}`,
        ];
        // `go list -m` reads each module's go.mod only (from the module cache, else the proxy), outside any module.
        const out = execFileSync("go", ["list", "-m", "-f", "{{.Path}}@{{.Version}} {{.GoVersion}}", ...modules], { encoding: "utf8", cwd: tmpdir() });
        const declared = out.trim().split("\n").map((l) => l.split(" ") as [string, string]);
        expect(declared.map(([m]) => m)).to.deep.equal(modules);
        const parts = (v: string) => v.split(".").map(Number);
        const atLeast = (a: string, b: string) => {
            const [x, y] = [parts(a), parts(b)];
            for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0);
            return true;
        };
        for (const [m, v] of declared) {
            expect(v, `${m}'s go line`).to.match(/^\d+\.\d+(\.\d+)?$/);
            expect(atLeast(go, v), `.go-version ${go} >= ${m}'s go ${v}`).to.equal(true);
        }
        expect(atLeast("1.26.8", "1.26.0") && !atLeast("1.25.11", "1.26.0") && atLeast("1.26", "1.26.0")).to.equal(true);
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
        // `tee` reads what setup.sh pipes to it (/bin/cat: PATH holds only the stubs): a stub that did not would race
        // printf under pipefail, and setup.sh stopped before the install one run in three.
        stub("sudo", `echo "sudo $*" >> '${log}'; [ "$1" = tee ] && /bin/cat >/dev/null; case "$*" in *" install "*) exit 42;; esac; exit 0`);
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
