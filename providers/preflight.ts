/**
 * Preflight: seed 000's prerequisites, checked before a release changes anything (lib/preflight/).
 *   create/update → runs every check; any failure fails `pulumi up` with the table, and nothing that depends on it
 *                   (workloads, bench, smoke tests, traffic, nodes) changes.  An edit that only lowers the target (the
 *                   same release, a lower rolloutPercentage: back a stage, traffic off, the kill switch) is never held
 *                   back: the checks are not run, the last run's verdict and report stay — traffic errs toward less
 *   diff          → runs again whenever the release edit changes (`trigger`) or the last run did not pass
 *   read/delete   → keep the recorded report; nothing live to undo
 */
import * as pulumi from "@pulumi/pulumi";
import { PreflightTarget, runPreflight, SecretSource } from "../lib/preflight/checks";
import { failStep, stepFailureMessage, StepOutcome, StepReport, writeStepReport } from "../lib/runbook/steps";
import { runbookStepProvider } from "./runbookStep";

export const PREFLIGHT_TYPE = "Preflight";

export interface PreflightArgs {
    /** The release edit this run vouches for (version, target, rollback): a new one runs the checks again. */
    trigger: pulumi.Input<string>;
    chainRpcUrl: pulumi.Input<string>;
    stakePoolAddress: pulumi.Input<string>;
    /** Minimum stake-pool balance, SOL. */
    minStakeSol: pulumi.Input<number>;
    /** Where the secret is checked: the program's own Secret (name and keys), or the admin API. */
    secretSource: pulumi.Input<{ kind: "kubernetes"; name: string; keys: string[] } | { kind: "admin-api"; serviceUrl: string }>;
    /** The admin token (a secret) for the admin-api source. */
    adminToken?: pulumi.Input<string>;
    prometheus?: pulumi.Input<{ url: string; jobs: string[] }>;
    /** Window bakes: the Prometheus whose history judges them, and the retention it must keep. */
    retention?: pulumi.Input<{ url: string; minSeconds: number }>;
    timeoutMs: pulumi.Input<number>;
    artifactsDir: pulumi.Input<string>;
}

interface PreflightState extends StepOutcome {
    trigger: string;
    chainRpcUrl: string;
    stakePoolAddress: string;
    minStakeSol: number;
    secretSource: { kind: "kubernetes"; name: string; keys: string[] } | { kind: "admin-api"; serviceUrl: string };
    adminToken?: string;
    prometheus?: { url: string; jobs: string[] };
    retention?: { url: string; minSeconds: number };
    timeoutMs: number;
    artifactsDir: string;
}

/** The release edit a trigger names (program.ts): version, previous version, target and rollback mode. */
interface ReleaseEdit { version?: unknown; previousVersion?: unknown; rolloutPercentage?: unknown; rollback?: unknown }

/**
 * The target percentages when `news` only lowers the target of `olds`' release (same version, previous version and
 * rollback mode); undefined for any other edit.
 */
export function loweredTarget(olds: string | undefined, news: string | undefined): { from: number; to: number } | undefined {
    const parse = (t: string | undefined): ReleaseEdit | undefined => {
        try { return JSON.parse(t ?? "") as ReleaseEdit; } catch { return undefined; }
    };
    const a = parse(olds);
    const b = parse(news);
    if (!a || !b || typeof a.rolloutPercentage !== "number" || typeof b.rolloutPercentage !== "number") return undefined;
    const sameRelease = a.version === b.version && a.previousVersion === b.previousVersion && a.rollback === b.rollback;
    return sameRelease && b.rolloutPercentage < a.rolloutPercentage ? { from: a.rolloutPercentage, to: b.rolloutPercentage } : undefined;
}

async function runStep(inputs: PreflightState, id: string): Promise<PreflightState> {
    const secret: SecretSource = inputs.secretSource.kind === "kubernetes"
        ? inputs.secretSource
        : { kind: "admin-api", serviceUrl: inputs.secretSource.serviceUrl, adminToken: inputs.adminToken ?? "" };
    const target: PreflightTarget = {
        chainRpcUrl: inputs.chainRpcUrl, stakePoolAddress: inputs.stakePoolAddress, minStakeSol: inputs.minStakeSol,
        secret, prometheus: inputs.prometheus, ...(inputs.retention ? { retention: inputs.retention } : {}), timeoutMs: inputs.timeoutMs,
    };
    const report = await runPreflight(target);
    const artifact = writeStepReport(inputs.artifactsDir, "preflight", report);
    const outs: PreflightState = { ...inputs, verdict: report.verdict, report, artifact };
    if (report.verdict === "fail") {
        const { adminToken: _t, ...properties } = outs;
        failStep(id, properties, `${stepFailureMessage(report, "preflight failed")}\nreport: ${artifact}`);
    }
    return outs;
}

export const preflightProvider: pulumi.dynamic.ResourceProvider = runbookStepProvider<PreflightState>({
    id: () => "preflight",
    run: runStep,
    rerunOn: ["trigger", "chainRpcUrl", "stakePoolAddress", "minStakeSol", "secretSource", "prometheus", "retention", "timeoutMs", "adminToken"],
    check: (news) => [
        ...(typeof news.minStakeSol === "number" && !(news.minStakeSol >= 0) ? [{ property: "minStakeSol", reason: "must be 0 or more" }] : []),
        ...(typeof news.timeoutMs === "number" && !(news.timeoutMs >= 1) ? [{ property: "timeoutMs", reason: "must be at least 1" }] : []),
    ],
    keep: (olds, news) => {
        const lowered = loweredTarget(olds.trigger, news.trigger);
        if (!lowered) return undefined;
        console.log(`[preflight] not run: rolloutPercentage ${lowered.from} → ${lowered.to} only lowers traffic, which a release's prerequisites never hold back` +
            ` (last run: ${olds.verdict ?? "none"})`);
        const kept = { verdict: olds.verdict, report: olds.report, artifact: olds.artifact };
        return { ...news, ...JSON.parse(JSON.stringify(kept)) as Partial<PreflightState> };
    },
});

export class Preflight extends pulumi.dynamic.Resource {
    declare readonly verdict: pulumi.Output<"pass" | "fail">;
    declare readonly report: pulumi.Output<StepReport>;

    constructor(name: string, args: PreflightArgs, opts?: pulumi.CustomResourceOptions) {
        super(preflightProvider, name, { ...args, verdict: undefined, report: undefined, artifact: undefined },
            { ...opts, additionalSecretOutputs: ["adminToken"] }, "agenc", PREFLIGHT_TYPE);
    }
}
