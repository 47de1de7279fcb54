/**
 * The runbook-step skeleton (providers/runbookStep.ts): what every step provider does alike — run on create and
 * update, run again on a changed input or a last run that did not pass, keep the record on refresh, nothing on
 * delete.  Pure: a stub step, no servers.
 */
import { expect } from "chai";
import { runbookStepProvider } from "../../providers/runbookStep";

interface Stub { version: string; url: string; verdict?: "pass" | "fail"; ran?: number; stage?: string }

function provider(extra: Partial<Parameters<typeof runbookStepProvider<Stub>>[0]> = {}) {
    const runs: { inputs: Stub; id: string; olds?: Stub }[] = [];
    const p = runbookStepProvider<Stub>({
        id: (i) => `step-${i.version}`,
        run: async (inputs, id, olds) => { runs.push({ inputs, id, olds }); return { ...inputs, verdict: "pass", ran: runs.length }; },
        rerunOn: ["version", "url"],
        ...extra,
    });
    return { p, runs };
}

describe("runbook-step provider skeleton", () => {
    it("runs on create with the id from its inputs, and on update with the previous outputs", async () => {
        const { p, runs } = provider();
        const created = await p.create!({ version: "v1", url: "u" });
        expect(created).to.deep.equal({ id: "step-v1", outs: { version: "v1", url: "u", verdict: "pass", ran: 1 } });
        await p.update!("step-v1", created.outs, { version: "v2", url: "u" });
        expect(runs[1]).to.deep.include({ id: "step-v1", olds: created.outs });
    });

    it("runs again when a listed input changed (compared as JSON) or the last run did not pass", async () => {
        const { p } = provider();
        const passed: Stub = { version: "v1", url: "u", verdict: "pass" };
        expect(await p.diff!("x", passed, { version: "v1", url: "u" })).to.deep.equal({ changes: false });
        expect(await p.diff!("x", passed, { version: "v1", url: "u2" })).to.deep.equal({ changes: true });
        expect(await p.diff!("x", { ...passed, verdict: "fail" }, { version: "v1", url: "u" })).to.deep.equal({ changes: true });
        expect(await p.diff!("x", { version: "v1", url: "u" }, { version: "v1", url: "u" }), "never ran to a verdict").to.deep.equal({ changes: true });
    });

    it("takes the step's own rerun rule and replace keys when given", async () => {
        const { p } = provider({ rerun: () => false, replaceOn: ["version"], rerunOn: ["version", "url", "stage"] });
        expect(await p.diff!("x", { version: "v1", url: "u", verdict: "fail" }, { version: "v1", url: "u" })).to.deep.equal({ changes: false, replaces: [] });
        expect(await p.diff!("x", { version: "v1", url: "u" }, { version: "v2", url: "u" })).to.deep.equal({ changes: true, replaces: ["version"] });
    });

    it("keeps outputs instead of running when the step says so, and checks inputs only when it has a check", async () => {
        const { p, runs } = provider({ keep: (olds, news) => (news.url === "lower" ? { ...news, verdict: olds.verdict } : undefined), check: (n) => (n.url ? [] : [{ property: "url", reason: "must be set" }]) });
        expect(await p.update!("x", { version: "v1", url: "u", verdict: "pass" }, { version: "v1", url: "lower" })).to.deep.equal({ outs: { version: "v1", url: "lower", verdict: "pass" } });
        expect(runs).to.have.length(0);
        expect(await p.check!({} as Stub, { version: "v1", url: "" })).to.deep.equal({ inputs: { version: "v1", url: "" }, failures: [{ property: "url", reason: "must be set" }] });
        expect(provider().p.check, "no check: the engine's default").to.equal(undefined);
    });

    it("keeps the record on refresh and undoes nothing on delete", async () => {
        const { p, runs } = provider();
        expect(await p.read!("step-v1", { version: "v1", url: "u", verdict: "fail" })).to.deep.equal({ id: "step-v1", props: { version: "v1", url: "u", verdict: "fail" } });
        expect(await p.delete!("step-v1", { version: "v1", url: "u" })).to.equal(undefined);
        expect(runs).to.have.length(0);
    });
});
