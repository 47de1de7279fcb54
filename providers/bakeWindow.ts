/**
 * BakeWindow: the promotion of a stage in window bake mode.  Declared only when the next stage is (the operator
 * raised the target), and the next stage's baseline and shift wait for it.
 *   check/create → if the stage's bake has not elapsed since its shift, refuses the update before anything changes
 *                  (check runs first, so `pulumi preview` says so too): the refusal names the stage, the time baked
 *                  and required, and the earliest promotion;
 *                  otherwise judges the whole window [shiftedAt, now] from Prometheus history
 *                  (lib/bake/history.ts → lib/bake/window.ts): a no-go sets traffic to 0 % and fails the update
 *                  with the offending check, timestamp and value (recorded as created-but-failed, so the record
 *                  stays in the state and the next `up` judges again); a hold restarts the bake and refuses.
 *   diff         → a new shift (shiftedAt), a changed threshold or bake, or a verdict that was not a pass: judge again
 *   read         → nothing to re-read: the verdict is about a window that is over
 *   delete       → nothing to undo (the record stays under the artifacts folder)
 */
import * as pulumi from "@pulumi/pulumi";
import { refuseWriteWithoutEngine } from "../lib/lifecycle/engine";
import { failStep } from "../lib/runbook/steps";
import { redactUrl } from "../lib/records/redact";
import { StageThresholds } from "../config/thresholds";
import { readAdminStatus } from "../lib/adminApi";
import { evaluateBakeWindow, prometheusNow } from "../lib/bake/evaluate";
import { describeSkew } from "../lib/bake/clock";
import { formatFindings, notYetElapsed, WindowDecision } from "../lib/bake/window";
import { MetricCheck, NoDataPolicy } from "../lib/gate/decision";
import { JudgeSettings } from "../lib/judge/judge";
import { noDataPolicies } from "../lib/gate/run";
import { describeTrafficAfter, revertTraffic, RevertOptions, RevertRecord } from "../lib/revert/revert";
import { PushgatewayAuth, recordGateRevert, RecordSink } from "../lib/records/record";
import { runbookStepProvider } from "./runbookStep";
import { SloSpec } from "../lib/monitoring/slo";

export const BAKE_WINDOW_TYPE = "BakeWindow";

export interface BakeWindowState {
    stage: string;
    percentage: number;
    version: string;
    /** When the stage shifted (its gate's shiftedAt output). */
    shiftedAt: string;
    bakeSeconds: number;
    stepSeconds: number;
    maxGapSeconds: number;
    prometheusUrl: string;
    serviceUrl: string;
    adminToken: string;
    thresholds: StageThresholds;
    baselineErrorRate: number;
    noData: Partial<Record<MetricCheck, NoDataPolicy>>;
    timeoutMs: number;
    onFailure: "revert" | "fail";
    /** Feature-flag mode: the live percentage must still be the stage's (a revert or an edit is a no-go). */
    checkRolloutPercentage: boolean;
    /** Two tracks (ingress-weight, mirrored blue-green): the canary judged against stable over the whole window. */
    compare?: JudgeSettings;
    /** The SLO (lib/slo): the release track's burn over the bake and the budget left decide the promotion too. */
    slo?: SloSpec;
    artifactsDir: string;
    /** How a no-go's revert retries (lib/revert, the gates' own): paths, deadline, alert. */
    revert: RevertOptions;
    /** A no-go that does not revert: what traffic was left at, and how to lower it (the gates' own words). */
    leftAs?: string;
    verdict?: "pass" | "fail";
    judgement?: WindowDecision;
    artifact?: string;
    /** The revert's record: every attempt, and whether traffic read back off. */
    revertRecord?: RevertRecord;
    /** Where a revert is recorded (the stack's deployment records: log and Pushgateway). */
    records?: RecordSink;
    /** speculation:pushgatewayCredentials (a secret): how a revert's record reaches an authenticated Pushgateway. */
    pushgatewayAuth?: PushgatewayAuth;
}

