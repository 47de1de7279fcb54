/**
 * Verification: seed 000's post-deployment verification when the plan reaches 100 % (lib/verify/), recorded
 * under artifactsDir and in the state.
 *   create/update → runs every check; a failure fails `pulumi up` with the table (traffic stays where the gates put it)
 *   diff          → runs again for a new version or when the last run did not pass
 *   read          → keeps the record (a verification is a point in time)
 */
import * as pulumi from "@pulumi/pulumi";
import { failStep, stepFailureMessage, StepOutcome, StepReport, writeStepReport } from "../lib/runbook/steps";
import { runVerification, VerifyTarget } from "../lib/verify/checks";
import { runbookStepProvider } from "./runbookStep";

export const VERIFICATION_TYPE = "Verification";

export interface VerificationArgs {
    version: pulumi.Input<string>;
    serviceUrl: pulumi.Input<string>;
    proofWorkerUrl?: pulumi.Input<string | undefined>;
    timeoutMs: pulumi.Input<number>;
    pods: pulumi.Input<{ name: string; ready: number; desired: number }[]>;
    expectRolloutPercentage?: pulumi.Input<number>;
    limits: pulumi.Input<VerifyTarget["limits"]>;
    artifactsDir: pulumi.Input<string>;
}

type VerificationState = VerifyTarget & StepOutcome & { artifactsDir: string };

async function runStep(inputs: VerificationState, id: string): Promise<VerificationState> {
    const { artifactsDir, verdict: _v, report: _r, artifact: _a, ...target } = inputs;
    const report = await runVerification({ ...target, proofWorkerUrl: target.proofWorkerUrl || undefined });
    const artifact = writeStepReport(artifactsDir, "verify", report);
    const outs: VerificationState = { ...inputs, verdict: report.verdict, report, artifact };
    if (report.verdict === "fail") failStep(id, { ...outs }, `${stepFailureMessage(report, `post-deployment verification of ${inputs.version} at 100 % failed`)}\nreport: ${artifact}`);
    return outs;
}

export const verificationProvider: pulumi.dynamic.ResourceProvider = runbookStepProvider<VerificationState>({
    id: () => "verify",
    run: runStep,
    rerunOn: ["version", "serviceUrl", "proofWorkerUrl", "expectRolloutPercentage", "limits", "pods"],
});

export class Verification extends pulumi.dynamic.Resource {
    declare readonly verdict: pulumi.Output<"pass" | "fail">;
    declare readonly report: pulumi.Output<StepReport>;

    constructor(name: string, args: VerificationArgs, opts?: pulumi.CustomResourceOptions) {
        super(verificationProvider, name, { ...args, verdict: undefined, report: undefined, artifact: undefined }, opts, "agenc", VERIFICATION_TYPE);
    }
}
