/**
 * ReleaseSmokeTest: seed 000's smoke tests and the synthetic speculation against one track (lib/smoke/), after its
 * service is ready and before it gets traffic.  Reusable for any track: the stable service before stage 1, a
 * canary or green track before its first weight (`track` names it in the table and the URN).
 *   create/update → runs the suite; any failure fails `pulumi up` with the table, before traffic moves
 *   diff          → runs again for a new version, URL or trigger, or when the last run did not pass
 *   read/delete   → keep the recorded report; nothing live to undo
 */
import * as pulumi from "@pulumi/pulumi";
import { failStep, stepFailureMessage, StepOutcome, StepReport, writeStepReport } from "../lib/runbook/steps";
import { runSmokeTests, runSmokeUntilGreen, SmokeRetry } from "../lib/smoke/suite";
import { runbookStepProvider } from "./runbookStep";

export const RELEASE_SMOKE_TEST_TYPE = "ReleaseSmokeTest";

export interface ReleaseSmokeTestArgs {
    /** Which track this is (`stable`, `canary`, `green`): in the report's name and the failure. */
    track: pulumi.Input<string>;
    /** The release on the track: a new one runs the suite again. */
    version: pulumi.Input<string>;
    serviceUrl: pulumi.Input<string>;
    proofWorkerUrl?: pulumi.Input<string | undefined>;
    /** The admin token (a secret). */
    adminToken: pulumi.Input<string>;
    timeoutMs: pulumi.Input<number>;
    /** Run the synthetic speculation too (default true). */
    synthetic?: pulumi.Input<boolean>;
    /** Anything else that should run the suite again when it changes (e.g. the config checksum of the pods). */
    trigger?: pulumi.Input<string>;
    artifactsDir: pulumi.Input<string>;
    /** A track created in the same update (canary, green): test 1 wants this version too. */
    expectVersion?: pulumi.Input<boolean>;
    /** Run again until green or this deadline (a track whose pods just started); once when absent. */
    retry?: pulumi.Input<SmokeRetry>;
}

interface SmokeState extends StepOutcome {
    track: string;
    version: string;
    serviceUrl: string;
    proofWorkerUrl?: string;
    adminToken: string;
    timeoutMs: number;
    synthetic?: boolean;
    trigger?: string;
    artifactsDir: string;
    expectVersion?: boolean;
    retry?: SmokeRetry;
    attempts?: number;
}

async function runStep(inputs: SmokeState, id: string): Promise<SmokeState> {
    const step = `smoke-${inputs.track}`;
    const target = {
        step, serviceUrl: inputs.serviceUrl, proofWorkerUrl: inputs.proofWorkerUrl || undefined, adminToken: inputs.adminToken,
        timeoutMs: inputs.timeoutMs, synthetic: inputs.synthetic !== false, ...(inputs.expectVersion ? { version: inputs.version } : {}),
    };
    const { report, attempts } = inputs.retry ? await runSmokeUntilGreen(target, inputs.retry) : { report: await runSmokeTests(target), attempts: 1 };
    const artifact = writeStepReport(inputs.artifactsDir, step, report);
    const outs: SmokeState = { ...inputs, verdict: report.verdict, report, artifact, attempts };
    if (report.verdict === "fail") {
        const { adminToken: _t, ...properties } = outs;
        const headline = `smoke tests of the ${inputs.track} track (${inputs.serviceUrl}, ${inputs.version}) failed after ${attempts} attempt(s); no traffic moved to it`;
        failStep(id, properties, `${stepFailureMessage(report, headline)}\nreport: ${artifact}`);
    }
    return outs;
}

export const releaseSmokeTestProvider: pulumi.dynamic.ResourceProvider = runbookStepProvider<SmokeState>({
    id: (inputs) => `smoke-${inputs.track}`,
    run: runStep,
    rerunOn: ["track", "version", "serviceUrl", "proofWorkerUrl", "timeoutMs", "synthetic", "trigger", "adminToken", "expectVersion"],
    check: (news) => (typeof news.timeoutMs === "number" && !(news.timeoutMs >= 1) ? [{ property: "timeoutMs", reason: "must be at least 1" }] : []),
});

/** One smoke-test run against a track; depend on it to move traffic only after the track passed. */
export class ReleaseSmokeTest extends pulumi.dynamic.Resource {
    declare readonly verdict: pulumi.Output<"pass" | "fail">;
    declare readonly report: pulumi.Output<StepReport>;

    constructor(name: string, args: ReleaseSmokeTestArgs, opts?: pulumi.CustomResourceOptions) {
        super(releaseSmokeTestProvider, name, { ...args, verdict: undefined, report: undefined, artifact: undefined, attempts: undefined },
            { ...opts, additionalSecretOutputs: ["adminToken"] }, "agenc", RELEASE_SMOKE_TEST_TYPE);
    }
}
