/**
 * The monitoring loop of the local rehearsal, for real: Debian's Prometheus and Alertmanager on loopback with the
 * stack's own rules (lib/monitoring/rules.ts) and routes (lib/monitoring/alertmanager.ts), and the watchdog's
 * revert action, kill switch and sentinel probes (lib/watchdog/main.ts, bundled) as a local process — the same script the
 * Watchdog component mounts from a ConfigMap in the cluster.  Prometheus scrapes the reference workloads and the
 * watchdog every `scrapeInterval`, and Debian's Pushgateway, where the deployment records are pushed, with the
 * stack's own job (honor_labels), so the rehearsal's releases and reverts are in Prometheus as the dashboard reads them.
 * Everything started here is stopped by PID in stop().
 */
import { ChildProcess, spawn } from "child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { stringify } from "yaml";
import { DEFAULT_STAGE_THRESHOLDS, StageThresholds } from "../config/thresholds";
import { GuardPlan } from "../lib/guard/plan";
import { watchdogScriptFile } from "../lib/watchdog/bundle";
import { alertmanagerConfig } from "../lib/monitoring/alertmanager";
import { ruleGroups } from "../lib/monitoring/rules";
import { prometheusConfig, pushgatewayJob } from "../lib/monitoring/scrape";
import { parseDuration } from "../config/duration";
import { freePort } from "./ports";

/** The watchdog as the cluster runs it: lib/watchdog/main.ts bundled into one file (lib/watchdog/bundle.ts). */
export const WATCHDOG_SCRIPT = watchdogScriptFile();

export interface LocalMonitoringOptions {
    serviceUrl: string;
    /**
     * Where the watchdog reaches the admin API (default serviceUrl): a relay between the two stands for the network
     * link a chaos fault cuts (reference/chaos/link.ts); Prometheus still scrapes serviceUrl directly.
     */
    watchdogServiceUrl?: string;
    proofWorkerUrl: string;
    adminToken: string;
    /** Scrape and rule evaluation interval (default 1s). */
    scrapeInterval?: string;
    /** Replaces the speculation alerts' `for:` for a rehearsal of seconds (default 2s). */
    alertFor?: string;
    /** How long a watchdog action's alert fires after it (default 30s; a cluster's: 15m). */
    watchdogAlertWindow?: string;
    /** Alertmanager's group_wait on the watchdog route (default 0s). */
    groupWait?: string;
    thresholds?: StageThresholds;
    /** Where Prometheus keeps its data (default: a temporary folder). */
    dataDir?: string;
    /** How long the watchdog keeps retrying one revert. */
    revertDeadlineSeconds?: number;
    /**
     * The watchdog's sentinel probes (as the Watchdog component runs them once the plan has reached 100 %) and the
     * rule that judges them.  Default: no probes, and the rule with the config's default window and minimum.
     */
    sentinel?: LocalSentinel;
    /**
     * The stack's guard (lib/guard/plan.ts, from the config): Prometheus's intervals and scrape timeout, the rules'
     * options and the watchdog's schedule, so the local loop runs exactly what the bound was computed for.  It replaces
     * scrapeInterval, alertFor and revertDeadlineSeconds.  Without it: those options, and the watchdog polling
     * Prometheus every scrape interval.
     */
    guard?: GuardPlan;
}

export interface LocalSentinel {
    /** Seconds between two probes (SENTINEL_INTERVAL_SECONDS). */
    intervalSeconds: number;
    /** The success ratio's window, seconds (the alert rule). */
    windowSeconds: number;
    /** The fewest probes in the window before the ratio is judged. */
    minProbes: number;
    /** Each of a probe's two requests, milliseconds (default 2000). */
    timeoutMs?: number;
    /**
     * false: the rule is in place but the watchdog does not probe until startSentinels() (the local stack turns the
     * probes on after the up that reaches 100 %, as the cluster's watchdog pods roll then).  Default true.
     */
    probing?: boolean;
}