const JUDGED = ["stage", "percentage", "version", "shiftedAt", "bakeSeconds", "stepSeconds", "maxGapSeconds", "prometheusUrl", "serviceUrl",
    "thresholds", "baselineErrorRate", "noData", "onFailure", "checkRolloutPercentage", "compare", "slo"] as const;

const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

function refusal(s: BakeWindowState, now: number): string | undefined {
    if (typeof s.shiftedAt !== "string" || s.shiftedAt === UNKNOWN || Number.isNaN(Date.parse(s.shiftedAt))) return undefined;
    return notYetElapsed(s.stage, Date.parse(s.shiftedAt), s.bakeSeconds, now);
}

async function evaluate(s: BakeWindowState, id: string): Promise<BakeWindowState> {
    // The window ends at Prometheus's time, not this machine's (lib/bake/clock.ts): its clock is read first.
    const deployerNow = Date.now();
    const clock = await prometheusNow({ prometheusUrl: s.prometheusUrl, timeoutMs: s.timeoutMs }, s.stepSeconds);
    const now = clock.verdict === "ok" ? clock.nowMs : deployerNow;
    const notYet = clock.verdict === "ok" ? refusal(s, now) : undefined;
    // A plain error: nothing is recorded, nothing has changed.
    if (notYet) throw new Error(`promotion refused: ${notYet}`);
    console.log(clock.verdict === "ok"
        ? `[window ${s.stage}] judging the bake window ${s.shiftedAt} → ${new Date(now).toISOString()} from ${redactUrl(s.prometheusUrl)} (step ${s.stepSeconds}s; ` +
            `Prometheus's time, this machine ${describeSkew(clock.skewSeconds, clock.uncertaintySeconds)})`
        : `[window ${s.stage}] the bake window from ${s.shiftedAt} cannot be judged now: Prometheus's clock ${clock.verdict} (${redactUrl(s.prometheusUrl)})`);
    let j = await evaluateBakeWindow({ prometheusUrl: s.prometheusUrl, timeoutMs: s.timeoutMs, stepSeconds: s.stepSeconds }, {
        stage: s.stage, shiftedAt: Date.parse(s.shiftedAt), bakeSeconds: s.bakeSeconds, stepSeconds: s.stepSeconds, maxGapSeconds: s.maxGapSeconds,
        thresholds: s.thresholds, baselineErrorRate: s.baselineErrorRate,
        noData: noDataPolicies({ noData: s.noData ?? {} }),
        ...(s.compare ? { compare: s.compare } : {}),
        ...(s.slo ? { slo: s.slo } : {}),
    }, deployerNow, clock);
    if (s.checkRolloutPercentage && j.verdict !== "fail") {
        // The live percentage now: a revert by the watchdog (or by hand) that history has not shown yet.
        const row = { check: "rollout percentage", query: "GET /admin/status", at: new Date(now).toISOString(), threshold: `= ${s.percentage}` };
        try {
            const st = await readAdminStatus(s.serviceUrl, s.timeoutMs);
            const ok = st.enabled && st.rolloutPercentage === s.percentage;
            j = { ...j, findings: [{ ...row, observed: `${st.rolloutPercentage}${st.enabled ? "" : " (disabled)"}`, verdict: ok ? "pass" : "fail", reason: ok ? "" : "reverted or changed out of band" }, ...j.findings] };
            if (!ok) j = { ...j, verdict: "fail", reason: `no-go: the live rollout percentage is ${st.rolloutPercentage}, not ${s.percentage} (reverted or changed out of band)` };
        } catch (e) {
            j = { ...j, verdict: "fail", reason: `no-go: the live rollout percentage cannot be read (${(e as Error).message})`,
                findings: [{ ...row, observed: "no answer", verdict: "fail", reason: (e as Error).message }, ...j.findings] };
        }
    }
    console.log(`[window ${s.stage}] ${j.verdict}: ${j.reason}`);
    if (j.verdict === "baking") throw new Error(`promotion refused: ${j.reason}. Nothing was changed.\n${formatFindings(j)}`);
    // A pass is recorded only for an update that still exists (a kill just before this line: lib/lifecycle); a failure
    // goes on to its revert, which protects traffic whoever is listening, and is recorded as what happened.
    if (j.verdict === "pass") refuseWriteWithoutEngine(`the pass of ${s.stage}'s bake window`);
    const artifact = writeRecord(s.artifactsDir, j);
    if (j.verdict === "pass") return { ...s, verdict: "pass", judgement: j, artifact };
    const revertRecord = s.onFailure === "revert" ? await revertTraffic({
        ...s.revert, stage: s.stage, percentage: s.percentage, version: s.version, serviceUrl: s.serviceUrl,
        adminToken: s.adminToken, reason: j.reason, timeoutMs: s.timeoutMs,
    }) : undefined;
    const outs: BakeWindowState = { ...s, verdict: "fail", judgement: j, artifact, ...(revertRecord ? { revertRecord } : {}) };
    const what = describeTrafficAfter(revertRecord, s.leftAs);
    const recorded = revertRecord && s.records ? await recordGateRevert({ ...s.records, ...(s.pushgatewayAuth ? { pushgatewayAuth: s.pushgatewayAuth } : {}) }, {
        stage: s.stage, percentage: s.percentage, version: s.version, reason: j.reason, confirmed: revertRecord.confirmed, startedAt: j.shiftedAt,
    }) : undefined;
    const message = [`bake window of ${s.stage} (${s.percentage} %, ${s.version}) failed: ${j.reason}`, what, formatFindings(j), `window record: ${artifact}`,
        ...(recorded ? [recorded] : [])].join("\n");
    // The secrets are left out of a failure's properties: only outputs that echo a secret input are re-marked secret.
    const { adminToken: _t, pushgatewayAuth: _p, ...properties } = outs;
    failStep(id, properties, message);
}

