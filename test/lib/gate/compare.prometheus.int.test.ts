/**
 * The canary judge's PromQL path against a real Prometheus on loopback: it scrapes a stable and a canary reference
 * service, labelled track=stable and track=canary as the ServiceMonitors and the standalone job label them, and the
 * gate reads both tracks' increase over the same window at one evaluation time.
 */
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { mkdtempSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { DEFAULT_STAGE_THRESHOLDS } from "../../../config/thresholds";
import { DecisionRecord } from "../../../lib/gate/run";
import { queryTracks, trackQueries } from "../../../lib/gate/measure";
import { healthGateProvider } from "../../../providers/healthGate";
import { RunningProofWorker, startProofWorker } from "../../../reference/proofWorker";
import { RunningSpeculationService, startSpeculationService } from "../../../reference/speculationService";
import { RunningPrometheus, startPrometheus } from "../../helpers/prometheus";
import { ADMIN_TOKEN } from "../../helpers/reference";

const p = healthGateProvider as Required<pulumi.dynamic.ResourceProvider>;
const JUDGE = { errorRateMargin: 0.005, latencyMargin: 0.1, confidence: 0.95, minRequests: 500 };

describe("the canary judge over PromQL against a real Prometheus", function () {
    this.timeout(90_000);
    let stable: RunningSpeculationService;
    let canary: RunningSpeculationService;
    let prom: RunningPrometheus;
    let worker: RunningProofWorker;
    before(async () => {
        stable = await startSpeculationService({ adminToken: ADMIN_TOKEN, version: "v1.2.3", tickMs: 20, operationsPerSecond: 5000 });
        canary = await startSpeculationService({ adminToken: ADMIN_TOKEN, version: "v1.2.4", tickMs: 20, operationsPerSecond: 5000 });
        worker = await startProofWorker({ adminToken: ADMIN_TOKEN });
        const host = (u: string) => new URL(u).host;
        prom = await startPrometheus({ "proof-workers": [host(worker.url)], "agenc-speculation": [
            { targets: [host(stable.url)], labels: { track: "stable" } },
            { targets: [host(canary.url)], labels: { track: "canary" } },
        ] });
        // Wait until Prometheus holds two scrapes of each track (increase() needs two samples in its range).
        const target = { urls: { canary: canary.url, stable: stable.url }, prometheusUrl: prom.url, source: "prometheus" as const, timeoutMs: 2000 };
        for (const until = Date.now() + 30_000; ; await new Promise((r) => setTimeout(r, 250))) {
            if ((await queryTracks(target, 60, Date.now())).ok) break;
            if (Date.now() > until) throw new Error("Prometheus never had both tracks");
        }
    });
    after(async () => { await prom?.close(); await stable?.close(); await canary?.close(); await worker?.close(); });

    const inputs = () => ({
        stage: "stage-1-10pct", percentage: 10, version: "v1.2.4", serviceUrl: canary.url, prometheusUrl: prom.url, source: "prometheus",
        adminToken: ADMIN_TOKEN, thresholds: DEFAULT_STAGE_THRESHOLDS, baselineErrorRate: 0.002,
        bakeSeconds: 2, pollSeconds: 0.5, deadlineSeconds: 30, timeoutMs: 2000, onFailure: "fail",
        noData: { rollbackRate: "hold", errorRate: "hold", errorRateVsBaseline: "hold", proofQueue: "hold", memoryPercent: "hold", latencyP99: "hold", latencyTailRatio: "hold" },
        checkRolloutPercentage: false, artifactsDir: mkdtempSync(path.join(tmpdir(), "gates-")), compare: { stableUrl: stable.url, ...JUDGE },
    });

    it("reads each track by its label, over the same window", async () => {
        const read = await queryTracks({ prometheusUrl: prom.url, timeoutMs: 2000 }, 60, Date.now());
        if (!read.ok) throw new Error(read.detail);
        for (const t of [read.value.canary, read.value.stable]) {
            expect(t.requests).to.be.greaterThan(1000);
            expect(t.latency[t.latency.length - 1].le).to.equal(Infinity);
            expect(t.latency[t.latency.length - 1].cumulative, "latency observations (a sample of the operations)").to.be.greaterThan(500);
        }
        expect(trackQueries("canary", 60).errors).to.equal('sum(increase(speculation_errors_total{track="canary"}[60s]))');
    });

    it("passes an equal canary and fails a worse one", async () => {
        const { outs } = await p.create(inputs());
        expect(outs.verdict).to.equal("pass");
        const compared = (outs.decision as DecisionRecord).decisive.checks.filter((c) => c.check.startsWith("canary vs stable"));
        expect(compared.map((c) => c.verdict)).to.deep.equal(["pass", "pass"]);
        expect(compared[0].query).to.match(/increase\(speculation_errors_total\{track="canary"\}/);

        canary.setFaults({ latencyMs: 20 });
        // While the 5-minute recorded series still hold the fault-free minutes, the slower canary is a fat tail of the
        // whole service (p99 > 2 × p95: the gate's own tail check would fail first); isolate the judge.
        const f = await p.create({ ...inputs(), thresholds: { ...DEFAULT_STAGE_THRESHOLDS, maxTailRatio: 1000 } }).then(() => { throw new Error("the gate passed"); }, (e) => e as { properties: { decision: DecisionRecord } });
        expect(f.properties.decision.reason).to.match(/no-go: canary vs stable: latency \(the canary is slower than stable beyond the margin/);
    });
});
