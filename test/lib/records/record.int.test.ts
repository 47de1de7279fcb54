/**
 * Deployment records against a real Pushgateway and a real Prometheus (Debian): the log line, the pushed series,
 * and the canary dashboard's release and revert queries answering from them.
 */
import { expect } from "chai";
import { mkdtempSync, readFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { canaryDashboard } from "../../../lib/monitoring/dashboards";
import { DEFAULT_STAGE_THRESHOLDS } from "../../../config/thresholds";
import { RELEASES_EXPR, REVERTS_EXPR, RECORD_SERIES } from "../../../lib/records/series";
import { deploymentRecordProvider } from "../../../providers/deploymentRecord";
import { healthGateProvider } from "../../../providers/healthGate";
import { ADMIN_TOKEN, startReference } from "../../helpers/reference";
import { freePort } from "../../../reference/ports";
import { deserialised } from "../../helpers/deserialise";
import { instant as query, startPrometheus } from "../../helpers/prometheus";
import { PUSHGATEWAY_TEST_PASSWORD, PUSHGATEWAY_TEST_USER, RunningPushgateway, startPushgateway } from "../../helpers/pushgateway";
import { publishStageBaseline } from "../../../lib/records/baseline";

describe("deployment records: log, Pushgateway, Prometheus, dashboard", function () {
    this.timeout(90_000);
    let gateway: RunningPushgateway;
    before(async () => { gateway = await startPushgateway(); });
    after(async () => gateway.close());
    const inputs = (dir: string, over: Record<string, unknown> = {}) => ({
        environment: "local", version: "v1.2.4", previousVersion: "v1.2.3", outcome: "released",
        stagesReached: [{ name: "stage-1-10pct", percentage: 10 }, { name: "stage-2-50pct", percentage: 50 }], rolloutPercentage: 50,
        verdicts: { preflight: "pass", smoke: "pass", "stage-1-10pct": "pass", "stage-2-50pct": "pass" },
        startedAt: new Date(Date.now() - 12_300).toISOString(), operator: "sre-on-call",
        logFile: path.join(dir, "deployments.log"), pushgatewayUrl: gateway.url, timeoutMs: 2000, ...over,
    });

    it("appends the record, pushes the series, and the dashboard's release and revert queries read them from Prometheus", async () => {
        const provider = await deserialised(deploymentRecordProvider);
        const dir = mkdtempSync(path.join(tmpdir(), "records-"));
        const released = await provider.create(inputs(dir));
        expect(released.outs.pushed).to.equal(true);
        const rolledBack = await provider.update("deployment-record", released.outs, inputs(dir, { outcome: "rollback-full", rolloutPercentage: 0, stagesReached: [], verdicts: { drain: "pass" } }));
        expect(rolledBack.outs.pushed).to.equal(true);

        const log = readFileSync(path.join(dir, "deployments.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
        expect(log).to.have.length(2);
        expect(log[0]).to.include({ version: "v1.2.4", outcome: "released", rolloutPercentage: 50, operator: "sre-on-call" });
        expect(log[0].durationSeconds).to.be.within(12, 30);
        expect(log[0].stagesReached.map((s: { percentage: number }) => s.percentage)).to.deep.equal([10, 50]);
        expect(log[1]).to.include({ outcome: "rollback-full", rolloutPercentage: 0 });

        const exposed = await (await fetch(`${gateway.url}/metrics`)).text();
        expect(exposed).to.match(new RegExp(`${RECORD_SERIES.revertTimestamp}\\{environment="local",instance="",job="agenc_deployments",mode="full",version="v1.2.4"\\}`));

        const prom = await startPrometheus({ pushgateway: [gateway.target] });
        try {
            let releases: Awaited<ReturnType<typeof query>> = [];
            for (let i = 0; i < 100 && releases.length === 0; i++) {
                releases = await query(prom.url, RELEASES_EXPR);
                if (releases.length === 0) await new Promise((r) => setTimeout(r, 100));
            }
            expect(releases.map((r) => r.metric)).to.deep.equal([{ environment: "local", version: "v1.2.4" }]);
            expect(Math.abs(Number(releases[0].value[1]) - Date.parse(log[0].date))).to.be.lessThan(1000);
            const reverts = await query(prom.url, REVERTS_EXPR);
            expect(reverts.map((r) => r.metric)).to.deep.equal([{ environment: "local", version: "v1.2.4", mode: "full" }]);
        } finally {
            await prom.close();
        }
        const dashboard = canaryDashboard(DEFAULT_STAGE_THRESHOLDS) as { annotations: { list: { name: string; expr: string; useValueForTime: boolean }[] } };
        expect(dashboard.annotations.list.map((a) => [a.name, a.expr, a.useValueForTime])).to.deep.equal([["Releases", RELEASES_EXPR, true], ["Reverts", REVERTS_EXPR, true]]);
    });

    it("a Pushgateway that cannot be reached fails the record loudly, after the log line is written", async () => {
        const provider = await deserialised(deploymentRecordProvider);
        const dir = mkdtempSync(path.join(tmpdir(), "records-"));
        const dead = `http://127.0.0.1:${await freePort()}`;
        try {
            await provider.create(inputs(dir, { pushgatewayUrl: dead }));
            expect.fail("a push to nowhere succeeded");
        } catch (e) {
            const err = e as { reasons: string[]; properties: { pushed: boolean } };
            expect(err.reasons[0]).to.match(new RegExp(`deployment record of v1\\.2\\.4 \\(released\\) appended to \\S+deployments\\.log, but the push to ${dead} failed`));
            expect(err.properties.pushed).to.equal(false);
        }
        expect(readFileSync(path.join(dir, "deployments.log"), "utf8").trim().split("\n")).to.have.length(1);
        // The next up pushes again (the record did not reach the gateway).
        const olds = { ...inputs(dir, { pushgatewayUrl: dead }), pushed: false };
        expect((await provider.diff("deployment-record", olds, { ...olds })).changes).to.equal(true);
    });

    it("a gate's revert is a record too: the no-go stage, traffic read back at 0 %, the revert series with mode gate", async () => {
        const ref = await startReference({ rolloutPercentage: 25, faults: { rollbackRate: 0.3 } });
        const dir = mkdtempSync(path.join(tmpdir(), "records-"));
        const gate = await deserialised(healthGateProvider);
        try {
            const failed = await gate.create({
                stage: "stage-2-25pct", percentage: 25, version: "v1.2.9", serviceUrl: ref.service.url, source: "metrics-endpoint",
                adminToken: ADMIN_TOKEN, thresholds: DEFAULT_STAGE_THRESHOLDS, baselineErrorRate: 0.002, bakeSeconds: 0.3, pollSeconds: 0.1,
                deadlineSeconds: 2, timeoutMs: 500, onFailure: "revert", noData: {}, checkRolloutPercentage: true, artifactsDir: dir,
                records: { environment: "local", previousVersion: "v1.2.3", operator: "sre-on-call", logFile: path.join(dir, "deployments.log"), pushgatewayUrl: gateway.url, timeoutMs: 2000 },
            }).then(() => undefined, (e: { message: string }) => e);
            expect(failed?.message).to.match(/no-go: rollbackRate/);
            expect(failed?.message).to.include(`Deployment record: gate-revert appended to ${path.join(dir, "deployments.log")} and pushed to ${gateway.url}.`);
        } finally { await ref.close(); }
        const [line] = readFileSync(path.join(dir, "deployments.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
        expect(line).to.include({ outcome: "gate-revert", version: "v1.2.9", rolloutPercentage: 0, operator: "sre-on-call" });
        expect(line.verdicts).to.include({ revert: "confirmed" });
        expect(line.verdicts["stage-2-25pct"]).to.match(/^fail: no-go: rollbackRate/);
        const exposed = await (await fetch(`${gateway.url}/metrics`)).text();
        expect(exposed).to.match(new RegExp(`${RECORD_SERIES.revertTimestamp}\\{environment="local",instance="",job="agenc_deployments",mode="gate",version="v1.2.9"\\}`));
    });

    describe("a Pushgateway behind HTTP basic auth (speculation:pushgatewayCredentials)", () => {
        let secured: RunningPushgateway;
        before(async () => { secured = await startPushgateway({ basicAuth: true }); });
        after(async () => secured?.close());
        const auth = { username: PUSHGATEWAY_TEST_USER, password: PUSHGATEWAY_TEST_PASSWORD };

        it("the record and the baseline reach it with the credentials, and are refused without them (the password in no failure)", async () => {
            const provider = await deserialised(deploymentRecordProvider);
            const dir = mkdtempSync(path.join(tmpdir(), "records-"));
            const refused = await provider.create(inputs(dir, { pushgatewayUrl: secured.url, pushgatewayAuth: { ...auth, password: "wrong-password-0123" } }))
                .then(() => undefined, (e: { reasons: string[]; properties: Record<string, unknown> }) => e);
            expect(refused?.reasons[0]).to.match(/but the push to http:\/\/127\.0\.0\.1:\d+ failed: push failed with status 401/);
            expect(JSON.stringify(refused)).to.not.include("wrong-password-0123");
            expect(refused?.properties).to.not.have.property("pushgatewayAuth");

            const pushed = await provider.create(inputs(dir, { pushgatewayUrl: secured.url, pushgatewayAuth: auth }));
            expect(pushed.outs.pushed).to.equal(true);
            expect(readFileSync(path.join(dir, "deployments.log"), "utf8"), "the log never holds the credentials").to.not.include(PUSHGATEWAY_TEST_PASSWORD);

            expect(await publishStageBaseline(secured.url, "local", "stage-1-10pct", 0.002, 2000)).to.match(/^WARNING: baseline not published .*status 401/);
            expect(await publishStageBaseline(secured.url, "local", "stage-1-10pct", 0.002, 2000, auth)).to.match(/^baseline 0\.002 published to/);
            const headers = { Authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}` };
            const exposed = await (await fetch(`${secured.url}/metrics`, { headers })).text();
            expect(exposed).to.match(new RegExp(`${RECORD_SERIES.info}\\{[^}]*version="v1.2.4"`));
            expect(exposed).to.match(/agenc_stage_error_baseline_ratio\{environment="local",instance="",job="agenc_stage_baseline",stage="stage-1-10pct"\} 0\.002/);
        });
    });
});
