import { expect } from "chai";
import { CUSUM_DEFAULTS } from "../../../config/thresholds";
import { DRIFT_START, driftChecks, DriftState } from "../../../lib/drift/check";

const P = { ...CUSUM_DEFAULTS };
const run = (samples: { errors: number; operations: number; p95?: number }[], baseline = { errorRate: 0.002, p95Seconds: 0.0095 }) => {
    let state: DriftState = DRIFT_START;
    return samples.map((s) => {
        const r = driftChecks(state, s, baseline, P);
        state = r.state;
        return r;
    });
};

describe("CUSUM as a gate check (lib/drift/check.ts)", () => {
    it("stays in control at the baseline: every sample passes, S stays near 0", () => {
        const out = run(Array.from({ length: 50 }, () => ({ errors: 1, operations: 500, p95: 0.0095 })));
        expect(out.every((r) => r.checks.every((c) => c.verdict === "pass"))).to.equal(true);
        expect(out[49].state.errorRate.s).to.be.below(1);
    });

    it("alarms on a 4× error-rate drift the spike check (10×) and the promote limit (1 %) both miss: at the second sample", () => {
        // p0 = 0.2 %, p = 0.8 % at 500 operations per sample: z ≈ 3.0, S grows ≈ 2.5 per sample and crosses h = 5 at the second.
        const out = run([1, 2, 3].map(() => ({ errors: 4, operations: 500 })));
        expect(out[0].checks[0].verdict).to.equal("pass");
        expect(out[1].checks[0]).to.include({ check: "cusum errorRate", verdict: "fail" });
        expect(out[1].checks[0].reason).to.match(/CUSUM alarm/);
        expect(out[2].state.errorRate.alarmAt).to.equal(2);
    });

    it("catches a 10× error-rate step at the first sample at 30 000 operations per sample", () => {
        const out = run([{ errors: 600, operations: 30_000 }]);
        expect(out[0].checks[0].verdict).to.equal("fail");
    });

    it("alarms on a p95 drifting 30 % above the baseline within a few samples, not on a 3 % wobble", () => {
        const drift = run(Array.from({ length: 4 }, () => ({ errors: 1, operations: 500, p95: 0.0095 * 1.3 })));
        expect(drift.map((r) => r.checks[1].verdict)).to.deep.equal(["pass", "fail", "fail", "fail"]);
        const wobble = run(Array.from({ length: 100 }, (_, i) => ({ errors: 1, operations: 500, p95: 0.0095 * (i % 2 ? 1.03 : 0.97) })));
        expect(wobble.every((r) => r.checks[1].verdict === "pass")).to.equal(true);
    });

    it("a sample without counts leaves S where it was; a missing baseline p95 says the latency CUSUM is not armed", () => {
        const first = driftChecks(DRIFT_START, { errors: 4, operations: 500 }, { errorRate: 0.002 }, P);
        const none = driftChecks(first.state, undefined, { errorRate: 0.002 }, P);
        expect(none.state).to.deep.equal(first.state);
        expect(none.checks[1]).to.include({ check: "cusum latencyP95", observed: "not armed" });
    });

    it("a larger h takes longer to alarm on the same drift (the trade-off the README documents)", () => {
        const alarmAt = (h: number) => {
            let state: DriftState = DRIFT_START;
            for (let i = 1; i <= 100; i++) {
                state = driftChecks(state, { errors: 3, operations: 500 }, { errorRate: 0.002 }, { ...P, h }).state;
                if (state.errorRate.alarmAt) return state.errorRate.alarmAt;
            }
            return Infinity;
        };
        expect(alarmAt(5)).to.be.below(alarmAt(10));
    });
});
