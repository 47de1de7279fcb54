/**
 * The node rollout at fleet scale, against real SSH nodes (Debian's sshd on loopback, pinned host keys): nodes of a
 * batch really in parallel (bounded by forks), maxFailPercentage per batch ("must be exceeded"), a failure that
 * stops new work while in-flight nodes finish, records that never claim more than happened, the fleet lock, a stop
 * at a safe point, and a resume from the nodes' own state with no local journal (one node at a time, and a parallel
 * batch stopped with several nodes in flight).
 *
 * A node is made sick by a marker file its restart command checks, so one node of a batch fails on purpose, at
 * once.  Health polls allow a slow machine a minute (600 × 0.1 s) wherever a node must come up, restores included:
 * where a binary must fail its health polls, 120 × 0.5 s (the same minute for its restore, a fifth of the polls).
 */
import { expect } from "chai";
import { execFileSync, fork } from "child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { nodeAddress } from "../../lib/nodes/address";
import { loadJournal, RolloutSpec, runRollout } from "../../lib/nodes/rollout";
import { NodeRolloutRecord } from "../../lib/records/record";
import { connect } from "../../lib/nodes/ssh";
import { settlementOf } from "../../lib/nodes/nodeState";
import { sshRolloutProvider } from "../../providers/sshRollout";
import { startFleet, TestFleet, TestNode, writeAlysBinary } from "../../reference/sshFleet";

const judgeAgain = (state: Parameters<typeof settlementOf>[1]) =>
    settlementOf("node-2", state, "another-rollout", [], { installPath: "/opt/alys", restartCommand: "", healthCommand: "" }).verdict;

function spec(fleet: TestFleet, edit: Partial<RolloutSpec> = {}): RolloutSpec {
    const work = mkdtempSync(path.join(tmpdir(), "rollout-fleet-"));
    return {
        version: "v2.0.0", nodes: fleet.nodes.map(nodeAddress), privateKey: fleet.privateKey,
        binary: writeAlysBinary(path.join(work, "alys"), "v2.0.0"), ...fleet.paths, serviceName: "alys",
        restartCommand: `test ! -e "$NODE_HOME/sick" && ${fleet.paths.restartCommand}`,
        healthRetries: 600, healthIntervalSeconds: 0.1, firstNodeGraceSeconds: 0, nodeGraceSeconds: 0, pauseSeconds: 0,
        minFreeDiskGb: 0.001, serial: ["100%"], forks: 4, maxFailPercentage: 0,
        journalPath: path.join(work, "journal.json"), deploymentLog: path.join(work, "deployments.log"), operator: "test",
        ...edit,
    };
}

const sick = (n: TestNode) => writeFileSync(path.join(n.home, "sick"), "");
const records = (s: RolloutSpec): NodeRolloutRecord[] => readFileSync(s.deploymentLog, "utf8").trim().split("\n").map((l) => JSON.parse(l));
const nodeState = (n: TestNode) => JSON.parse(readFileSync(path.join(n.home, "backups/rollback/.alys-rollout.json"), "utf8"));

