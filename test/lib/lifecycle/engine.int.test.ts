/** Engine-gone detection with real processes and sockets: parent death, a refused engine endpoint, lost pipes. */
import { expect } from "chai";
import { spawn } from "child_process";
import { once } from "events";
import { mkdtempSync, readFileSync } from "fs";
import { AddressInfo, createServer } from "net";
import { tmpdir } from "os";
import * as path from "path";
import { engineAddressFromArgv, exitWithEngine, refuseWriteWithoutEngine, survivePipeLoss, watchEngine } from "../../../lib/lifecycle/engine";

const ENGINE = path.resolve(__dirname, "../../../lib/lifecycle/engine.ts");
const node = (code: string, stdio: "pipe" | "ignore" = "ignore") =>
    spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", code], { stdio: ["ignore", stdio, "pipe"], cwd: path.resolve(__dirname, "../../..") });

/**
 * Runs `child` (a provider stand-in, a script that prints a line once it watches) under a parent standing in for the
 * engine, in its own process group as the engine's providers are; kills the parent; and waits until the child has
 * exited by itself — it keeps an interval running, so nothing else ends it — polling for that, not for a time.
 */
async function orphanedUntilExit(child: string): Promise<void> {
    const parent = node(`const c = require("child_process").spawn(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", ${JSON.stringify(child)}], { stdio: ["ignore", "pipe", "inherit"], detached: true });
        c.stdout.on("data", () => process.stdout.write("ready " + c.pid + "\\n"));
        setInterval(() => {}, 1000);`, "pipe");
    const [line] = await once(parent.stdout!, "data");
    const childPid = Number(/ready (\d+)/.exec(String(line))![1]);
    parent.kill("SIGKILL");
    while (true) {
        try { process.kill(childPid, 0); } catch { break; }
        await new Promise((r) => setTimeout(r, 50));
    }
}

