/**
 * EmergencyStop: the emergency rollback's stop (lib/rollback/stop.ts): every Deployment running the release is scaled
 * to 0 and its pods are gone before anything else of the rollback changes.  The workloads' replacements wait for it,
 * so the engine cannot create a last-known-good pod beside a release pod.
 *   create/update → scale to 0, wait for the pods to terminate (progress per poll, deadline); a failure fails
 *                   `pulumi up` with the table before the workloads are replaced
 *   diff          → runs again for a new target version or Deployment list, or when the last run did not pass
 *   delete        → nothing: the Deployments it scaled are replaced by the same update
 */
import * as pulumi from "@pulumi/pulumi";
import { kubectlKube, stopWorkloads } from "../lib/rollback/stop";
import { failStep, stepFailureMessage, StepOutcome, StepReport, writeStepReport } from "../lib/runbook/steps";
import { runbookStepProvider } from "./runbookStep";

export const EMERGENCY_STOP_TYPE = "EmergencyStop";

export interface EmergencyStopArgs {
    namespace: pulumi.Input<string>;
    /** The Deployments that run the release (absent ones are skipped). */
    deployments: pulumi.Input<pulumi.Input<string>[]>;
    /** The version the workloads go back to (recorded; a new one stops again). */
    targetVersion: pulumi.Input<string>;
    deadlineSeconds: pulumi.Input<number>;
    pollSeconds: pulumi.Input<number>;
    artifactsDir: pulumi.Input<string>;
}

interface StopState extends StepOutcome {
    namespace: string;
    deployments: string[];
    targetVersion: string;
    deadlineSeconds: number;
    pollSeconds: number;
    artifactsDir: string;
}

async function runStep(inputs: StopState, id: string): Promise<StopState> {
    const report = await stopWorkloads({
        namespace: inputs.namespace, deployments: inputs.deployments, deadlineSeconds: inputs.deadlineSeconds, pollSeconds: inputs.pollSeconds,
    }, kubectlKube());
    const artifact = writeStepReport(inputs.artifactsDir, "emergency-stop", report);
    const outs: StopState = { ...inputs, verdict: report.verdict, report, artifact };
    if (report.verdict === "fail") {
        failStep(id, { ...outs }, `${stepFailureMessage(report, `emergency rollback to ${inputs.targetVersion}: the release's pods did not all stop`)}\n` +
            `The workloads were not replaced. Re-run pulumi up to try again.\nreport: ${artifact}`);
    }
    return outs;
}

export const emergencyStopProvider: pulumi.dynamic.ResourceProvider = runbookStepProvider<StopState>({
    id: () => "emergency-stop",
    run: runStep,
    rerunOn: ["namespace", "deployments", "targetVersion"],
});

export class EmergencyStop extends pulumi.dynamic.Resource {
    declare readonly verdict: pulumi.Output<"pass" | "fail">;
    declare readonly report: pulumi.Output<StepReport>;

    constructor(name: string, args: EmergencyStopArgs, opts?: pulumi.CustomResourceOptions) {
        super(emergencyStopProvider, name, { ...args, verdict: undefined, report: undefined, artifact: undefined }, opts, "agenc", EMERGENCY_STOP_TYPE);
    }
}
