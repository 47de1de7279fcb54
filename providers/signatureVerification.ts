/**
 * SignatureVerification: before the first stage's Kubernetes objects and before any node batch, every image digest of
 * the release and the node binary must carry a valid signature from one of the configured public keys
 * (speculation:signing, lib/signatures/, docs/signing.md).
 *   create/update → verifies each subject with cosign (key pairs, no transparency log); reports each digest with its
 *                   signer; any subject not verified fails `pulumi up` naming the digest (or file), the reason and the
 *                   keys, and nothing that waits for it (the workloads, the node rollout) changes
 *   diff          → runs again when a subject, a key, a registry option or the credentials change, or the last run
 *                   did not pass; a digest verified by the last run under a key still configured is not read again
 *   read/delete   → keep the record; nothing live to undo
 * With signing.required false the step records `off` and verifies nothing (production refuses that: the schema and
 * the policy pack's signed-releases).
 */
import * as pulumi from "@pulumi/pulumi";
import { failStep, reportTable, StepReport, writeStepReport } from "../lib/runbook/steps";
import { refusalHeadline, Subject, VerifiedSubject } from "../lib/signatures/decision";
import { PublicKey } from "../lib/signatures/keys";
import { verifyRelease } from "../lib/signatures/run";
import { runbookStepProvider } from "./runbookStep";

export const SIGNATURE_VERIFICATION_TYPE = "SignatureVerification";

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };

interface SignatureSettings {
    /** signing.required: false records `off` and verifies nothing. */
    required: boolean;
    subjects: Subject[];
    publicKeys: PublicKey[];
    /** Registries reached over plain HTTP (signing.registries[].insecure: loopback only). */
    insecureRegistries: string[];
    cosign: string;
    timeoutMs: number;
    artifactsDir: string;
    /** speculation:registryCredentials (a secret). */
    registryCredentials?: Record<string, { username: string; password: string }>;
}

export type SignatureVerificationArgs = Inputs<SignatureSettings>;

interface SignatureState extends SignatureSettings {
    verdict?: "pass" | "fail" | "off";
    report?: StepReport;
    /** Each subject that passed: its reference, digest and signer (the deployment record names them). */
    verified?: VerifiedSubject[];
    artifact?: string;
}

async function runStep(inputs: SignatureState, id: string, olds?: SignatureState): Promise<SignatureState> {
    if (!inputs.required) {
        console.log("[signatures] off: speculation:signing.required is false, nothing is verified (production requires it)");
        return { ...inputs, verdict: "off", verified: [] };
    }
    const { report, verdicts, verified } = await verifyRelease({
        subjects: inputs.subjects, keys: inputs.publicKeys, cosign: inputs.cosign, insecureRegistries: inputs.insecureRegistries,
        ...(inputs.registryCredentials ? { credentials: inputs.registryCredentials } : {}), timeoutMs: inputs.timeoutMs,
    }, olds?.verified ?? []);
    const artifact = writeStepReport(inputs.artifactsDir, "signatures", report);
    const outs: SignatureState = { ...inputs, verdict: report.verdict, report, verified, artifact };
    if (report.verdict === "fail") {
        const { registryCredentials: _c, ...properties } = outs;
        const refusals = verdicts.filter((v) => v.verdict === "fail").map((v) => `  - ${v.message}`).join("\n");
        failStep(id, properties, `${refusalHeadline(verdicts)}; nothing after this step was changed (no workload, no node)\n${refusals}\n${reportTable(report)}\nreport: ${artifact}`);
    }
    return outs;
}

export const signatureVerificationProvider: pulumi.dynamic.ResourceProvider = runbookStepProvider<SignatureState>({
    id: () => "signatures",
    run: runStep,
    rerunOn: ["required", "subjects", "publicKeys", "insecureRegistries", "registryCredentials", "cosign"],
    // `off` is a verdict of its own: a stack with signing off does not run again until an input changes.
    rerun: (olds) => olds.verdict !== "pass" && olds.verdict !== "off",
    check: (news) => [
        ...(news.required === true && Array.isArray(news.publicKeys) && news.publicKeys.length === 0
            ? [{ property: "publicKeys", reason: "must list at least one key when required is true" }] : []),
        ...(typeof news.timeoutMs === "number" && !(news.timeoutMs >= 1) ? [{ property: "timeoutMs", reason: "must be at least 1" }] : []),
    ],
});

export class SignatureVerification extends pulumi.dynamic.Resource {
    declare readonly verdict: pulumi.Output<"pass" | "fail" | "off">;
    declare readonly report: pulumi.Output<StepReport>;
    declare readonly verified: pulumi.Output<VerifiedSubject[]>;

    constructor(name: string, args: SignatureVerificationArgs, opts?: pulumi.CustomResourceOptions) {
        super(signatureVerificationProvider, name, { ...args, verdict: undefined, report: undefined, verified: undefined, artifact: undefined },
            { ...opts, additionalSecretOutputs: ["registryCredentials"] }, "agenc", SIGNATURE_VERIFICATION_TYPE);
    }
}
