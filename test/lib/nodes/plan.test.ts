/** The node rollout's pure bookkeeping: Ansible-style batches, the failure budget, resume points. */
import { expect } from "chai";
import { failureBudget, nextStep, nodesToRestore, planBatches, RolloutJournal } from "../../../lib/nodes/plan";

describe("node rollout plan", () => {
    const batches: [string, (number | string)[], number, number[]][] = [
        ["one at a time", [1], 4, [1, 1, 1, 1]],
        ["a list whose last entry repeats", [1, 5, "20%"], 20, [1, 5, 4, 4, 4, 2]],
        ["a percentage rounds down but is at least one node", ["10%"], 5, [1, 1, 1, 1, 1]],
        ["a batch larger than what is left is cut", [3], 4, [3, 1]],
        ["all at once", ["100%"], 3, [3]],
    ];
    for (const [name, serial, n, want] of batches) {
        it(`plans ${name}: ${JSON.stringify(serial)} over ${n} nodes → ${JSON.stringify(want)}`, () => {
            expect(planBatches(serial, n)).to.deep.equal(want);
        });
    }
    it("refuses bad serial entries by value", () => {
        expect(() => planBatches([0], 3)).to.throw(/serial: 0 is not a node count/);
        expect(() => planBatches(["150%"], 3)).to.throw(/serial: "150%" is not a node count or a percentage/);
        expect(() => planBatches([], 3)).to.throw(/at least one batch size/);
    });
    it("allows floor(count × pct / 100) failures", () => {
        expect(failureBudget(10, 0)).to.equal(0);
        expect(failureBudget(10, 25)).to.equal(2);
        expect(failureBudget(3, 50)).to.equal(1);
    });
    it("resumes each node from its journaled status, and restores only nodes it backed up", () => {
        const at = "t";
        expect(nextStep(undefined)).to.equal("backup");
        expect(nextStep({ name: "a", status: "backed-up", backup: "/b", at })).to.equal("upload");
        expect(nextStep({ name: "a", status: "uploaded", backup: "/b", at })).to.equal("switch");
        expect(nextStep({ name: "a", status: "switched", backup: "/b", at })).to.equal("restart");
        expect(nextStep({ name: "a", status: "healthy", backup: "/b", at })).to.equal("done");
        const journal: RolloutJournal = { rolloutId: "x", version: "v2", startedAt: at, nodes: {
            a: { name: "a", status: "healthy", backup: "/b/a", at }, b: { name: "b", status: "uploaded", backup: "/b/b", at },
            c: { name: "c", status: "pending", at }, d: { name: "d", status: "restored", backup: "/b/d", at },
        } };
        expect(nodesToRestore(journal)).to.deep.equal(["a", "b"]);
    });
});
