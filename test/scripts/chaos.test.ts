/** The chaos matrix as data (reference/chaos/matrix.ts) and how `npm run chaos` selects from it (scripts/chaos.ts). */
import { expect } from "chai";
import { CHAOS_MATRIX } from "../../reference/chaos/matrix";
import { selectFaults } from "../../scripts/chaos";

describe("npm run chaos: the matrix and its selection", () => {
    it("names every fault once and covers each group the issue lists; the short matrix is a part of it", () => {
        const names = CHAOS_MATRIX.map((f) => f.name);
        expect(new Set(names).size, "unique names").to.equal(names.length);
        expect([...new Set(CHAOS_MATRIX.map((f) => f.group))].sort()).to.deep.equal(["byzantine", "exhaustion", "kill", "node", "partition"]);
        const short = selectFaults({ short: true });
        expect(short.length).to.be.greaterThan(0).and.below(CHAOS_MATRIX.length);
        expect(new Set(short.map((f) => f.group)).size, "the short matrix has every group").to.equal(5);
        expect(selectFaults({})).to.deep.equal(CHAOS_MATRIX);
    });

    it("kills at every dynamic provider kind and during the policy pack", () => {
        const kills = CHAOS_MATRIX.filter((f) => f.kind === "kill").map((f) => f.name);
        for (const kind of ["preflight", "release-smoke-test", "bench-run", "error-baseline", "traffic-shift", "health-gate", "ssh-rollout",
            "deployment-record", "bake-window", "verification", "rollback-drain"]) {
            expect(kills, kind).to.include(`kill-at-${kind}`);
        }
        expect(kills).to.include("kill-during-policy-pack");
    });

    it("--only picks the named faults and refuses an unknown name, listing the allowed ones", () => {
        expect(selectFaults({ only: "kill-at-bench-run,node-crash-after-swap" }).map((f) => f.name)).to.deep.equal(["node-crash-after-swap", "kill-at-bench-run"]);
        expect(() => selectFaults({ only: "kill-at-bench,node-crash-after-swap" })).to.throw(/--only kill-at-bench: allowed node-crash-after-swap, .*kill-at-bench-run/);
    });
});
