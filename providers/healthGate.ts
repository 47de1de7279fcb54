/**
 * HealthGate: judges one canary stage after its shift (SPEC §2, §3).  `pulumi up` of the stage blocks here until
 * the stage has stayed green for its whole bake window, or fails it.
 *   create/update → runs the gate (lib/gate/run.ts); on a no-go with onFailure "revert" sets the rollout percentage
 *                   to 0 and confirms it; writes the decision record as a JSON artifact; a no-go fails the update
 *                   with every check's query, observed value, threshold and verdict, and is recorded as
 *                   created-but-failed so the record stays in the state and the next `up` runs the gate again
 *   read          → re-measures one sample, so `pulumi refresh` shows the stage's health now (`current`);
 *                   a refresh that finds it no longer green makes the next `up` judge the stage again
 *   diff          → a changed stage, percentage, version or threshold re-runs the gate
 *   delete        → nothing to undo (the decision record stays under the artifacts folder)
 * The provider enforces its own deadline (the engine does not time dynamic providers out).
 */
import * as pulumi from "@pulumi/pulumi";
import { StageThresholds } from "../config/thresholds";
import { MetricCheck, NoDataPolicy } from "../lib/gate/decision";
import { DecisionRecord, failureMessage, GateSpec, runGate, takeSample } from "../lib/gate/run";

export const HEALTH_GATE_TYPE = "HealthGate";

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

export interface HealthGateArgs extends Inputs<Omit<GateSpec, "noData" | "thresholds">> {
    thresholds: pulumi.Input<StageThresholds>;
    noData: pulumi.Input<Partial<Record<MetricCheck, NoDataPolicy>>>;
    /** Absolute folder for the decision records (deployment-artifacts/gates). */
    artifactsDir: pulumi.Input<string>;
}

export interface HealthGateState extends GateSpec {
    artifactsDir: string;
    verdict: "pass" | "fail";
    decision: DecisionRecord;
    artifact: string;
    current?: { at: string; verdict: string; notGreen: string[] };
}

/** Inputs that, when changed, re-run the gate (everything but the token). */
const JUDGED_INPUTS = [
    "stage", "percentage", "version", "serviceUrl", "proofWorkerUrl", "prometheusUrl", "source", "thresholds",
    "baselineErrorRate", "bakeSeconds", "pollSeconds", "deadlineSeconds", "onFailure", "noData", "checkRolloutPercentage", "compare",
] as const;

function writeRecord(dir: string, record: DecisionRecord, all: unknown[]): string {
    const fs = require("fs") as typeof import("fs");
    const path = require("path") as typeof import("path");
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${record.stage}-${record.finishedAt.replace(/[:.]/g, "-")}.json`);
    fs.writeFileSync(file, JSON.stringify({ ...record, allSamples: all }, null, 2));
    return file;
}

function specOf(s: HealthGateState): GateSpec {
    const { artifactsDir: _a, verdict: _v, decision: _d, artifact: _f, current: _c, ...spec } = s;
    return spec;
}

async function judge(inputs: HealthGateState, id: string) {
    const spec = specOf(inputs);
    const { record, all } = await runGate(spec);
    const artifact = writeRecord(inputs.artifactsDir, record, all);
    const outs = { ...inputs, verdict: record.verdict, decision: record, artifact };
    if (record.verdict === "fail") {
        // Created-but-failed: the engine keeps these properties (the decision record) and fails the update.
        // The token is left out of them: only outputs that echo a secret input are re-marked secret.
        const { adminToken: _t, ...properties } = outs;
        // Under the engine only `reasons` reach the operator (the message is dropped): the whole table goes there.
        const message = failureMessage(record, artifact);
        throw { message, id, properties, reasons: [message] };
    }
    return outs;
}

export const healthGateProvider: pulumi.dynamic.ResourceProvider = {
    async check(_olds: HealthGateState, news: HealthGateState) {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        const num = (k: keyof GateSpec, min: number) => {
            const v = news[k];
            if (typeof v === "number" && !(v >= min)) failures.push({ property: k, reason: `must be at least ${min}` });
        };
        num("pollSeconds", 0.05);
        num("bakeSeconds", 0);
        num("timeoutMs", 1);
        if (typeof news.deadlineSeconds === "number" && typeof news.bakeSeconds === "number" && news.deadlineSeconds < news.bakeSeconds) {
            failures.push({ property: "deadlineSeconds", reason: "must be at least the bake window" });
        }
        if (news.source === "prometheus" && !news.prometheusUrl) failures.push({ property: "prometheusUrl", reason: "must be set when source is prometheus" });
        return { inputs: news, failures };
    },
    async diff(_id: string, olds: HealthGateState, news: HealthGateState) {
        const same = (k: typeof JUDGED_INPUTS[number]) => JSON.stringify(olds[k]) === JSON.stringify(news[k]);
        const changed = JUDGED_INPUTS.filter((k) => !same(k));
        const replaces = (["stage", "percentage", "version", "serviceUrl"] as const).filter((k) => !same(k));
        const unhealthyNow = olds.current !== undefined && olds.current.verdict !== "pass";
        return { changes: changed.length > 0 || olds.adminToken !== news.adminToken || unhealthyNow || olds.verdict !== "pass", replaces };
    },
    async create(inputs: HealthGateState) {
        const id = `${inputs.stage}-gate`;
        return { id, outs: await judge(inputs, id) };
    },
    async update(id: string, _olds: HealthGateState, news: HealthGateState) {
        return { outs: await judge(news, id) };
    },
    async read(id: string, props: HealthGateState) {
        // One fresh sample.  Over the metrics endpoint the error rate needs two scrapes, a poll interval apart.
        const spec = specOf(props);
        if (!spec.serviceUrl) return { id, props };
        const first = await takeSample(spec, undefined, { now: Date.now, sleep: async () => undefined });
        let sample = first.sample;
        if (spec.source === "metrics-endpoint" && first.counters) {
            await new Promise((r) => setTimeout(r, Math.min(spec.pollSeconds, 5) * 1000));
            sample = (await takeSample(spec, first.counters, { now: Date.now, sleep: async () => undefined })).sample;
        }
        const current = {
            at: sample.at, verdict: sample.verdict,
            notGreen: sample.checks.filter((c) => c.verdict !== "pass").map((c) => `${c.check}: ${c.observed} (${c.threshold})`),
        };
        return { id, props: { ...props, current } };
    },
    async delete() {
        // The decision record stays in deployment-artifacts/gates; there is nothing live to undo.
    },
};

export class HealthGate extends pulumi.dynamic.Resource {
    declare readonly verdict: pulumi.Output<"pass" | "fail">;
    declare readonly decision: pulumi.Output<DecisionRecord>;
    declare readonly artifact: pulumi.Output<string>;

    constructor(name: string, args: HealthGateArgs, opts?: pulumi.CustomResourceOptions) {
        super(healthGateProvider, name, { ...args, verdict: undefined, decision: undefined, artifact: undefined, current: undefined },
            { ...opts, additionalSecretOutputs: ["adminToken"] }, "agenc", HEALTH_GATE_TYPE);
    }
}
