/** What a node keeps about a rollout, and when a lock found on it may be taken over. */
import { expect } from "chai";
import { execFileSync } from "child_process";
import {
    classifyLock, settlementOf, NodeState, parseState, resumable, shellLiteral, STALE_AFTER_SECONDS, unsettledError, writeStateCommand,
} from "../../../lib/nodes/nodeState";

describe("node-side rollout state and the fleet lock", () => {
    const owner = (host: string, pid = 4242) => JSON.stringify({ token: "t", owner: "ci", host, pid, since: "2026-11-28T20:00:00Z", version: "v2" });
    const now = 1_800_000_000_000;

    it("holds a live lock: another host with a fresh heartbeat", () => {
        const v = classifyLock(owner("ci-runner-7"), `${now - 10_000}`, { host: "laptop" }, now, () => true);
        expect(v.verdict).to.equal("held");
        expect(v.why).to.equal("ci@ci-runner-7 (pid 4242, rollout of v2 since 2026-11-28T20:00:00Z), last heartbeat 10 s ago");
    });
    it("calls a lock stale when its heartbeat stopped for longer than the limit", () => {
        const v = classifyLock(owner("ci-runner-7"), `${now - (STALE_AFTER_SECONDS + 1) * 1000}`, { host: "laptop" }, now, () => true);
        expect(v).to.include({ verdict: "stale" });
        expect(v.why).to.match(/no heartbeat for 91 s \(more than 90 s\)/);
    });
    it("calls a lock of this host stale at once when its process is gone, and held while it lives", () => {
        expect(classifyLock(owner("laptop"), `${now}`, { host: "laptop" }, now, () => false).verdict).to.equal("stale");
        expect(classifyLock(owner("laptop"), `${now}`, { host: "laptop" }, now, () => true).verdict).to.equal("held");
        // Another host's pid says nothing here: a dead local pid of the same number does not free it.
        expect(classifyLock(owner("ci-runner-7"), `${now}`, { host: "laptop" }, now, () => false).verdict).to.equal("held");
    });
    it("writes the state through the shell exactly, whatever the text holds, and reads it back", () => {
        const state = { rolloutId: "r1", stamp: "20261128200000", version: "v2", step: "switched" as const, versionBefore: "alys 'v1' \"$HOME\" `x`", at: "t" };
        const dir = execFileSync("mktemp", ["-d"]).toString().trim();
        execFileSync("sh", ["-c", writeStateCommand(`${dir}/s.json`, state)]);
        const read = parseState(execFileSync("cat", [`${dir}/s.json`]).toString());
        expect(read).to.deep.equal(state);
        expect(execFileSync("sh", ["-c", `printf '%s' ${shellLiteral("it's $x")}`]).toString()).to.equal("it's $x");
    });
    it("resumes only an unfinished state of the same rollout", () => {
        const s = { rolloutId: "r1", stamp: "1", version: "v2", step: "backed-up" as const, at: "t" };
        expect(resumable(s, "r1")).to.equal(true);
        expect(resumable(s, "r2")).to.equal(false);
        expect(resumable({ ...s, concluded: true }, "r1")).to.equal(false);
        expect(parseState("not json")).to.equal(undefined);
        expect(parseState("")).to.equal(undefined);
    });
});

describe("a new rollout on a node whose last restore failed", () => {
    const hint = { installPath: "/opt/alys", restartCommand: "systemctl restart alys", healthCommand: "curl -sf http://localhost:8545/health" };
    const failed: NodeState = {
        rolloutId: "old", stamp: "20261128200000", version: "v2", step: "restore-failed", backup: "/var/backups/alys/rollback/alys-20261128200000",
        versionBefore: "alys v1", concluded: true, detail: "restore: restart failed: unit alys.service not found", at: "2026-11-28T20:01:02.000Z",
    };

    it("refuses it, naming the node, what failed and when, the by-hand restore and the acknowledgement that clears it", () => {
        const v = settlementOf("alys-2", failed, "new", [], hint);
        expect(v.verdict).to.equal("refused");
        expect(v).to.include({ ack: "alys-2@20261128200000" });
        const why = (v as { why: string }).why;
        expect(why).to.contain("alys-2: the restore of rollout 20261128200000 (v2 over alys v1) failed at 2026-11-28T20:01:02.000Z: restore: restart failed: unit alys.service not found");
        expect(why).to.contain("cp -a '/var/backups/alys/rollback/alys-20261128200000/.' '/opt/alys/' && systemctl restart alys; check: curl -sf http://localhost:8545/health");
        const text = unsettledError([v as { why: string; ack: string }, { why: "alys-3: …", ack: "alys-3@20261128200000" }]);
        expect(text).to.match(/^pre-checks failed, no node was touched: 2 node\(s\) are in an unknown state after a failed restore/);
        expect(text).to.contain("pulumi config set --path 'speculation:nodes.clearRestoreFailed[0]' 'alys-2@20261128200000'");
        expect(text).to.contain("pulumi config set --path 'speculation:nodes.clearRestoreFailed[1]' 'alys-3@20261128200000'");
    });
    it("refuses it for the same version too: a concluded rollout is not resumed, whatever its id", () => {
        expect(settlementOf("alys-2", failed, "old", [], hint).verdict).to.equal("refused");
    });
    it("lets its own unfinished rollout resume (which retries the restore), and leaves settled nodes alone", () => {
        expect(settlementOf("alys-2", { ...failed, concluded: undefined, aborting: "1 of 3 failed" }, "old", [], hint).verdict).to.equal("clear");
        expect(settlementOf("alys-2", { ...failed, step: "restored" }, "new", [], hint).verdict).to.equal("clear");
        expect(settlementOf("alys-2", { ...failed, step: "healthy", detail: undefined }, "new", [], hint).verdict).to.equal("clear");
        expect(settlementOf("alys-2", undefined, "new", [], hint).verdict).to.equal("clear");
    });
    it("refuses a node another rollout stopped restoring and never resumed", () => {
        const v = settlementOf("alys-2", { ...failed, step: "failed", concluded: undefined, aborting: "1 of 3 node(s) in batch 1 failed" }, "new", [], hint);
        expect(v.verdict).to.equal("refused");
        expect((v as { why: string }).why).to.contain("rollout 20261128200000 (v2 over alys v1) failed (1 of 3 node(s) in batch 1 failed) and stopped at 2026-11-28T20:01:02.000Z while restoring this node (step failed); it was never resumed");
    });
    it("accepts exactly the acknowledged failure; an acknowledgement of an older failure does not clear a newer one", () => {
        expect(settlementOf("alys-2", failed, "new", ["alys-2@20261128200000"], hint)).to.include({ verdict: "acknowledged", ack: "alys-2@20261128200000" });
        const stale = settlementOf("alys-2", failed, "new", ["alys-2@20261101000000", "alys-3@20261128200000"], hint);
        expect(stale.verdict).to.equal("refused");
        expect((stale as { why: string }).why).to.contain("(speculation:nodes.clearRestoreFailed has alys-2@20261101000000, which acknowledges another failure, not this one.)");
    });
});
