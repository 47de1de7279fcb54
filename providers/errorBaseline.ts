/**
 * ErrorBaseline: the error rate (and p95 latency) measured just before a stage shifts traffic, and the health check
 * of that same reading (lib/preshift).  The stage's HealthGate aborts when the error rate climbs above this baseline
 * times the go/no-go multiple (SPEC §2: > 10 × the pre-deploy baseline); its CUSUM drifts against both values.
 *   create → measures over one window and judges the reading: a no-go refuses the shift before it happens (fails
 *            closed: no baseline, no shift)
 *   read   → keeps the recorded value: a baseline is a point in time, a refresh must not move it
 *   delete → nothing to undo
 */
import * as pulumi from "@pulumi/pulumi";
import { exitingWithEngine } from "../lib/lifecycle/engine";
import { StageThresholds } from "../config/thresholds";
import { MetricCheck, NoDataPolicy } from "../lib/gate/decision";
import { AlertSource } from "../lib/gate/measure";
import { preShiftCheck, refusalMessage } from "../lib/preshift/check";
// A local module is captured by value when Pulumi serialises the provider: imported here, never require()d inside a method.
import { publishStageBaseline } from "../lib/records/baseline";
import type { PushgatewayAuth } from "../lib/records/pushgateway";
import { whileEngineLives } from "./runbookStep";

export const ERROR_BASELINE_TYPE = "ErrorBaseline";

export interface ErrorBaselineInputs {
    stage: pulumi.Input<string>;
    version: pulumi.Input<string>;
    serviceUrl: pulumi.Input<string>;
    prometheusUrl?: pulumi.Input<string>;
    source: pulumi.Input<"metrics-endpoint" | "prometheus">;
    windowSeconds: pulumi.Input<number>;
    timeoutMs: pulumi.Input<number>;
    /** The stage's percentage, for the refusal message. */
    percentage: pulumi.Input<number>;
    /** The stage's thresholds and no-data policies: the pre-shift reading is judged as the gate judges. */
    thresholds: pulumi.Input<StageThresholds>;
    noData: pulumi.Input<Partial<Record<MetricCheck, NoDataPolicy>>>;
    proofWorkerUrl?: pulumi.Input<string>;
    /** Where the critical alerts are read: none may be firing when traffic rises. */
    alerts?: pulumi.Input<AlertSource>;
    /**
     * The new track this shift gives more traffic (lib/shift raisedTrack: the canary past ingress-weight's first
     * stage, green at blue-green's switch): it passes the same check on its own reading too (the baseline stays the
     * service's, from serviceUrl).
     */
    raisedTrackUrl?: pulumi.Input<string>;
    /**
     * Where the baseline is published for the alert rules (`records.pushgatewayUrl`): SpeculationErrorRateSpike holds
     * every track to it between `up`s (lib/monitoring/rules.ts STAGE_BASELINE_METRIC).
     */
    publish?: pulumi.Input<{ pushgatewayUrl: string; environment: string }>;
    /** speculation:pushgatewayCredentials (a secret): how the publish reaches an authenticated Pushgateway. */
    pushgatewayAuth?: pulumi.Input<PushgatewayAuth>;
}

interface BaselineState {
    stage: string;
    version: string;
    serviceUrl: string;
    prometheusUrl?: string;
    source: "metrics-endpoint" | "prometheus";
    windowSeconds: number;
    timeoutMs: number;
    percentage: number;
    thresholds: StageThresholds;
    noData: Partial<Record<MetricCheck, NoDataPolicy>>;
    proofWorkerUrl?: string;
    alerts?: AlertSource;
    raisedTrackUrl?: string;
    publish?: { pushgatewayUrl: string; environment: string };
    pushgatewayAuth?: PushgatewayAuth;
    errorRate: number;
    p95Seconds?: number;
    measuredAt: string;
    query: string;
    /** The pre-shift health check's verdict ("go": a no-go never creates the resource) and how many checks it read. */
    preShift: string;
}

