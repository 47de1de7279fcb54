/**
 * RollbackDrain: the steps of a full or emergency rollback that run before either workload changes (lib/rollback/).
 * Both Deployments wait for it, so Pulumi orders the drain before the Deployment changes.
 *   create/update → full: disable speculation and drain pending operations below the threshold (progress per poll,
 *                   deadline); emergency: disable only.  A failure fails `pulumi up` with the table, before the
 *                   workloads change.
 *   diff          → runs again for a new mode or target version, or when the last run did not pass
 *   delete        → nothing: speculation stays disabled until the operator raises the rollout again
 */
import * as pulumi from "@pulumi/pulumi";
import { disableAndDrain, DrainSpec } from "../lib/rollback/drain";
import { failStep, stepFailureMessage, StepOutcome, StepReport, writeStepReport } from "../lib/runbook/steps";
import { runbookStepProvider } from "./runbookStep";

export const ROLLBACK_DRAIN_TYPE = "RollbackDrain";

export interface RollbackDrainArgs {
    mode: pulumi.Input<"full" | "emergency">;
    /** The version the workloads go back to (recorded; a new one runs the drain again). */
    targetVersion: pulumi.Input<string>;
    serviceUrl: pulumi.Input<string>;
    adminToken: pulumi.Input<string>;
    maxPending: pulumi.Input<number>;
    pollSeconds: pulumi.Input<number>;
    deadlineSeconds: pulumi.Input<number>;
    timeoutMs: pulumi.Input<number>;
    artifactsDir: pulumi.Input<string>;
}

/** The drain's own settings (lib/rollback), with what this resource adds around them. */
interface DrainState extends Omit<DrainSpec, "drain">, StepOutcome {
    mode: "full" | "emergency";
    targetVersion: string;
    artifactsDir: string;
}

async function runStep(inputs: DrainState, id: string): Promise<DrainState> {
    const report = await disableAndDrain({
        serviceUrl: inputs.serviceUrl, adminToken: inputs.adminToken, maxPending: inputs.maxPending, pollSeconds: inputs.pollSeconds,
        deadlineSeconds: inputs.deadlineSeconds, timeoutMs: inputs.timeoutMs, drain: inputs.mode === "full",
    });
    const artifact = writeStepReport(inputs.artifactsDir, `rollback-${inputs.mode}`, report);
    const outs: DrainState = { ...inputs, verdict: report.verdict, report, artifact };
    if (report.verdict === "fail") {
        const { adminToken: _t, ...properties } = outs;
        failStep(id, properties, `${stepFailureMessage(report, `${inputs.mode} rollback to ${inputs.targetVersion}: disable and drain failed`)}\n` +
            `The workloads were not changed. Speculation is left as the table shows; re-run pulumi up to try again.\nreport: ${artifact}`);
    }
    return outs;
}

/** Speculation stays disabled on delete: re-enabling is the operator's explicit rollout edit. */
export const rollbackDrainProvider: pulumi.dynamic.ResourceProvider = runbookStepProvider<DrainState>({
    id: (inputs) => `rollback-${inputs.mode}`,
    run: runStep,
    rerunOn: ["mode", "targetVersion", "serviceUrl", "maxPending", "pollSeconds", "deadlineSeconds", "timeoutMs", "adminToken"],
});

export class RollbackDrain extends pulumi.dynamic.Resource {
    declare readonly verdict: pulumi.Output<"pass" | "fail">;
    declare readonly report: pulumi.Output<StepReport>;

    constructor(name: string, args: RollbackDrainArgs, opts?: pulumi.CustomResourceOptions) {
        super(rollbackDrainProvider, name, { ...args, verdict: undefined, report: undefined, artifact: undefined },
            { ...opts, additionalSecretOutputs: ["adminToken"] }, "agenc", ROLLBACK_DRAIN_TYPE);
    }
}
