/**
 * CI's chaos run: the short matrix of `npm run chaos` (reference/chaos/matrix.ts, `short: true`) on the local default
 * under the real engine — node failures, a partition, a lying admin API, exhaustion between ups, kills — each fault a
 * test that fails on any violation (traffic past its bound, a process left after 5 s, a record for a dead update, an
 * untrue record, a lost binary).  The full matrix runs on demand: `npm run chaos`.
 */
import { expect } from "chai";
import { localGuardPlan, ROOT, toolchain } from "../../scripts/localStack";
import { selectFaults } from "../../scripts/chaos";
import { runChaosFault } from "../../reference/chaos/run";
import * as path from "path";

describe("chaos: the short matrix on the local default (npm run chaos -- --short)", function () {
    this.timeout(600_000);
    const runDir = path.join(ROOT, ".pulumi-local/chaos", `e2e-${new Date().toISOString().replace(/[:.]/g, "-")}`);
    const plan = localGuardPlan();
    let binDir: string;
    before(() => { binDir = toolchain(); });

    for (const f of selectFaults({ short: true })) {
        it(`${f.group} ${f.name}: ${f.fault}`, async () => {
            const row = await runChaosFault(f, { runDir, binDir, plan, log: (s) => console.log(`      ${s}`) });
            console.log(`      injected ${row.injectedAt ? `+${((row.injectedAt - row.startedAt) / 1000).toFixed(1)} s` : "never"}, safe after ${row.safeSeconds ?? "never"} s` +
                `${row.boundSeconds !== undefined ? ` (bound ${row.boundSeconds} s)` : ""}, up ${row.outcome}; evidence in ${path.join(runDir, f.name)}`);
            expect(row.injectedAt, "the fault was injected").to.not.equal(undefined);
            expect(row.violations, "violations").to.deep.equal([]);
        });
    }
});
