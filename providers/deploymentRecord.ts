/**
 * DeploymentRecord: the last step of every `pulumi up` that changes what a release reached (lib/records/).  It
 * waits for every step it names, appends the record to the log and pushes it to the Pushgateway when one is
 * configured.
 *   create/update → append + push; a push that fails fails `pulumi up` (the log line is already written and says so)
 *   diff          → a new record when version, outcome, stages, percentage or a verdict changed, or the push failed
 *   read/delete   → the log is history: nothing to read back or undo
 */
import * as pulumi from "@pulumi/pulumi";
import { appendRecord, DeploymentRecord, PushgatewayAuth, pushRecord, RecordFacts, recordOf, RecordOutcome, RecordSink } from "../lib/records/record";
import { redactUrl } from "../lib/records/redact";
import { refuseWriteWithoutEngine } from "../lib/lifecycle/engine";
import { failStep } from "../lib/runbook/steps";
import { runbookStepProvider } from "./runbookStep";
import type { StageBudget } from "../lib/slo/judge";

export const DEPLOYMENT_RECORD_TYPE = "DeploymentRecord";

export interface DeploymentRecordArgs {
    environment: pulumi.Input<string>;
    version: pulumi.Input<string>;
    previousVersion: pulumi.Input<string>;
    outcome: pulumi.Input<RecordOutcome>;
    stagesReached: pulumi.Input<{ name: string; percentage: number }[]>;
    rolloutPercentage: pulumi.Input<number>;
    verdicts: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Stage → the error budget it spent (lib/slo/judge.ts StageBudget). */
    errorBudget?: pulumi.Input<Record<string, StageBudget>>;
    /** Subject → `<reference> signed by <key>` (providers/signatureVerification.ts). */
    signatures?: pulumi.Input<Record<string, string>>;
    /** When this `pulumi up` started (the program's start): the record's duration runs from here. */
    startedAt: pulumi.Input<string>;
    operator: pulumi.Input<string>;
    logFile: pulumi.Input<string>;
    pushgatewayUrl?: pulumi.Input<string | undefined>;
    /** speculation:pushgatewayCredentials (a secret): HTTP basic auth of the push. */
    pushgatewayAuth?: pulumi.Input<PushgatewayAuth | undefined>;
    timeoutMs: pulumi.Input<number>;
}

interface RecordState extends RecordSink, RecordFacts {
    startedAt: string;
    record?: DeploymentRecord;
    pushed?: boolean;
}

async function write(inputs: RecordState, id: string): Promise<RecordState> {
    const now = new Date();
    const record = recordOf(inputs, {
        ...inputs, verdicts: Object.fromEntries(Object.entries(inputs.verdicts ?? {}).map(([k, v]) => [k, String(v ?? "not run")])),
    }, inputs.startedAt, now);
    refuseWriteWithoutEngine(`deployment record of ${record.version}`);
    appendRecord(inputs.logFile, record);
    console.log(`[record] ${record.version} ${record.outcome} at ${record.rolloutPercentage} % appended to ${inputs.logFile}`);
    if (!inputs.pushgatewayUrl) return { ...inputs, record, pushed: false };
    try {
        await pushRecord(inputs.pushgatewayUrl, record, inputs.timeoutMs, inputs.pushgatewayAuth);
    } catch (e) {
        // The credentials are left out of a failure's properties: only outputs that echo a secret input are re-marked secret.
        const { pushgatewayAuth: _p, ...properties } = inputs;
        failStep(id, { ...properties, record, pushed: false },
            `deployment record of ${record.version} (${record.outcome}) appended to ${inputs.logFile}, but the push to ${redactUrl(inputs.pushgatewayUrl)} failed: ${(e as Error).message}`);
    }
    console.log(`[record] pushed to ${redactUrl(inputs.pushgatewayUrl)}`);
    return { ...inputs, record, pushed: true };
}

/** The log is history: nothing to read back or undo. */
export const deploymentRecordProvider: pulumi.dynamic.ResourceProvider = runbookStepProvider<RecordState>({
    id: () => "deployment-record",
    run: write,
    rerunOn: ["environment", "version", "previousVersion", "outcome", "stagesReached", "rolloutPercentage", "verdicts", "errorBudget", "signatures", "pushgatewayUrl", "logFile"],
    // Its "verdict" is the push: a record whose push failed (or never ran) is written again.
    rerun: (olds, news) => !!news.pushgatewayUrl && olds.pushed !== true,
});

export class DeploymentRecordResource extends pulumi.dynamic.Resource {
    declare readonly record: pulumi.Output<DeploymentRecord>;
    declare readonly pushed: pulumi.Output<boolean>;

    constructor(name: string, args: DeploymentRecordArgs, opts?: pulumi.CustomResourceOptions) {
        super(deploymentRecordProvider, name, { ...args, record: undefined, pushed: undefined },
            { ...opts, additionalSecretOutputs: ["pushgatewayAuth"] }, "agenc", DEPLOYMENT_RECORD_TYPE);
    }
}
