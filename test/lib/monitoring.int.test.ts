/**
 * The generated monitoring config checked by the real tools: promtool check rules / test rules (every alert has a
 * firing and a silent case), promtool check config, amtool check-config.
 */
import { expect } from "chai";
import { execFileSync } from "child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { stringify } from "yaml";
import { DEFAULT_STAGE_THRESHOLDS, GO_NO_GO } from "../../config/thresholds";
import { alertmanagerConfig } from "../../lib/monitoring/alertmanager";
import { AlertRule, alertNames, KILL_SWITCH_ALERTS, ROLLBACK_TRIGGER_ALERTS, ruleGroups } from "../../lib/monitoring/rules";
import { prometheusConfig, scrapeJobs } from "../../lib/monitoring/scrape";
import { SLO_ALERTS } from "../../lib/monitoring/sloRules";

const groups = ruleGroups(DEFAULT_STAGE_THRESHOLDS, "15s");
/** The SLO's burn-rate alerts have their own promtool cases, with the workbook's windows (test/lib/slo/rules.int.test.ts). */
const SLO_ALERT_NAMES: string[] = Object.values(SLO_ALERTS);
const alerts = groups.flatMap((g) => g.rules).filter((r): r is AlertRule => "alert" in r && !SLO_ALERT_NAMES.includes(r.alert));

/** Go's humanize (Prometheus templates): 4 significant digits with SI prefixes. */
function humanize(v: number): string {
    if (v === 0 || !Number.isFinite(v)) return String(Number(v.toPrecision(4)));
    const big = ["", "k", "M", "G", "T", "P", "E", "Z", "Y"];
    const small = ["", "m", "u", "n", "p", "f", "a", "z", "y"];
    let i = 0;
    if (Math.abs(v) >= 1) {
        while (Math.abs(v) >= 1000 && i < big.length - 1) { v /= 1000; i++; }
        return `${Number(v.toPrecision(4))}${big[i]}`;
    }
    while (Math.abs(v) < 1 && i < small.length - 1) { v *= 1000; i++; }
    return `${Number(v.toPrecision(4))}${small[i]}`;
}

function renderTemplate(text: string, value: number, labels: Record<string, string>): string {
    return text
        .replace(/\{\{ \$value \| humanizePercentage \}\}/g, `${humanize(value * 100)}%`)
        .replace(/\{\{ \$value \| humanize \}\}/g, humanize(value))
        .replace(/\{\{ \$value \}\}/g, String(value))
        .replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, l: string) => labels[l] ?? "");
}

interface Case {
    series: { series: string; values: string }[];
    evalTime: string;
}
interface AlertCase {
    firing: Case & { value: number; labels?: Record<string, string> };
    silent: Case[];
}

const latency = (job: string, fastPerMin: number, slowPerMin: number) => [
    { series: `http_request_duration_seconds_bucket{job="${job}",le="1"}`, values: `0+${fastPerMin}x30` },
    { series: `http_request_duration_seconds_bucket{job="${job}",le="10"}`, values: `0+${fastPerMin + slowPerMin}x30` },
    { series: `http_request_duration_seconds_bucket{job="${job}",le="+Inf"}`, values: `0+${fastPerMin + slowPerMin}x30` },
];

/** Operation latency per minute: `fast` at ≤ 10 ms, `mid` in (10 ms, 1 s], `slow` in (1 s, 10 s]. */
const opLatency = (fast: number, mid: number, slow: number) => [
    { series: 'speculation_operation_duration_seconds_bucket{le="0.01"}', values: `0+${fast}x30` },
    { series: 'speculation_operation_duration_seconds_bucket{le="1"}', values: `0+${fast + mid}x30` },
    { series: 'speculation_operation_duration_seconds_bucket{le="10"}', values: `0+${fast + mid + slow}x30` },
    { series: 'speculation_operation_duration_seconds_bucket{le="+Inf"}', values: `0+${fast + mid + slow}x30` },
];