export interface LocalMonitoring {
    prometheusUrl: string;
    alertmanagerUrl: string;
    watchdogUrl: string;
    /** Debian's Pushgateway: the stack's `records.pushgatewayUrl`. */
    pushgatewayUrl: string;
    /** What the watchdog printed (its log lines are JSON). */
    watchdogLog(): string;
    /** Restarts the watchdog on the same port with its sentinel probes on (options.sentinel); no-op when probing. */
    startSentinels(): Promise<void>;
    stop(): Promise<void>;
}

async function waitReady(url: string, child: ChildProcess, name: string, stderr: () => string): Promise<void> {
    const until = Date.now() + 30_000;
    for (;;) {
        if (child.exitCode !== null) throw new Error(`${name} exited: ${stderr()}`);
        try {
            if ((await fetch(url, { signal: AbortSignal.timeout(1000) })).ok) return;
        } catch { /* not listening yet */ }
        if (Date.now() > until) { child.kill("SIGKILL"); throw new Error(`${name} not ready after 30 s: ${stderr()}`); }
        await new Promise((r) => setTimeout(r, 100));
    }
}

function start(cmd: string, args: string[], env?: NodeJS.ProcessEnv): { child: ChildProcess; output: () => string; exited: Promise<void> } {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: env ?? process.env });
    let out = "";
    child.stdout!.on("data", (c) => (out += c));
    child.stderr!.on("data", (c) => (out += c));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    return { child, output: () => out, exited };
}

