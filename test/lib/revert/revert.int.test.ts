/**
 * The revert against the reference service's admin API made slow, flapping and dead (its admin-only faults), a
 * watchdog action stub, and a real Alertmanager on loopback for the page.  Timeouts and backoff are a few hundred
 * milliseconds: the revert's own timing, not test sleeps.
 */
import { expect } from "chai";
import { createServer, Server } from "http";
import { mkdtempSync, readFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { DEFAULT_STAGE_THRESHOLDS } from "../../../config/thresholds";
import { failureMessage, GateSpec, runGate } from "../../../lib/gate/run";
import { REVERT_ALERT_NAME } from "../../../lib/revert/alert";
import { describeRevert, jittered, RevertRequest, revertTraffic } from "../../../lib/revert/revert";
import { healthGateProvider, HealthGateState } from "../../../providers/healthGate";
import { listen } from "../../../reference/http";
import { freePort } from "../../../reference/ports";
import { startAlertmanager, RunningAlertmanager } from "../../helpers/alertmanager";
import { deserialised } from "../../helpers/deserialise";
import { ADMIN_TOKEN, Reference, startReference } from "../../helpers/reference";

function request(ref: Reference, edit: Partial<RevertRequest> = {}): RevertRequest {
    return {
        stage: "stage-3-50pct", percentage: 50, version: "v1.2.4", serviceUrl: ref.service.url, adminToken: ADMIN_TOKEN,
        reason: "no-go: rollbackRate (above the abort threshold 0.15)", timeoutMs: 2000, deadlineSeconds: 20,
        initialBackoffMs: 100, maxBackoffMs: 400, log: () => undefined, ...edit,
    };
}

const trafficOff = (ref: Reference) => !ref.service.state.enabled || ref.service.state.rolloutPercentage === 0;

/** A stand-in for the watchdog's in-cluster action: takes the Alertmanager webhook and turns speculation off. */
async function watchdogStub(ref: Reference, status = 200): Promise<{ url: string; payloads: any[]; server: Server }> {
    const payloads: any[] = [];
    const server = createServer((req, res) => {
        let body = "";
        req.on("data", (c) => (body += c));
        req.on("end", () => {
            payloads.push(JSON.parse(body));
            if (status === 200) { ref.service.state.enabled = false; ref.service.state.rolloutPercentage = 0; }
            res.writeHead(status).end();
        });
    });
    const { url } = await listen(server);
    return { url: `${url}/revert`, payloads, server };
}

describe("revert: retries until the traffic reads off, or fails loudly at its deadline", function () {
    this.timeout(60_000);
    let ref: Reference;
    let am: RunningAlertmanager | undefined;
    let stub: Server | undefined;
    afterEach(async () => {
        await ref?.close();
        stub?.close();
        stub = undefined;
    });
    after(async () => am?.close());

    it("confirms on the first attempt through the admin API when the API is healthy", async () => {
        ref = await startReference({ rolloutPercentage: 50 });
        const r = await revertTraffic(request(ref));
        expect(r).to.include({ status: "confirmed", confirmed: true, path: "admin-api" });
        expect(r.attempts).to.have.length(1);
        expect(r.attempts[0].observed).to.deep.equal({ enabled: false, rolloutPercentage: 0, via: "GET /admin/status" });
        expect(ref.service.state).to.include({ enabled: false, rolloutPercentage: 0 });
        expect(describeRevert(r)).to.equal("Traffic reverted: rollout percentage is 0 (confirmed).");
    });

    it("the slowed service of the issue (responseDelayMs above the gate's timeout): the gate's revert still takes traffic to 0", async () => {
        // Today's main made one attempt with the gate's timeout and left traffic at 50 %.
        ref = await startReference({ rolloutPercentage: 50 });
        ref.service.setFaults({ rollbackRate: 0.2, responseDelayMs: 600 });
        const spec: GateSpec = {
            stage: "stage-3-50pct", percentage: 50, version: "v1.2.4", serviceUrl: ref.service.url, source: "metrics-endpoint",
            adminToken: ADMIN_TOKEN, thresholds: DEFAULT_STAGE_THRESHOLDS, baselineErrorRate: 0.002, bakeSeconds: 0.3,
            pollSeconds: 0.1, deadlineSeconds: 2, timeoutMs: 250, onFailure: "revert", noData: {}, checkRolloutPercentage: true,
            revert: { deadlineSeconds: 20 },
        };
        const lines: string[] = [];
        const log = console.log;
        console.log = (line: string) => lines.push(line);
        let record;
        try {
            ({ record } = await runGate(spec));
        } finally {
            console.log = log;
        }
        expect(record.verdict).to.equal("fail");
        expect(ref.service.state.rolloutPercentage, "traffic is at 0 %").to.equal(0);
        expect(record.revert).to.include({ status: "confirmed", confirmed: true });
        const attempts = record.revert!.attempts;
        expect(attempts[0]).to.include({ path: "admin-api", outcome: "failed", failedStep: "write", failure: "timeout", timeoutMs: 250 });
        expect(attempts[attempts.length - 1].timeoutMs, "each round waits longer").to.be.at.least(1000);
        expect(lines.some((l) => /\[revert stage-3-50pct\] attempt 1 \(admin-api, round 1\) failed at the write: timeout/.test(l)), "progress reaches the terminal").to.equal(true);
        expect(failureMessage(record)).to.match(/Traffic reverted: .* and read back \(attempt \d+ of \d+/);
    });

    it("a slow admin API (adminDelayMs): backs off, doubles the request timeout and confirms", async () => {
        ref = await startReference({ rolloutPercentage: 50 });
        ref.service.setFaults({ adminDelayMs: 600 });
        const r = await revertTraffic(request(ref, { timeoutMs: 200 }));
        expect(r.status).to.equal("confirmed");
        expect(trafficOff(ref)).to.equal(true);
        const timeouts = r.attempts.map((a) => a.timeoutMs);
        // The kill switch shares the admin endpoint: after a timeout the round moves on to a longer one.
        expect(timeouts.slice(0, 2)).to.deep.equal([200, 400]);
        expect(r.attempts.every((a) => a.path === "admin-api")).to.equal(true);
        expect(r.attempts.filter((a) => a.outcome === "failed").every((a) => a.failure === "timeout")).to.equal(true);
        expect(r.attempts[r.attempts.length - 1].outcome).to.equal("confirmed");
        expect(r.attempts[r.attempts.length - 1].timeoutMs, "confirmed once a request may take longer than the API's delay").to.be.at.least(800);
        expect(new Date(r.attempts[1].at).getTime() - new Date(r.attempts[0].at).getTime(), "a backoff pause between rounds: at least half the 100 ms backoff (jitter)").to.be.at.least(200 + 50);
    });

    it("a flapping admin API (adminFlapMs: connection resets half the time): retries until an attempt lands and reads back", async () => {
        ref = await startReference({ rolloutPercentage: 50 });
        ref.service.setFaults({ adminFlapMs: 150 });
        const r = await revertTraffic(request(ref));
        expect(r.status).to.equal("confirmed");
        expect(trafficOff(ref)).to.equal(true);
        expect(r.attempts[0]).to.include({ outcome: "failed", failedStep: "write", failure: "unreachable" });
        expect(r.attempts.length).to.be.at.least(2);
    });

    it("an admin API that flaps with the backoff's own period: a jittered round lands (exact doublings met it down every time)", async () => {
        // Virtual time, so nothing drifts: the API is down 100 ms, up 100 ms, down first; the revert's clock is the
        // API's clock, and the pause before each round (200 ms without jitter) is a whole period.
        let virtual = 0;
        const state = { enabled: true, rollout_percentage: 50 };
        const server = createServer((req, res) => {
            if (Math.floor(virtual / 100) % 2 === 0) { req.socket.destroy(); return; }
            let body = "";
            req.on("data", (c) => (body += c));
            req.on("end", () => {
                if (req.method === "POST") {
                    const u = JSON.parse(body);
                    state.enabled = u["speculation.enabled"] ?? state.enabled;
                    state.rollout_percentage = u["speculation.features.rollout_percentage"] ?? state.rollout_percentage;
                }
                res.setHeader("content-type", "application/json");
                res.end(JSON.stringify({ speculation: state }));
            });
        });
        const port = await freePort();
        await listen(server, port);
        try {
            const clock = { now: () => virtual, sleep: async (ms: number) => { virtual += ms; } };
            const r = await revertTraffic(request({ service: { url: `http://127.0.0.1:${port}` } } as Reference,
                { initialBackoffMs: 200, maxBackoffMs: 200, deadlineSeconds: 2 }), clock);
            expect(r.status, `${r.detail}: ${r.attempts.map((a) => `${a.path}@${Date.parse(a.at)} ${a.failure} ${a.detail}`).join(" ")}`).to.equal("confirmed");
            expect(state.rollout_percentage).to.equal(0);
        } finally {
            server.close();
        }
    });

    it("each pause is half the backoff plus a random share of the other half, and the rounds still double", async () => {
        expect([0, 0.5, 0.999].map((x) => jittered(400, () => x))).to.deep.equal([200, 300, 399.8]);
        const pauses: number[] = [];
        let virtual = Date.now();
        const clock = { now: () => virtual, sleep: async (ms: number) => { pauses.push(ms); virtual += ms; }, random: () => 0 };
        const r = await revertTraffic(request({ service: { url: `http://127.0.0.1:${await freePort()}` } } as Reference,
            { initialBackoffMs: 100, maxBackoffMs: 400, deadlineSeconds: 1 }), clock);
        expect(r.status).to.equal("unconfirmed");
        expect(pauses.slice(0, 4)).to.deep.equal([50, 100, 200, 200]);
    });

    it("a dead admin API (503) with a watchdog: the watchdog's action reverts, confirmed from /metrics", async () => {
        ref = await startReference({ rolloutPercentage: 50 });
        ref.service.setFaults({ adminDown: true });
        const wd = await watchdogStub(ref);
        stub = wd.server;
        const r = await revertTraffic(request(ref, { watchdogActionUrl: wd.url }));
        expect(r).to.include({ status: "confirmed", path: "watchdog" });
        expect(r.paths).to.deep.equal(["admin-api", "kill-switch", "watchdog"]);
        // Side by side: the watchdog's attempt started with the first direct attempt, not after the direct paths failed.
        const watchdogAttempt = r.attempts.find((a) => a.path === "watchdog")!;
        expect(watchdogAttempt.n, "the watchdog's attempt is among the first two started").to.be.at.most(2);
        expect(Date.parse(watchdogAttempt.at) - Date.parse(r.attempts[0].at), "started together").to.be.below(100);
        expect(r.attempts.filter((a) => a.path !== "watchdog").every((a) => a.failure === "http-status")).to.equal(true);
        expect(watchdogAttempt.observed).to.deep.equal({ enabled: false, rolloutPercentage: 0, via: "GET /metrics" });
        expect(wd.payloads).to.have.length(1);
        expect(wd.payloads[0]).to.include({ version: "4", status: "firing" });
        expect(wd.payloads[0].alerts[0].labels).to.include({ stage: "stage-3-50pct", rollback_trigger: "true" });
        expect(describeRevert(r)).to.match(/^Traffic reverted: the watchdog's action took the traffic away and read back \(attempt [12] of \d/);
    });

    it("a watchdog that waits out its own retries before it answers does not hold the direct path back: the lanes run side by side", async () => {
        ref = await startReference({ rolloutPercentage: 50 });
        // The admin API refuses the first write and is healthy from then on.
        ref.service.setFaults({ adminDown: true });
        const lines: string[] = [];
        const log = (line: string) => { lines.push(line); if (/attempt \d+ \(admin-api, round 1\) failed/.test(line)) ref.service.setFaults({ adminDown: false }); };
        // A watchdog that answers only after its own retries: held until the revert is over.
        const received: unknown[] = [];
        const held: (() => void)[] = [];
        const slow = createServer((req, res) => {
            req.resume();
            received.push(req.url);
            held.push(() => { res.writeHead(500); res.end("{}"); });
        });
        await new Promise<void>((resolve) => slow.listen(0, "127.0.0.1", () => resolve()));
        stub = slow;
        const r = await revertTraffic(request(ref, { watchdogActionUrl: `http://127.0.0.1:${(slow.address() as { port: number }).port}/alerts`, log }));
        held.forEach((answer) => answer());
        expect(r.status).to.equal("confirmed");
        expect(r.path).to.be.oneOf(["admin-api", "kill-switch"]);
        expect(received, "the watchdog was called at once, beside the first direct attempt").to.have.length(1);
        // One after the other, the direct path's next attempt would have waited for the watchdog's answer (its 2 s
        // timeout) and the record would hold that failed watchdog attempt before the confirmation.
        expect(r.attempts.map((a) => a.path), "confirmed while the watchdog's call was still out").to.not.include("watchdog");
        expect(trafficOff(ref)).to.equal(true);
    });

    it("ingress-weight (target canary-weight): the watchdog is the only path, its answer is the read-back, a 500 is retried; the admin API is never touched", async () => {
        ref = await startReference({ rolloutPercentage: 50 });
        const answers = [
            { status: 500, body: { outcome: "unconfirmed", target: "canary-weight", attempts: [{ result: "failed: PATCH ingress/agenc-speculation-canary: HTTP 503" }] } },
            { status: 200, body: { outcome: "confirmed", target: "canary-weight", path: "canary-weight", attempts: [{ result: "read back nginx.ingress.kubernetes.io/canary-weight 0" }] } },
        ];
        const payloads: any[] = [];
        const server = createServer((req, res) => {
            req.resume();
            req.on("end", () => {
                payloads.push(true);
                const a = answers[Math.min(payloads.length, answers.length) - 1];
                res.writeHead(a.status, { "content-type": "application/json" }).end(JSON.stringify(a.body));
            });
        });
        stub = server;
        const { url } = await listen(server);
        const r = await revertTraffic(request(ref, { target: "canary-weight", watchdogActionUrl: `${url}/alerts` }));
        expect(r).to.include({ status: "confirmed", path: "watchdog" });
        expect(r.paths).to.deep.equal(["watchdog"]);
        expect(r.attempts.map((a) => [a.path, a.failure ?? "ok"])).to.deep.equal([["watchdog", "http-status"], ["watchdog", "ok"]]);
        expect(r.attempts[1].detail).to.match(/weight to 0 and read it back \(confirmed: read back nginx\.ingress\.kubernetes\.io\/canary-weight 0\)/);
        expect(ref.service.state.rolloutPercentage, "the admin API is not the canary's traffic path").to.equal(50);
    });

    it("ingress-weight: a watchdog that does not confirm the canary's weight is no confirmation (ignored, or it reverted the rollout percentage); unconfirmed at the deadline, saying how to zero the weight by hand", async () => {
        ref = await startReference({ rolloutPercentage: 50 });
        let n = 0;
        const server = createServer((req, res) => {
            req.resume();
            // A watchdog without CANARY_INGRESS confirms the rollout percentage: not the traffic this revert means.
            const body = n++ % 2 === 0 ? { outcome: "ignored" } : { outcome: "confirmed", target: "rollout-percentage" };
            req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body)));
        });
        stub = server;
        const { url } = await listen(server);
        // A 3 s deadline: room for two answered attempts on a busy machine (at 0.5 s one attempt could time out there).
        const r = await revertTraffic(request(ref, { target: "canary-weight", watchdogActionUrl: `${url}/alerts`, deadlineSeconds: 3 }));
        expect(r.status).to.equal("unconfirmed");
        expect(r.attempts.every((a) => a.path === "watchdog")).to.equal(true);
        // Every answer was refused as no confirmation; an attempt the loaded machine let time out is no answer at all.
        const answered = r.attempts.filter((a) => a.failure !== "timeout");
        expect(answered.map((a) => a.failure)).to.deep.equal(answered.map(() => "not-off"));
        expect(answered.length).to.be.at.least(2);
        expect(r.attempts.some((a) => /took away "rollout-percentage", not the canary's weight/.test(a.detail))).to.equal(true);
        expect(describeRevert(r)).to.match(/Act now, by any path you have: set the canary Ingress's weight to 0 \(kubectl annotate --overwrite/);
    });

    it("a dead admin API and no watchdog: unconfirmed at the deadline, names each path's failure and fires an alert to a real Alertmanager", async () => {
        am ??= await startAlertmanager();
        ref = await startReference({ rolloutPercentage: 50 });
        ref.service.setFaults({ adminDown: true });
        const r = await revertTraffic(request(ref, { deadlineSeconds: 1.5, alertmanagerUrl: am.url }));
        expect(r).to.include({ status: "unconfirmed", confirmed: false });
        expect(r.path).to.equal(undefined);
        expect(ref.service.state.rolloutPercentage, "the record does not claim more than happened").to.equal(50);
        expect(r.attempts.length).to.be.at.least(4);
        expect(new Date(r.at).getTime()).to.be.at.least(new Date(r.deadlineAt).getTime());
        expect(r.alert).to.include({ sent: true, url: am.url });
        const text = describeRevert(r);
        expect(text).to.match(/^REVERT UNCONFIRMED: traffic may still be on this stage/);
        expect(text).to.match(/admin-api: attempt \d+, write: http-status: .*\/admin\/config: HTTP 503/);
        expect(text).to.match(/kill-switch: attempt \d+, write: http-status: .*\/admin\/config: HTTP 503/);
        expect(text).to.include("(no watchdog action configured)");
        expect(text).to.include(`Alert ${REVERT_ALERT_NAME} fired`);
        const alerts = await am.alerts(`alertname="${REVERT_ALERT_NAME}"`, `stage="stage-3-50pct"`);
        expect(alerts).to.have.length(1);
        expect(alerts[0].labels).to.include({ severity: "critical", percentage: "50" });
        expect(alerts[0].status.state).to.equal("active");
        expect(alerts[0].annotations.description).to.match(/admin-api: attempt \d+, write: http-status/);
    });

    it("a service that is gone, a watchdog that refuses and an Alertmanager that is down: unconfirmed, and says no alert was delivered", async () => {
        ref = await startReference({ rolloutPercentage: 50 });
        const wd = await watchdogStub(ref, 500);
        stub = wd.server;
        const gone = `http://127.0.0.1:${await freePort()}`;
        const r = await revertTraffic(request(ref, { serviceUrl: gone, watchdogActionUrl: wd.url, deadlineSeconds: 1, alertmanagerUrl: `http://127.0.0.1:${await freePort()}` }));
        expect(r.status).to.equal("unconfirmed");
        const failures = new Set(r.attempts.map((a) => `${a.path}:${a.failure}`));
        expect([...failures].sort()).to.deep.equal(["admin-api:unreachable", "kill-switch:unreachable", "watchdog:http-status"]);
        expect(r.alert?.sent).to.equal(false);
        expect(describeRevert(r)).to.match(/NO ALERT FIRED: alert NOT delivered to http:\/\/127\.0\.0\.1:\d+\/api\/v2\/alerts: unreachable/);
    });

    it("without an Alertmanager configured, the failure says no alert was sent", async () => {
        ref = await startReference({ rolloutPercentage: 50 });
        ref.service.setFaults({ adminDown: true });
        const r = await revertTraffic(request(ref, { deadlineSeconds: 0.5 }));
        expect(r.status).to.equal("unconfirmed");
        expect(describeRevert(r)).to.include("NO ALERT FIRED: no alert sent: canary.gate.revert.alertmanagerUrl is not configured.");
    });

    it("a rejected token cannot be fixed by retrying: the path is dropped and the revert fails at once, not at the deadline", async () => {
        ref = await startReference({ rolloutPercentage: 50 });
        const r = await revertTraffic(request(ref, { adminToken: "not-the-token", deadlineSeconds: 30 }));
        expect(r.status).to.equal("unconfirmed");
        expect(r.attempts.map((a) => `${a.path}:${a.failure}`)).to.deep.equal(["admin-api:rejected-token", "kill-switch:rejected-token"]);
        expect(new Date(r.at).getTime()).to.be.below(new Date(r.deadlineAt).getTime());
        expect(r.detail).to.match(/^not confirmed: every path refused for good, after 2 attempts/);
    });

    it("a write the service accepts but does not apply is not a confirmation", async () => {
        ref = await startReference({ rolloutPercentage: 50 });
        // The watchdog answers 200 but does nothing; the admin API is down.
        ref.service.setFaults({ adminDown: true });
        const server = createServer((_req, res) => res.writeHead(202).end());
        const { url } = await listen(server);
        stub = server;
        const r = await revertTraffic(request(ref, { watchdogActionUrl: url, deadlineSeconds: 0.5 }));
        expect(r.status).to.equal("unconfirmed");
        const wd = r.attempts.find((a) => a.path === "watchdog")!;
        expect(wd).to.include({ failedStep: "read-back", failure: "not-off" });
        expect(wd.detail).to.equal("write accepted, but traffic reads 50 %, speculation enabled (GET /metrics)");
    });

    it("runs inside the HealthGate provider as the engine loads it (deserialised), and the decision record keeps every attempt", async () => {
        ref = await startReference({ rolloutPercentage: 25 });
        ref.service.setFaults({ rollbackRate: 0.2, adminFlapMs: 100 });
        const provider = await deserialised(healthGateProvider);
        const inputs = {
            stage: "stage-2-25pct", percentage: 25, version: "v1.2.4", serviceUrl: ref.service.url, source: "metrics-endpoint",
            adminToken: ADMIN_TOKEN, thresholds: DEFAULT_STAGE_THRESHOLDS, baselineErrorRate: 0.002, bakeSeconds: 0.3,
            pollSeconds: 0.1, deadlineSeconds: 2, timeoutMs: 300, onFailure: "revert", noData: {}, checkRolloutPercentage: false,
            revert: { deadlineSeconds: 20, initialBackoffMs: 100 }, artifactsDir: mkdtempSync(path.join(tmpdir(), "revert-gates-")),
        } as unknown as HealthGateState;
        const log = console.log;
        console.log = () => undefined;
        let failure: { message: string; properties: HealthGateState } | undefined;
        try {
            await provider.create(inputs);
        } catch (e) {
            failure = e as typeof failure;
        } finally {
            console.log = log;
        }
        expect(failure?.message, failure?.message).to.match(/Traffic reverted/);
        expect(trafficOff(ref)).to.equal(true);
        const revert = failure!.properties.decision.revert!;
        expect(revert.status).to.equal("confirmed");
        expect(revert.attempts.length).to.be.at.least(1);
        const artifact = JSON.parse(readFileSync(failure!.properties.artifact, "utf8"));
        expect(artifact.revert.attempts).to.deep.equal(revert.attempts);
        expect(JSON.stringify(failure!.properties)).to.not.include(ADMIN_TOKEN);
    });
});