/** Firing and silent input series for every alert. */
const CASES: Record<string, AlertCase> = {
    SpeculationRollbackRateHigh: {
        firing: { series: [{ series: "speculation_rollback_rate{pod=\"a\"}", values: "0.08x20" }], evalTime: "10m", value: 0.08 },
        silent: [{ series: [{ series: "speculation_rollback_rate{pod=\"a\"}", values: "0.04x20" }], evalTime: "10m" }],
    },
    SpeculationRollbackRateAbort: {
        firing: { series: [{ series: "speculation_rollback_rate{pod=\"a\"}", values: "0.25x20" }], evalTime: "10m", value: 0.25 },
        silent: [
            { series: [{ series: "speculation_rollback_rate{pod=\"a\"}", values: "0.10x20" }], evalTime: "10m" },
            // Above 15 % for only 3 minutes: the 5-minute sustain rule keeps it silent.
            { series: [{ series: "speculation_rollback_rate{pod=\"a\"}", values: "0.02x5 0.25x3 0.02x10" }], evalTime: "9m" },
        ],
    },
    SpeculationErrorRateHigh: {
        firing: { series: [{ series: "speculation_errors_total{pod=\"a\"}", values: "0+2x20" }, { series: "speculation_operations_total{pod=\"a\",result=\"committed\"}", values: "0+100x20" }], evalTime: "15m", value: 0.02 },
        silent: [{ series: [{ series: "speculation_errors_total{pod=\"a\"}", values: "0+0.5x20" }, { series: "speculation_operations_total{pod=\"a\",result=\"committed\"}", values: "0+100x20" }], evalTime: "15m" }],
    },
    SpeculationErrorRateAbort: {
        // 30 % errors with no history at all (a young Prometheus): the absolute trigger needs none.
        firing: { series: [{ series: "speculation_errors_total{pod=\"a\"}", values: "0+30x10" }, { series: "speculation_operations_total{pod=\"a\",result=\"committed\"}", values: "0+100x10" }], evalTime: "8m", value: 0.3 },
        silent: [
            { series: [{ series: "speculation_errors_total{pod=\"a\"}", values: "0+5x10" }, { series: "speculation_operations_total{pod=\"a\",result=\"committed\"}", values: "0+100x10" }], evalTime: "8m" },
        ],
    },
    SpeculationErrorRateSpike: {
        firing: {
            series: [
                { series: "speculation_errors_total{pod=\"a\"}", values: "0+3x20" }, { series: "speculation_operations_total{pod=\"a\",result=\"committed\"}", values: "0+100x20" },
                // The stage's pre-shift baseline (the ErrorBaseline pushes it): 3 % now against 0.1 % before the shift.
                { series: "agenc_stage_error_baseline_ratio{environment=\"production\"}", values: "0.001x20" },
            ],
            // On a Prometheus 15 minutes old: no `offset 1h` needed.  The value is the multiple.
            evalTime: "15m", value: 30,
        },
        silent: [
            // 3 % errors against a 1 % baseline: 3x, under 10x.
            { series: [{ series: "speculation_errors_total{pod=\"a\"}", values: "0+3x20" }, { series: "speculation_operations_total{pod=\"a\",result=\"committed\"}", values: "0+100x20" },
                { series: "agenc_stage_error_baseline_ratio{environment=\"production\"}", values: "0.01x20" }], evalTime: "15m" },
            // No baseline pushed: the floor (0.1 %) stands in, and 0.5 % is 5x it.
            { series: [{ series: "speculation_errors_total{pod=\"a\"}", values: "0+0.5x20" }, { series: "speculation_operations_total{pod=\"a\",result=\"committed\"}", values: "0+100x20" }], evalTime: "15m" },
        ],
    },
    SpeculationUnobservable: {
        // Two missed scrapes in a row while the last traffic seen was 10 %.
        firing: {
            series: [{ series: "up{job=\"agenc-speculation\"}", values: "1x3 0x10" }, { series: "speculation_rollout_percentage", values: "10x3" }, { series: "speculation_enabled", values: "1x3" },
                { series: "speculation_rollback_rate", values: "0.01x3" }, { series: "speculation_operations_total", values: "0+10x3" }],
            evalTime: "6m", value: 0,
        },
        silent: [
            // One missed scrape: tolerated.
            { series: [{ series: "up{job=\"agenc-speculation\"}", values: "1x3 0 1x10" }, { series: "speculation_rollout_percentage", values: "10x3 _ 10x10" }, { series: "speculation_enabled", values: "1x3 _ 1x10" },
                { series: "speculation_rollback_rate", values: "0.01x3 _ 0.01x10" }, { series: "speculation_operations_total", values: "0+10x3 _ 40+10x10" }], evalTime: "5m" },
            // Down with no traffic: nothing at risk.
            { series: [{ series: "up{job=\"agenc-speculation\"}", values: "1x3 0x10" }, { series: "speculation_rollout_percentage", values: "0x3" }, { series: "speculation_enabled", values: "1x3" }], evalTime: "6m" },
            // Observed and healthy.
            { series: [{ series: "up{job=\"agenc-speculation\"}", values: "1x10" }, { series: "speculation_rollout_percentage", values: "10x10" }, { series: "speculation_enabled", values: "1x10" },
                { series: "speculation_rollback_rate", values: "0.01x10" }, { series: "speculation_operations_total", values: "0+10x10" }], evalTime: "6m" },
        ],
    },
    SpeculationMemoryCritical: {
        firing: { series: [{ series: "speculation_memory_usage_bytes{pod=\"a\"}", values: "95x10" }, { series: "speculation_memory_limit_bytes{pod=\"a\"}", values: "100x10" }], evalTime: "5m", value: 95 },
        silent: [{ series: [{ series: "speculation_memory_usage_bytes{pod=\"a\"}", values: "50x10" }, { series: "speculation_memory_limit_bytes{pod=\"a\"}", values: "100x10" }], evalTime: "5m" }],
    },
    SpeculationCircuitBreakerOpen: {
        firing: { series: [{ series: "speculation_circuit_breaker_open{pod=\"a\"}", values: "1x10" }], evalTime: "5m", value: 1 },
        silent: [{ series: [{ series: "speculation_circuit_breaker_open{pod=\"a\"}", values: "0x10" }], evalTime: "5m" }],
    },
    ProofQueueOverflow: {
        firing: { series: [{ series: "proof_queue_size{pod=\"w1\"}", values: "2500x20" }], evalTime: "10m", value: 2500 },
        silent: [{ series: [{ series: "proof_queue_size{pod=\"w1\"}", values: "1500x20" }], evalTime: "10m" }],
    },
    SpeculationLatencyP99Page: {
        // Every operation in (1 s, 10 s]: p99 = 1 + 9 × 0.99.
        firing: { series: opLatency(0, 0, 100), evalTime: "15m", value: 9.91 },
        silent: [{ series: opLatency(0, 100, 0), evalTime: "15m" }],
    },
    SpeculationLatencyTailRatio: {
        // 96 fast, 4 in (10 ms, 1 s]: p95 = 10 ms × 95/96, p99 = 10 ms + 990 ms × 3/4, a ratio of 76.04.
        firing: { series: opLatency(96, 4, 0), evalTime: "15m", value: 0.7525 / (0.01 * 95 / 96) },
        // The same shape shifted whole (p95 and p99 both slow): a slow service, not a fat tail — silent.
        silent: [{ series: opLatency(100, 0, 0), evalTime: "15m" }, { series: opLatency(0, 100, 0), evalTime: "15m" }],
    },
    ConsensusHalted: {
        firing: { series: [{ series: "alys_blocks_produced{instance=\"n1\"}", values: "100x20" }], evalTime: "10m", value: 0, labels: { instance: "n1" } },
        silent: [{ series: [{ series: "alys_blocks_produced{instance=\"n1\"}", values: "0+10x20" }], evalTime: "10m" }],
    },
    ConsensusDesync: {
        firing: { series: [{ series: "alys_chain_height{instance=\"n1\"}", values: "100x10" }, { series: "alys_chain_height{instance=\"n2\"}", values: "110x10" }], evalTime: "8m", value: 5 },
        silent: [{ series: [{ series: "alys_chain_height{instance=\"n1\"}", values: "100x10" }, { series: "alys_chain_height{instance=\"n2\"}", values: "101x10" }], evalTime: "8m" }],
    },
    ActorMailboxOverflow: {
        firing: { series: [{ series: "actor_mailbox_size{actor=\"chain\"}", values: "12000x10" }], evalTime: "5m", value: 12000, labels: { actor: "chain" } },
        silent: [{ series: [{ series: "actor_mailbox_size{actor=\"chain\"}", values: "500x10" }], evalTime: "5m" }],
    },
    ActorPanics: {
        firing: { series: [{ series: "actor_panics_total{actor=\"chain\"}", values: "0+1x10" }], evalTime: "8m", value: 0, labels: { actor: "chain" } },
        silent: [{ series: [{ series: "actor_panics_total{actor=\"chain\"}", values: "0x10" }], evalTime: "8m" }],
    },
    GovernanceDisconnected: {
        firing: { series: [{ series: "governance_stream_connected{instance=\"n1\"}", values: "0x10" }], evalTime: "8m", value: 0, labels: { instance: "n1" } },
        silent: [{ series: [{ series: "governance_stream_connected{instance=\"n1\"}", values: "1x10" }], evalTime: "8m" }],
    },
    SignatureMismatch: {
        firing: { series: [{ series: "signature_mismatches_total{instance=\"n1\"}", values: "0+1x30" }], evalTime: "20m", value: 1 / 60, labels: { instance: "n1" } },
        silent: [{ series: [{ series: "signature_mismatches_total{instance=\"n1\"}", values: "0x30" }], evalTime: "20m" }],
    },
    HighLatency: {
        firing: { series: latency("api", 0, 100), evalTime: "15m", value: 9.91 },
        silent: [{ series: latency("api", 100, 0), evalTime: "15m" }],
    },
    SpeculationWatchdogReverted: {
        firing: { series: [{ series: "agenc_watchdog_reverts_total", values: "0 0 1 1 1" }], evalTime: "3m", value: 1 },
        silent: [{ series: [{ series: "agenc_watchdog_reverts_total", values: "0x20" }], evalTime: "10m" }],
    },
    SpeculationWatchdogRevertFailed: {
        firing: { series: [{ series: "agenc_watchdog_revert_failures_total", values: "0 0 1 1 1" }], evalTime: "3m", value: 1 },
        silent: [{ series: [{ series: "agenc_watchdog_revert_failures_total", values: "0x20" }], evalTime: "10m" }],
    },
    SpeculationKillSwitchActivated: {
        firing: { series: [{ series: "agenc_watchdog_kill_switches_total", values: "0 0 1 1 1" }], evalTime: "3m", value: 1 },
        silent: [{ series: [{ series: "agenc_watchdog_kill_switches_total", values: "0x20" }], evalTime: "10m" }],
    },
    SpeculationKillSwitchFailed: {
        firing: { series: [{ series: "agenc_watchdog_kill_switch_failures_total", values: "0 0 1 1 1" }], evalTime: "3m", value: 1 },
        silent: [{ series: [{ series: "agenc_watchdog_kill_switch_failures_total", values: "0x20" }], evalTime: "10m" }],
    },
    // The default window (1 h) and minimum (20 probes); one probe a minute from each series' point of view.
    SpeculationSentinelFailing: {
        firing: {
            series: [
                { series: 'agenc_sentinel_probes_total{result="success"}', values: "0+1x120" },
                { series: 'agenc_sentinel_probes_total{result="failure"}', values: "0+1x120" },
            ],
            evalTime: "90m", value: 0.5,
        },
        silent: [
            // Healthy.
            { series: [{ series: 'agenc_sentinel_probes_total{result="success"}', values: "0+1x120" }, { series: 'agenc_sentinel_probes_total{result="failure"}', values: "0x120" }], evalTime: "90m" },
            // 1 failure in 40 (97.5 %): above the target.
            { series: [{ series: 'agenc_sentinel_probes_total{result="success"}', values: "0+39x120" }, { series: 'agenc_sentinel_probes_total{result="failure"}', values: "0+1x120" }], evalTime: "90m" },
            // Every probe failed, but only 10 of them in the window: too few to judge (fewer than minProbes).
            { series: [{ series: 'agenc_sentinel_probes_total{result="success"}', values: "0x30" }, { series: 'agenc_sentinel_probes_total{result="failure"}', values: "0+1x10 10x20" }], evalTime: "15m" },
        ],
    },
    SpeculationSentinelsStale: {
        firing: {
            series: [{ series: "agenc_sentinel_interval_seconds", values: "60x30" }, { series: "agenc_sentinel_last_probe_timestamp_seconds", values: "0+60x10 600x20" }],
            evalTime: "20m", value: 600,
        },
        silent: [
            { series: [{ series: "agenc_sentinel_interval_seconds", values: "60x30" }, { series: "agenc_sentinel_last_probe_timestamp_seconds", values: "0+60x30" }], evalTime: "20m" },
            // Not probing (below 100 %): an old timestamp is no news.
            { series: [{ series: "agenc_sentinel_interval_seconds", values: "0x30" }, { series: "agenc_sentinel_last_probe_timestamp_seconds", values: "0+60x10 600x20" }], evalTime: "20m" },
        ],
    },
    MemoryLeak: {
        firing: { series: [{ series: "process_resident_memory_bytes{instance=\"n1\"}", values: "9e9+1e7x120" }], evalTime: "100m", value: 0, labels: { instance: "n1" } },
        silent: [
            { series: [{ series: "process_resident_memory_bytes{instance=\"n1\"}", values: "9e9x120" }], evalTime: "100m" },
            // A shrinking gauge: rate() (001's rule) reads each drop as a counter reset and would fire; deriv() does not.
            { series: [{ series: "process_resident_memory_bytes{instance=\"n1\"}", values: "12e9-1e7x120" }], evalTime: "100m" },
        ],
    },
};

