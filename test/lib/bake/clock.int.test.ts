/**
 * The window's "now" against Prometheus over HTTP (lib/bake/evaluate.ts, lib/prometheus/client.ts readClock): a real
 * Prometheus's `time()` reads as this machine's clock within the round trip; a Prometheus whose clock is ten minutes
 * behind this machine's (this machine ahead) gets no range query at all — the window is refused before any history is
 * read; one within the tolerance has every range query end at its own time, never this machine's.
 */
import { expect } from "chai";
import { createServer, Server } from "http";
import type { AddressInfo } from "net";
import { DEFAULT_STAGE_THRESHOLDS } from "../../../config/thresholds";
import { evaluateBakeWindow } from "../../../lib/bake/evaluate";
import { WindowSpec } from "../../../lib/bake/window";
import { readClock } from "../../../lib/prometheus/client";
import { RunningPrometheus, startPrometheus } from "../../helpers/prometheus";

/** A stand-in Prometheus whose clock is `offsetMs` off this machine's: answers time() and empty range queries, keeping every request. */
async function offsetPrometheus(offsetMs: number): Promise<{ url: string; requests: URL[]; now: () => number; close: () => Promise<void> }> {
    const requests: URL[] = [];
    const now = () => Date.now() + offsetMs;
    const server: Server = createServer((req, res) => {
        const u = new URL(req.url ?? "/", "http://x");
        requests.push(u);
        res.writeHead(200, { "content-type": "application/json" });
        if (u.pathname === "/api/v1/query" && u.searchParams.get("query") === "vector(time())") {
            const t = now() / 1000;
            res.end(JSON.stringify({ status: "success", data: { resultType: "vector", result: [{ metric: {}, value: [t, String(t)] }] } }));
        } else if (u.pathname === "/api/v1/query_range") {
            res.end(JSON.stringify({ status: "success", data: { resultType: "matrix", result: [] } }));
        } else {
            res.end(JSON.stringify({ status: "success", data: { resultType: "vector", result: [] } }));
        }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, now, close: () => new Promise((r) => server.close(() => r())) };
}

const spec = (shiftedAt: number): WindowSpec => ({
    stage: "stage-1-10pct", shiftedAt, bakeSeconds: 30, stepSeconds: 1, maxGapSeconds: 5, thresholds: DEFAULT_STAGE_THRESHOLDS, baselineErrorRate: 0.002,
    noData: { rollbackRate: "fail", errorRate: "fail", errorRateVsBaseline: "fail", proofQueue: "fail", memoryPercent: "fail", latencyP99: "fail", latencyTailRatio: "fail" },
});

describe("the window's clock against Prometheus (lib/bake/evaluate.ts)", function () {
    this.timeout(60_000);
    let prom: RunningPrometheus | undefined;
    after(async () => { await prom?.close(); });

    it("a real Prometheus's time() falls between this machine's readings before and after the request", async () => {
        prom = await startPrometheus({});
        const r = await readClock(prom.url, 5000);
        if (!r.ok) throw new Error(r.detail);
        // Prometheus evaluates at a millisecond; this machine's clock is the same clock here.
        expect(r.value.prometheusMs).to.be.within(r.value.sentMs - 1, r.value.receivedMs + 1);
    });

    it("this machine ten minutes ahead of Prometheus: refused (baking), naming the skew and the bound, and no history is read", async () => {
        const p = await offsetPrometheus(-600_000);
        try {
            const d = await evaluateBakeWindow({ prometheusUrl: p.url, timeoutMs: 2000, stepSeconds: 1 }, spec(Date.now() - 120_000), Date.now());
            expect(d.verdict).to.equal("baking");
            expect(d.reason).to.match(/not judged: this machine's clock is 600\.\d s ahead of Prometheus's .*more than the 1 s allowed/);
            expect(p.requests.filter((u) => u.pathname === "/api/v1/query_range"), "range queries").to.deep.equal([]);
            expect(p.requests.map((u) => u.searchParams.get("query"))).to.deep.equal(["vector(time())"]);
        } finally { await p.close(); }
    });

    it("within the tolerance (0.5 s behind): every range query ends at Prometheus's time, not this machine's", async () => {
        const p = await offsetPrometheus(-500);
        try {
            const deployerNow = Date.now();
            const d = await evaluateBakeWindow({ prometheusUrl: p.url, timeoutMs: 2000, stepSeconds: 1 }, spec(deployerNow - 120_000), deployerNow);
            const ends = p.requests.filter((u) => u.pathname === "/api/v1/query_range").map((u) => Number(u.searchParams.get("end")) * 1000);
            expect(ends.length, "range queries").to.be.greaterThan(0);
            const clockRow = d.findings.find((f) => f.check === "clock")!;
            expect(clockRow.verdict).to.equal("pass");
            const promNow = Date.parse(clockRow.at);
            for (const end of ends) expect(end).to.be.closeTo(promNow, 2);
            expect(promNow, "Prometheus's time, half a second behind this machine's").to.be.below(deployerNow);
            expect(d.judgedAt).to.equal(clockRow.at);
        } finally { await p.close(); }
    });
});
