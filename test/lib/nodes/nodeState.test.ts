/** What a node keeps about a rollout, and when a lock found on it may be taken over. */
import { expect } from "chai";
import { execFileSync } from "child_process";
import { judgeLock, parseState, resumable, shellLiteral, STALE_AFTER_SECONDS, writeStateCommand } from "../../../lib/nodes/nodeState";

describe("node-side rollout state and the fleet lock", () => {
    const owner = (host: string, pid = 4242) => JSON.stringify({ token: "t", owner: "ci", host, pid, since: "2026-11-28T20:00:00Z", version: "v2" });
    const now = 1_800_000_000_000;

    it("holds a live lock: another host with a fresh heartbeat", () => {
        const v = judgeLock(owner("ci-runner-7"), `${now - 10_000}`, { host: "laptop" }, now, () => true);
        expect(v.verdict).to.equal("held");
        expect(v.why).to.equal("ci@ci-runner-7 (pid 4242, rollout of v2 since 2026-11-28T20:00:00Z), last heartbeat 10 s ago");
    });
    it("calls a lock stale when its heartbeat stopped for longer than the limit", () => {
        const v = judgeLock(owner("ci-runner-7"), `${now - (STALE_AFTER_SECONDS + 1) * 1000}`, { host: "laptop" }, now, () => true);
        expect(v).to.include({ verdict: "stale" });
        expect(v.why).to.match(/no heartbeat for 91 s \(more than 90 s\)/);
    });
    it("calls a lock of this host stale at once when its process is gone, and held while it lives", () => {
        expect(judgeLock(owner("laptop"), `${now}`, { host: "laptop" }, now, () => false).verdict).to.equal("stale");
        expect(judgeLock(owner("laptop"), `${now}`, { host: "laptop" }, now, () => true).verdict).to.equal("held");
        // Another host's pid says nothing here: a dead local pid of the same number does not free it.
        expect(judgeLock(owner("ci-runner-7"), `${now}`, { host: "laptop" }, now, () => false).verdict).to.equal("held");
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
