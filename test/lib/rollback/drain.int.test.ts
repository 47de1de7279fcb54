/** The full rollback's disable-and-drain against the reference service's pending operations (a real backlog). */
import { expect } from "chai";
import { mkdtempSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { disableAndDrain, DrainSpec } from "../../../lib/rollback/drain";
import { reportTable } from "../../../lib/runbook/steps";
import { rollbackDrainProvider } from "../../../providers/rollbackDrain";
import { deserialised } from "../../helpers/deserialise";
import { ADMIN_TOKEN, Reference, startReference } from "../../helpers/reference";

describe("rollback: disable speculation, then drain pending operations below 10", function () {
    this.timeout(60_000);
    let ref: Reference;
    beforeEach(async () => { ref = await startReference({ rolloutPercentage: 50, faults: { pendingOperations: 200, drainPerSecond: 400 } }); });
    afterEach(async () => ref.close());
    const spec = (over: Partial<DrainSpec> = {}): DrainSpec => ({
        serviceUrl: ref.service.url, adminToken: ADMIN_TOKEN, maxPending: 10, pollSeconds: 0.2, deadlineSeconds: 10, timeoutMs: 1000, drain: true, ...over,
    });

    it("disables speculation (read back), then polls with a progress line each until fewer than 10 are pending", async () => {
        const lines: string[] = [];
        const report = await disableAndDrain(spec(), (l) => lines.push(l));
        expect(report.verdict, reportTable(report)).to.equal("pass");
        expect(ref.service.state).to.include({ enabled: false, rolloutPercentage: 0 });
        expect(lines[0]).to.equal("[drain] speculation disabled (read back: disabled at 0 %)");
        const polls = lines.slice(1);
        expect(polls.length, lines.join("\n")).to.be.at.least(2);          // 200 pending at 400/s: more than one poll
        expect(polls[0]).to.match(/^\[drain\] poll 1: pending operations \d+ \(waiting for < 10; [\d.]+ s of 10 s\)$/);
        expect(polls[polls.length - 1]).to.match(/^\[drain\] poll \d+: pending operations \d \(< 10: drained after [\d.]+ s\)$/);
        expect(report.checks.map((c) => [c.name, c.verdict])).to.deep.equal([["disable", "pass"], ["drain", "pass"]]);
    });

    it("fails when the deadline passes with operations still pending, leaving speculation disabled", async () => {
        ref.service.setFaults({ drainPerSecond: 0 });
        const lines: string[] = [];
        const report = await disableAndDrain(spec({ deadlineSeconds: 1 }), (l) => lines.push(l));
        expect(report.verdict).to.equal("fail");
        expect(report.checks[1]).to.include({ name: "drain", verdict: "fail", expected: "< 10 within 1 s" });
        expect(report.checks[1].observed).to.match(/^200 after \d+ poll\(s\), [\d.]+ s: deadline passed$/);
        expect(lines[lines.length - 1]).to.match(/deadline 1 s reached/);
        expect(ref.service.state).to.include({ enabled: false, rolloutPercentage: 0 });
    });

    it("fails at once when the pending metric cannot be read (a no-go, not a guess)", async () => {
        ref.service.setFaults({ dropMetrics: ["speculation_pending_operations_count"] });
        const report = await disableAndDrain(spec(), () => undefined);
        expect(report.checks[1]).to.include({ verdict: "fail" });
        expect(report.checks[1].observed).to.match(/speculation_pending_operations_count is not exposed/);
    });

    it("emergency only disables; the provider fails a drain past its deadline with the table", async () => {
        const disabled = await disableAndDrain(spec({ drain: false }), () => undefined);
        expect(disabled.checks.map((c) => c.name)).to.deep.equal(["disable"]);
        ref.service.setFaults({ drainPerSecond: 0 });
        Object.assign(ref.service.state, { enabled: true, rolloutPercentage: 50 });
        const provider = await deserialised(rollbackDrainProvider);
        try {
            await provider.create({ mode: "full", targetVersion: "v1.2.3", serviceUrl: ref.service.url, adminToken: ADMIN_TOKEN, maxPending: 10,
                pollSeconds: 0.2, deadlineSeconds: 0.5, timeoutMs: 1000, artifactsDir: mkdtempSync(path.join(tmpdir(), "drain-")) });
            expect.fail("a drain past its deadline passed");
        } catch (e) {
            const err = e as { reasons: string[]; properties: Record<string, unknown> };
            expect(err.reasons[0]).to.match(/^full rollback to v1\.2\.3: disable and drain failed: 1 check\(s\) failed \(drain\)/);
            expect(err.reasons[0]).to.match(/drain\s+speculation_pending_operations_count\s+200 after \d+ poll\(s\), [\d.]+ s: deadline passed\s+< 10 within 0\.5 s\s+FAIL/);
            expect(err.reasons[0]).to.contain("The workloads were not changed.");
            expect(JSON.stringify(err.properties)).to.not.contain(ADMIN_TOKEN);
        }
    });
});
