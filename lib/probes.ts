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
