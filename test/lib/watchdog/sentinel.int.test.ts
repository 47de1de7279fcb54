/**
 * Sentinel probes and the kill switch on real parts (issue 14.6): the reference service at 100 %, lib/watchdog/main.ts
 * probing it on a schedule, Debian's Prometheus judging the success ratio with the stack's own rule
 * (SpeculationSentinelFailing, from GO_NO_GO.sentinelProbeSuccess) and Debian's Alertmanager routing the alert to the
 * watchdog's kill switch by its kill_switch="true" label.
 */
import { expect } from "chai";
import { ChildProcess, spawn } from "child_process";
import { setRolloutPercentage } from "../../../lib/adminApi";
import { startLocalMonitoring, LocalMonitoring, WATCHDOG_SCRIPT } from "../../../reference/localMonitoring";
import { freePort } from "../../../reference/ports";
import { RunningSpeculationService, startSpeculationService } from "../../../reference/speculationService";
import { instant as query } from "../../helpers/prometheus";
import { eventually } from "../../helpers/wait";

const token = "sentinel-test-token-0123456789";

async function rule(prom: string, name: string): Promise<{ state: string; lastEvaluation: string; health: string } | undefined> {
    const body = await (await fetch(`${prom}/api/v1/rules?type=alert`)).json() as any;
    return body.data.groups.flatMap((g: any) => g.rules).find((r: any) => r.name === name);
}

interface Watchdog { url: string; child: ChildProcess; output: () => string; stop(): Promise<void> }