describe("lifecycle: is the engine still there", function () {
    this.timeout(60_000);

    it("notices its parent's death (the provider outlives a killed engine in its own process group)", async () => {
        const out = path.join(mkdtempSync(path.join(tmpdir(), "engine-")), "gone.txt");
        // parent (stands in for the engine) → child (the provider) watching its parent.
        const child = `const { watchEngine } = require(${JSON.stringify(ENGINE)});
            const w = watchEngine({ intervalMs: 50 });
            process.stdout.write("watching\\n");
            w.whenGone.then((why) => { require("fs").writeFileSync(${JSON.stringify(out)}, why); process.exit(0); });
            setInterval(() => {}, 1000);`;
        await orphanedUntilExit(child);
        expect(readFileSync(out, "utf8")).to.match(/^the engine process \(pid \d+\) exited$/);
    });

    it("a provider process whose engine is gone exits only once its last watched call is done: a stopped gate never cuts short a rollout", async () => {
        const out = path.join(mkdtempSync(path.join(tmpdir(), "engine-")), "calls.txt");
        // Two watched calls in one provider process (the engine runs every dynamic resource in one): the gate stops at
        // once when the engine goes, the rollout needs 20 more steps to reach its safe point.
        const child = `const { providerLifecycle } = require(${JSON.stringify(ENGINE)});
            const fs = require("fs");
            const gate = providerLifecycle(), rollout = providerLifecycle();
            process.stdout.write("watching\\n");
            gate.signal.addEventListener("abort", () => {
                fs.appendFileSync(${JSON.stringify(out)}, "gate: " + gate.signal.reason.message + "\\n");
                gate.done();
                let step = 0;
                const t = setInterval(() => {
                    fs.appendFileSync(${JSON.stringify(out)}, "rollout step " + ++step + "\\n");
                    if (step === 20) { clearInterval(t); rollout.done(); }
                }, 20);
            });
            setInterval(() => {}, 1000);`;
        await orphanedUntilExit(child);
        const lines = readFileSync(out, "utf8").trim().split("\n");
        expect(lines[0]).to.match(/^gate: the engine is gone \(the engine process \(pid \d+\) exited\): abandoned$/);
        expect(lines.slice(1), "the rollout's steps before the process ended").to.deep.equal(Array.from({ length: 20 }, (_, i) => `rollout step ${i + 1}`));
    });

    it("notices the engine's gRPC endpoint refusing connections, and not while it answers", async () => {
        const server = createServer((s) => s.destroy()).listen(0, "127.0.0.1");
        await once(server, "listening");
        const address = `127.0.0.1:${(server.address() as { port: number }).port}`;
        const w = watchEngine({ engineAddress: address, intervalMs: 20 });
        let probes = 0;
        server.on("connection", () => probes++);
        while (probes < 3) await new Promise((r) => setTimeout(r, 20));
        expect(w.gone, "answered: still there").to.equal(undefined);
        server.close();
        expect(await w.whenGone).to.equal(`the engine's gRPC endpoint ${address} refuses connections`);
    });

    it("finds the engine address only in a plugin's arguments (a dynamic provider, the policy pack's host)", () => {
        expect(engineAddressFromArgv(["node", "/x/@pulumi/pulumi/cmd/dynamic-provider/index.js", "127.0.0.1:41234"])).to.equal("127.0.0.1:41234");
        expect(engineAddressFromArgv(["node", "/x/@pulumi/pulumi/cmd/run-policy-pack/index.js", "127.0.0.1:41234", "/p/policy"])).to.equal("127.0.0.1:41234");
        expect(engineAddressFromArgv(["node", "/x/mocha", "127.0.0.1:41234"])).to.equal(undefined);
        expect(engineAddressFromArgv(["node", "/x/dynamic-provider", "--flag"])).to.equal(undefined);
    });

    it("exitWithEngine: a plugin process exits once its engine's endpoint refuses; any other process is left alone", async () => {
        expect(exitWithEngine(["node", "/x/mocha", "--spec", "policy"]), "not a plugin: no watch").to.equal(undefined);
        const server = createServer();
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
        const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
        // In a process of its own: the watch is process-wide (it would end this test run).
        const plugin = node(`require(${JSON.stringify(ENGINE)}).exitWithEngine(["node", "/x/@pulumi/pulumi/cmd/run-policy-pack/index.js", ${JSON.stringify(address)}, "/p/policy"]);
            console.log("watching"); setInterval(() => undefined, 1000);`, "pipe");
        await once(plugin.stdout!, "data");
        server.close();
        const [code] = await once(plugin, "exit");
        expect(code, "exited by itself once the engine was gone").to.equal(1);
    });

    it("refuseWriteWithoutEngine: a step finishing right after its engine died writes nothing (the parent is looked at now, not at the last poll)", async () => {
        const out = path.join(mkdtempSync(path.join(tmpdir(), "engine-")), "write.txt");
        const server = createServer();
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
        const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
        // A plugin process (its engine address in its arguments) whose watch polls only once a minute: only the check
        // at the write can notice the engine is gone.  It tries its write once its parent has gone.
        const child = `const e = require(${JSON.stringify(ENGINE)}); const fs = require("fs");
            e.exitWithEngine(["node", "/x/@pulumi/pulumi/cmd/dynamic-provider/index.js", ${JSON.stringify(address)}], () => undefined);
            const parent = process.ppid;
            process.stdout.write("watching\\n");
            const t = setInterval(() => {
                if (process.ppid === parent) return;
                clearInterval(t);
                try { e.refuseWriteWithoutEngine("the report"); fs.writeFileSync(${JSON.stringify(out)}, "wrote"); }
                catch (err) { fs.writeFileSync(${JSON.stringify(out)}, err.message); }
                process.exit(0);
            }, 10);`;
        await orphanedUntilExit(child);
        server.close();
        expect(readFileSync(out, "utf8")).to.match(/^the report not written: the engine is gone \(the engine process \(pid \d+\) exited\)/);
        expect(() => refuseWriteWithoutEngine("a report in a test"), "outside a plugin: no-op").to.not.throw();
    });

    it("providerLifecycle().gone looks at the parent now: a safe point reached before the poll's next tick sees the engine gone", async () => {
        const out = path.join(mkdtempSync(path.join(tmpdir(), "engine-")), "gone.txt");
        // The child waits for its parent's death synchronously (no turn of the event loop, so the watch's poll never
        // runs), then asks `gone` as a rollout's safe point does.
        const child = `const { providerLifecycle } = require(${JSON.stringify(ENGINE)});
            const fs = require("fs");
            const lifecycle = providerLifecycle();
            const parent = process.ppid;
            process.stdout.write("watching\\n");
            while (process.ppid === parent) { /* spin: the poll cannot tick */ }
            fs.writeFileSync(${JSON.stringify(out)}, String(lifecycle.gone));
            process.exit(0);`;
        await orphanedUntilExit(child);
        expect(readFileSync(out, "utf8")).to.match(/^the engine process \(pid \d+\) exited$/);
    });

    it("keeps a process alive when its stdout pipe is gone (an EPIPE would otherwise kill it mid-step)", async () => {
        const code = (guard: boolean) => `${guard ? `require(${JSON.stringify(ENGINE)}).survivePipeLoss();` : ""}
            let i = 0; const t = setInterval(() => { console.log("progress " + i); if (++i === 50) { clearInterval(t); process.exitCode = 7; } }, 5);`;
        const run = async (guard: boolean) => {
            const c = node(code(guard), "pipe");
            c.stdout!.destroy();
            const [exit] = await once(c, "exit");
            return exit;
        };
        expect(await run(true), "with survivePipeLoss it finishes its work").to.equal(7);
        expect(await run(false), "without it the process dies of EPIPE").to.not.equal(7);
    });

    it("survivePipeLoss is idempotent in this process", () => {
        survivePipeLoss();
        const n = process.stdout.listenerCount("error");
        survivePipeLoss();
        expect(process.stdout.listenerCount("error")).to.equal(n);
    });
});
