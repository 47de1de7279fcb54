/**
 * Issue 25: printed URLs are always redacted.  Every client that names the URL it read in a failure, a query or a
 * record (lib/http.ts, lib/prometheus/{read,client,alerts}.ts, lib/rollback/drain.ts, lib/gate/measure.ts) is given
 * URLs with user:password@ and must not say the password anywhere.  Node's fetch refuses such a URL before any
 * connection (and quotes it whole in its error), so no server is needed: nothing here leaves the process.
 */
import { expect } from "chai";
import { fetchWithin, withoutUserinfo } from "../../../lib/http";
import { get, getJson } from "../../../lib/prometheus/read";
import { activeTargets, retention } from "../../../lib/prometheus/client";
import { readCriticalAlerts } from "../../../lib/prometheus/alerts";
import { disableAndDrain, readPending } from "../../../lib/rollback/drain";
import { measure } from "../../../lib/gate/measure";

const PASSWORD = "s3cret-pw-0123";
const WITH_CREDENTIALS = `http://admin:${PASSWORD}@127.0.0.1:1`;
const said = async (work: () => Promise<unknown>): Promise<string> => {
    try {
        return JSON.stringify(await work());
    } catch (e) {
        return (e as Error).message ?? JSON.stringify(e);
    }
};
const noPassword = (text: string, what: string) => {
    expect(text, what).to.not.include(PASSWORD);
    expect(text, `${what} still names the endpoint`).to.include("127.0.0.1:1");
};

describe("printed URLs are redacted in every client (issue 25)", () => {
    it("lib/http.ts: a transport failure's cause without the userinfo it quotes", async () => {
        noPassword(await said(() => fetchWithin(`${WITH_CREDENTIALS}/x`, {}, 1000)), "fetchWithin");
        expect(withoutUserinfo(`a http://u:p@h:1/x and https://v@w/y`)).to.equal("a http://***@h:1/x and https://***@w/y");
    });

    it("lib/prometheus/read.ts, client.ts and alerts.ts: details, errors and the recorded query", async () => {
        noPassword(await said(() => get(`${WITH_CREDENTIALS}/x`, 1000)), "get");
        noPassword(await said(() => getJson(`${WITH_CREDENTIALS}/x`, 1000)), "getJson");
        noPassword(await said(() => activeTargets(WITH_CREDENTIALS, 1000)), "activeTargets");
        noPassword(await said(() => retention(WITH_CREDENTIALS, 1000)), "retention");
        noPassword(await said(() => readCriticalAlerts({ alertmanagerUrl: WITH_CREDENTIALS }, 1000)), "readCriticalAlerts (Alertmanager)");
        noPassword(await said(() => readCriticalAlerts({ prometheusUrl: WITH_CREDENTIALS }, 1000)), "readCriticalAlerts (Prometheus)");
    });

    it("lib/rollback/drain.ts: the pending read's error and the drain report's targets", async () => {
        noPassword(await said(() => readPending(WITH_CREDENTIALS, 1000)), "readPending");
        const report = await said(() => disableAndDrain({ serviceUrl: WITH_CREDENTIALS, adminToken: "t".repeat(32), maxPending: 10, pollSeconds: 0.01, deadlineSeconds: 0.05, timeoutMs: 500, drain: true },
            () => undefined, { now: () => 0, sleep: async () => undefined }));
        noPassword(report, "disableAndDrain's report");
    });

    it("lib/gate/measure.ts: every reading's name and failure (service, proof workers, token, alerts)", async () => {
        const { reading } = await measure({
            serviceUrl: WITH_CREDENTIALS, proofWorkerUrl: WITH_CREDENTIALS, source: "metrics-endpoint", timeoutMs: 1000, adminToken: "t".repeat(32),
            maxSampleAgeSeconds: 60, alerts: { alertmanagerUrl: WITH_CREDENTIALS },
        });
        noPassword(JSON.stringify(reading), "measure (metrics endpoint)");
        const fromPrometheus = await measure({ serviceUrl: WITH_CREDENTIALS, prometheusUrl: WITH_CREDENTIALS, source: "prometheus", timeoutMs: 1000, maxSampleAgeSeconds: 60 });
        noPassword(JSON.stringify(fromPrometheus.reading), "measure (Prometheus)");
    });
});
