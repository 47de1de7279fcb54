/** Prometheus scrape jobs (SPEC §6) and the standalone Prometheus configuration. */
export interface ScrapeJob {
    job: string;
    /** Kubernetes service (app label, a regex) scraped in the namespace; bare-metal jobs use static targets instead. */
    app?: string;
    /** Copy each Service's `track` label (stable | canary) onto its series; Services without one are `stable`. */
    tracks?: boolean;
    port: number;
    staticTargets?: string[];
    /** Keep the scraped series' own labels (a Pushgateway's job, environment and version are the pusher's). */
    honorLabels?: boolean;
    /**
     * HTTP basic auth from the Secret PUSHGATEWAY_AUTH_SECRET (keys `username`, `password`): operator mode refers to
     * its keys, standalone Prometheus reads them as files mounted at PUSHGATEWAY_AUTH_FILES.  Never the values.
     */
    basicAuth?: boolean;
}

/** The Secret holding speculation:pushgatewayCredentials in the cluster, and where standalone Prometheus mounts it. */
export const PUSHGATEWAY_AUTH_SECRET = "agenc-pushgateway-auth";
export const PUSHGATEWAY_AUTH_DIR = "/etc/prometheus/secrets";
export const PUSHGATEWAY_AUTH_FILES = { username: `${PUSHGATEWAY_AUTH_DIR}/pushgateway-username`, password: `${PUSHGATEWAY_AUTH_DIR}/pushgateway-password` } as const;

export const SPECULATION_PORT = 9090;
export const PROOF_WORKER_PORT = 9091;
/** The scrape jobs of the two workloads (the preflight checks both are up when the gates read Prometheus). */
export const SPECULATION_JOB = "agenc-speculation";
export const PROOF_WORKERS_JOB = "proof-workers";

/** The watchdog (components/Watchdog.ts) is scraped so that every revert it makes is in Prometheus. */
export const WATCHDOG_SCRAPE_JOB: ScrapeJob = { job: "speculation-watchdog", app: "speculation-watchdog", port: 9095 };

/**
 * The scrape jobs.  `greenServesPrimary` (blue-green at 100 %): the primary Service selects green's pods, so green's
 * own Service is left out — scraping both would count each green pod twice, once per Service.
 */
/**
 * The Pushgateway the deployment records are pushed to (`records.pushgatewayUrl`), scraped with its series' own labels
 * (Prometheus's advice for a Pushgateway): the canary dashboard's releases and reverts come from it.
 */
export const PUSHGATEWAY_JOB = "pushgateway";

export function pushgatewayJob(pushgatewayUrl: string, authenticated = false): ScrapeJob {
    const u = new URL(pushgatewayUrl);
    const port = Number(u.port || (u.protocol === "https:" ? 443 : 80));
    return { job: PUSHGATEWAY_JOB, port, staticTargets: [`${u.hostname}:${port}`], honorLabels: true, ...(authenticated ? { basicAuth: true } : {}) };
}

/**
 * Every scrape job of the stack.  A node's exporters are scraped once per host, however many nodes share it (SSH
 * nodes behind one address on different ports): a ScrapeConfig's targets are a set, and the API server refuses a
 * duplicate (seen under the real provider with `npm run local -- --kubernetes`).
 */
export function scrapeJobs(nodeHosts: string[], options: { greenServesPrimary?: boolean; pushgatewayUrl?: string; pushgatewayAuthenticated?: boolean } = {}): ScrapeJob[] {
    const hosts = [...new Set(nodeHosts)];
    const on = (port: number) => hosts.map((h) => `${h}:${port}`);
    const tracks = ["agenc-speculation", "agenc-speculation-canary", ...(options.greenServesPrimary ? [] : ["agenc-speculation-green"])];
    return [
        // Both tracks of a canary or blue-green pair, told apart by their Service's track label (lib/judge reads it).
        { job: SPECULATION_JOB, app: tracks.join("|"), port: SPECULATION_PORT, tracks: true },
        { job: PROOF_WORKERS_JOB, app: "proof-workers", port: PROOF_WORKER_PORT },
        { job: "alys-consensus", port: 9090, staticTargets: on(9090) },
        { job: "alys-lighthouse", port: 5054, staticTargets: on(5054) },
        { job: "alys-actors", port: 9091, staticTargets: on(9091) },
        { job: "alys-governance", port: 9092, staticTargets: on(9092) },
        { job: "alys-metrics", port: 9464, staticTargets: on(9464) },
        ...(options.pushgatewayUrl ? [pushgatewayJob(options.pushgatewayUrl, options.pushgatewayAuthenticated)] : []),
    ];
}

/** The jobs scraped from static targets (bare-metal nodes, the Pushgateway): in operator mode, ScrapeConfigs. */
export const staticJobs = (jobs: ScrapeJob[]) => jobs.filter((j) => !j.app && (j.staticTargets?.length ?? 0) > 0);

export interface PrometheusConfigArgs {
    namespace: string;
    scrapeInterval: string;
    /** How long one scrape may take (at most the interval; default Prometheus's 10s, or the interval when shorter). */
    scrapeTimeout?: string;
    evaluationInterval: string;
    alertmanagerTarget: string;
    ruleFiles: string[];
    jobs: ScrapeJob[];
}

/** prometheus.yml for standalone mode: Kubernetes service discovery for workloads, static targets for nodes. */
export function prometheusConfig(a: PrometheusConfigArgs): Record<string, unknown> {
    return {
        global: { scrape_interval: a.scrapeInterval, ...(a.scrapeTimeout ? { scrape_timeout: a.scrapeTimeout } : {}), evaluation_interval: a.evaluationInterval },
        alerting: { alertmanagers: [{ static_configs: [{ targets: [a.alertmanagerTarget] }] }] },
        rule_files: a.ruleFiles,
        scrape_configs: a.jobs.filter((j) => j.app || (j.staticTargets?.length ?? 0) > 0).map((j) => j.app
            ? {
                job_name: j.job,
                kubernetes_sd_configs: [{ role: "endpoints", namespaces: { names: [a.namespace] } }],
                relabel_configs: [
                    { source_labels: ["__meta_kubernetes_service_label_app"], regex: j.app, action: "keep" },
                    { source_labels: ["__meta_kubernetes_endpoint_port_name"], regex: "metrics|http", action: "keep" },
                    ...(j.tracks ? [
                        { target_label: "track", replacement: "stable", action: "replace" },
                        { source_labels: ["__meta_kubernetes_service_label_track"], regex: "(.+)", target_label: "track", replacement: "$1", action: "replace" },
                    ] : []),
                ],
            }
            : {
                job_name: j.job, ...(j.honorLabels ? { honor_labels: true } : {}),
                // The credentials as files from the mounted Secret: prometheus.yml (a ConfigMap) never holds them.
                ...(j.basicAuth ? { basic_auth: { username_file: PUSHGATEWAY_AUTH_FILES.username, password_file: PUSHGATEWAY_AUTH_FILES.password } } : {}),
                static_configs: [{ targets: j.staticTargets }],
            }),
    };
}
