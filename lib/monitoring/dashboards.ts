/**
 * Grafana dashboards as JSON: the canary view (SPEC §6) plus the 001 node panels and the 004 performance panels.
 * Threshold lines come from the same numbers the gates use.
 */
import { StageThresholds } from "../../config/thresholds";
import { RECORD_SERIES, RELEASES_EXPR, REVERTS_EXPR } from "../records/series";
import { RECORDED } from "./rules";
import { BURN_RATE_PAIRS, SLI_WINDOWS } from "../../config/thresholds";
import { SLO_RECORDED, sloSpec, SloSpec } from "./slo";

interface Panel {
    title: string;
    expr: string[];
    unit?: string;
    thresholds?: { value: number; color: "orange" | "red" }[];
}

interface Annotation {
    name: string;
    expr: string;
    iconColor: string;
    titleFormat: string;
}

function render(uid: string, title: string, panels: Panel[], annotations: Annotation[] = []): Record<string, unknown> {
    return {
        uid,
        ...(annotations.length ? {
            annotations: {
                list: annotations.map((a) => ({
                    ...a, datasource: { type: "prometheus", uid: "prometheus" }, enable: true, useValueForTime: true, step: "60s",
                    tagKeys: "environment,version", textFormat: "{{version}}",
                })),
            },
        } : {}),
        title,
        schemaVersion: 39,
        tags: ["agenc", "speculation"],
        time: { from: "now-6h", to: "now" },
        refresh: "30s",
        panels: panels.map((p, i) => ({
            id: i + 1,
            type: "timeseries",
            title: p.title,
            gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
            datasource: { type: "prometheus", uid: "prometheus" },
            targets: p.expr.map((expr, j) => ({ refId: String.fromCharCode(65 + j), expr })),
            fieldConfig: {
                defaults: {
                    unit: p.unit ?? "short",
                    thresholds: {
                        mode: "absolute",
                        steps: [{ color: "green", value: null }, ...(p.thresholds ?? [])],
                    },
                    custom: { thresholdsStyle: { mode: p.thresholds ? "line" : "off" } },
                },
            },
        })),
    };
}

export function canaryDashboard(t: StageThresholds): Record<string, unknown> {
    return render("agenc-speculation-canary", "AgenC speculation canary", [
        { title: "Rollout percentage", expr: ["max(speculation_rollout_percentage)"], unit: "percent" },
        {
            title: "Rollback rate", expr: [RECORDED.rollbackRate], unit: "percentunit",
            thresholds: [{ value: t.maxRollbackRate, color: "orange" }, { value: t.abortRollbackRate, color: "red" }],
        },
        {
            title: "Error rate", expr: [RECORDED.errorRate], unit: "percentunit",
            thresholds: [{ value: t.maxErrorRate, color: "orange" }, { value: t.abortErrorRate, color: "red" }],
        },
        { title: "Memory (% of limit)", expr: [RECORDED.memoryPercent], unit: "percent", thresholds: [{ value: t.maxMemoryPercent, color: "red" }] },
        { title: "Proof queue", expr: [RECORDED.proofQueue], thresholds: [{ value: t.maxProofQueueSize, color: "red" }] },
        {
            title: "Operation latency p99 (gate)", expr: [RECORDED.latencyP99], unit: "s",
            thresholds: [{ value: t.maxP99LatencySeconds, color: "orange" }, { value: t.abortP99LatencySeconds, color: "red" }],
        },
        { title: "Operation latency p99 / p95 (gate)", expr: [RECORDED.latencyTailRatio], thresholds: [{ value: t.maxTailRatio, color: "red" }] },
        {
            title: "API latency p50 / p95 / p99", unit: "s",
            expr: [0.5, 0.95, 0.99].map((q) => `histogram_quantile(${q}, sum by (le) (rate(http_request_duration_seconds_bucket{job="agenc-speculation"}[5m])))`),
        },
        { title: "Pending speculative operations", expr: ["sum(speculation_pending_operations_count)"] },
        { title: "Operations by result", expr: ["sum by (result) (rate(speculation_operations_total[5m]))"], unit: "ops" },
        // Deployment records (lib/records/): what each release reached, and when it was reverted.
        { title: "Releases: rollout reached", expr: [`max by (version) (${RECORD_SERIES.rolloutPercentage})`], unit: "percent" },
        { title: "Reverts (full / emergency rollback)", expr: [`max by (version, mode) (${RECORD_SERIES.revertTimestamp}) * 1000`], unit: "dateTimeAsIso" },
    ], [
        { name: "Releases", expr: RELEASES_EXPR, iconColor: "green", titleFormat: "release {{version}}" },
        { name: "Reverts", expr: REVERTS_EXPR, iconColor: "red", titleFormat: "{{mode}} rollback of {{version}}" },
    ]);
}

