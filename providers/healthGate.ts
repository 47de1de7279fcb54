/**
 * HealthGate: judges one canary stage after its shift (SPEC §2, §3).
 *   bakeMode watch   `pulumi up` of the stage blocks here until the stage has stayed green for its whole bake, or
 *                    fails it (short bakes: local, staging);
 *   bakeMode window  the gate runs only the live entry analysis (`entrySeconds`, same checks, same revert) and
 *                    returns with the stage baking: it records `shiftedAt` and `bakeEndsAt`; the next stage's
 *                    BakeWindow (providers/bakeWindow.ts) judges the whole window from Prometheus history, and the
 *                    watchdog (lib/watchdog/main.ts) guards the stage in between.
 * Every sample prints a progress line (lib/gate/progress.ts) that reaches the operator's terminal.
 *   create/update → runs the gate (lib/gate/run.ts); on a no-go with onFailure "revert" sets the rollout percentage
 *                   to 0 and confirms it; writes the decision record as a JSON artifact; a no-go fails the update
 *                   with every check's query, observed value, threshold and verdict, and is recorded as
 *                   created-but-failed so the record stays in the state and the next `up` runs the gate again
 *   read          → watch mode: re-measures one sample, so `pulumi refresh` shows the stage's health now (`current`);
 *                   window mode: judges the window so far from Prometheus history (the verdict so far);
 *                   a refresh that finds it failing makes the next `up` judge the stage again
 *   diff          → a changed stage, percentage, version or threshold re-runs the gate
 *   delete        → nothing to undo (the decision record stays under the artifacts folder)
 * The provider enforces its own deadline (the engine does not time dynamic providers out).
 */
import * as pulumi from "@pulumi/pulumi";
import { failStep } from "../lib/runbook/steps";
import { StageThresholds } from "../config/thresholds";
import { evaluateBakeWindow, prometheusNow } from "../lib/bake/evaluate";
import { WindowDecision } from "../lib/bake/window";
import { MetricCheck, NoDataPolicy } from "../lib/gate/decision";
import { providerLifecycle, exitingWithEngine } from "../lib/lifecycle/engine";
import { PushgatewayAuth, recordGateRevert, RecordSink } from "../lib/records/record";
import { progressLine } from "../lib/gate/progress";
import { Clock, DecisionRecord, failureMessage, GateSpec, noDataPolicies, REAL_CLOCK, runGate, takeSample } from "../lib/gate/run";

export const HEALTH_GATE_TYPE = "HealthGate";

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

export interface HealthGateArgs extends Inputs<Omit<GateSpec, "noData" | "thresholds">> {
    thresholds: pulumi.Input<StageThresholds>;
    noData: pulumi.Input<Partial<Record<MetricCheck, NoDataPolicy>>>;
    /** Absolute folder for the decision records (deployment-artifacts/gates). */
    artifactsDir: pulumi.Input<string>;
    /** Where a revert is recorded: the stack's deployment log and Pushgateway (records.*). */
    records?: pulumi.Input<RecordSink>;
    /** speculation:pushgatewayCredentials (a secret): how a revert's record reaches an authenticated Pushgateway. */
    pushgatewayAuth?: pulumi.Input<PushgatewayAuth>;
    /** watch: the live loop covers the bake; window: the live loop is the entry analysis only (default watch). */
    bakeMode?: pulumi.Input<"watch" | "window">;
    /** Window mode: how long the live entry analysis runs. */
    entrySeconds?: pulumi.Input<number>;
    /** When the stage's shift was applied (the TrafficShift's appliedAt); the gate's start when absent. */
    shiftedAt?: pulumi.Input<string>;
    /** Window mode: the history's resolution and the longest gap that is not a no-data stretch (for refresh). */
    stepSeconds?: pulumi.Input<number>;
    maxGapSeconds?: pulumi.Input<number>;
}

/** What a window-mode gate keeps beside the spec. */
interface WindowInputs {
    bakeMode?: "watch" | "window";
    entrySeconds?: number;
    shiftedAt?: string;
    stepSeconds?: number;
    maxGapSeconds?: number;
}

export interface HealthGateState extends GateSpec, WindowInputs {
    artifactsDir: string;
    /** Where a revert is recorded (the stack's deployment records: log and Pushgateway). */
    records?: RecordSink;
    pushgatewayAuth?: PushgatewayAuth;
    verdict: "pass" | "fail";
    decision: DecisionRecord;
    artifact: string;
    /** watch: baked (or failed); window: baking after a passed entry analysis (or failed). */
    phase?: "baked" | "baking" | "failed";
    bakeEndsAt?: string;
    current?: { at: string; verdict: string; notGreen: string[]; reason?: string; earliestPromotion?: string };
}

