/** The Preflight provider as the engine runs it (deserialised): a failed check fails create with the table. */
import { expect } from "chai";
import { mkdtempSync, readFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { preflightProvider } from "../../providers/preflight";
import { RunningChainRpc, startChainRpc } from "../../reference/solanaRpc";
import { deserialised } from "../helpers/deserialise";
import { ADMIN_TOKEN, Reference, startReference } from "../helpers/reference";

describe("Preflight provider (deserialised, as the engine runs it)", function () {
    this.timeout(60_000);
    let chain: RunningChainRpc;
    let ref: Reference;
    before(async () => { chain = await startChainRpc(); ref = await startReference(); });
    after(async () => { await chain.close(); await ref.close(); });
    const inputs = () => ({
        trigger: "{\"version\":\"v1.2.4\"}", chainRpcUrl: chain.url, stakePoolAddress: "Jito4APyf642JPZPx3hGc6WWJ8zPKtRbRs4P815Awbb",
        minStakeSol: 100, secretSource: { kind: "admin-api", serviceUrl: ref.service.url }, adminToken: ADMIN_TOKEN,
        timeoutMs: 1000, artifactsDir: mkdtempSync(path.join(tmpdir(), "preflight-")),
    });

    it("passes and records the report; fails an underfunded pool with the table in reasons, keeping the report but not the token", async () => {
        const provider = await deserialised(preflightProvider);
        const ok = await provider.create(inputs());
        expect(ok.outs.verdict).to.equal("pass");
        expect(JSON.parse(readFileSync(ok.outs.artifact, "utf8")).checks).to.have.length(3);

        chain.setFaults({ balanceSol: 12 });
        try {
            await provider.create(inputs());
            expect.fail("an underfunded stake pool passed");
        } catch (e) {
            const err = e as { reasons: string[]; properties: Record<string, unknown>; id: string };
            expect(err.id).to.equal("preflight");
            expect(err.reasons[0]).to.match(/^preflight failed: 1 check\(s\) failed \(stake-pool-balance\); nothing after this step was changed/);
            expect(err.reasons[0]).to.match(/stake-pool-balance\s+getBalance Jito4\S+\s+12 SOL \(slot \d+\)\s+≥ 100 SOL\s+FAIL/);
            expect(err.properties.verdict).to.equal("fail");
            expect(err.properties).to.not.have.property("adminToken");
            expect(JSON.stringify(err.properties)).to.not.contain(ADMIN_TOKEN);
        } finally {
            chain.setFaults({ balanceSol: 250 });
        }
    });

    it("runs again on a new release edit or after a failure, not otherwise", async () => {
        const provider = await deserialised(preflightProvider);
        const olds = { ...inputs(), verdict: "pass" };
        expect((await provider.diff("preflight", olds, { ...olds })).changes).to.equal(false);
        expect((await provider.diff("preflight", olds, { ...olds, trigger: "{\"version\":\"v1.2.5\"}" })).changes).to.equal(true);
        expect((await provider.diff("preflight", { ...olds, verdict: "fail" }, { ...olds })).changes).to.equal(true);
    });

    it("an edit that only lowers the target (back a stage, traffic off, the kill switch) is not held back by a failing check; a raise or a new release is", async () => {
        const provider = await deserialised(preflightProvider);
        const trigger = (rolloutPercentage: number, version = "v1.2.4") => JSON.stringify({ version, previousVersion: "v1.2.3", rolloutPercentage, rollback: "none" });
        const passed = (await provider.create({ ...inputs(), trigger: trigger(50) })).outs;
        chain.setFaults({ unhealthy: true });
        try {
            for (const target of [10, 0]) {
                const lowered = await provider.update("preflight", passed, { ...inputs(), trigger: trigger(target) });
                expect(lowered.outs).to.include({ verdict: "pass", trigger: trigger(target), artifact: passed.artifact });
            }
            for (const [what, news] of [["a raise", trigger(100)], ["a new release at a lower target", trigger(10, "v1.2.5")]]) {
                const err = await provider.update("preflight", passed, { ...inputs(), trigger: news }).then(() => undefined, (e: { reasons: string[] }) => e);
                expect(err?.reasons[0], what).to.match(/^preflight failed: 1 check\(s\) failed \(chain-health\)/);
            }
        } finally {
            chain.setFaults({ unhealthy: false });
        }
    });
});
