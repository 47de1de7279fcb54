/** test/helpers/shared.ts: the reason a test needing ../shared gives when it skips. */
import { expect } from "chai";
import * as path from "path";
import { SHARED_DIR, sharedAbsent } from "./shared";

describe("tests that read ../shared (test/helpers/shared.ts)", () => {
    it("is the folder beside the repository", () => {
        expect(SHARED_DIR).to.equal(path.resolve(__dirname, "..", "..", "..", "shared"));
    });

    it("names the missing path and that CI requires it", () => {
        const reason = sharedAbsent("no-such-folder-in-shared");
        expect(reason).to.equal(`${path.join(SHARED_DIR, "no-such-folder-in-shared")} is absent ` +
            "(the shared folder beside the repository; .ci/run requires it, so CI runs this test)");
    });
});