/** Inputs that, when changed, re-run the gate (everything but the token). */
const JUDGED_INPUTS = [
    "stage", "percentage", "version", "serviceUrl", "proofWorkerUrl", "prometheusUrl", "source", "thresholds",
    "baselineErrorRate", "bakeSeconds", "pollSeconds", "deadlineSeconds", "onFailure", "noData", "checkRolloutPercentage", "compare",
    "bakeMode", "entrySeconds", "alerts", "cusum", "baselineP95Seconds", "slo",
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
    const {
        artifactsDir: _a, records: _r, pushgatewayAuth: _pa, verdict: _v, decision: _d, artifact: _f, current: _c, phase: _p, bakeEndsAt: _b,
        bakeMode: _m, entrySeconds: _e, shiftedAt: _s, stepSeconds: _st, maxGapSeconds: _g, ...spec
    } = s;
    return spec;
}

/** The live loop's spec: the whole bake (watch), or the entry analysis with the same slack (window). */
export function liveSpec(inputs: HealthGateState): { spec: GateSpec; phase: string } {
    const spec = specOf(inputs);
    if (inputs.bakeMode !== "window") return { spec, phase: "bake" };
    const entry = Math.min(inputs.entrySeconds ?? spec.bakeSeconds, spec.bakeSeconds);
    return { spec: { ...spec, bakeSeconds: entry, deadlineSeconds: entry + (spec.deadlineSeconds - spec.bakeSeconds) }, phase: "entry analysis" };
}

async function judge(inputs: HealthGateState, id: string, clock: Clock = REAL_CLOCK) {
    const { spec, phase } = liveSpec(inputs);
    const started = clock.now();
    const shiftedAt = inputs.shiftedAt && !Number.isNaN(Date.parse(inputs.shiftedAt)) ? inputs.shiftedAt : await shiftStamp(inputs, started);
    const deadline = started + spec.deadlineSeconds * 1000;
    console.log(`[gate ${spec.stage}] ${phase}: ${spec.percentage} % of traffic on ${spec.version}, a sample every ${spec.pollSeconds}s for ${spec.bakeSeconds}s ` +
        `(deadline ${new Date(deadline).toISOString()})${inputs.bakeMode === "window" ? `; the stage then bakes until ${new Date(Date.parse(shiftedAt) + inputs.bakeSeconds * 1000).toISOString()}` : ""}`);
    // A killed `pulumi up` leaves this provider running in its own process group: it stops at the next sample, records
    // what it saw as interrupted and exits, instead of judging (and recording a verdict) for nobody.
    const engine = providerLifecycle();
    const { record, all } = await runGate(spec, clock, (sample, bake) => {
        const now = clock.now();
        console.log(progressLine(spec.stage, phase, sample, bake, started + spec.bakeSeconds * 1000 - now, deadline - now));
    }, () => engine.gone).finally(() => engine.done());
    // Written at once: when the engine is gone, done() has left the record 200 ms before the process ends.
    const artifact = writeRecord(inputs.artifactsDir, record, all);
    if (record.verdict === "interrupted") {
        throw new Error(`[gate ${spec.stage}] ${record.reason} (decision record: ${artifact})`);
    }
    const window = inputs.bakeMode === "window";
    // A fresh judgement replaces what an earlier refresh found (no undefined anywhere: the engine refuses it).
    const { current: _stale, ...rest } = inputs;
    const outs: HealthGateState = {
        ...rest, verdict: record.verdict, decision: record, artifact, shiftedAt,
        phase: record.verdict === "fail" ? "failed" : window ? "baking" : "baked",
        bakeEndsAt: new Date(Date.parse(shiftedAt) + inputs.bakeSeconds * 1000).toISOString(),
    };
    if (record.verdict === "fail") {
        // Created-but-failed: the engine keeps these properties (the decision record) and fails the update.
        // The token is left out of them: only outputs that echo a secret input are re-marked secret.
        const { adminToken: _t, pushgatewayAuth: _p, ...properties } = outs;
        // A revert is a release event: recorded in the deployment log and on the Pushgateway (the dashboard's reverts).
        const sink = inputs.records && { ...inputs.records, ...(inputs.pushgatewayAuth ? { pushgatewayAuth: inputs.pushgatewayAuth } : {}) };
        const recorded = record.revert && sink ? await recordGateRevert(sink, {
            stage: spec.stage, percentage: spec.percentage, version: spec.version, reason: record.reason, confirmed: record.revert.confirmed, startedAt: record.startedAt,
        }) : undefined;
        // Under the engine only `reasons` reach the operator (the message is dropped): the whole table goes there.
        const message = failureMessage(record, artifact) + (recorded ? `
${recorded}` : "");
        failStep(id, properties, message);
    }
    return outs;
}

