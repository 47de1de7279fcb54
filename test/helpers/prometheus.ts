/**
 * A real Prometheus (Debian's package) on loopback for a test: scrapes the given targets every second and evaluates
 * the project's own rule groups, so the gates' PromQL path reads the same recorded series the alerts use.
 */
import { mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { stringify } from "yaml";
import { DEFAULT_STAGE_THRESHOLDS } from "../../config/thresholds";
import { ruleGroups } from "../../lib/monitoring/rules";
import { startDaemon } from "./daemon";

export interface RunningPrometheus {
    url: string;
    close(): Promise<void>;
}


/** A job's targets: plain addresses, or groups of addresses with labels (e.g. `track` for a canary pair). */
export type JobTargets = string[] | { targets: string[]; labels: Record<string, string> }[];

/**
 * `rehearsalFor` shortens every speculation alert's `for:` (as a rehearsal stack does) so a test meets it in seconds.
 */
export async function startPrometheus(jobs: Record<string, JobTargets>, opts: { rehearsalFor?: string; retention?: string } = {}): Promise<RunningPrometheus> {
    const dir = mkdtempSync(path.join(tmpdir(), "prometheus-"));
    writeFileSync(path.join(dir, "rules.yml"), stringify({ groups: ruleGroups(DEFAULT_STAGE_THRESHOLDS, "1s", { rehearsalFor: opts.rehearsalFor }) }));
    writeFileSync(path.join(dir, "prometheus.yml"), stringify({
        global: { scrape_interval: "1s", evaluation_interval: "1s" },
        rule_files: [path.join(dir, "rules.yml")],
        scrape_configs: Object.entries(jobs).map(([job, targets]) => ({
            job_name: job,
            static_configs: targets.length > 0 && typeof targets[0] !== "string" ? targets : [{ targets }],
        })),
    }));
    const d = await startDaemon("prometheus", (port) => [
        `--config.file=${path.join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${path.join(dir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn",
        ...(opts.retention ? [`--storage.tsdb.retention.time=${opts.retention}`] : []),
    ]);
    return { url: d.url, close: d.close };
}

/** One sample of an instant query's vector. */
export interface Sample { metric: Record<string, string>; value: [number, string] }

/** An instant query against a real Prometheus: the result vector (throws on anything but success). */
export async function instant(prometheusUrl: string, expr: string): Promise<Sample[]> {
    const body = await (await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`)).json() as { status: string; data?: { result: Sample[] } };
    if (body.status !== "success" || !body.data) throw new Error(`${expr}: ${JSON.stringify(body)}`);
    return body.data.result;
}

/** The first sample's value of an instant query, or undefined when the vector is empty. */
export async function promValue(prometheusUrl: string, expr: string): Promise<number | undefined> {
    const r = (await instant(prometheusUrl, expr))[0];
    return r ? Number(r.value[1]) : undefined;
}
