/**
 * The line a watching gate prints per sample (watch mode, entry analysis, the gate between node batches), so the
 * operator's terminal shows what the gate is doing while it does it: sample n of required, each check against its
 * threshold, and the time left.  Dynamic providers print it with console.log, which the engine passes through to
 * `pulumi up`'s output (pulumi.log from a dynamic provider is dropped, pulumi/pulumi#18249).
 */
import { formatSeconds } from "../time/duration";
import { BakeState, Sample } from "./decision";

const MARK = { pass: "ok", hold: "HOLD", fail: "FAIL" } as const;

const left = (ms: number) => formatSeconds(ms / 1000);

/**
 * `[gate stage-1-10pct] entry analysis sample 3/5 (2 green in a row) ok · rollbackRate 0.01 (< 0.05 …) ok · … · 2s to the bake's end, 32s to the deadline`
 */
export function progressLine(stage: string, phase: string, sample: Sample, bake: BakeState, msToBakeEnd: number, msToDeadline: number): string {
    const checks = sample.checks.map((c) => `${c.check} ${c.observed} (${c.threshold}) ${MARK[c.verdict]}`).join(" · ");
    const status = bake.status === "passed" ? "PASSED" : bake.status === "failed" ? "FAILED" : `${bake.consecutivePasses}/${bake.required} green in a row`;
    return `[gate ${stage}] ${phase} sample ${bake.samples} (${status}) ${MARK[sample.verdict]} | ${checks} | ` +
        `${left(msToBakeEnd)} to the bake's end, ${left(msToDeadline)} to the deadline`;
}
