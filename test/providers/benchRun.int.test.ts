/**
 * BenchRun through its provider methods: the shipped bench workload really drives the reference service over
 * loopback; the first accepted run becomes the baseline; a slower release then misses the p95 gate.  Repeats
 * (limits.repeats) run a scripted command that prints the next of a list of results on each run, so the median, the
 * spread and the inconclusive path are exact.
 */
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { benchRunProvider } from "../../providers/benchRun";
import { Reference, startReference } from "../helpers/reference";
import { ROOT } from "../helpers/stack";
import { startFleet, TestFleet } from "../../reference/sshFleet";

const p = benchRunProvider as Required<pulumi.dynamic.ResourceProvider>;
const BENCH = `cd ${ROOT} && node -r ts-node/register/transpile-only reference/cli.ts bench --url "$BENCH_TARGET_URL" --requests 400 --concurrency 8`;

describe("BenchRun provider with the bench workload against the reference service", function () {
    this.timeout(60_000);
    let ref: Reference;
    afterEach(async () => ref?.close());
    const inputs = (dir: string, url: string, edit: Record<string, unknown> = {}) => ({
        version: "v1.2.4", command: BENCH, resultsDir: dir, targetUrl: url, timeoutSeconds: 50,
        limits: { maxP95BaselineMultiple: 1.1, maxTailRatio: 20, minThroughputPerSecond: 10, extraGates: [] }, ...edit,
    });

    it("accepts a first run as the baseline, writes the artifacts, then fails a slower release with a table", async () => {
        ref = await startReference();
        const dir = mkdtempSync(path.join(tmpdir(), "bench-"));
        const first = await p.create(inputs(dir, ref.service.url));
        expect(first.outs.verdict).to.equal("pass");
        for (const f of ["final_bench_results.json", "metrics.csv", "sign_off_summary.md", "baseline.json"]) expect(existsSync(path.join(dir, f)), f).to.equal(true);
        expect(readFileSync(path.join(dir, "sign_off_summary.md"), "utf8")).to.match(/verdict: \*\*GO\*\*/);
        expect(first.outs.accepted.p95_ms).to.equal(first.outs.result.p95_ms);

        // Slower by at least the baseline's own p95 (at least 40 ms), so the release misses the 1.1 × gate however
        // busy the machine was when the baseline was measured (a fixed 40 ms hid under a loaded machine's p95).
        const added = Math.max(40, Math.ceil(first.outs.result.p95_ms));
        ref.service.setFaults({ latencyMs: added });
        const failure = await p.update(first.id, first.outs, inputs(dir, ref.service.url, { version: "v1.2.5" }))
            .then(() => undefined, (e: { message: string; properties: { verdict: string; accepted: { version: string } } }) => e);
        expect(failure, `a ${added} ms slower release passed`).to.not.equal(undefined);
        expect(failure!.message).to.match(/bench run for v1\.2\.5 missed its gates/);
        expect(failure!.message).to.match(/p95 vs baseline\s+[\d.]+ ms\s+≤ [\d.]+ ms \(1\.1 × [\d.]+\)\s+FAIL/);
        expect(failure!.properties.accepted.version, "a rejected run does not replace the baseline").to.equal("v1.2.4");
        expect(JSON.parse(readFileSync(path.join(dir, "baseline.json"), "utf8")).version).to.equal("v1.2.4");
        expect(readFileSync(path.join(dir, "sign_off_summary.md"), "utf8")).to.match(/NO-GO/);
    });

    it("a first run that misses a gate (no baseline yet) fails with properties the engine can carry (no nested undefined)", async () => {
        ref = await startReference();
        const dir = mkdtempSync(path.join(tmpdir(), "bench-"));
        const failure = await p.create(inputs(dir, ref.service.url, { limits: { maxP95BaselineMultiple: 1.1, maxTailRatio: 20, minThroughputPerSecond: 1e9, extraGates: [] } }))
            .then(() => undefined, (e: { message: string; properties: Record<string, unknown> }) => e);
        expect(failure?.message).to.match(/throughput\s+.*FAIL/);
        // What the engine does with them: a nested undefined (`accepted` with no baseline) is "Unexpected struct type",
        // the provider's answer is lost and `pulumi up` waits for ever.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { Struct } = require("google-protobuf/google/protobuf/struct_pb") as { Struct: { fromJavaScript(v: unknown): unknown } };
        expect(() => Struct.fromJavaScript(failure!.properties)).to.not.throw();
        expect(failure!.properties).to.not.have.property("accepted");
    });

    describe("repeats", () => {
        const line = (p95: number, p99: number, throughput = 500) => JSON.stringify({ p50_ms: 1, p95_ms: p95, p99_ms: p99, throughput_per_s: throughput, error_rate: 0 });
        /** A command that prints the next line of `results` on each run (and counts its runs in `runs`). */
        const scripted = (results: string[]) => {
            const work = mkdtempSync(path.join(tmpdir(), "bench-script-"));
            writeFileSync(path.join(work, "results"), results.join("\n") + "\n");
            return {
                command: `cd ${work} && n=$(( $(cat runs 2>/dev/null || echo 0) + 1 )) && echo $n > runs && echo "repeat $n warming up" && sed -n "\${n}p" results`,
                runs: () => Number(readFileSync(path.join(work, "runs"), "utf8")),
            };
        };
        const repeatLimits = { maxP95BaselineMultiple: 1.1, maxTailRatio: 2, minThroughputPerSecond: 10, extraGates: [], repeats: 3, maxSpread: 0.25 };
        /** Runs `fn` with console.log captured (the provider's progress lines). */
        const capturing = async <T>(fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; logged: string[] }> => {
            const logged: string[] = [];
            const original = console.log;
            console.log = (...a: unknown[]) => { logged.push(a.join(" ")); };
            try {
                return { value: await fn(), logged };
            } catch (error) {
                return { error, logged };
            } finally {
                console.log = original;
            }
        };
        type Failure = { message: string; properties: { verdict: string; accepted?: { version: string }; repeats: unknown[] } };

        it("runs the command limits.repeats times, prints a line per repeat, judges and accepts the median", async () => {
            const dir = mkdtempSync(path.join(tmpdir(), "bench-"));
            const script = scripted([line(12, 18, 400), line(10, 24, 600), line(11, 16, 500)]);
            const { value, error, logged } = await capturing(() => p.create(inputs(dir, "http://127.0.0.1:9", { command: script.command, limits: { ...repeatLimits, maxSpread: 1 } })));
            expect(script.runs()).to.equal(3);
            expect(logged.filter((l) => /^bench v1\.2\.4: repeat \d\/3: p95 [\d.]+ ms, p99\/p95 [\d.]+, throughput [\d.]+\/s$/.test(l))).to.have.length(3);
            expect(logged[0]).to.equal("bench v1.2.4: repeat 1/3: p95 12 ms, p99/p95 1.5, throughput 400/s");
            if (!value) throw error;
            const outs = value.outs;
            expect(outs.verdict).to.equal("pass");
            expect(outs.repeats).to.have.length(3);
            // Tail ratios 1.5, 2.4 (one disturbed run: alone it would have failed the 2.0 gate), 1.4545: median 1.5.
            expect(outs.result).to.include({ p95_ms: 11, p99_ms: 18, throughput_per_s: 500 });
            expect(outs.spread.p95_ms).to.be.closeTo(2 / 11, 1e-9);
            const written = JSON.parse(readFileSync(path.join(dir, "final_bench_results.json"), "utf8"));
            expect(written.repeats).to.have.length(3);
            expect(written.spread.tail_ratio).to.be.greaterThan(0.25);
            expect(JSON.parse(readFileSync(path.join(dir, "baseline.json"), "utf8"))).to.include({ version: "v1.2.4", p95_ms: 11 });
            expect(readFileSync(path.join(dir, "metrics.csv"), "utf8")).to.include("p95_ms,11,,12,10,11\n");
            expect(readFileSync(path.join(dir, "sign_off_summary.md"), "utf8")).to.match(/\| tail ratio p99\/p95 \| 1\.5 \| ≤ 2 \| PASS \| 1\.5, 2\.4, 1\.455 \| 0\.63 \|/);
        });

        it("an unsteady run is inconclusive: the update fails saying it is not a regression, the baseline stays, the next up runs again", async () => {
            const dir = mkdtempSync(path.join(tmpdir(), "bench-"));
            const { value: first } = await capturing(() => p.create(inputs(dir, "http://127.0.0.1:9", { command: scripted([line(10, 15), line(10, 15), line(10.5, 15)]).command, limits: repeatLimits })));
            if (!first) throw new Error("the steady first run did not pass");
            expect(first.outs.verdict).to.equal("pass");
            // p95 10, 14, 30 against a 1.1 × 10 limit: the median misses it, the quiet repeat makes it, the spread is 2.
            const noisy = inputs(dir, "http://127.0.0.1:9", { version: "v1.2.5", command: scripted([line(10, 15), line(14, 20), line(30, 40)]).command, limits: repeatLimits });
            const { error } = await capturing(() => p.update(first.id, first.outs, noisy));
            const failure = error as Failure;
            expect(failure, "an unsteady run passed").to.not.equal(undefined);
            expect(failure.message).to.match(/bench run for v1\.2\.5 is INCONCLUSIVE — this is NOT a regression verdict/);
            expect(failure.message).to.match(/wider than bench\.maxSpread \(0\.25\)/);
            expect(failure.message).to.match(/Re-run `pulumi up` when the machine is quiet/);
            expect(failure.message).to.match(/p95 vs baseline\s+14 ms\s+≤ 11 ms \(1\.1 × 10\)\s+INCONCLUSIVE\s+10 ms, 14 ms, 30 ms\s+1\.429 > 0\.25/);
            expect(failure.message).to.not.match(/missed its gates/);
            expect(failure.properties.verdict).to.equal("inconclusive");
            expect(failure.properties.accepted!.version, "an inconclusive run does not replace the baseline").to.equal("v1.2.4");
            expect(JSON.parse(readFileSync(path.join(dir, "baseline.json"), "utf8")).version).to.equal("v1.2.4");
            expect(readFileSync(path.join(dir, "sign_off_summary.md"), "utf8")).to.match(/INCONCLUSIVE \(not a regression verdict/);
            const again = await p.diff(first.id, failure.properties as never, noisy);
            expect(again.changes, "the held stage's next up runs the bench again").to.equal(true);
        });

        it("a clear regression on a tight spread is still a FAIL, and the baseline stays", async () => {
            const dir = mkdtempSync(path.join(tmpdir(), "bench-"));
            const { value: first } = await capturing(() => p.create(inputs(dir, "http://127.0.0.1:9", { command: scripted([line(10, 15), line(10, 15), line(10, 15)]).command, limits: repeatLimits })));
            if (!first) throw new Error("the steady first run did not pass");
            const { error } = await capturing(() => p.update(first.id, first.outs, inputs(dir, "http://127.0.0.1:9", {
                version: "v1.2.5", command: scripted([line(14, 20), line(14.5, 20), line(15, 21)]).command, limits: repeatLimits,
            })));
            const failure = error as Failure;
            expect(failure.message).to.match(/bench run for v1\.2\.5 missed its gates \(median of 3 repeat\(s\)/);
            expect(failure.message).to.match(/p95 vs baseline\s+14\.5 ms\s+≤ 11 ms \(1\.1 × 10\)\s+FAIL/);
            expect(failure.properties.verdict).to.equal("fail");
            expect(JSON.parse(readFileSync(path.join(dir, "baseline.json"), "utf8")).version).to.equal("v1.2.4");
        });

        it("a run cut short (a repeat's command fails) writes no baseline and no artifacts", async () => {
            const dir = mkdtempSync(path.join(tmpdir(), "bench-"));
            // The second run prints nothing parseable and exits 3.
            const script = scripted([line(10, 15), "", line(10, 15)]);
            const { error } = await capturing(() => p.create(inputs(dir, "http://127.0.0.1:9", { command: `${script.command} && [ "$(cat runs)" != 2 ] || exit 3`, limits: repeatLimits })));
            expect((error as Error).message).to.match(/exited with 3/);
            expect(script.runs()).to.equal(2);
            for (const f of ["baseline.json", "final_bench_results.json"]) expect(existsSync(path.join(dir, f)), f).to.equal(false);
        });
    });

    it("runs a relative command in the project folder it is given, wherever the engine runs", async () => {
        const project = mkdtempSync(path.join(tmpdir(), "project-"));
        writeFileSync(path.join(project, "bench.sh"), `#!/bin/sh\necho '{"p50_ms":1,"p95_ms":2,"p99_ms":3,"throughput_per_s":500,"error_rate":0}'\n`, { mode: 0o755 });
        const dir = mkdtempSync(path.join(tmpdir(), "bench-"));
        const { outs } = await p.create(inputs(dir, "http://127.0.0.1:9", { command: "./bench.sh", workingDir: project }));
        expect(outs.result.throughput_per_s).to.equal(500);
        await p.create(inputs(dir, "http://127.0.0.1:9", { command: "./bench.sh" }))
            .then(() => expect.fail("found ./bench.sh outside the project folder"), (e: Error) => expect(e.message).to.match(/exited with 127/));
    });

    it("fails on a command that exits non-zero or runs past its timeout", async () => {
        const dir = mkdtempSync(path.join(tmpdir(), "bench-"));
        await p.create(inputs(dir, "http://127.0.0.1:9", { command: "echo boom >&2; exit 3" }))
            .then(() => expect.fail("accepted a failed command"), (e: Error) => expect(e.message).to.match(/exited with 3[\s\S]*boom/));
        await p.create(inputs(dir, "http://127.0.0.1:9", { command: "sleep 30", timeoutSeconds: 0.3 }))
            .then(() => expect.fail("waited forever"), (e: Error) => expect(e.message).to.match(/did not finish within 0\.3 s/));
    });

    it("runs the command on a node over SSH when remote is set (the node's own environment shows in the result)", async () => {
        const fleet: TestFleet = await startFleet(1);
        try {
            const dir = mkdtempSync(path.join(tmpdir(), "bench-"));
            const node = fleet.nodes[0];
            // NODE_PORT exists only in the node's SSH sessions: a local run could not print it.
            const command = `printf '{"p50_ms":1,"p95_ms":2,"p99_ms":3,"throughput_per_s":%s,"error_rate":0,"target":"%s"}' "$NODE_PORT" "$BENCH_TARGET_URL"`;
            const { outs } = await p.create(inputs(dir, "http://127.0.0.1:9090", {
                command, remote: { node: { name: node.name, host: node.host, port: node.port, user: node.user, hostKey: node.hostKey }, privateKey: fleet.privateKey },
            }));
            expect(outs.result.throughput_per_s).to.equal(node.httpPort);
            expect(outs.result.target).to.equal("http://127.0.0.1:9090");
            const wrongKey = { name: node.name, host: node.host, port: node.port, user: node.user, hostKey: fleet.strangerHostKey };
            await p.create(inputs(dir, "http://127.0.0.1:9090", { command, remote: { node: wrongKey, privateKey: fleet.privateKey } }))
                .then(() => expect.fail("ran on a node with the wrong host key"), (e: Error) => expect(e.message).to.match(/not the pinned one: refused/));
        } finally {
            await fleet.stop();
        }
    });
});