export async function startLocalMonitoring(o: LocalMonitoringOptions): Promise<LocalMonitoring> {
    const dir = o.dataDir ?? mkdtempSync(path.join(tmpdir(), "agenc-monitoring-"));
    mkdirSync(dir, { recursive: true });
    const g = o.guard;
    const interval = g?.prometheus.scrapeInterval ?? o.scrapeInterval ?? "1s";
    const evaluation = g?.prometheus.evaluationInterval ?? interval;
    const scrapeTimeout = g?.prometheus.scrapeTimeout ?? interval;
    const started: { child: ChildProcess; exited: Promise<void> }[] = [];
    const stop = async () => {
        for (const p of started.reverse()) {
            if (p.child.exitCode === null) p.child.kill("SIGTERM");
            await p.exited;
        }
    };
    try {
        const [wdPort, amPort, promPort, pgPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
        const watchdogUrl = `http://127.0.0.1:${wdPort}`;
        const prometheusUrl = `http://127.0.0.1:${promPort}`;
        const wd = g?.watchdog;
        let probing = o.sentinel !== undefined && o.sentinel.probing !== false;
        const logs: (() => string)[] = [];
        const startWatchdog = async () => {
            const watchdog = start(process.execPath, [WATCHDOG_SCRIPT], {
                ...process.env, SERVICE_URL: o.watchdogServiceUrl ?? o.serviceUrl, ADMIN_TOKEN: o.adminToken, PORT: String(wdPort), LISTEN_HOST: "127.0.0.1",
                REVERT_DEADLINE_SECONDS: String(wd?.revertDeadlineSeconds ?? o.revertDeadlineSeconds ?? 30),
                ATTEMPT_TIMEOUT_MS: String(wd?.attemptTimeoutMs ?? 2000), ADMIN_API_TIMEOUT_MS: String(wd?.adminApiTimeoutMs ?? 8000),
                ...(wd ? { BACKOFF_INITIAL_MS: String(wd.initialBackoffMs), BACKOFF_MAX_MS: String(wd.maxBackoffMs) } : {}),
                // The watchdog reads the firing triggers from Prometheus itself too (started below, on a port known now).
                PROMETHEUS_URL: prometheusUrl, POLL_INTERVAL_SECONDS: String(wd?.pollIntervalSeconds ?? parseDuration(interval)),
                POLL_TIMEOUT_MS: String(wd?.pollTimeoutMs ?? Math.min(5000, parseDuration(interval) * 1000)),
                SENTINEL_INTERVAL_SECONDS: String(probing ? o.sentinel!.intervalSeconds : 0), SENTINEL_TIMEOUT_MS: String(o.sentinel?.timeoutMs ?? 2000),
            });
            started.unshift(watchdog); // stopped last, as the first one started
            logs.push(watchdog.output);
            await waitReady(`${watchdogUrl}/healthz`, watchdog.child, "watchdog", watchdog.output);
            return watchdog;
        };
        let watchdog = await startWatchdog();
        const watchdogLog = () => logs.map((l) => l()).join("");
        const startSentinels = async () => {
            if (probing) return;
            if (!o.sentinel) throw new Error("startSentinels: no sentinel options were given");
            probing = true;
            started.splice(started.indexOf(watchdog), 1);
            watchdog.child.kill("SIGTERM");
            await watchdog.exited;
            watchdog = await startWatchdog();
        };

        writeFileSync(path.join(dir, "alertmanager.yml"), stringify(alertmanagerConfig({ slack: false, pagerduty: false }, { url: watchdogUrl, groupWait: o.groupWait ?? "0s" })));
        const am = start("prometheus-alertmanager", [
            `--config.file=${path.join(dir, "alertmanager.yml")}`, `--storage.path=${path.join(dir, "alertmanager")}`,
            `--web.listen-address=127.0.0.1:${amPort}`, "--cluster.listen-address=", "--log.level=warn",
        ]);
        started.push(am);
        const alertmanagerUrl = `http://127.0.0.1:${amPort}`;
        await waitReady(`${alertmanagerUrl}/-/ready`, am.child, "alertmanager", am.output);

        const pg = start("prometheus-pushgateway", [`--web.listen-address=127.0.0.1:${pgPort}`, "--log.level=warn"]);
        started.push(pg);
        const pushgatewayUrl = `http://127.0.0.1:${pgPort}`;
        await waitReady(`${pushgatewayUrl}/-/ready`, pg.child, "pushgateway", pg.output);

        const host = (u: string) => new URL(u).host;
        writeFileSync(path.join(dir, "rules.yml"), stringify({ groups: ruleGroups(o.thresholds ?? DEFAULT_STAGE_THRESHOLDS, evaluation, {
            ...(g ? g.ruleOptions : { rehearsalFor: o.alertFor ?? "2s", scrapeInterval: interval }),
            watchdogAlertWindow: o.watchdogAlertWindow ?? "30s", ...(o.sentinel ? { sentinel: o.sentinel } : {}),
        }) }));
        writeFileSync(path.join(dir, "prometheus.yml"), stringify({
            global: { scrape_interval: interval, scrape_timeout: scrapeTimeout, evaluation_interval: evaluation },
            alerting: { alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }] },
            rule_files: [path.join(dir, "rules.yml")],
            scrape_configs: [
                { job_name: "agenc-speculation", static_configs: [{ targets: [host(o.serviceUrl)] }] },
                { job_name: "proof-workers", static_configs: [{ targets: [host(o.proofWorkerUrl)] }] },
                { job_name: "speculation-watchdog", static_configs: [{ targets: [host(watchdogUrl)] }] },
                // The stack's own Pushgateway job, as the standalone Prometheus of a Kubernetes stack renders it.
                ...(prometheusConfig({ namespace: "", scrapeInterval: interval, evaluationInterval: interval, alertmanagerTarget: "", ruleFiles: [],
                    jobs: [pushgatewayJob(pushgatewayUrl)] }).scrape_configs as Record<string, unknown>[]),
            ],
        }));
        const prom = start("prometheus", [
            `--config.file=${path.join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${path.join(dir, "prometheus")}`,
            `--web.listen-address=127.0.0.1:${promPort}`, "--log.level=warn",
        ]);
        started.push(prom);
        await waitReady(`${prometheusUrl}/-/ready`, prom.child, "prometheus", prom.output);
        return { prometheusUrl, alertmanagerUrl, watchdogUrl, pushgatewayUrl, watchdogLog, startSentinels, stop };
    } catch (e) {
        await stop();
        throw e;
    }
}
