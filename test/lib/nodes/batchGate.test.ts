/** The gate between node batches is judged against the service before the first batch, as a stage's gate is. */
import { expect } from "chai";
import { DEFAULT_STAGE_THRESHOLDS } from "../../../config/thresholds";
import { driftChecks, DRIFT_START } from "../../../lib/drift/check";
import { batchGateSpec } from "../../../lib/nodes/rollout";

describe("the batch gate's baseline (lib/nodes/rollout.ts batchGateSpec)", () => {
    const gate = {
        stage: "alys-nodes", percentage: 10, version: "v1.2.4", serviceUrl: "http://svc", source: "metrics-endpoint" as const, adminToken: "",
        thresholds: DEFAULT_STAGE_THRESHOLDS, bakeSeconds: 60, pollSeconds: 10, deadlineSeconds: 120, timeoutMs: 1000, onFailure: "fail" as const,
        noData: {}, checkRolloutPercentage: false, cusum: { k: 0.5, h: 5, latencySigma: 0.1 },
    };

    it("carries the pre-batch error rate and p95, so the latency CUSUM is armed", () => {
        const spec = batchGateSpec(gate, { errorRate: 0.002, p95Seconds: 0.0095 });
        expect(spec).to.include({ baselineErrorRate: 0.002, baselineP95Seconds: 0.0095 });
        const { checks } = driftChecks(DRIFT_START, { errors: 1, operations: 500, p95: 0.0095 }, { errorRate: spec.baselineErrorRate, p95Seconds: spec.baselineP95Seconds }, spec.cusum!);
        expect(checks.find((c) => c.check === "cusum latencyP95")!.observed).to.match(/^S 0\.00 after 1 sample/);
    });

    it("without a p95 (it could not be read) the latency CUSUM says it is not armed, and nothing is invented", () => {
        const spec = batchGateSpec(gate, { errorRate: 0.002 });
        expect(spec).to.not.have.property("baselineP95Seconds");
    });
});