export function nodesDashboard(): Record<string, unknown> {
    return render("alys-nodes", "Alys nodes", [
        { title: "Block production", expr: ["rate(alys_blocks_produced[5m])"] },
        { title: "Chain height", expr: ["alys_chain_height"] },
        { title: "Actor mailboxes", expr: ["actor_mailbox_size"] },
        { title: "Governance connection", expr: ["governance_stream_connected"] },
        { title: "Signature matches vs mismatches", expr: ["rate(signature_matches_total[5m])", "rate(signature_mismatches_total[5m])"] },
        { title: "Resources: CPU and memory", expr: ["rate(process_cpu_seconds_total[5m])", "process_resident_memory_bytes"] },
    ]);
}

export function performanceDashboard(t: StageThresholds): Record<string, unknown> {
    return render("agenc-performance", "AgenC performance", [
        {
            title: "Latency percentiles", unit: "s",
            expr: [0.5, 0.95, 0.99].map((q) => `histogram_quantile(${q}, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))`),
        },
        { title: "Throughput", expr: ["sum(rate(speculation_operations_total[1m]))"], unit: "ops" },
        { title: "Error rate", expr: [RECORDED.errorRate], unit: "percentunit", thresholds: [{ value: t.maxErrorRate, color: "red" }] },
    ]);
}

/**
 * The error budget (issue 26, docs/slo.md): the budget left against the floor, the burn rate per track against the
 * workbook's factors, the SLI's error ratio over each window, and the budget each stage spent — with the releases and
 * reverts as annotations, so a burn lines up with the release that caused it.
 */
export function sloDashboard(s: SloSpec): Record<string, unknown> {
    const factors = Object.values(BURN_RATE_PAIRS).map((p) => p.factor);
    return render("agenc-speculation-slo", "AgenC error budget", [
        {
            title: `Error budget left (${s.objective * 100} % over ${s.window})`, expr: [SLO_RECORDED.budgetRemaining], unit: "percentunit",
            thresholds: [{ value: s.budgetFloor, color: "orange" }, { value: 0, color: "red" }],
        },
        {
            title: "Burn rate per track (1h and 5m)", unit: "short",
            expr: [`${SLO_RECORDED.ratio("1h")} / ${s.budget}`, `${SLO_RECORDED.ratio("5m")} / ${s.budget}`],
            thresholds: [{ value: Math.min(...factors), color: "orange" }, { value: s.gatePair.factor, color: "red" }],
        },
        {
            title: "Burn rate per track (6h, 1d and 3d)", unit: "short",
            expr: (["6h", "1d", "3d"] as const).map((w) => `${SLO_RECORDED.ratio(w)} / ${s.budget}`),
            thresholds: [{ value: 1, color: "orange" }, { value: s.gatePair.factor, color: "red" }],
        },
        { title: "SLI error ratio by window", expr: SLI_WINDOWS.map((w) => `max(${SLO_RECORDED.ratio(w)})`), unit: "percentunit", thresholds: [{ value: s.budget, color: "red" }] },
        { title: "Error budget spent per stage (deployment records)", expr: [`max by (version, stage) (${RECORD_SERIES.stageBudgetSpent})`], unit: "percentunit" },
    ], [
        { name: "Releases", expr: RELEASES_EXPR, iconColor: "green", titleFormat: "release {{version}}" },
        { name: "Reverts", expr: REVERTS_EXPR, iconColor: "red", titleFormat: "{{mode}} rollback of {{version}}" },
    ]);
}

export function dashboards(t: StageThresholds, slo: SloSpec = sloSpec()): Record<string, Record<string, unknown>> {
    return {
        "agenc-speculation-canary.json": canaryDashboard(t),
        "agenc-speculation-slo.json": sloDashboard(slo),
        "alys-nodes.json": nodesDashboard(),
        "agenc-performance.json": performanceDashboard(t),
    };
}
