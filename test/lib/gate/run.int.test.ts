/**
 * The gate loop's interruption (lib/gate/run.ts runGate's `interrupt`): what the HealthGate does when the engine that
 * started it is gone (a killed `pulumi up`).  Against the reference service, with the real clock.
 */
import { expect } from "chai";
import { DEFAULT_STAGE_THRESHOLDS } from "../../../config/thresholds";
import { GateSpec, runGate } from "../../../lib/gate/run";
import { ADMIN_TOKEN, Reference, startReference } from "../../helpers/reference";

describe("the gate loop, interrupted (lib/gate/run.ts)", function () {
    this.timeout(60_000);
    let ref: Reference;
    afterEach(async () => ref?.close());
    const spec = (): GateSpec => ({
        stage: "stage-2-25pct", percentage: 25, version: "v1.2.4", serviceUrl: ref.service.url, source: "metrics-endpoint",
        adminToken: ADMIN_TOKEN, thresholds: DEFAULT_STAGE_THRESHOLDS, baselineErrorRate: 0.002, bakeSeconds: 5, pollSeconds: 0.1,
        deadlineSeconds: 10, timeoutMs: 500, onFailure: "revert", noData: {}, checkRolloutPercentage: true,
    });

    it("stops at the next sample once the engine is gone: verdict interrupted, only the samples taken, nothing reverted", async () => {
        ref = await startReference({ rolloutPercentage: 25 });
        let samples = 0;
        const { record } = await runGate(spec(), undefined, () => { samples++; }, () => (samples >= 2 ? "the engine process (pid 1234) exited" : undefined));
        expect(record.verdict).to.equal("interrupted");
        expect(record.sampleCount).to.equal(2);
        expect(record.reason).to.match(/^interrupted after 2 sample\(s\) \(2 of 50 consecutive green\): the engine process \(pid 1234\) exited; nothing reverted/);
        expect(record.revert).to.equal(undefined);
        expect(ref.service.state).to.include({ enabled: true, rolloutPercentage: 25 });
    });

    it("without an interruption the same gate runs on (the check is what stops it)", async () => {
        ref = await startReference({ rolloutPercentage: 25 });
        let samples = 0;
        // A busy machine may slow a read; that is not what this case is about (2026-12-07: one run of three under a
        // busy loop per core failed a 500 ms read), so reads and the deadline get room.
        const { record } = await runGate({ ...spec(), bakeSeconds: 0.5, timeoutMs: 5000, deadlineSeconds: 30 }, undefined, () => { samples++; });
        expect(record.verdict, record.reason).to.equal("pass");
        expect(samples).to.equal(5);
    });
});