function writeRecord(dir: string, j: WindowDecision): string {
    const fs = require("fs") as typeof import("fs");
    const path = require("path") as typeof import("path");
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${j.stage}-window-${j.judgedAt.replace(/[:.]/g, "-")}.json`);
    fs.writeFileSync(file, JSON.stringify(j, null, 2));
    return file;
}

export const bakeWindowProvider: pulumi.dynamic.ResourceProvider = runbookStepProvider<BakeWindowState>({
    id: (inputs) => `${inputs.stage}-window`,
    run: evaluate,
    // The inputs the window is judged on, and the admin token a no-go's revert uses.
    rerunOn: [...JUDGED, "adminToken"],
    replaceOn: ["stage"],
    check: (news) => {
        const failures: pulumi.dynamic.CheckFailure[] = [];
        const notYet = refusal(news, Date.now());
        if (notYet) failures.push({ property: "shiftedAt", reason: `promotion refused: ${notYet}` });
        if (typeof news.stepSeconds === "number" && !(news.stepSeconds > 0)) failures.push({ property: "stepSeconds", reason: "must be greater than 0" });
        return failures;
    },
});

export type BakeWindowArgs = { [K in keyof Omit<BakeWindowState, "verdict" | "judgement" | "artifact" | "revertRecord">]: pulumi.Input<BakeWindowState[K]> };

export class BakeWindow extends pulumi.dynamic.Resource {
    declare readonly verdict: pulumi.Output<"pass" | "fail">;
    declare readonly judgement: pulumi.Output<WindowDecision>;

    constructor(name: string, args: BakeWindowArgs, opts?: pulumi.CustomResourceOptions) {
        super(bakeWindowProvider, name, { ...args, verdict: undefined, judgement: undefined, artifact: undefined },
            { ...opts, additionalSecretOutputs: ["adminToken", "pushgatewayAuth"] }, "agenc", BAKE_WINDOW_TYPE);
    }
}
