/**
 * The watchdog between `pulumi up`s, on real parts: the reference service, Debian's Prometheus evaluating the
 * stack's rules, Debian's Alertmanager with the stack's routes, and lib/watchdog/main.ts as a process.
 */
import { expect } from "chai";
import { spawn } from "child_process";
import { setRolloutPercentage } from "../../../lib/adminApi";
import { startLocalMonitoring, LocalMonitoring, WATCHDOG_SCRIPT } from "../../../reference/localMonitoring";
import { freePort } from "../../../reference/ports";
import { RunningSpeculationService, startSpeculationService } from "../../../reference/speculationService";
import { promValue } from "../../helpers/prometheus";
import { eventually } from "../../helpers/wait";

describe("watchdog: rollback triggers revert traffic with no Pulumi process running (real Prometheus and Alertmanager)", function () {
    this.timeout(120_000);
    const token = "watchdog-test-token-0123456789";
    let service: RunningSpeculationService;
    let mon: LocalMonitoring;

    before(async () => {
        service = await startSpeculationService({ adminToken: token, version: "v1.2.4" });
        mon = await startLocalMonitoring({ serviceUrl: service.url, proofWorkerUrl: service.url, adminToken: token, alertFor: "1s" });
    });
    after(async () => { await mon?.stop(); await service?.close(); });

    it("a rollback rate above the abort threshold fires the alert, Alertmanager calls the watchdog, traffic goes to 0 and is reported", async () => {
        await setRolloutPercentage(service.url, token, 25);
        // Healthy first: the watchdog's gauge is scraped at 0 and nothing reverts.
        await eventually("the watchdog scraped", async () => (await promValue(mon.prometheusUrl, "agenc_watchdog_last_revert_timestamp_seconds")) !== undefined);
        expect(service.state.rolloutPercentage).to.equal(25);
        const injected = Date.now();
        service.setFaults({ rollbackRate: 0.3 });
        await eventually("traffic at 0 %", async () => (service.state.rolloutPercentage === 0 ? true : undefined));
        const seconds = (Date.now() - injected) / 1000;
        expect(seconds).to.be.greaterThan(0);
        // The service reads 0 % as soon as the write lands; the watchdog records it after its read-back.
        const reverts = await eventually("the revert recorded", async () => {
            const r = await (await fetch(`${mon.watchdogUrl}/reverts`)).json() as { reverts: { alerts: string[]; path: string }[] };
            return r.reverts.length > 0 ? r : undefined;
        });
        expect(reverts.reverts[0].alerts).to.include("SpeculationRollbackRateAbort");
        expect(reverts.reverts[0].path).to.equal("admin-api");
        expect(mon.watchdogLog()).to.match(/REVERTED: rollout percentage set to 0 and confirmed/);
        // Visible as a metric and as an alert of its own.
        const last = await eventually("the revert in Prometheus", async () => {
            const v = await promValue(mon.prometheusUrl, "agenc_watchdog_last_revert_timestamp_seconds");
            return v && v > 0 ? v : undefined;
        });
        expect(last * 1000).to.be.at.least(injected - 1000);
        await eventually("SpeculationWatchdogReverted firing", () => promValue(mon.prometheusUrl, 'ALERTS{alertname="SpeculationWatchdogReverted",alertstate="firing"}'));
        expect(mon.watchdogLog().includes(token), "the admin token in the watchdog's log").to.equal(false);
        service.setFaults({ rollbackRate: 0.01 });
    });

    it("a revert the admin API never confirms answers 500 (Alertmanager retries) and counts a failure", async () => {
        const port = await freePort();
        const child = spawn(process.execPath, [WATCHDOG_SCRIPT], {
            env: { ...process.env, SERVICE_URL: "http://127.0.0.1:9", ADMIN_TOKEN: token, PORT: String(port), LISTEN_HOST: "127.0.0.1", REVERT_DEADLINE_SECONDS: "1", ATTEMPT_TIMEOUT_MS: "300" },
            stdio: "ignore",
        });
        try {
            const url = `http://127.0.0.1:${port}`;
            await eventually("watchdog up", async () => ((await fetch(`${url}/healthz`)).ok ? true : undefined));
            const res = await fetch(`${url}/alerts`, {
                method: "POST", body: JSON.stringify({ alerts: [{ status: "firing", labels: { alertname: "SpeculationMemoryCritical", rollback_trigger: "true" } }] }),
            });
            expect(res.status).to.equal(500);
            const metrics = await (await fetch(`${url}/metrics`)).text();
            expect(metrics).to.match(/^agenc_watchdog_revert_failures_total 1$/m);
            // An alert that is not a rollback trigger is ignored.
            const ignored = await fetch(`${url}/alerts`, { method: "POST", body: JSON.stringify({ alerts: [{ status: "firing", labels: { alertname: "HighLatency" } }] }) });
            expect((await ignored.json() as { outcome: string }).outcome).to.equal("ignored");
        } finally {
            child.kill();
        }
    });
});