function run(cmd: string, args: string[], cwd: string): string {
    try {
        return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
        const err = e as { stdout?: string; stderr?: string };
        throw new Error(`${cmd} ${args.join(" ")} failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`);
    }
}

describe("monitoring config under promtool and amtool", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "agenc-rules-"));
    writeFileSync(path.join(dir, "rules.yml"), stringify({ groups }));

    it("has a firing and a silent case for every alert, and an alert for every rollback trigger", () => {
        expect(Object.keys(CASES).sort()).to.deep.equal(alertNames(groups).filter((a) => !SLO_ALERT_NAMES.includes(a)).sort());
        expect(alertNames(groups)).to.include.members([...ROLLBACK_TRIGGER_ALERTS]);
    });

    it("passes promtool check rules", () => {
        expect(run("promtool", ["check", "rules", "rules.yml"], dir)).to.match(/SUCCESS: \d+ rules found/);
    });

    it("fires each alert when its condition holds for its `for:` and stays silent otherwise (promtool test rules)", () => {
        const tests = alerts.flatMap((rule) => {
            const c = CASES[rule.alert];
            const labels = { alertname: rule.alert, ...rule.labels, ...(c.firing.labels ?? {}) };
            const annotations = Object.fromEntries(Object.entries(rule.annotations)
                .map(([k, v]) => [k, renderTemplate(v, c.firing.value, labels)]));
            const { alertname: _omit, ...expLabels } = labels;
            return [
                {
                    interval: "1m", input_series: c.firing.series,
                    alert_rule_test: [{ eval_time: c.firing.evalTime, alertname: rule.alert, exp_alerts: [{ exp_labels: expLabels, exp_annotations: annotations }] }],
                },
                ...c.silent.map((s) => ({
                    interval: "1m", input_series: s.series,
                    alert_rule_test: [{ eval_time: s.evalTime, alertname: rule.alert, exp_alerts: [] }],
                })),
            ];
        });
        writeFileSync(path.join(dir, "rules.test.yml"), stringify({ rule_files: ["rules.yml"], evaluation_interval: "1m", tests }));
        expect(run("promtool", ["test", "rules", "rules.test.yml"], dir)).to.contain("SUCCESS");
    });

    it("judges each track on its own: a canary breaching beside a clean stable fires with track=\"canary\", also in its first hour (promtool)", () => {
        const rule = (name: string) => alerts.find((a) => a.alert === name)!;
        const expected = (name: string, value: number) => {
            const labels = { alertname: name, ...rule(name).labels, track: "canary" };
            const { alertname: _omit, ...expLabels } = labels;
            return [{ exp_labels: expLabels, exp_annotations: Object.fromEntries(Object.entries(rule(name).annotations).map(([k, v]) => [k, renderTemplate(v, value, labels)])) }];
        };
        const tests = [
            {
                // 5 % errors on a tenth of the traffic: the blend would read 0.64 %, under the 1 % page.
                interval: "1m",
                input_series: [
                    { series: 'speculation_operations_total{track="stable"}', values: "0+100x20" }, { series: 'speculation_errors_total{track="stable"}', values: "0+0.2x20" },
                    { series: 'speculation_operations_total{track="canary"}', values: "0+10x20" }, { series: 'speculation_errors_total{track="canary"}', values: "0+0.5x20" },
                ],
                alert_rule_test: [{ eval_time: "15m", alertname: "SpeculationErrorRateHigh", exp_alerts: expected("SpeculationErrorRateHigh", 0.05) }],
            },
            {
                // A canary born 20 minutes ago has no rate of its own an hour ago: it is held to the service's.
                interval: "1m",
                input_series: [
                    { series: 'speculation_operations_total{track="stable"}', values: "0+100x100" }, { series: 'speculation_errors_total{track="stable"}', values: "0+0.1x100" },
                    { series: 'speculation_operations_total{track="canary"}', values: "_x80 0+10x20" }, { series: 'speculation_errors_total{track="canary"}', values: "_x80 0+3x20" },
                ],
                alert_rule_test: [{ eval_time: "95m", alertname: "SpeculationErrorRateSpike", exp_alerts: expected("SpeculationErrorRateSpike", 300) }],
            },
        ];
        writeFileSync(path.join(dir, "tracks.test.yml"), stringify({ rule_files: ["rules.yml"], evaluation_interval: "1m", tests }));
        expect(run("promtool", ["test", "rules", "tracks.test.yml"], dir)).to.contain("SUCCESS");
    });

    it("catches a broken rule (the harness can fail)", () => {
        const broken = groups.map((g) => ({ ...g, rules: g.rules.map((r) => ("alert" in r && r.alert === "ProofQueueOverflow" ? { ...r, expr: "proof_workers:queue_size:max > 99999" } : r)) }));
        writeFileSync(path.join(dir, "broken.yml"), stringify({ groups: broken }));
        const tests = [{
            interval: "1m", input_series: CASES.ProofQueueOverflow.firing.series,
            alert_rule_test: [{ eval_time: "10m", alertname: "ProofQueueOverflow", exp_alerts: [{ exp_labels: { severity: "critical", component: "proof-workers", rollback_trigger: "true" } }] }],
        }];
        writeFileSync(path.join(dir, "broken.test.yml"), stringify({ rule_files: ["broken.yml"], evaluation_interval: "1m", tests }));
        expect(() => run("promtool", ["test", "rules", "broken.test.yml"], dir)).to.throw(/FAILED/);
    });

    it("generates a Prometheus config that passes promtool check config", () => {
        const config = prometheusConfig({
            namespace: "agenc-staging", scrapeInterval: "15s", evaluationInterval: "15s", alertmanagerTarget: "alertmanager:9093",
            ruleFiles: [path.join(dir, "rules.yml")], jobs: scrapeJobs(["10.0.0.1", "10.0.0.2"], { pushgatewayUrl: "http://prometheus-pushgateway.monitoring.svc:9091" }),
        });
        // The Pushgateway's series keep their own job, environment and version (honor_labels); nothing else does.
        expect((config.scrape_configs as Record<string, unknown>[]).filter((j) => j.honor_labels).map((j) => j.job_name)).to.deep.equal(["pushgateway"]);
        // Debian builds Prometheus without Kubernetes service discovery, so its promtool rejects the field name
        // itself.  Check that this is the only complaint, then check the rest with those jobs as static targets.
        writeFileSync(path.join(dir, "prometheus.yml"), stringify(config));
        const k8sJobs = (config.scrape_configs as Record<string, unknown>[]).filter((j) => j.kubernetes_sd_configs);
        expect(k8sJobs.map((j) => j.job_name)).to.deep.equal(["agenc-speculation", "proof-workers"]);
        const withoutSd = {
            ...config,
            scrape_configs: (config.scrape_configs as Record<string, unknown>[]).map(({ kubernetes_sd_configs: sd, ...job }) =>
                (sd ? { ...job, static_configs: [{ targets: [`${job.job_name}.agenc-staging.svc:9090`] }] } : job)),
        };
        writeFileSync(path.join(dir, "prometheus-static.yml"), stringify(withoutSd));
        expect(run("promtool", ["check", "config", "prometheus-static.yml"], dir)).to.contain("SUCCESS");
    });

    it("routes a kill-switch alert, a rollback trigger, and an alert with both to the watchdog exactly once each (amtool config routes test)", () => {
        const file = path.join(dir, "alertmanager-watchdog.yml");
        writeFileSync(file, stringify(alertmanagerConfig({ slack: false, pagerduty: false }, { url: "http://127.0.0.1:9095" })));
        const receivers = (f: string, ...labels: string[]) => run("amtool", ["config", "routes", "test", `--config.file=${f}`, "alertname=X", ...labels], dir).trim().split(",");
        const watchdogCalls = (f: string, ...labels: string[]) => receivers(f, ...labels).filter((r) => r === "speculation-watchdog").length;
        expect(watchdogCalls(file, "kill_switch=true", "severity=critical")).to.equal(1);
        expect(watchdogCalls(file, "rollback_trigger=true", "severity=critical")).to.equal(1);
        expect(watchdogCalls(file, "kill_switch=true", "rollback_trigger=true", "severity=critical")).to.equal(1);
        expect(watchdogCalls(file, "severity=critical")).to.equal(0);
        // The harness can fail: without the revert route's exclusion an alert with both labels is handled twice.
        const twice = path.join(dir, "alertmanager-twice.yml");
        writeFileSync(twice, readFileSync(file, "utf8").replace(/\n\s*- kill_switch!="true"/, ""));
        expect(watchdogCalls(twice, "kill_switch=true", "rollback_trigger=true", "severity=critical")).to.equal(2);
    });

    it("the sentinel alert is the go/no-go table's target, pulls the kill switch (never also the revert) and follows the configured window", () => {
        const sentinel = alerts.find((a) => a.alert === "SpeculationSentinelFailing")!;
        expect(sentinel.expr).to.contain(`< ${GO_NO_GO.sentinelProbeSuccess} and`);
        expect(sentinel.labels).to.deep.equal({ severity: "critical", component: "sentinel", kill_switch: "true" });
        expect(KILL_SWITCH_ALERTS).to.include("SpeculationSentinelFailing");
        expect(alerts.filter((a) => a.labels.kill_switch === "true" && a.labels.rollback_trigger === "true").map((a) => a.alert), "an alert with both labels").to.deep.equal([]);
        const custom = ruleGroups(DEFAULT_STAGE_THRESHOLDS, "15s", { sentinel: { windowSeconds: 600, minProbes: 5 } })
            .flatMap((g) => g.rules).find((r): r is AlertRule => "alert" in r && r.alert === "SpeculationSentinelFailing")!;
        expect(custom.expr).to.equal(
            '(sum(increase(agenc_sentinel_probes_total{result="success"}[10m])) / clamp_min(sum(increase(agenc_sentinel_probes_total{result=~"success|failure"}[10m])), 1)) < 0.95' +
            ' and sum(increase(agenc_sentinel_probes_total{result=~"success|failure"}[10m])) >= 5');
    });

    for (const receivers of [{ slack: true, pagerduty: true }, { slack: false, pagerduty: false }]) {
        it(`generates an Alertmanager config that passes amtool check-config (${JSON.stringify(receivers)})`, () => {
            const file = path.join(dir, `alertmanager-${receivers.slack}.yml`);
            const config = JSON.parse(JSON.stringify(alertmanagerConfig(receivers)).replace(/\/etc\/alertmanager\/secrets/g, dir));
            writeFileSync(path.join(dir, "slack-webhook-url"), "https://hooks.slack.example/x\n");
            writeFileSync(path.join(dir, "pagerduty-routing-key"), "0123456789abcdef0123456789abcdef\n");
            writeFileSync(file, stringify(config));
            expect(run("amtool", ["check-config", file], dir)).to.contain("SUCCESS");
        });
    }
});
