/** The node rollout's pure bookkeeping: Ansible-style batches, the failure budget, resume points. */
import { expect } from "chai";
import { batchFailureBudget, nextStep, planBatches } from "../../../lib/nodes/plan";

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
    it("judges maxFailPercentage per batch, Ansible's way: the percentage must be exceeded to stop", () => {
        expect(batchFailureBudget(10, 0), "0 %: the first failure stops").to.equal(0);
        expect(batchFailureBudget(10, 30), "30 % of 10: 3 failures carry on, the 4th stops").to.equal(3);
        expect(batchFailureBudget(2, 50), "50 % of 2: one failure is not more than 50 %").to.equal(1);
        expect(batchFailureBudget(1, 50), "a batch of one with 50 %: its failure is 100 %").to.equal(0);
        expect(batchFailureBudget(3, 20), "20 % of 3 is 0.6: one failure (33 %) exceeds it").to.equal(0);
    });
    it("resumes each node from its journaled status", () => {
        const at = "t";
        expect(nextStep(undefined)).to.equal("backup");
        expect(nextStep({ name: "a", status: "backed-up", backup: "/b", at })).to.equal("upload");
        expect(nextStep({ name: "a", status: "uploaded", backup: "/b", at })).to.equal("switch");
        expect(nextStep({ name: "a", status: "switched", backup: "/b", at })).to.equal("restart");
        expect(nextStep({ name: "a", status: "failed", backup: "/b", at })).to.equal("restart");
        expect(nextStep({ name: "a", status: "healthy", backup: "/b", at })).to.equal("done");
        expect(nextStep({ name: "a", status: "restored", backup: "/b", at })).to.equal("done");
    });
});
