/** The speculation service's probes as seed 000 gives them; the Deployments and the policy pack both read these. */
export const SPECULATION_PROBES = {
    liveness: { path: "/health", initialDelaySeconds: 30, periodSeconds: 10, failureThreshold: 3 },
    readiness: { path: "/ready", initialDelaySeconds: 10, periodSeconds: 5, failureThreshold: 3 },
} as const;

export interface ProbeTiming {
    path: string;
    initialDelaySeconds: number;
    periodSeconds: number;
    failureThreshold: number;
}

/** A Kubernetes HTTP probe from one of the timings above. */
export function httpProbe({ path, ...timing }: ProbeTiming, port: number) {
    return { httpGet: { path, port }, ...timing };
}

/**
 * The proof workers' probes.  Seed 000 gives them only GET /health; using it for both made a readiness failure a
 * restart.  Liveness is a TCP check (the process is up and accepting), readiness the HTTP health check (the worker
 * can take proofs): an overloaded or unhealthy worker leaves the Service's endpoints instead of being killed.
 */
export const PROOF_WORKER_PROBES = {
    liveness: { initialDelaySeconds: 30, periodSeconds: 10, failureThreshold: 3 },
    readiness: { initialDelaySeconds: 10, periodSeconds: 5, failureThreshold: 3 },
} as const;

export function proofWorkerProbes(port: number, readinessPath: string) {
    return {
        livenessProbe: { tcpSocket: { port }, ...PROOF_WORKER_PROBES.liveness },
        readinessProbe: httpProbe({ path: readinessPath, ...PROOF_WORKER_PROBES.readiness }, port),
    };
}

/**
 * The watchdog's probes (components/Watchdog.ts; lib/watchdog/main.ts serves both paths).  Readiness GET /healthz
 * every 5 s takes a watchdog that stops answering out of the Service quickly; liveness GET /livez is looser (every
 * 10 s, 6 failures, 5 s timeout: a minute of silence) so a watchdog busy with a revert, whose event loop answers late,
 * is never restarted in the middle of it.
 */
export const WATCHDOG_PROBE_PATHS = { liveness: "/livez", readiness: "/healthz" } as const;

export function watchdogProbes(port: number) {
    return {
        livenessProbe: { httpGet: { path: WATCHDOG_PROBE_PATHS.liveness, port }, initialDelaySeconds: 5, periodSeconds: 10, timeoutSeconds: 5, failureThreshold: 6 },
        readinessProbe: { httpGet: { path: WATCHDOG_PROBE_PATHS.readiness, port }, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
    };
}
