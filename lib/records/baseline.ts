/**
 * The stage's pre-shift error-rate baseline, published for the alert rules: one gauge per environment in the
 * Pushgateway (job agenc_stage_baseline, grouping {environment}), replaced by each stage's measurement, which
 * SpeculationErrorRateSpike reads (lib/monitoring/rules.ts STAGE_BASELINE_METRIC).
 */

import { pushgatewayOptions, PushgatewayAuth } from "./pushgateway";
import { redactUrl } from "./redact";

export const STAGE_BASELINE_JOB = "agenc_stage_baseline";
/** The series name; lib/monitoring/rules.ts reads it as STAGE_BASELINE_METRIC. */
export const STAGE_BASELINE_SERIES = "agenc_stage_error_baseline_ratio";

/**
 * Pushes the baseline; never throws.  A baseline that cannot be published leaves the rule on its floor (0.1 %), which
 * reverts sooner, never later: the line returned says which.
 */
export async function publishStageBaseline(pushgatewayUrl: string, environment: string, stage: string, errorRate: number, timeoutMs: number,
    auth?: PushgatewayAuth): Promise<string> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const prom = require("prom-client") as typeof import("prom-client");
    const registry = new prom.Registry();
    new prom.Gauge({ name: STAGE_BASELINE_SERIES, help: "The current stage's pre-shift error-rate baseline", labelNames: ["environment", "stage"], registers: [registry] })
        .set({ environment, stage }, errorRate);
    try {
        await new prom.Pushgateway(pushgatewayUrl, pushgatewayOptions(timeoutMs, auth), registry).push({ jobName: STAGE_BASELINE_JOB, groupings: { environment } });
        return `baseline ${errorRate} published to ${redactUrl(pushgatewayUrl)} (SpeculationErrorRateSpike holds the stage to it between ups)`;
    } catch (e) {
        return `WARNING: baseline not published to ${redactUrl(pushgatewayUrl)} (${(e as Error).message}): SpeculationErrorRateSpike holds the stage to its 0.1 % floor instead, which reverts sooner`;
    }
}
