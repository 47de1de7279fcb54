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
