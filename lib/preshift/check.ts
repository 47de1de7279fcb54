/**
 * The health check immediately before a shift (issue 13: "a failing service is never given more traffic").  One
 * reading of everything a gate looks at — probes, metrics, latency, critical alerts — judged with the stage's
 * thresholds, taken right before traffic rises: by the ErrorBaseline of every stage (whose baseline it measures in
 * the same reading) and by a TrafficShift that raises the percentage again (after a revert or an out-of-band edit).
 *
 * Go only when every check is green.  A check that holds only for want of data (a no-data policy of hold, too few
 * observations for a p99) does not refuse: the gate after the shift judges it.  Anything else refuses the shift
 * before it happens, with the table of what was not green.
 */
import { Clock, captureBaseline, BaselineReading, GateSpec, noDataPolicies, REAL_CLOCK } from "../gate/run";
import { CheckResult, formatChecks, checkReading, Sample } from "../gate/decision";
import { measure, readCriticalAlerts } from "../gate/measure";

/** What the check reads and how it judges: the gate's own settings. */
export type PreShiftSpec = Pick<GateSpec, "serviceUrl" | "proofWorkerUrl" | "prometheusUrl" | "source" | "timeoutMs" | "thresholds" | "noData" | "alerts"> & {
    stage: string;
    /** Metrics-endpoint source: the two scrapes the error rate and latency are measured between are this far apart. */
    windowSeconds: number;
};

export interface PreShiftResult {
    verdict: "go" | "no-go";
    baseline: BaselineReading;
    sample: Sample;
    /** The checks that refused the shift. */
    refused: CheckResult[];
}

/** A check that refuses a shift: a failure, or a hold for a bad value (not for want of data). */
export const refuses = (c: CheckResult) => c.verdict === "fail" || (c.verdict === "hold" && !c.noData);

export async function preShiftCheck(spec: PreShiftSpec, clock: Clock = REAL_CLOCK): Promise<PreShiftResult> {
    const baseline = await captureBaseline(spec, spec.windowSeconds, clock);
    const reading = spec.source === "metrics-endpoint" && baseline.reading
        ? baseline.reading
        : (await measure({
            serviceUrl: spec.serviceUrl, proofWorkerUrl: spec.proofWorkerUrl, prometheusUrl: spec.prometheusUrl, source: spec.source,
            timeoutMs: spec.timeoutMs, maxSampleAgeSeconds: Math.max(60, 3 * spec.windowSeconds),
        }, undefined, () => new Date(clock.now()))).reading;
    if (spec.alerts) {
        const a = await readCriticalAlerts(spec.alerts, spec.timeoutMs);
        reading.criticalAlerts = a.alerts;
        reading.criticalAlertsQuery = a.query;
    }
    const sample = checkReading(reading, { thresholds: spec.thresholds, baselineErrorRate: baseline.errorRate, noData: noDataPolicies(spec) });
    const refused = sample.checks.filter(refuses);
    return { verdict: refused.length === 0 ? "go" : "no-go", baseline, sample, refused };
}

/** The error a refused shift fails `pulumi up` with: what was not green, and what the operator does next. */
export function refusalMessage(stage: string, percentage: number, result: PreShiftResult): string {
    return [
        `${stage}: the health check before the shift to ${percentage} % is a no-go — traffic was NOT raised: ` +
            result.refused.map((c) => `${c.check} (${c.reason ?? c.observed})`).join("; "),
        "Fix the service (or wait for the alert to resolve), then run `pulumi up` again; nothing has changed.",
        formatChecks(result.sample),
    ].join("\n");
}