export const healthGateProvider: pulumi.dynamic.ResourceProvider = exitingWithEngine({
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
        // A new shift (the TrafficShift re-applied) is a new bake; without a shiftedAt input the output is the gate's start.
        const reshifted = news.shiftedAt !== undefined && news.shiftedAt !== olds.shiftedAt;
        const changed = [...JUDGED_INPUTS.filter((k) => !same(k)), ...(reshifted ? ["shiftedAt"] : [])];
        const replaces = (["stage", "percentage", "version", "serviceUrl"] as const).filter((k) => !same(k));
        // Watch mode: a refresh that found the stage not green re-runs it; window mode: only a window found failing.
        const unhealthyNow = olds.current !== undefined && olds.current !== null &&
            (olds.bakeMode === "window" ? olds.current.verdict === "fail" : olds.current.verdict !== "pass");
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
        const spec = specOf(props);
        if (!spec.serviceUrl) return { id, props };
        if (props.bakeMode === "window" && props.prometheusUrl && props.shiftedAt && props.verdict === "pass") {
            // The verdict so far: the window from the shift to now, judged as the next stage's promotion would.
            const j = await windowSoFar(props);
            const current = {
                at: j.judgedAt, verdict: j.verdict, reason: j.reason, earliestPromotion: j.earliestPromotion,
                notGreen: j.findings.filter((f) => f.verdict !== "pass").map((f) => `${f.check}: ${f.observed} at ${f.at} (${f.threshold})`),
            };
            console.log(`[gate ${props.stage}] window so far: ${j.verdict} — ${j.reason}`);
            return { id, props: { ...props, current } };
        }
        // One fresh sample.  Over the metrics endpoint the error rate needs two scrapes, a poll interval apart.
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
});

/**
 * The same provider with the gate loop's clock injected (create and update; refresh reads with the real one).  Tests
 * whose verdict depends on the deadline pass a clock that advances by exactly what the loop sleeps
 * (test/helpers/clock.ts), so the samples taken before the deadline do not depend on the machine's load.
 */
export function healthGateProviderWith(clock: Clock): pulumi.dynamic.ResourceProvider {
    return {
        ...healthGateProvider,
        async create(inputs: HealthGateState) {
            const id = `${inputs.stage}-gate`;
            return { id, outs: await judge(inputs, id, clock) };
        },
        async update(id: string, _olds: HealthGateState, news: HealthGateState) {
            return { outs: await judge(news, id, clock) };
        },
    };
}

/**
 * When the stage shifted, as the next `up` will judge its window from.  Window mode stamps it with Prometheus's own
 * time (lib/bake/clock.ts), so the window's start is on the clock its history is on, whatever this machine's says: a
 * skewed clock here is said, not used.  Without Prometheus, or when its clock cannot be read: this machine's.
 */
async function shiftStamp(inputs: HealthGateState, startedMs: number): Promise<string> {
    if (inputs.bakeMode !== "window" || !inputs.prometheusUrl) return new Date(startedMs).toISOString();
    const c = await prometheusNow({ prometheusUrl: inputs.prometheusUrl, timeoutMs: inputs.timeoutMs }, inputs.stepSeconds ?? 15);
    if (c.verdict === "unread") {
        console.log(`[gate ${inputs.stage}] the shift is stamped with this machine's clock: ${c.reason}`);
        return new Date(startedMs).toISOString();
    }
    if (c.verdict === "skewed") console.log(`[gate ${inputs.stage}] the shift is stamped with Prometheus's time, not this machine's: ${c.reason}`);
    return new Date(c.verdict === "ok" ? c.nowMs : c.prometheusMs).toISOString();
}

/** Window mode: the stage's window from its shift to now, from Prometheus history. */
export async function windowSoFar(props: HealthGateState, now = Date.now()): Promise<WindowDecision> {
    const step = props.stepSeconds ?? 15;
    return evaluateBakeWindow({ prometheusUrl: props.prometheusUrl!, timeoutMs: props.timeoutMs, stepSeconds: step }, {
        stage: props.stage, shiftedAt: Date.parse(props.shiftedAt!), bakeSeconds: props.bakeSeconds, stepSeconds: step,
        maxGapSeconds: props.maxGapSeconds ?? Math.max(60, 3 * step), thresholds: props.thresholds, baselineErrorRate: props.baselineErrorRate,
        noData: noDataPolicies({ noData: props.noData ?? {} }),
        ...(props.compare ? { compare: props.compare } : {}),
        ...(props.slo ? { slo: props.slo } : {}),
    }, now);
}

export class HealthGate extends pulumi.dynamic.Resource {
    declare readonly verdict: pulumi.Output<"pass" | "fail">;
    declare readonly decision: pulumi.Output<DecisionRecord>;
    declare readonly artifact: pulumi.Output<string>;
    declare readonly shiftedAt: pulumi.Output<string>;
    declare readonly bakeEndsAt: pulumi.Output<string>;
    declare readonly phase: pulumi.Output<"baked" | "baking" | "failed">;
    declare readonly current: pulumi.Output<HealthGateState["current"]>;

    constructor(name: string, args: HealthGateArgs, opts?: pulumi.CustomResourceOptions) {
        super(healthGateProvider, name, {
            bakeMode: "watch", ...args, verdict: undefined, decision: undefined, artifact: undefined, current: undefined, phase: undefined, bakeEndsAt: undefined,
            ...(args.shiftedAt === undefined ? { shiftedAt: undefined } : {}),
        },
            { ...opts, additionalSecretOutputs: ["adminToken", "pushgatewayAuth"] }, "agenc", HEALTH_GATE_TYPE);
    }
}
