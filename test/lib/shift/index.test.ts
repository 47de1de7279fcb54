/** The shift strategies' factory (lib/shift/index.ts). Pure. */
import { expect } from "chai";
import { SHIFT_MODES } from "../../../config/schema";
import { ShiftMode, shiftStrategy } from "../../../lib/shift";

describe("shift strategies: the factory", () => {
    it("has one strategy per shift mode of the schema, each naming its own mode", () => {
        for (const mode of SHIFT_MODES) expect(shiftStrategy(mode).mode).to.equal(mode);
    });

    it("refuses anything else, naming the key and the modes there are", () => {
        expect(() => shiftStrategy("canary" as ShiftMode)).to.throw(
            'speculation:canary.shiftMode: must be one of: feature-flag, ingress-weight, blue-green (got "canary")');
        expect(() => shiftStrategy("toString" as ShiftMode)).to.throw(/must be one of/);
    });
});
