/**
 * test/helpers/captureStacks.ts: a bare `new Error()` (a stack capture, as the Pulumi SDK makes one per promise and
 * per resource) is formatted without source maps, while an error with a message goes through them.
 */
import { expect } from "chai";
import { cheapCaptures, isCapture } from "./captureStacks";

/** Makes `error`'s stack through `prepare`, as V8 would with it installed. */
function stackThrough(prepare: NonNullable<typeof Error.prepareStackTrace>, make: () => Error): string {
    const installed = Error.prepareStackTrace;
    Error.prepareStackTrace = prepare;
    try {
        return String(make().stack);
    } finally {
        Error.prepareStackTrace = installed;
    }
}

describe("cheap stack captures (test/helpers/captureStacks.ts)", () => {
    it("tells a capture from a failure", () => {
        expect(isCapture(new Error())).to.equal(true);
        expect(isCapture(new Error("boom"))).to.equal(false);
        expect(isCapture(new TypeError())).to.equal(false, "a subclass is a failure, not a capture");
    });

    it("formats a capture without the source-map formatter, and a failure with it", () => {
        const mappedFor: string[] = [];
        const prepare = cheapCaptures((error) => { mappedFor.push(error.message); return "mapped"; });
        const capture = stackThrough(prepare, () => new Error());
        const failure = stackThrough(prepare, () => new Error("boom"));
        expect(mappedFor).to.deep.equal(["boom"]);
        expect(failure).to.equal("mapped");
        expect(capture).to.match(/^Error\n {4}at /, "V8's own layout");
        expect(capture).to.include("captureStacks.test.ts", "its frames still name the file");
    });
});
