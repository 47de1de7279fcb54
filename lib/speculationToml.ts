/** Renders `speculation-<env>.toml`, the file the service reads from ConfigMap speculation-config (seed 000). */
import { stringify } from "smol-toml";
import { StackConfig } from "../config/schema";
import { PROOF_WORKER_PORT, SPECULATION_PORT } from "./monitoring/scrape";

/** `version` is the version the pods that mount it run (the stable track runs release.previousVersion until 100 %). */
export function speculationToml(config: StackConfig, namespace: string, version: string = config.release.version): string {
    return stringify({
        service: { environment: config.environment, version, port: SPECULATION_PORT },
        speculation: {
            // Speculation boots disabled at 0 %: only a canary stage turns it on, through the admin API, so a pod
            // restart always errs towards less traffic (see README, "Who owns the rollout percentage").
            enabled: false,
            mode: config.service.mode,
            max_depth: config.service.maxDepth,
            features: { rollout_percentage: 0 },
        },
        proof_workers: { endpoint: `http://proof-workers.${namespace}.svc.cluster.local:${PROOF_WORKER_PORT}` },
        metrics: { enabled: true, path: "/metrics" },
    });
}