/** Measures the baseline before the shift, judges the reading, and publishes it (see the provider). */
async function measure(inputs: BaselineState) {
    const raised = inputs.raisedTrackUrl;
    console.log(`[${inputs.stage}] pre-shift health check and baseline: reading the service${raised ? ` and the new track (${raised}), which this shift gives more traffic,` : ""} over ${inputs.windowSeconds} s`);
    const [result, canary] = await Promise.all([
        preShiftCheck({ ...inputs, windowSeconds: inputs.windowSeconds }),
        raised ? preShiftCheck({ ...inputs, serviceUrl: raised, windowSeconds: inputs.windowSeconds }) : undefined,
    ]);
    if (result.verdict === "no-go") throw new Error(refusalMessage(inputs.stage, inputs.percentage, result));
    if (canary?.verdict === "no-go") throw new Error(refusalMessage(`${inputs.stage} (the new track, ${raised})`, inputs.percentage, canary));
    const { errorRate, measuredAt, query, p95Seconds } = result.baseline;
    console.log(`[${inputs.stage}] pre-shift health check: go (${result.sample.checks.length} checks${canary ? `, and ${canary.sample.checks.length} on the new track` : ""}), baseline error rate ${errorRate}` +
        (p95Seconds !== undefined ? `, p95 ${(p95Seconds * 1000).toFixed(2)} ms` : ""));
    if (inputs.publish) {
        const published = await publishStageBaseline(inputs.publish.pushgatewayUrl, inputs.publish.environment, inputs.stage, errorRate, inputs.timeoutMs, inputs.pushgatewayAuth);
        console.log(`[${inputs.stage}] ${published}`);
    }
    return {
        id: `${inputs.stage}-baseline`,
        outs: { ...inputs, errorRate, measuredAt, query, ...(p95Seconds !== undefined ? { p95Seconds } : {}), preShift: `go (${result.sample.checks.length} checks)` },
    };
}

export const errorBaselineProvider: pulumi.dynamic.ResourceProvider = exitingWithEngine({
    async diff(_id: string, olds: BaselineState, news: BaselineState) {
        // A new stage, version or endpoint needs a new baseline, measured before its shift.
        const replaces = (["stage", "version", "serviceUrl", "prometheusUrl", "source"] as const).filter((k) => olds[k] !== news[k]);
        const changed = (["windowSeconds", "timeoutMs", "percentage", "proofWorkerUrl", "raisedTrackUrl"] as const).filter((k) => olds[k] !== news[k]);
        const settings = (["thresholds", "noData", "alerts", "publish"] as const).filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
        return { changes: replaces.length + changed.length + settings.length > 0, replaces };
    },
    async create(inputs: BaselineState) {
        // Abandoned (nothing published, the process gone) when the engine dies mid-measurement (providers/runbookStep.ts).
        return whileEngineLives(() => measure(inputs));
    },
    async update(_id: string, olds: BaselineState, news: BaselineState) {
        // A baseline is a point in time before the shift: settings edits keep it.
        return { outs: { ...news, errorRate: olds.errorRate, p95Seconds: olds.p95Seconds, measuredAt: olds.measuredAt, query: olds.query, preShift: olds.preShift } };
    },
    async read(id: string, props: BaselineState) {
        return { id, props };
    },
    async delete() {
        // Nothing outside the state to undo.
    },
});

export class ErrorBaseline extends pulumi.dynamic.Resource {
    declare readonly errorRate: pulumi.Output<number>;
    /** The pre-shift p95 operation latency, seconds (undefined when it could not be read). */
    declare readonly p95Seconds: pulumi.Output<number | undefined>;
    declare readonly measuredAt: pulumi.Output<string>;

    constructor(name: string, args: ErrorBaselineInputs, opts?: pulumi.CustomResourceOptions) {
        super(errorBaselineProvider, name, { ...args, errorRate: undefined, p95Seconds: undefined, measuredAt: undefined, query: undefined, preShift: undefined },
            { ...opts, additionalSecretOutputs: ["pushgatewayAuth"] }, "agenc", ERROR_BASELINE_TYPE);
    }
}