/** A watchdog of its own (no Prometheus), for what the webhook and the scheduler do by themselves. */
async function watchdog(env: Record<string, string>): Promise<Watchdog> {
    const port = await freePort();
    const child = spawn(process.execPath, [WATCHDOG_SCRIPT], {
        env: { ...process.env, ADMIN_TOKEN: token, PORT: String(port), LISTEN_HOST: "127.0.0.1", REVERT_DEADLINE_SECONDS: "1", ATTEMPT_TIMEOUT_MS: "300", ...env },
        stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout!.on("data", (c) => (out += c));
    child.stderr!.on("data", (c) => (out += c));
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    const url = `http://127.0.0.1:${port}`;
    await eventually("watchdog up", async () => (await fetch(`${url}/healthz`)).ok);
    return { url, child, output: () => out, stop: async () => { if (child.exitCode === null) child.kill(); await exited; } };
}

const alert = (labels: Record<string, string>) => ({ status: "firing", labels });
const postAlerts = async (url: string, alerts: unknown[]) => {
    const res = await fetch(`${url}/alerts`, { method: "POST", body: JSON.stringify({ alerts }) });
    return { status: res.status, body: await res.json() as { outcome: string; action?: string; path?: string } };
};
const metric = async (url: string, line: RegExp) => (await (await fetch(`${url}/metrics`)).text()).match(line);

describe("sentinel probes and the kill switch (real Prometheus and Alertmanager)", function () {
    this.timeout(120_000);
    const window = { intervalSeconds: 0.5, windowSeconds: 10, minProbes: 10 };
    let service: RunningSpeculationService;
    let mon: LocalMonitoring;

    before(async () => {
        service = await startSpeculationService({ adminToken: token, version: "v1.2.4" });
        await setRolloutPercentage(service.url, token, 100);
        mon = await startLocalMonitoring({ serviceUrl: service.url, proofWorkerUrl: service.url, adminToken: token, alertFor: "1s", sentinel: window });
    });
    after(async () => { await mon?.stop(); await service?.close(); });

    it("a healthy service at 100 %: probes on schedule, one log line each, the ratio over the window at least 95 % and nothing fires", async () => {
        const probesInWindow = `sum(increase(agenc_sentinel_probes_total{result=~"success|failure"}[10s]))`;
        // Wait until Prometheus holds a full window of probes, then for an evaluation of the rule after that.
        await eventually("a full window of probes in Prometheus", async () => {
            const r = await query(mon.prometheusUrl, probesInWindow);
            return r.length > 0 && Number(r[0].value[1]) >= window.minProbes;
        });
        const full = Date.now();
        const evaluated = await eventually("the sentinel rule evaluated over a full window", async () => {
            const r = await rule(mon.prometheusUrl, "SpeculationSentinelFailing");
            return r && Date.parse(r.lastEvaluation) > full + 1000 ? r : undefined;
        });
        expect(evaluated.health).to.equal("ok");
        expect(evaluated.state).to.equal("inactive");
        const ratio = await query(mon.prometheusUrl, `sum(increase(agenc_sentinel_probes_total{result="success"}[10s])) / ${probesInWindow}`);
        expect(Number(ratio[0].value[1])).to.be.at.least(0.95);
        expect(await query(mon.prometheusUrl, 'ALERTS{alertname=~"SpeculationSentinelFailing|SpeculationSentinelsStale"}')).to.deep.equal([]);
        expect(service.state).to.include({ enabled: true, rolloutPercentage: 100 });

        const sentinel = await (await fetch(`${mon.watchdogUrl}/sentinel`)).json() as { intervalSeconds: number; success: number; failure: number };
        expect(sentinel.intervalSeconds).to.equal(0.5);
        const lines = mon.watchdogLog().split("\n").filter((l) => l.includes('"msg":"sentinel probe"')).map((l) => JSON.parse(l));
        // One JSON line per probe (a probe may be between its count and its line when the log is read).
        expect(lines.length).to.be.within(sentinel.success + sentinel.failure - 1, sentinel.success + sentinel.failure + 1);
        expect(lines.every((l) => ["success", "failure"].includes(l.result) && typeof l.duration_ms === "number")).to.equal(true);
        const probeCalls = await query(mon.prometheusUrl, 'sum(speculation_synthetic_tests_total)');
        expect(Number(probeCalls[0].value[1]), "the probes reached the service").to.be.at.least(window.minProbes);
    });

    it("synthetic speculation failing: SpeculationSentinelFailing fires, Alertmanager calls the watchdog, the kill switch is confirmed", async () => {
        const injected = Date.now();
        service.setFaults({ errorRate: 1 });
        await eventually("speculation disabled at 0 % by the watchdog", async () => (!service.state.enabled && service.state.rolloutPercentage === 0) || undefined, 90_000);
        const seconds = (Date.now() - injected) / 1000;
        expect(seconds).to.be.greaterThan(0);
        const status = await (await fetch(`${service.url}/admin/status`)).json() as { speculation: { enabled: boolean; rollout_percentage: number } };
        expect(status.speculation).to.include({ enabled: false, rollout_percentage: 0 });

        // The service reads disabled as soon as the write lands; the watchdog records it after its read-back.
        const kill = await eventually("the kill switch recorded", async () => {
            const history = (await (await fetch(`${mon.watchdogUrl}/reverts`)).json() as { reverts: { action: string; alerts: string[]; path: string }[] }).reverts;
            return history.find((h) => h.action === "kill-switch");
        });
        expect(kill!.alerts).to.deep.equal(["SpeculationSentinelFailing"]);
        expect(kill!.path).to.equal("kill-switch");
        expect(mon.watchdogLog()).to.match(/KILL SWITCH: speculation disabled and traffic at 0 %, confirmed/);
        expect(mon.watchdogLog()).to.match(/"msg":"sentinel probe"[^\n]*"result":"failure"/);
        // A metric and an alert of its own; the last-revert gauge the window judgement reads moved too.
        await eventually("the kill switch in Prometheus", async () => {
            const r = await query(mon.prometheusUrl, "agenc_watchdog_kill_switches_total");
            return r.length > 0 && Number(r[0].value[1]) === 1;
        });
        const lastRevert = await query(mon.prometheusUrl, "agenc_watchdog_last_revert_timestamp_seconds");
        expect(Number(lastRevert[0].value[1]) * 1000).to.be.at.least(injected - 1000);
        await eventually("SpeculationKillSwitchActivated firing", async () =>
            (await query(mon.prometheusUrl, 'ALERTS{alertname="SpeculationKillSwitchActivated",alertstate="firing"}')).length > 0);
        expect(mon.watchdogLog().includes(token), "the admin token in the watchdog's log").to.equal(false);
        console.log(`      sentinel failures to kill switch confirmed: ${seconds.toFixed(1)} s (probe every 0.5 s, window 10 s, min 10 probes, scrape 1 s)`);
        service.setFaults({ errorRate: 0.002 });
    });
});

describe("the watchdog's kill switch and sentinel scheduler by themselves", function () {
    this.timeout(60_000);
    let service: RunningSpeculationService;
    beforeEach(async () => { service = await startSpeculationService({ adminToken: token, version: "v1.2.4" }); });
    afterEach(async () => { await service?.close(); });

    it("a kill-switch alert disables speculation and sets 0 % (a revert alone would leave it enabled), once per webhook with both kinds", async () => {
        await setRolloutPercentage(service.url, token, 100);
        const w = await watchdog({ SERVICE_URL: service.url });
        try {
            const r = await postAlerts(w.url, [
                alert({ alertname: "SpeculationErrorRateSpike", rollback_trigger: "true" }),
                alert({ alertname: "SpeculationDriftAlarm", kill_switch: "true" }),
            ]);
            expect(r.status).to.equal(200);
            expect(r.body).to.include({ outcome: "confirmed", action: "kill-switch", path: "kill-switch" });
            expect(service.state).to.include({ enabled: false, rolloutPercentage: 0 });
            expect(await metric(w.url, /^agenc_watchdog_kill_switches_total 1$/m)).to.not.equal(null);
            expect(await metric(w.url, /^agenc_watchdog_kill_switch_triggers_total\{alertname="SpeculationDriftAlarm"\} 1$/m)).to.not.equal(null);
            expect(await metric(w.url, /^agenc_watchdog_reverts_total 0$/m), "a kill switch is not also counted as a revert").to.not.equal(null);
            // Alertmanager's repeat: nothing more to do, and nothing counted twice.
            const again = await postAlerts(w.url, [alert({ alertname: "SpeculationDriftAlarm", kill_switch: "true" })]);
            expect(again.body.outcome).to.equal("already-killed");
            expect(await metric(w.url, /^agenc_watchdog_kill_switches_total 1$/m)).to.not.equal(null);
            // Re-enabled by hand while the alert still fires: the next notification pulls it again.
            await setRolloutPercentage(service.url, token, 100);
            expect((await postAlerts(w.url, [alert({ alertname: "SpeculationDriftAlarm", kill_switch: "true" })])).body.outcome).to.equal("confirmed");
            expect(service.state).to.include({ enabled: false, rolloutPercentage: 0 });
        } finally {
            await w.stop();
        }
    });

    it("a rollback trigger alone still only reverts to 0 % (the existing revert, not the kill switch)", async () => {
        await setRolloutPercentage(service.url, token, 25);
        // A deadline that a loaded machine cannot miss: this is about which action, not about failing.
        const w = await watchdog({ SERVICE_URL: service.url, REVERT_DEADLINE_SECONDS: "30", ATTEMPT_TIMEOUT_MS: "2000" });
        try {
            const r = await postAlerts(w.url, [alert({ alertname: "SpeculationMemoryCritical", rollback_trigger: "true" })]);
            expect(r.body).to.include({ outcome: "confirmed", action: "revert", path: "admin-api" });
            expect(service.state).to.include({ enabled: true, rolloutPercentage: 0 });
            expect(await metric(w.url, /^agenc_watchdog_kill_switches_total 0$/m)).to.not.equal(null);
        } finally {
            await w.stop();
        }
    });

    it("a kill switch that never reads back disabled at 0 % answers 500 (Alertmanager retries) and counts a failure", async () => {
        await setRolloutPercentage(service.url, token, 100);
        service.setFaults({ adminDown: true });
        const w = await watchdog({ SERVICE_URL: service.url });
        try {
            const r = await postAlerts(w.url, [alert({ alertname: "SpeculationSentinelFailing", kill_switch: "true" })]);
            expect(r.status).to.equal(500);
            expect(r.body.outcome).to.equal("unconfirmed");
            expect(await metric(w.url, /^agenc_watchdog_kill_switch_failures_total 1$/m)).to.not.equal(null);
            expect(w.output()).to.match(/KILL SWITCH FAILED/);
        } finally {
            await w.stop();
        }
    });

    it("fails closed: a probe whose requests fail (admin API 503, or a service that is gone) counts as a failure", async () => {
        service.setFaults({ adminDown: true });
        // The 503 must be what each probe meets, not its own timeout: room for a busy machine's answer.
        const w = await watchdog({ SERVICE_URL: service.url, SENTINEL_INTERVAL_SECONDS: "0.2", SENTINEL_TIMEOUT_MS: "5000" });
        try {
            await eventually("three failed probes", async () => (await metric(w.url, /^agenc_sentinel_probes_total\{result="failure"\} ([3-9]|\d{2,})$/m)) ?? undefined);
            expect(await metric(w.url, /^agenc_sentinel_probes_total\{result="success"\} 0$/m)).to.not.equal(null);
            expect(await metric(w.url, /^agenc_sentinel_last_probe_success 0$/m)).to.not.equal(null);
            const probes = (await (await fetch(`${w.url}/sentinel`)).json() as { probes: { observed: string }[] }).probes;
            expect(probes.map((p) => p.observed).join("\n")).to.match(/POST: HTTP 503/);
            service.setFaults({ adminDown: false });
            await eventually("a successful probe once the admin API is back", async () => (await metric(w.url, /^agenc_sentinel_last_probe_success 1$/m)) ?? undefined);
            expect(w.output().includes(token)).to.equal(false);
        } finally {
            await w.stop();
        }
        const gone = await watchdog({ SERVICE_URL: "http://127.0.0.1:9", SENTINEL_INTERVAL_SECONDS: "0.2", SENTINEL_TIMEOUT_MS: "300" });
        try {
            await eventually("a failed probe against nothing", async () => (await metric(gone.url, /^agenc_sentinel_probes_total\{result="failure"\} [1-9]/m)) ?? undefined);
            const probes = (await (await fetch(`${gone.url}/sentinel`)).json() as { probes: { observed: string }[] }).probes;
            expect(probes[0].observed).to.match(/POST: unreachable/);
        } finally {
            await gone.stop();
        }
    });

    it("does not probe without SENTINEL_INTERVAL_SECONDS, and refuses a bad one naming the variable and what it allows", async () => {
        const w = await watchdog({ SERVICE_URL: service.url });
        try {
            expect(await metric(w.url, /^agenc_sentinel_interval_seconds 0$/m)).to.not.equal(null);
            expect(await metric(w.url, /^agenc_sentinel_last_probe_timestamp_seconds/m), "no probe ran").to.equal(null);
            expect(service.state.version).to.equal("v1.2.4");
            const synthetic = await (await fetch(`${service.url}/admin/test/speculation/latest`)).json() as { latest: unknown };
            expect(synthetic.latest ?? null, "the service saw a synthetic speculation").to.equal(null);
        } finally {
            await w.stop();
        }
        const bad = spawn(process.execPath, [WATCHDOG_SCRIPT], {
            env: { ...process.env, SERVICE_URL: service.url, ADMIN_TOKEN: token, PORT: "0", SENTINEL_INTERVAL_SECONDS: "hourly" }, stdio: ["ignore", "pipe", "pipe"],
        });
        let err = "";
        bad.stderr!.on("data", (c) => (err += c));
        const code = await new Promise<number | null>((r) => bad.once("exit", (c) => r(c)));
        expect(code).to.equal(2);
        expect(err).to.contain('SENTINEL_INTERVAL_SECONDS=\\"hourly\\": must be 0 (no sentinel probes) or a number of seconds between two probes');
    });
});

describe("the local stack's watchdog: probes only from startSentinels() (after the up that reaches 100 %)", function () {
    this.timeout(60_000);

    it("no probe before; after it the same watchdog URL probes, and a kill-switch alert still reaches it", async () => {
        const service = await startSpeculationService({ adminToken: token, version: "v1.2.4" });
        const mon = await startLocalMonitoring({
            serviceUrl: service.url, proofWorkerUrl: service.url, adminToken: token,
            sentinel: { intervalSeconds: 0.2, windowSeconds: 10, minProbes: 10, probing: false },
        });
        try {
            expect(await metric(mon.watchdogUrl, /^agenc_sentinel_interval_seconds 0$/m)).to.not.equal(null);
            await mon.startSentinels();
            await eventually("a probe from the restarted watchdog", async () => (await metric(mon.watchdogUrl, /^agenc_sentinel_probes_total\{result="success"\} [1-9]/m)) ?? undefined);
            expect(await metric(mon.watchdogUrl, /^agenc_sentinel_interval_seconds 0.2$/m)).to.not.equal(null);
            await setRolloutPercentage(service.url, token, 100);
            const r = await postAlerts(mon.watchdogUrl, [alert({ alertname: "SpeculationSentinelFailing", kill_switch: "true" })]);
            expect(r.body).to.include({ outcome: "confirmed", action: "kill-switch" });
            expect(mon.watchdogLog()).to.match(/"sentinelIntervalSeconds":0[,}][\s\S]*"sentinelIntervalSeconds":0.2/);
        } finally {
            await mon.stop();
            await service.close();
        }
    });
});
