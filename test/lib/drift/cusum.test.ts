/** One-sided CUSUM: the recursion, the standardisation, and what k and h do. */
import { expect } from "chai";
import { CUSUM_START, CusumState, cusumStep, DEFAULT_CUSUM, errorRateZ, latencyZ } from "../../../lib/drift/cusum";

const run = (zs: number[], p = DEFAULT_CUSUM): CusumState => zs.reduce((st, z) => cusumStep(st, z, p), CUSUM_START);

describe("CUSUM (upper, one-sided)", () => {
    it("accumulates only what exceeds k, never goes below 0, and alarms once S > h", () => {
        expect(run([1, 1, 1]).s).to.be.closeTo(1.5, 1e-9);           // 0.5 + 0.5 + 0.5
        expect(run([-3, 0.4, 0.2]).s).to.equal(0);                   // improvements do not bank credit
        const st = run([3, 3, 0]);                                   // 2.5, 5.0, 4.5: not > 5
        expect(st.alarmAt).to.equal(undefined);
        expect(run([3, 3, 3]).alarmAt).to.equal(3);                  // 7.5 > 5 at the third sample
        expect(run([3, 3, 3, -10]).alarmAt, "an alarm is latched").to.equal(3);
    });

    it("a larger h or k waits longer for the same drift (fewer false alarms, slower detection)", () => {
        const drift = Array(20).fill(1.5);
        const at = (k: number, h: number) => run(drift, { k, h }).alarmAt;
        expect(at(0.5, 5)).to.equal(6);
        expect(at(0.5, 8)).to.equal(9);
        expect(at(1, 5)).to.equal(11);
    });

    it("standardises an error-rate sample by its binomial standard error, and p95 by a relative sigma", () => {
        expect(errorRateZ(60, 30_000, 0.002)).to.equal(0);
        // A 10x step at 30 000 operations a sample is about 70 sigma: caught at the first sample at k 0.5, h 5.
        const z = errorRateZ(600, 30_000, 0.002);
        expect(z).to.be.closeTo(69.8, 0.1);
        expect(run([z]).alarmAt).to.equal(1);
        expect(latencyZ(0.12, 0.1, 0.1)).to.be.closeTo(2, 1e-9);
        expect(() => errorRateZ(1, 0, 0.002)).to.throw(/no operations/);
        expect(() => cusumStep(CUSUM_START, NaN, DEFAULT_CUSUM)).to.throw(/not a number/);
    });
});
