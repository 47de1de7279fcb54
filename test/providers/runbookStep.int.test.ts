/**
 * Every runbook step (preflight, smoke tests, verification, drain, bench, deployment record, bake window) watches the
 * engine through the one skeleton (providers/runbookStep.ts): when its engine dies mid-step, the step is abandoned,
 * writes nothing for the update that no longer exists, and its process exits.  Real processes: a parent stands in for
 * the engine and is killed with SIGKILL, as a killed `pulumi up` leaves its provider process behind.
 */
import { expect } from "chai";
import { ChildProcess, spawn } from "child_process";
import { existsSync, mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { alive } from "../helpers/processes";
import { eventually } from "../helpers/wait";

const RUNNER = path.resolve(__dirname, "../helpers/stepUntilOrphaned.ts");

describe("runbook steps watch the engine (issue 24)", function () {
    this.timeout(60_000);

    it("a step whose engine is killed mid-run is abandoned, writes no report, and its process exits within 5 s", async () => {
        const dir = mkdtempSync(path.join(tmpdir(), "orphaned-step-"));
        // The "engine": starts the step's process (as the plugin host does) and reports its pid, then waits.
        const engine: ChildProcess = spawn(process.execPath, ["-e", `
            const { spawn } = require("child_process");
            const step = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", ${JSON.stringify(RUNNER)}, ${JSON.stringify(dir)}],
                { stdio: ["ignore", "pipe", "inherit"] });
            step.stdout.on("data", (c) => process.stdout.write(c));
            console.log("pid " + step.pid);
            setInterval(() => undefined, 1000);
        `], { stdio: ["ignore", "pipe", "inherit"] });
        let out = "";
        engine.stdout!.on("data", (c) => { out += c; });
        const pid = await eventually("the step's pid", async () => Number(/pid (\d+)/.exec(out)?.[1]) || undefined, 30_000);
        await eventually("the step running", async () => out.includes("running"), 30_000);

        engine.kill("SIGKILL");
        const killedAt = Date.now();
        await eventually("the orphaned step's process to exit", async () => !alive(pid), 10_000);
        const exitedAfter = Date.now() - killedAt;
        // What would have made the step finish and write, now that nobody is listening.
        writeFileSync(path.join(dir, "release"), "");
        expect(exitedAfter, "exited within 5 s of the kill").to.be.below(5_000);
        expect(existsSync(path.join(dir, "report.json")), "a report for the dead update").to.equal(false);
    });

    it("a step whose engine stays finishes and writes its report (the watch does not get in the way)", async () => {
        const dir = mkdtempSync(path.join(tmpdir(), "watched-step-"));
        const step = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", RUNNER, dir], { stdio: ["ignore", "pipe", "inherit"] });
        let out = "";
        step.stdout!.on("data", (c) => { out += c; });
        await eventually("the step running", async () => out.includes("running"), 30_000);
        writeFileSync(path.join(dir, "release"), "");
        await eventually("the step finished", async () => out.includes("finished"), 10_000);
        expect(existsSync(path.join(dir, "report.json"))).to.equal(true);
        await new Promise<void>((r) => (step.exitCode !== null ? r() : step.once("exit", () => r())));
    });
});