describe("node rollout at fleet scale, against real SSH nodes", function () {
    this.timeout(300_000);
    let fleet: TestFleet;
    afterEach(async () => fleet?.stop());

    it("works a batch's nodes in parallel; a failure past the budget stops new work, in-flight nodes finish, all touched are restored", async () => {
        fleet = await startFleet(5);
        sick(fleet.nodes[1]);
        const events: string[] = [];
        const s = spec(fleet, { forks: 2 });
        const err = await runRollout(s, (node, status) => events.push(`${node}:${status}`)).then(() => undefined, (e: Error) => e);
        expect(err?.message).to.match(/1 of 5 node\(s\) in batch 1 failed \(more than 0 %\)/);
        expect(err?.message).to.match(/node-2: restart failed/);
        // Two at once: node-2 was backed up before node-1 finished, so they overlapped.
        expect(events.indexOf("node-2:backed-up")).to.be.lessThan(events.indexOf("node-1:healthy"));
        // node-2's failure stopped new work: with forks 2, at most one more node started after it (node-3, taken by
        // node-1's worker before node-2 failed, or none); node-4 and node-5 were never touched.
        for (const n of fleet.nodes.slice(3)) expect(fleet.backups(n), `${n.name} untouched`).to.deep.equal([]);
        expect(err?.message).to.match(/node-4\s+untouched/);
        for (const n of fleet.nodes.filter((x) => x.name !== "node-2")) {
            expect(fleet.installedVersion(n), n.name).to.equal("v1.0.0");
            expect(await fleet.healthy(n), `${n.name} healthy`).to.equal(true);
        }
        const rec = records(s).pop()!;
        // node-2 stays sick through its restore (the marker is still there): the record must not say rolled-back.
        expect(rec.status).to.equal("restore-failed");
        expect(rec.nodes!["node-2"]).to.equal("restore-failed");
        expect(rec.nodes!["node-1"]).to.equal("restored");
        expect(rec.nodes!["node-5"]).to.equal("untouched");
        expect(rec.next).to.match(/restore by hand: node-2 \(cp -a '\/var\/backups\/alys\/rollback\/alys-\d+\/\.' '\/opt\/alys\/'/);
        expect(err?.message).to.match(/restoring node-2 failed too: they are NOT on their previous version/);
    });

    it("records rolled-back only when every touched node is restored and healthy (a node that never becomes healthy, in parallel)", async () => {
        fleet = await startFleet(3);
        // One health budget serves deploy and restore: the restores get a minute to come up on a loaded machine.
        const s = spec(fleet, {
            binary: writeAlysBinary(path.join(mkdtempSync(path.join(tmpdir(), "bin-")), "alys"), "v2.0.0", false), forks: 3, healthRetries: 120, healthIntervalSeconds: 0.5,
        });
        // The broken binary fails every node; restored nodes run the old binary, which is healthy: rolled back.
        const err = await runRollout(s).then(() => undefined, (e: Error) => e);
        expect(err?.message).to.match(/every touched node was restored from its backup and is healthy/);
        const rec = records(s).pop()!;
        expect(rec.status).to.equal("rolled-back");
        expect(rec.nodes).to.deep.equal({ "node-1": "restored", "node-2": "restored", "node-3": "restored" });
        for (const n of fleet.nodes) {
            expect(fleet.installedVersion(n)).to.equal("v1.0.0");
            expect(await fleet.healthy(n)).to.equal(true);
            expect(nodeState(n)).to.include({ step: "restored", concluded: true, versionBefore: "alys v1.0.0" });
        }
    });

    it("judges maxFailPercentage per batch: 50 % of a batch of 2 is not exceeded by one failure, which is restored, and the rollout goes on", async () => {
        fleet = await startFleet(4);
        sick(fleet.nodes[1]);
        const s = spec(fleet, { serial: [2], forks: 2, maxFailPercentage: 50 });
        // The marker goes once node-2 has failed, so its restore succeeds.
        const result = await runRollout(s, (node, status) => { if (node === "node-2" && status === "failed") rmSync(path.join(fleet.nodes[1].home, "sick")); });
        expect(result.record.status).to.equal("deployed");
        expect(result.record.nodes).to.deep.equal({ "node-1": "healthy", "node-2": "restored", "node-3": "healthy", "node-4": "healthy" });
        expect(fleet.installedVersion(fleet.nodes[1])).to.equal("v1.0.0");
        for (const n of [0, 2, 3].map((i) => fleet.nodes[i])) expect(fleet.installedVersion(n)).to.equal("v2.0.0");
    });

    it("records restore-failed, not deployed, when a node that failed within the budget cannot be restored; pulumi up fails; later rollouts are refused", async () => {
        fleet = await startFleet(4);
        // node-2 stays sick: its deploy fails (within 50 % of a batch of 2), and so does its restore.
        sick(fleet.nodes[1]);
        const s = spec(fleet, { serial: [2], forks: 2, maxFailPercentage: 50 });
        const err = await sshRolloutProvider.create!({ ...s, contentHash: "h", batches: [2, 2] }).then(() => undefined, (e: Error) => e);
        expect(err?.message, "pulumi up fails").to.match(/node rollout of v2\.0\.0: node-2 failed within the maxFailPercentage budget \(50 %\) and restoring it failed too: it is NOT on its previous version/);
        expect(err?.message).to.match(/node-2: restart failed/);
        expect(err?.message).to.match(/next: restore by hand: node-2 \(cp -a '\/var\/backups\/alys\/rollback\/alys-\d+\/\.' '\/opt\/alys\/'/);
        expect(err?.message).to.match(/node-2\s+restore-failed/);
        const rec = records(s).pop()!;
        expect(rec.status).to.equal("restore-failed");
        expect(rec.nodes).to.deep.equal({ "node-1": "healthy", "node-2": "restore-failed", "node-3": "healthy", "node-4": "healthy" });
        expect(rec.next).to.match(/restore by hand: node-2 \(cp -a '\/var\/backups\/alys\/rollback\/alys-\d+\/\.' '\/opt\/alys\/'/);
        for (const n of [0, 2, 3].map((i) => fleet.nodes[i])) expect(fleet.installedVersion(n), n.name).to.equal("v2.0.0");
        expect(loadJournal(s.journalPath)!.concluded).to.equal("restore-failed");
        const left = nodeState(fleet.nodes[1]);
        expect(left).to.include({ step: "restore-failed", concluded: true });
        expect(left.detail, "the node keeps what failed").to.match(/^restore: restart failed/);
        // The next rollout, from anywhere, is refused before anything is touched until that failure is acknowledged.
        const work = mkdtempSync(path.join(tmpdir(), "next-release-"));
        const refused = await runRollout(spec(fleet, { version: "v3.0.0", binary: writeAlysBinary(path.join(work, "alys"), "v3.0.0") })).then(() => undefined, (e: Error) => e);
        expect(refused?.message).to.match(/^pre-checks failed, no node was touched: 1 node\(s\) are in an unknown state after a failed restore/);
        expect(refused?.message).to.contain(`pulumi config set --path 'speculation:nodes.clearRestoreFailed[0]' 'node-2@${left.stamp}'`);
        for (const n of fleet.nodes) expect(fleet.backups(n), n.name).to.have.length(1);
    });

    it("stops at a safe point when told to (the engine is gone), records interrupted, and the next run resumes", async () => {
        fleet = await startFleet(3);
        const s = spec(fleet, { serial: [1] });
        let gone: string | undefined;
        const err = await runRollout(s, {
            interrupt: () => gone,
            onTransition: (node, status) => { if (node === "node-1" && status === "backed-up") gone = "the engine process (pid 1) exited"; },
        }).then(() => undefined, (e: Error) => e);
        expect(err?.message).to.match(/node rollout of v2\.0\.0 stopped at a safe point: the engine process \(pid 1\) exited/);
        expect(err?.message).to.match(/pulumi cancel.*pulumi refresh --clear-pending-creates.*pulumi up/s);
        // node-1 was left after its backup step, never mid-swap; nothing else was touched; the lock is released.
        expect(nodeState(fleet.nodes[0])).to.include({ step: "backed-up" });
        expect(nodeState(fleet.nodes[0]).concluded).to.equal(undefined);
        expect(fleet.backups(fleet.nodes[1])).to.deep.equal([]);
        expect(records(s).pop()).to.include({ status: "interrupted" });
        expect(loadJournal(s.journalPath)!.concluded).to.equal(undefined);
        const result = await runRollout(s);
        expect(result.record.status).to.equal("deployed");
        for (const n of fleet.nodes) expect(fleet.backups(n), n.name).to.have.length(1);
    });

    it("records interrupted, not deployed, when the engine went while the last node finished; the next run concludes deployed", async () => {
        fleet = await startFleet(2);
        const s = spec(fleet, { serial: [1] });
        let gone: string | undefined;
        const err = await runRollout(s, {
            interrupt: () => gone,
            onTransition: (node, status) => { if (node === "node-2" && status === "healthy") gone = "the engine process (pid 1) exited"; },
        }).then(() => undefined, (e: Error) => e);
        expect(err?.message).to.match(/every node was deployed, but the engine is gone \(the engine process \(pid 1\) exited\)/);
        expect(records(s).map((r) => r.status)).to.deep.equal(["interrupted"]);
        expect(loadJournal(s.journalPath)!.concluded).to.equal(undefined);
        const result = await runRollout(s);
        expect(result.record.status).to.equal("deployed");
        expect(records(s).map((r) => r.status)).to.deep.equal(["interrupted", "deployed"]);
        for (const n of fleet.nodes) expect(fleet.backups(n), `${n.name}: not deployed twice`).to.have.length(1);
    });

    it("resumes from the nodes' own state after a kill, with the local journal deleted (another machine)", async () => {
        fleet = await startFleet(3);
        const s = spec(fleet, { serial: [1] });
        const specFile = path.join(path.dirname(s.journalPath), "spec.json");
        writeFileSync(specFile, JSON.stringify(s));
        const child = fork(path.join(__dirname, "../helpers/rolloutUntilKilled.ts"), [specFile, "node-2:uploaded"], {
            execArgv: ["-r", "ts-node/register/transpile-only"], stdio: "ignore",
        });
        expect(await new Promise((resolve) => child.on("exit", (_c, sig) => resolve(sig)))).to.equal("SIGKILL");
        const killedStamp = nodeState(fleet.nodes[0]).stamp;
        expect(nodeState(fleet.nodes[1])).to.include({ stamp: killedStamp });
        const originalBackups = fleet.nodes.map((n) => fleet.backups(n));
        // The killed run's lock is still on the nodes: same host, dead pid, so it is stale and taken over.
        expect(readFileSync(path.join(fleet.nodes[0].home, "backups/rollback/.alys-rollout.lock/owner"), "utf8")).to.match(/"pid":\d+/);
        rmSync(s.journalPath);
        const progress: string[] = [];
        const other = { ...s, journalPath: path.join(mkdtempSync(path.join(tmpdir(), "elsewhere-")), "journal.json") };
        const result = await runRollout(other, { progress: (l) => progress.push(l) });
        expect(progress.join("\n")).to.match(/took over a stale lock of test@.*that process is gone/);
        expect(progress.join("\n")).to.match(/resuming rollout \w+ of v2\.0\.0 \(stamp \d+\) from the nodes' own state \(no local journal\)/);
        expect(result.journal.stamp).to.equal(killedStamp);
        expect(result.record.status).to.equal("deployed");
        expect(fleet.backups(fleet.nodes[0])).to.deep.equal(originalBackups[0]);
        expect(fleet.backups(fleet.nodes[1]), "node-2's backup is the killed run's, not a second one").to.deep.equal(originalBackups[1]);
        for (const n of fleet.nodes) {
            expect(fleet.installedVersion(n)).to.equal("v2.0.0");
            expect(fleet.backups(n), `${n.name}: one backup, of the old version`).to.have.length(1);
            expect(fleet.backupVersion(n, fleet.backups(n)[0])).to.equal("v1.0.0");
        }
    });

    it("resumes a parallel batch stopped with several nodes in flight, from the nodes' own state with no local journal: no second backup, latest kept", async () => {
        fleet = await startFleet(4);
        // One batch of 4, forks 4: every node starts at once.  A node's restart waits while its `hold` file exists, so
        // the first node to finish its upload is still in flight (in its swap-restart-health step) when the stop comes.
        const hold = (n: TestNode) => path.join(n.home, "hold");
        const s = spec(fleet, { serial: ["100%"], forks: 4, restartCommand: `while [ -e "$NODE_HOME/hold" ]; do sleep 0.02; done; ${fleet.paths.restartCommand}` });
        for (const n of fleet.nodes) writeFileSync(hold(n), "");
        let gone: string | undefined;
        let inFlight: string[] = [];
        const first: string[] = [];
        const err = await runRollout(s, {
            interrupt: () => gone,
            onTransition: (node, status) => {
                first.push(`${node}:${status}`);
                // The engine goes when the second node finishes its upload: that node stops here; the first is held
                // mid-swap, the other two are mid-backup or mid-upload.  Then the holds go, so in-flight steps finish.
                if (status !== "uploaded" || first.filter((e) => e.endsWith(":uploaded")).length !== 2) return;
                gone = "the engine process (pid 1) exited";
                inFlight = Object.values(loadJournal(s.journalPath)!.nodes).filter((j) => j.name !== node && j.status !== "healthy").map((j) => j.name);
                for (const n of fleet.nodes) rmSync(hold(n));
            },
        }).then(() => undefined, (e: Error) => e);
        expect(err?.message).to.match(/node rollout of v2\.0\.0 stopped at a safe point: the engine process \(pid 1\) exited/);
        expect(inFlight, "nodes in flight when the engine went").to.have.length(3);
        const stopped = records(s).pop()!;
        expect(stopped.status).to.equal("interrupted");
        // The record says where each node is, as the node shows it; only the node that was mid-swap finished it.
        expect(Object.values(stopped.nodes!).filter((v) => v === "healthy")).to.have.length(1);
        expect(Object.values(stopped.nodes!).filter((v) => v === "backed-up" || v === "uploaded")).to.have.length(3);
        const newBinary = (n: TestNode) => path.join(n.home, "opt/alys/bin/alys.new");
        for (const n of fleet.nodes) {
            const said = stopped.nodes![n.name];
            expect(fleet.installedVersion(n), `${n.name} (${said})`).to.equal(said === "healthy" ? "v2.0.0" : "v1.0.0");
            expect(await fleet.healthy(n), `${n.name} (${said}) healthy`).to.equal(true);
            if (said === "uploaded") expect(execFileSync(newBinary(n), ["--version"]).toString().trim(), `${n.name}: uploaded`).to.equal("alys v2.0.0");
            else expect(() => readFileSync(newBinary(n)), `${n.name} (${said}): nothing uploaded`).to.throw();
            // The node's own state: the step's command writes it (an upload, over SFTP, is redone by a resume).
            expect(nodeState(n).step, n.name).to.equal(said === "uploaded" ? "backed-up" : said);
        }
        const stamp = nodeState(fleet.nodes[0]).stamp;
        const originals = fleet.nodes.map((n) => ({ backups: fleet.backups(n), latest: fleet.latestBackup(n) }));
        for (const [i, o] of originals.entries()) {
            expect(o.backups, fleet.nodes[i].name).to.deep.equal([`alys-${stamp}`]);
            expect(o.latest, fleet.nodes[i].name).to.equal(`alys-${stamp}`);
        }

        // Resumed from another machine: the local journal is gone.
        rmSync(s.journalPath);
        const progress: string[] = [];
        const again: string[] = [];
        const other = { ...s, journalPath: path.join(mkdtempSync(path.join(tmpdir(), "elsewhere-")), "journal.json") };
        const result = await runRollout(other, { progress: (l) => progress.push(l), onTransition: (node, status) => again.push(`${node}:${status}`) });
        expect(progress.join("\n")).to.match(/resuming rollout \w+ of v2\.0\.0 \(stamp \d+\) from the nodes' own state \(no local journal\)/);
        expect(result.journal.stamp).to.equal(stamp);
        expect(again.filter((e) => e.endsWith(":backed-up")), "nothing backed up twice").to.deep.equal([]);
        const done = Object.keys(stopped.nodes!).filter((n) => stopped.nodes![n] === "healthy");
        expect(again.filter((e) => done.some((n) => e.startsWith(`${n}:`))), "a node already deployed is left alone").to.deep.equal([]);
        expect(result.record.status).to.equal("deployed");
        expect(result.record.nodes).to.deep.equal({ "node-1": "healthy", "node-2": "healthy", "node-3": "healthy", "node-4": "healthy" });
        expect(records(s).map((r) => r.status)).to.deep.equal(["interrupted", "deployed"]);
        for (const [i, n] of fleet.nodes.entries()) {
            expect(fleet.backups(n), `${n.name}: no second backup`).to.deep.equal(originals[i].backups);
            expect(fleet.latestBackup(n), `${n.name}: latest still the original`).to.equal(originals[i].latest);
            expect(fleet.backupVersion(n, originals[i].backups[0])).to.equal("v1.0.0");
            expect(fleet.installedVersion(n), n.name).to.equal("v2.0.0");
            expect(await fleet.healthy(n), `${n.name} healthy`).to.equal(true);
            expect(nodeState(n)).to.include({ step: "healthy", concluded: true, stamp });
        }
    });

    it("refuses to act on a fleet another live run holds, naming owner and host; takes over a lock whose heartbeat stopped", async () => {
        fleet = await startFleet(2);
        const lock = path.join(fleet.nodes[1].home, "backups/rollback/.alys-rollout.lock");
        mkdirSync(lock, { recursive: true });
        const owner = { token: "t", owner: "ci", host: "ci-runner-7", pid: 4242, since: "2026-11-28T20:00:00Z", version: "v2.0.0" };
        writeFileSync(path.join(lock, "owner"), JSON.stringify(owner));
        writeFileSync(path.join(lock, "heartbeat"), `${Date.now()}\n`);
        const s = spec(fleet);
        const err = await runRollout(s).then(() => undefined, (e: Error) => e);
        expect(err?.message).to.match(/pre-checks failed, no node was touched/);
        expect(err?.message).to.match(/node-2: another rollout is acting on this fleet: locked by ci@ci-runner-7 \(pid 4242, rollout of v2\.0\.0 since 2026-11-28T20:00:00Z\), last heartbeat \d+ s ago/);
        for (const n of fleet.nodes) expect(fleet.backups(n)).to.deep.equal([]);
        // node-1's lock (taken by the refused run) was released: only node-2's foreign lock remains.
        expect(() => readFileSync(path.join(fleet.nodes[0].home, "backups/rollback/.alys-rollout.lock/owner"))).to.throw();

        writeFileSync(path.join(lock, "heartbeat"), `${Date.now() - 5 * 60_000}\n`);
        const progress: string[] = [];
        const result = await runRollout(s, { progress: (l) => progress.push(l) });
        expect(progress.join("\n")).to.match(/node-2: took over a stale lock of ci@ci-runner-7 .*no heartbeat for 3\d\d s/);
        expect(result.record.status).to.equal("deployed");
        expect(() => readFileSync(path.join(lock, "owner")), "released at the end").to.throw();
    });
});

describe("node rollout stopped while restoring, against real SSH nodes", function () {
    this.timeout(300_000);
    let fleet: TestFleet;
    afterEach(async () => fleet?.stop());

    it("a resumed run finishes the restore of a failed rollout and never deploys again; rolled-back once all are back", async () => {
        fleet = await startFleet(3);
        sick(fleet.nodes[2]);
        const s = spec(fleet, { serial: ["100%"], forks: 1 });
        let gone: string | undefined;
        const err = await runRollout(s, {
            interrupt: () => gone,
            onTransition: (node, status) => { if (node === "node-1" && status === "restored") gone = "the engine's gRPC endpoint 127.0.0.1:1 refuses connections"; },
        }).then(() => undefined, (e: Error) => e);
        expect(err?.message).to.match(/failed and its restore stopped at a safe point: the engine's gRPC endpoint/);
        expect(records(s).pop()).to.include({ status: "interrupted" });
        expect(fleet.installedVersion(fleet.nodes[0])).to.equal("v1.0.0");
        expect(fleet.installedVersion(fleet.nodes[1]), "node-2 not restored yet").to.equal("v2.0.0");
        expect(nodeState(fleet.nodes[1]).aborting).to.match(/1 of 3 node\(s\) in batch 1 failed/);

        rmSync(path.join(fleet.nodes[2].home, "sick"));
        rmSync(s.journalPath);
        const again = await runRollout(s).then(() => undefined, (e: Error) => e);
        expect(again?.message).to.match(/every touched node was restored from its backup and is healthy/);
        expect(again?.message).to.match(/resumed the restore of a failed rollout/);
        const rec = records(s).pop()!;
        expect(rec.status).to.equal("rolled-back");
        for (const n of fleet.nodes) {
            expect(fleet.installedVersion(n), n.name).to.equal("v1.0.0");
            expect(await fleet.healthy(n)).to.equal(true);
        }
    });
});

describe("a new node rollout on a fleet whose last restore failed, against real SSH nodes", function () {
    this.timeout(300_000);
    let fleet: TestFleet;
    afterEach(async () => fleet?.stop());

    const stateFile = (n: TestNode) => { try { return readFileSync(path.join(n.home, "backups/rollback/.alys-rollout.json"), "utf8"); } catch { return "none"; } };
    const lockGone = (n: TestNode) => expect(() => readFileSync(path.join(n.home, "backups/rollback/.alys-rollout.lock/owner")), `${n.name}: lock released`).to.throw();
    /** What the operator does by hand on the node, over SSH (its paths exist only in the node's mount namespace). */
    const onNode = async (n: TestNode, command: string) => {
        const s = await connect(nodeAddress(n), fleet.privateKey);
        try { return await s.run(command, 60_000); } finally { s.close(); }
    };

    it("refuses the whole rollout before touching anything, naming the node, what failed, when, and how to clear it; an exact acknowledgement of a healthy node clears it", async () => {
        fleet = await startFleet(3);
        sick(fleet.nodes[1]);
        const failed = spec(fleet, { forks: 1 });
        await runRollout(failed).then(() => expect.fail("the first rollout must fail"), () => undefined);
        expect(records(failed).pop()).to.include({ status: "restore-failed" });
        const left = nodeState(fleet.nodes[1]);
        expect(left).to.include({ step: "restore-failed", concluded: true });
        expect(left.detail, "the node keeps what failed").to.match(/^restore: restart failed/);

        // The next release, from another machine (a fresh journal and log).
        const work = mkdtempSync(path.join(tmpdir(), "next-release-"));
        const next = spec(fleet, { version: "v3.0.0", binary: writeAlysBinary(path.join(work, "alys"), "v3.0.0"), forks: 3 });
        const before = fleet.nodes.map((n) => ({ backups: fleet.backups(n), version: fleet.installedVersion(n), state: stateFile(n) }));
        const untouched = () => fleet.nodes.forEach((n, i) => {
            expect({ backups: fleet.backups(n), version: fleet.installedVersion(n), state: stateFile(n) }, `${n.name} untouched`).to.deep.equal(before[i]);
            lockGone(n);
        });
        const ack = `node-2@${left.stamp}`;
        const refused = await runRollout(next).then(() => undefined, (e: Error) => e);
        expect(refused?.message).to.match(/^pre-checks failed, no node was touched: 1 node\(s\) are in an unknown state after a failed restore/);
        expect(refused?.message).to.contain(`node-2: the restore of rollout ${left.stamp} (v2.0.0 over alys v1.0.0) failed at ${left.at}: restore: restart failed`);
        expect(refused?.message).to.contain(`cp -a '/var/backups/alys/rollback/alys-${left.stamp}/.' '/opt/alys/'`);
        expect(refused?.message).to.contain(`pulumi config set --path 'speculation:nodes.clearRestoreFailed[0]' '${ack}'`);
        expect(refused?.message, "the healthy nodes are not the story").to.not.match(/node-1:|node-3:/);
        untouched();
        expect(() => readFileSync(next.deploymentLog), "no record: nothing happened").to.throw();

        // An acknowledgement of another failure does not clear this one.
        const wrong = await runRollout({ ...next, clearRestoreFailed: ["node-2@20200101000000"] }).then(() => undefined, (e: Error) => e);
        expect(wrong?.message).to.contain("speculation:nodes.clearRestoreFailed has node-2@20200101000000, which acknowledges another failure, not this one.");
        untouched();

        // The exact acknowledgement of a node that is not healthy is refused too: the claim is checked.
        execFileSync("sh", ["-c", `kill "$(cat '${fleet.nodes[1].home}/run.pid')"`]);
        const unhealthy = await runRollout({ ...next, clearRestoreFailed: [ack] }).then(() => undefined, (e: Error) => e);
        expect(unhealthy?.message).to.match(new RegExp(`acknowledged by speculation:nodes.clearRestoreFailed ${ack}, but its health check fails now \\(curl -sf .*: exit \\d+`));
        untouched();

        // Fixed by hand (the cause removed, restarted), then acknowledged: the rollout goes over the whole fleet.
        rmSync(path.join(fleet.nodes[1].home, "sick"));
        expect((await onNode(fleet.nodes[1], fleet.paths.restartCommand)).code).to.equal(0);
        const progress: string[] = [];
        const result = await runRollout({ ...next, clearRestoreFailed: [ack, "node-3@20200101000000"] }, { progress: (l) => progress.push(l) });
        expect(progress.join("\n")).to.contain(`acknowledged by speculation:nodes.clearRestoreFailed ${ack}; healthy now: rolled out over what it runs (alys v1.0.0)`);
        expect(progress.join("\n")).to.contain("node-3@20200101000000 in nodes.clearRestoreFailed matches no failed restore on the nodes");
        expect(result.record.status).to.equal("deployed");
        for (const n of fleet.nodes) expect(fleet.installedVersion(n), n.name).to.equal("v3.0.0");
        expect(nodeState(fleet.nodes[1])).to.include({ step: "healthy", concluded: true, version: "v3.0.0" });
        // Once deployed, the acknowledgement matches nothing: the next rollout is not refused and says so.
        expect(judgeAgain(nodeState(fleet.nodes[1]))).to.equal("clear");
    });
});

