/**
 * The PromQL path end to end: a real Prometheus on loopback scrapes the reference workloads and evaluates the
 * project's recording rules; the gate reads the recorded series through the HTTP API.
 */
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { mkdtempSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { DEFAULT_STAGE_THRESHOLDS } from "../../config/thresholds";
import { RECORDED } from "../../lib/monitoring/rules";
import { healthGateProvider } from "../../providers/healthGate";
import { startPrometheus, RunningPrometheus } from "../helpers/prometheus";
import { ADMIN_TOKEN, Reference, startReference } from "../helpers/reference";

const p = healthGateProvider as Required<pulumi.dynamic.ResourceProvider>;

describe("HealthGate over PromQL against a real Prometheus", function () {
    this.timeout(60_000);
    let ref: Reference;
    let prom: RunningPrometheus;
    before(async () => {
        ref = await startReference({ rolloutPercentage: 10 });
        const hostPort = (u: string) => new URL(u).host;
        prom = await startPrometheus({ "agenc-speculation": [hostPort(ref.service.url)], "proof-workers": [hostPort(ref.worker.url)] });
    });
    after(async () => { await prom?.close(); await ref?.close(); });

    const inputs = (edit: Record<string, unknown> = {}) => ({
        stage: "stage-1-10pct", percentage: 10, version: "v1.2.4", serviceUrl: ref.service.url, proofWorkerUrl: ref.worker.url,
        prometheusUrl: prom.url, source: "prometheus", adminToken: ADMIN_TOKEN, thresholds: DEFAULT_STAGE_THRESHOLDS,
        baselineErrorRate: 0.002, bakeSeconds: 2, pollSeconds: 0.5, deadlineSeconds: 30, timeoutMs: 2000, onFailure: "revert",
        // Until Prometheus has scraped twice and evaluated the rules, the recorded series do not exist: wait for them.
        noData: { rollbackRate: "hold", errorRate: "hold", errorRateVsBaseline: "hold", proofQueue: "hold", memoryPercent: "hold", latencyP99: "hold", latencyTailRatio: "hold" },
        checkRolloutPercentage: true, artifactsDir: mkdtempSync(path.join(tmpdir(), "gates-")), ...edit,
    });

    it("passes a healthy stage reading the recorded series the alerts use", async () => {
        const { outs } = await p.create(inputs());
        expect(outs.verdict).to.equal("pass");
        const queries = outs.decision.decisive.checks.map((c: { query: string }) => c.query);
        expect(queries).to.include.members([RECORDED.rollbackRate, RECORDED.errorRate, RECORDED.memoryPercent, RECORDED.proofQueue]);
    });

    it("aborts and reverts when Prometheus sees the rollback rate above 15 %", async () => {
        ref.service.setFaults({ rollbackRate: 0.25 });
        const failure = await p.create(inputs()).then(() => undefined, (e: { message: string }) => e);
        expect(failure, "the gate passed").to.not.equal(undefined);
        expect(failure!.message).to.match(new RegExp(`rollbackRate\\s+${RECORDED.rollbackRate.replace(/[.:]/g, "\\$&")}\\s+0\\.25\\s+< 0\\.05 to promote, > 0\\.15 aborts\\s+FAIL`));
        expect(ref.service.state.rolloutPercentage).to.equal(0);
    });

    it("fails closed when the Prometheus it was given is down", async () => {
        const failure = await p.create(inputs({ prometheusUrl: "http://127.0.0.1:9", onFailure: "fail" })).then(() => undefined, (e: { properties: { decision: { reason: string } } }) => e);
        expect(failure!.properties.decision.reason).to.match(/rollbackRate \(unreachable/);
    });
});
