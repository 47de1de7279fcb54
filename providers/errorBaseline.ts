/**
 * ErrorBaseline: the error rate measured just before a stage shifts traffic.  The stage's HealthGate aborts when the
 * error rate climbs above this baseline times the go/no-go multiple (SPEC §2: > 10 × the pre-deploy baseline).
 *   create → measures over one window (fails closed: no baseline, no shift)
 *   read   → keeps the recorded value: a baseline is a point in time, a refresh must not move it
 *   delete → nothing to undo
 */
import * as pulumi from "@pulumi/pulumi";
import { captureBaseline } from "../lib/gate/run";

export const ERROR_BASELINE_TYPE = "ErrorBaseline";

export interface ErrorBaselineInputs {
    stage: pulumi.Input<string>;
    version: pulumi.Input<string>;
    serviceUrl: pulumi.Input<string>;
    prometheusUrl?: pulumi.Input<string>;
    source: pulumi.Input<"metrics-endpoint" | "prometheus">;
    windowSeconds: pulumi.Input<number>;
    timeoutMs: pulumi.Input<number>;
}

interface BaselineState {
    stage: string;
    version: string;
    serviceUrl: string;
    prometheusUrl?: string;
    source: "metrics-endpoint" | "prometheus";
    windowSeconds: number;
    timeoutMs: number;
    errorRate: number;
    measuredAt: string;
    query: string;
}

export const errorBaselineProvider: pulumi.dynamic.ResourceProvider = {
    async diff(_id: string, olds: BaselineState, news: BaselineState) {
        // A new stage, version or endpoint needs a new baseline, measured before its shift.
        const replaces = (["stage", "version", "serviceUrl", "prometheusUrl", "source"] as const).filter((k) => olds[k] !== news[k]);
        const changed = (["windowSeconds", "timeoutMs"] as const).filter((k) => olds[k] !== news[k]);
        return { changes: replaces.length + changed.length > 0, replaces };
    },
    async create(inputs: BaselineState) {
        const measured = await captureBaseline(inputs, inputs.windowSeconds);
        return { id: `${inputs.stage}-baseline`, outs: { ...inputs, ...measured } };
    },
    async update(_id: string, olds: BaselineState, news: BaselineState) {
        return { outs: { ...news, errorRate: olds.errorRate, measuredAt: olds.measuredAt, query: olds.query } };
    },
    async read(id: string, props: BaselineState) {
        return { id, props };
    },
    async delete() {
        // Nothing outside the state to undo.
    },
};

export class ErrorBaseline extends pulumi.dynamic.Resource {
    declare readonly errorRate: pulumi.Output<number>;
    declare readonly measuredAt: pulumi.Output<string>;

    constructor(name: string, args: ErrorBaselineInputs, opts?: pulumi.CustomResourceOptions) {
        super(errorBaselineProvider, name, { ...args, errorRate: undefined, measuredAt: undefined, query: undefined }, opts, "agenc", ERROR_BASELINE_TYPE);
    }
}
