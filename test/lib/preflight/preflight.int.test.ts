/**
 * Preflight against real local parts: the Solana JSON-RPC stub (with each fault knob), the reference service's admin
 * API, and a real Prometheus (Debian) scraping the reference workloads.
 */
import { expect } from "chai";
import { runPreflight, PreflightTarget } from "../../../lib/preflight/checks";
import { reportTable } from "../../../lib/runbook/steps";
import { freePort } from "../../../reference/ports";
import { RunningChainRpc, startChainRpc } from "../../../reference/solanaRpc";
import { startPrometheus } from "../../helpers/prometheus";
import { ADMIN_TOKEN, Reference, startReference } from "../../helpers/reference";

const POOL = "Jito4APyf642JPZPx3hGc6WWJ8zPKtRbRs4P815Awbb";

describe("preflight against the JSON-RPC stub and the reference service", function () {
    this.timeout(60_000);
    let chain: RunningChainRpc;
    let ref: Reference;
    const lines: string[] = [];
    const target = (over: Partial<PreflightTarget> = {}): PreflightTarget => ({
        chainRpcUrl: chain.url, stakePoolAddress: POOL, minStakeSol: 100,
        secret: { kind: "admin-api", serviceUrl: ref.service.url, adminToken: ADMIN_TOKEN }, timeoutMs: 5_000, ...over,
    });
    before(async () => { chain = await startChainRpc(); ref = await startReference(); });
    after(async () => { await chain.close(); await ref.close(); });
    beforeEach(() => { lines.length = 0; chain.setFaults({ unhealthy: false, balanceSol: 250, responseDelayMs: 0, malformed: false }); });

    it("passes a healthy chain with a funded pool and an accepted token, printing a line per check", async () => {
        const report = await runPreflight(target(), (l) => lines.push(l));
        expect(report.verdict, reportTable(report)).to.equal("pass");
        expect(report.checks.map((c) => c.name)).to.deep.equal(["chain-health", "stake-pool-balance", "secret-present"]);
        expect(report.checks[1].observed).to.match(/^250 SOL \(slot \d+\)$/);
        expect(chain.calls).to.include.members(["getHealth", "getBalance"]);
        expect(lines).to.have.length(3);
        expect(lines[0]).to.match(/^\[preflight\] chain-health: PASS/);
    });

    const faults: [string, Parameters<RunningChainRpc["setFaults"]>[0], string, RegExp][] = [
        ["an unhealthy node", { unhealthy: true }, "chain-health", /RPC error -32005 Node is unhealthy/],
        ["a stake pool under the minimum", { balanceSol: 99.5 }, "stake-pool-balance", /^99\.5 SOL/],
        ["a slow RPC", { responseDelayMs: 2000 }, "chain-health", /no answer within 500 ms/],
        ["a malformed answer", { malformed: true }, "chain-health", /not JSON-RPC/],
    ];
    for (const [what, fault, check, observed] of faults) {
        it(`fails on ${what}, naming ${check}`, async () => {
            chain.setFaults(fault);
            // The slow RPC case reads with a 500 ms timeout; the others with 5 s, which a loaded machine never exceeds.
            const report = await runPreflight(target(fault.responseDelayMs ? { timeoutMs: 500 } : {}), () => undefined);
            expect(report.verdict).to.equal("fail");
            const row = report.checks.find((c) => c.name === check)!;
            expect(row.verdict, reportTable(report)).to.equal("fail");
            expect(row.observed).to.match(observed);
        });
    }

    it("fails when the admin token is missing or rejected, and on the Kubernetes Secret without ADMIN_TOKEN", async () => {
        for (const adminToken of ["", "wrong-token"]) {
            const report = await runPreflight(target({ secret: { kind: "admin-api", serviceUrl: ref.service.url, adminToken } }), () => undefined);
            expect(report.checks.find((c) => c.name === "secret-present")!.verdict).to.equal("fail");
        }
        const k8s = await runPreflight(target({ secret: { kind: "kubernetes", name: "agenc-speculation-secrets", keys: [] } }), () => undefined);
        expect(k8s.checks.find((c) => c.name === "secret-present")).to.include({ verdict: "fail", observed: "no keys" });
        const ok = await runPreflight(target({ secret: { kind: "kubernetes", name: "agenc-speculation-secrets", keys: ["ADMIN_TOKEN"] } }), () => undefined);
        expect(ok.verdict).to.equal("pass");
    });

    it("checks both workloads' targets in a real Prometheus: up passes, a target that is down fails by instance", async () => {
        const deadPort = await freePort();
        const host = (url: string) => new URL(url).host;
        const prom = await startPrometheus({
            "agenc-speculation": [host(ref.service.url)],
            "proof-workers": [host(ref.worker.url), `127.0.0.1:${deadPort}`],
        });
        try {
            const jobs = ["agenc-speculation", "proof-workers"];
            // Prometheus's first scrape decides each target's health; read until both jobs have been scraped.
            let report = await runPreflight(target({ prometheus: { url: prom.url, jobs } }), () => undefined);
            for (let i = 0; i < 100 && report.checks.some((c) => c.name.startsWith("prometheus") && /unknown|no targets/.test(c.observed)); i++) {
                await new Promise((r) => setTimeout(r, 100));
                report = await runPreflight(target({ prometheus: { url: prom.url, jobs } }), () => undefined);
            }
            const byName = Object.fromEntries(report.checks.map((c) => [c.name, c]));
            expect(byName["prometheus-targets-agenc-speculation"], reportTable(report)).to.include({ verdict: "pass", observed: "1/1 up" });
            expect(byName["prometheus-targets-proof-workers"].verdict).to.equal("fail");
            expect(byName["prometheus-targets-proof-workers"].observed).to.contain(`127.0.0.1:${deadPort} (down`);
        } finally {
            await prom.close();
        }
    });

    it("reads a real Prometheus's retention: one that cannot hold the longest bake plus a week fails, naming what it keeps; the default 15d passes", async () => {
        const eightDays = 8 * 86_400;
        const short = await startPrometheus({}, { retention: "2d" });
        const fallback = await startPrometheus({});
        try {
            const refused = await runPreflight(target({ retention: { url: short.url, minSeconds: eightDays } }), () => undefined);
            const check = refused.checks.find((c) => c.name === "prometheus-retention")!;
            expect(check, reportTable(refused)).to.include({ verdict: "fail", observed: "2d" });
            expect(check.expected).to.match(/^≥ 8d/);
            expect(refused.verdict).to.equal("fail");
            const kept = await runPreflight(target({ retention: { url: fallback.url, minSeconds: eightDays } }), () => undefined);
            expect(kept.checks.find((c) => c.name === "prometheus-retention"), reportTable(kept)).to.include({ verdict: "pass", observed: "15d (the default)" });
        } finally {
            await short.close();
            await fallback.close();
        }
    });
});
