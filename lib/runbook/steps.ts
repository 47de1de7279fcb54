/**
 * What every runbook step (preflight, smoke tests, post-deployment verification, drain) shares: a list of named
 * checks, each with what was asked of what, what came back, what was expected and a verdict; a report with the
 * step's timing; and one failure message with the whole table, so `pulumi up` names what failed.  Plain functions
 * and data only: the dynamic providers capture them when Pulumi serialises the providers.
 */
import { formatTable } from "../table";
import { refuseWriteWithoutEngine } from "../lifecycle/engine";

export type CheckVerdict = "pass" | "fail" | "skip";

export interface CheckResult {
    /** Short stable name (`chain-health`, `smoke-4-config-api`). */
    name: string;
    /** What was asked, of what (`getHealth at http://…`). */
    target: string;
    observed: string;
    expected: string;
    verdict: CheckVerdict;
}

export interface StepReport {
    step: string;
    verdict: "pass" | "fail";
    startedAt: string;
    finishedAt: string;
    durationMs: number;
    checks: CheckResult[];
}

/** A check as the steps write it: runs once, never throws (a thrown error becomes a failed row). */
export type Check = { name: string; target: string; expected: string; run: () => Promise<{ ok: boolean | "skip"; observed: string }> };

/**
 * Runs the checks one after the other (in the seed's order; each prints a progress line as it finishes) and
 * returns the report.  A check that throws is a failure with the error as its observation: fail closed.
 */
export async function runChecks(step: string, checks: Check[], log: (line: string) => void = (l) => console.log(l)): Promise<StepReport> {
    const started = Date.now();
    const results: CheckResult[] = [];
    for (const c of checks) {
        let ok: boolean | "skip";
        let observed: string;
        try {
            ({ ok, observed } = await c.run());
        } catch (e) {
            ok = false;
            observed = `error: ${(e as Error).message}`;
        }
        const verdict: CheckVerdict = ok === "skip" ? "skip" : ok ? "pass" : "fail";
        results.push({ name: c.name, target: c.target, observed, expected: c.expected, verdict });
        log(`[${step}] ${c.name}: ${verdict.toUpperCase()} (${observed})`);
    }
    const finished = Date.now();
    return {
        step,
        verdict: results.some((r) => r.verdict === "fail") ? "fail" : "pass",
        startedAt: new Date(started).toISOString(),
        finishedAt: new Date(finished).toISOString(),
        durationMs: finished - started,
        checks: results,
    };
}

/** The table of a report: every check, failed ones marked. */
export function reportTable(report: StepReport): string {
    return formatTable([
        ["check", "target", "observed", "expected", "verdict"],
        ...report.checks.map((c) => [c.name, c.target, c.observed, c.expected, c.verdict.toUpperCase()]),
    ]);
}

/** The one message a failed step fails `pulumi up` with: the headline, then the whole table. */
export function stepFailureMessage(report: StepReport, headline: string): string {
    const failed = report.checks.filter((c) => c.verdict === "fail").map((c) => c.name);
    return `${headline}: ${failed.length} check(s) failed (${failed.join(", ")}); nothing after this step was changed\n${reportTable(report)}`;
}

/**
 * Fails a dynamic provider's create/update with the step's table, keeping the report as the resource's state
 * (created-but-failed, so the next `pulumi up` runs the step again).  Under the engine only `reasons` reach the
 * operator, so the whole message goes there.  Every provider's no-go goes through here (gates, windows, bench,
 * runbook steps).  The properties go through JSON: the engine's protobuf Struct refuses a nested `undefined`
 * ("Unexpected struct type"), which kills the provider's answer and leaves `pulumi up` waiting for ever; mocks accept it.
 */
export function failStep(id: string, properties: Record<string, unknown>, message: string): never {
    throw { message, id, properties: JSON.parse(JSON.stringify(properties)), reasons: [message] };
}

/**
 * Writes a step's report as JSON under `dir` (created when missing) and returns the file's path; never once the
 * engine of the update it reports on is gone (lib/lifecycle).
 */
export function writeStepReport(dir: string, name: string, report: StepReport): string {
    refuseWriteWithoutEngine(`${name}'s report`);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fs = require("fs") as typeof import("fs");
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const path = require("path") as typeof import("path");
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${name}-${report.startedAt.replace(/[:.]/g, "-")}.json`);
    fs.writeFileSync(file, JSON.stringify(report, null, 2) + "\n");
    return file;
}

/** What a runbook step's provider records beside its inputs: the verdict, its report and the artifact it was written to. */
export interface StepOutcome {
    verdict?: "pass" | "fail";
    report?: StepReport;
    artifact?: string;
}
