/**
 * SmokeTest: blue-green's "test green before it gets traffic" (seed 002), against green's own Service.
 *   create/update → runs the smoke tests (lib/bluegreen/smoke.ts) until they pass or the deadline comes; a failure
 *                   fails `pulumi up` with every check, before the primary Service may switch to green
 *   diff          → a new version or address tests again
 *   read/delete   → nothing live to read or undo
 */
import * as pulumi from "@pulumi/pulumi";
import { SmokeSpec, smokeUntilGreen } from "../lib/bluegreen/smoke";

export const SMOKE_TEST_TYPE = "SmokeTest";

type Inputs<T> = { [K in keyof T]: pulumi.Input<T[K]> };
export interface SmokeTestArgs extends Inputs<SmokeSpec> { stage: pulumi.Input<string> }
interface SmokeState extends SmokeSpec { stage: string; passedAt: string; attempts: number }

async function runSmoke(inputs: SmokeState) {
    const result = await smokeUntilGreen(inputs, (s) => console.log(s));
    if (!result.ok) {
        const rows = result.checks.map((c) => `  ${c.ok ? "PASS" : "FAIL"}  ${c.check}: ${c.observed}`).join("\n");
        const message = `smoke tests against green (${inputs.url}, ${inputs.version}) failed after ${result.attempts} attempt(s); the primary Service stays on blue:\n${rows}`;
        throw new Error(message);
    }
    return { ...inputs, passedAt: new Date().toISOString(), attempts: result.attempts };
}

export const smokeTestProvider: pulumi.dynamic.ResourceProvider = {
    async diff(_id: string, olds: SmokeState, news: SmokeState) {
        const replaces = (["url", "version"] as const).filter((k) => olds[k] !== news[k]);
        const changed = (["timeoutMs", "deadlineSeconds", "pollSeconds", "stage"] as const).filter((k) => olds[k] !== news[k]);
        return { changes: replaces.length + changed.length > 0, replaces };
    },
    async create(inputs: SmokeState) {
        return { id: `${inputs.stage}-smoke`, outs: await runSmoke(inputs) };
    },
    async update(_id: string, _olds: SmokeState, news: SmokeState) {
        return { outs: await runSmoke(news) };
    },
    async read(id: string, props: SmokeState) {
        return { id, props };
    },
    async delete() {
        // Nothing outside the state to undo.
    },
};

export class SmokeTest extends pulumi.dynamic.Resource {
    declare readonly passedAt: pulumi.Output<string>;

    constructor(name: string, args: SmokeTestArgs, opts?: pulumi.CustomResourceOptions) {
        super(smokeTestProvider, name, { ...args, passedAt: undefined, attempts: undefined }, opts, "agenc", SMOKE_TEST_TYPE);
    }
}
