/**
 * P1c: how long the window judgement of a `pulumi up` takes for a 24 h bake, on real history: 24 h of the recorded
 * series (and the watchdog's gauge and a quiet ALERTS) at a 15 s step are backfilled with
 * `promtool tsdb create-blocks-from openmetrics`, Debian's Prometheus serves them, and the BakeWindow's own code
 * (lib/bake/history.ts readWindow → lib/bake/window.ts decideWindow) judges [now − 24 h, now]: once as a one-track
 * stack's judgement, once with both tracks' counts and the canary judge over the whole window (ingress-weight).
 *   npm run bench:window [-- <hours, default 24>]
 */
import { execFileSync, spawn } from "child_process";
import { mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { DEFAULT_STAGE_THRESHOLDS } from "../config/thresholds";
import { readWindow } from "../lib/bake/history";
import { decideWindow } from "../lib/bake/window";
import { RECORDED, WATCHDOG_METRICS } from "../lib/monitoring/rules";
import { TRACK_SERIES } from "../lib/gate/measure";
import { freePort } from "../reference/ports";

async function main() {
    const hours = Number(process.argv[2] ?? 24);
    const step = 15;
    const dir = mkdtempSync(path.join(tmpdir(), "bench-window-"));
    const end = Math.floor(Date.now() / 1000) - 120;
    const start = end - hours * 3600;
    // Every series the judgement reads, as the stack's recording rules write them: one series per track for the
    // per-track ones (stable and a canary on a tenth of the traffic), so the judgement merges tracks as it does live.
    const tracks = ["stable", "canary"];
    const series: { name: string; labels: string[]; f: (i: number) => number }[] = [
        { name: RECORDED.rollbackRate, labels: tracks, f: (i) => 0.01 + 0.005 * Math.sin(i / 50) },
        { name: RECORDED.errorRate, labels: tracks, f: (i) => 0.002 + 0.001 * Math.sin(i / 70) },
        { name: RECORDED.memoryPercent, labels: tracks, f: (i) => 45 + 5 * Math.sin(i / 300) },
        { name: RECORDED.latencyP99, labels: tracks, f: (i) => 0.2 + 0.05 * Math.sin(i / 90) },
        { name: RECORDED.latencyTailRatio, labels: tracks, f: (i) => 1.4 + 0.2 * Math.sin(i / 110) },
        { name: RECORDED.proofQueue, labels: [], f: (i) => 100 + (i % 40) },
        { name: WATCHDOG_METRICS.lastRevert, labels: [], f: () => 0 },
    ];
    const t0 = Date.now();
    const lines: string[] = [];
    let count = 0;
    for (const { name, labels, f } of series) {
        lines.push(`# TYPE ${name.replace(/:/g, "_")} gauge`);
        for (const track of labels.length ? labels : [undefined]) {
            count++;
            const sel = track ? `{track="${track}"}` : "";
            for (let t = start, i = 0; t <= end; t += step, i++) lines.push(`${name}${sel} ${f(i).toFixed(6)} ${t}`);
        }
    }
    // The raw series the canary judge reads over the whole window (two-track stacks): each track's operations,
    // errors and latency histogram as counters, stable at 5 000 operations/s and the canary at 500.
    const perStep = { stable: 5000 * step, canary: 500 * step };
    const buckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, Infinity];
    const below = [0, 0.3, 0.6, 0.9, 0.97, 0.99, 0.999, 1, 1, 1];
    const counters: [string, string, (n: number) => number][] = [
        ["speculation_operations", "counter", (n) => n],
        ["speculation_errors", "counter", (n) => Math.round(n * 0.002)],
    ];
    for (const [family, type, of] of counters) {
        lines.push(`# TYPE ${family} ${type}`);
        for (const track of tracks) {
            count++;
            for (let t = start, i = 1; t <= end; t += step, i++) lines.push(`${family}_total{track="${track}"} ${of(i * perStep[track as "stable"])} ${t}`);
        }
    }
    lines.push(`# TYPE ${TRACK_SERIES.latency} histogram`);
    for (const track of tracks) {
        count += buckets.length + 2;
        for (let t = start, i = 1; t <= end; t += step, i++) {
            const n = i * perStep[track as "stable"];
            buckets.forEach((le, b) => lines.push(`${TRACK_SERIES.latency}_bucket{le="${le === Infinity ? "+Inf" : le}",track="${track}"} ${Math.round(n * below[b])} ${t}`));
            lines.push(`${TRACK_SERIES.latency}_count{track="${track}"} ${n} ${t}`, `${TRACK_SERIES.latency}_sum{track="${track}"} ${(n * 0.006).toFixed(3)} ${t}`);
        }
    }
    lines.push("# EOF");
    writeFileSync(path.join(dir, "history.om"), lines.join("\n") + "\n");
    execFileSync("promtool", ["tsdb", "create-blocks-from", "openmetrics", path.join(dir, "history.om"), path.join(dir, "data")], { stdio: "ignore" });
    const points = (end - start) / step + 1;
    console.log(`backfilled ${hours} h × ${count} series at ${step} s (${points} points each) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const port = await freePort();
    writeFileSync(path.join(dir, "prometheus.yml"), "global:\n  scrape_interval: 15s\n");
    const prom = spawn("prometheus", [`--config.file=${path.join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${path.join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn", "--storage.tsdb.retention.time=30d"], { stdio: "ignore" });
    const url = `http://127.0.0.1:${port}`;
    try {
        for (const until = Date.now() + 60_000; ;) {
            try { if ((await fetch(`${url}/-/ready`)).ok) break; } catch { /* starting */ }
            if (Date.now() > until) throw new Error("prometheus not ready");
            await new Promise((r) => setTimeout(r, 200));
        }
        // One track (feature-flag, blue-green holding), then two (ingress-weight: the canary judge over the window too).
        for (const compare of [undefined, { errorRateMargin: 0.005, latencyMargin: 0.1, confidence: 0.95, minRequests: 500 }]) {
            for (let run = 1; run <= 3; run++) {
                const t = Date.now();
                const history = await readWindow({ prometheusUrl: url, timeoutMs: 30_000, stepSeconds: step }, start * 1000, (end + 1) * 1000, { tracks: !!compare });
                const read = Date.now() - t;
                const j = decideWindow({
                    stage: "stage-3-50pct", shiftedAt: start * 1000, bakeSeconds: hours * 3600, stepSeconds: step, maxGapSeconds: 60,
                    thresholds: DEFAULT_STAGE_THRESHOLDS, baselineErrorRate: 0.002,
                    noData: { rollbackRate: "fail", errorRate: "fail", errorRateVsBaseline: "fail", proofQueue: "fail", memoryPercent: "fail", latencyP99: "fail", latencyTailRatio: "fail" },
                    ...(compare ? { compare } : {}),
                }, history, (end + 1) * 1000);
                console.log(`${compare ? "two tracks" : "one track "} run ${run}: read ${read} ms, judged in ${Date.now() - t - read} ms, ${j.points} points per series, verdict ${j.verdict} (${j.reason})`);
                if (compare && run === 1) {
                    for (const f of j.findings.filter((x) => x.check.startsWith("canary vs stable"))) console.log(`    ${f.check}: ${f.verdict} — ${f.observed}`);
                }
                // The history is healthy: anything but a pass means the benchmark measured a judgement that stopped early.
                if (j.verdict !== "pass") throw new Error(`a healthy 24 h window was judged ${j.verdict}: the benchmark's history is out of date\n${JSON.stringify(j.findings.filter((f) => f.verdict !== "pass"))}`);
            }
        }
    } finally {
        prom.kill();
    }
}
main().catch((e) => { console.error(e); process.exit(1); });
