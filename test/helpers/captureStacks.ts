/**
 * Cheap stacks for stack *captures*, loaded by both mocha configs after ts-node.
 *
 * ts-node installs source-map-support, which maps every frame of every `.stack` that is read.  The Pulumi SDK reads
 * one for each promise it creates (`debuggablePromise` keeps a `new Error().stack` for its leak report) and one, with
 * no frame limit, for each resource it registers (`Resource.stackTrace`, the source position).  Under the mocks those
 * captures were about 45 % of a whole-program suite's CPU (profiled on test/components/hardening.test.ts).
 *
 * A bare `new Error()` (no message) is a capture, not a failure: its stack is formatted as V8 does by default,
 * without the mapping.  Every error with a message (an assertion, a ConfigError, a provider's failure) still gets
 * source-mapped line numbers.
 */
type Prepare = (error: Error, frames: NodeJS.CallSite[]) => unknown;

const mapped = Error.prepareStackTrace as Prepare | undefined;

export function isCapture(error: unknown): boolean {
    return error instanceof Error && error.constructor === Error && error.message === "";
}

export function plainStack(error: Error, frames: NodeJS.CallSite[]): string {
    return `${error.name}${frames.map((f) => `\n    at ${f}`).join("")}`;
}

/** The formatter: captures plain, everything else through `mapped` (source-map-support's). */
export function cheapCaptures(mapped: Prepare): Prepare {
    return (error, frames) => (isCapture(error) ? plainStack(error, frames) : mapped(error, frames));
}

if (mapped) Error.prepareStackTrace = cheapCaptures(mapped);
