/**
 * The skeleton every runbook-step provider shares (preflight, smoke tests, verification, drain, bench, deployment
 * record, bake window): a step runs on create and on update, runs again when one of its inputs changed or its last
 * run did not pass, keeps what it recorded on refresh, and leaves nothing to undo on delete.  Each provider says only
 * what differs: which inputs count, how it runs, what its id is.
 *
 * Dynamic providers are closure-serialised into the state (PULUMI-NOTES.md): the provider this returns is a small
 * object whose methods close over `step` alone, and this module imports @pulumi/pulumi for types only.  Delete and
 * refresh run the code serialised at the last update, so both stay trivial: refresh echoes the state, delete does
 * nothing — true of every earlier version of these providers too.
 *
 * Every run watches the engine (lib/lifecycle/engine.ts), here, once for all seven: a killed `pulumi up` leaves this
 * process running in its own process group, and a step left alone would finish for nobody — write its report, push a
 * deployment record, accept a bench baseline — for an update that no longer exists.  Once the engine is gone the run
 * is abandoned (the call rejects with the reason) and the process exits once its last watched call is done, so
 * nothing the step would have written after that lands.  What it left half-done (a report not written, a record not
 * pushed) is what the next `up` runs again: a step whose last run did not pass always runs again.
 */
import type * as pulumi from "@pulumi/pulumi";
import { exitingWithEngine, providerLifecycle } from "../lib/lifecycle/engine";

export interface RunbookStep<S> {
    /** The id of a new resource, from its inputs (`preflight`, `smoke-canary`, `bench-v1.2.4`). */
    id: (inputs: S) => string;
    /**
     * Runs the step and returns its outputs (the inputs echoed, plus what it found).  A failed step throws failStep's
     * created-but-failed error, so its record stays in the state and the next `up` runs it again.  On update,
     * `olds` are the previous outputs (BenchRun compares with the last accepted run).
     */
    run: (inputs: S, id: string, olds?: S) => Promise<S>;
    /** Inputs whose change runs the step again, compared as JSON. */
    rerunOn: readonly (keyof S & string)[];
    /** Whether the last run calls for another even with the same inputs (default: its verdict was not `pass`). */
    rerun?: (olds: S, news: S) => boolean;
    /** Inputs whose change replaces the resource instead of updating it (the engine then creates a new one). */
    replaceOn?: readonly (keyof S & string)[];
    /** Input checks before anything runs (`pulumi preview` shows them); the provider has no check without it. */
    check?: (news: S) => pulumi.dynamic.CheckFailure[];
    /** On update: outputs to keep instead of running (the preflight never holds back a change that only lowers traffic). */
    keep?: (olds: S, news: S) => S | undefined;
}

const notPassed = (olds: { verdict?: unknown }) => olds.verdict !== "pass";

/** A dynamic provider for one runbook step (RunbookStep says what each method does). */
export function runbookStepProvider<S>(step: RunbookStep<S>): pulumi.dynamic.ResourceProvider {
    return exitingWithEngine({
        ...(step.check ? {
            async check(_olds: S, news: S) {
                return { inputs: news, failures: step.check!(news) };
            },
        } : {}),
        async diff(_id: string, olds: S, news: S) {
            const changed = step.rerunOn.filter((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
            const rerun = step.rerun ? step.rerun(olds, news) : notPassed(olds as { verdict?: unknown });
            return {
                changes: changed.length > 0 || rerun,
                ...(step.replaceOn ? { replaces: changed.filter((k) => step.replaceOn!.includes(k)) } : {}),
            };
        },
        async create(inputs: S) {
            const id = step.id(inputs);
            return { id, outs: await whileEngineLives(() => step.run(inputs, id)) };
        },
        async update(id: string, olds: S, news: S) {
            const kept = step.keep?.(olds, news);
            return { outs: kept ?? await whileEngineLives(() => step.run(news, id, olds)) };
        },
        async read(id: string, props: S) {
            // A step is a point in time: its record is what it found then, nothing live to read back.
            return { id, props };
        },
        async delete() {
            // Reports and records stay where the step wrote them; nothing live to undo.
        },
    });
}

/**
 * Runs `work` while the engine that asked for it is alive; once the engine is gone, rejects at once with the reason
 * (the work is abandoned where it is) and lets providerLifecycle end the process, so the abandoned work writes nothing.
 */
export async function whileEngineLives<T>(work: () => Promise<T>): Promise<T> {
    const engine = providerLifecycle();
    try {
        const abandoned = new Promise<never>((_, reject) => {
            if (engine.signal.aborted) reject(engine.signal.reason);
            engine.signal.addEventListener("abort", () => reject(engine.signal.reason), { once: true });
        });
        return await Promise.race([work(), abandoned]);
    } finally {
        engine.done();
    }
}
