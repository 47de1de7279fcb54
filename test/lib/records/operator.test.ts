import { expect } from "chai";
import { userInfo } from "os";
import { operatorName } from "../../../lib/records/operator";

describe("the operator a deployment record names", () => {
    it("is the configured name first", () => {
        expect(operatorName("sre-oncall", { GITHUB_ACTIONS: "true", GITHUB_ACTOR: "octocat", USER: "runner" })).to.equal("sre-oncall");
    });
    it("in GitHub Actions, is the user who triggered the workflow, not the runner's account", () => {
        expect(operatorName(undefined, { GITHUB_ACTIONS: "true", GITHUB_ACTOR: "octocat", USER: "runner" })).to.equal("octocat");
    });
    it("elsewhere is whoami's answer, also where $USER is unset (containers, cron), as seed 001's record", () => {
        expect(operatorName(undefined, {})).to.equal(userInfo().username);
        expect(operatorName(undefined, { USER: "someone-else" }), "the effective user, as whoami").to.equal(userInfo().username);
    });
    it("falls back to $USER, then unknown, when the uid has no name", () => {
        const noName = () => { throw new Error("ENOENT: no passwd entry"); };
        expect(operatorName(undefined, { USER: "alice" }, noName)).to.equal("alice");
        expect(operatorName(undefined, {}, noName)).to.equal("unknown");
    });
});
