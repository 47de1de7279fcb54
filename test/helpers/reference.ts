/** Starts the reference speculation service and a proof worker on loopback for a test, and stops them after. */
import { startProofWorker, RunningProofWorker } from "../../reference/proofWorker";
import { Faults, RunningSpeculationService, startSpeculationService } from "../../reference/speculationService";

export const ADMIN_TOKEN = "reference-admin-token-for-tests";

export interface Reference {
    service: RunningSpeculationService;
    worker: RunningProofWorker;
    close(): Promise<void>;
}

export async function startReference(opts: { faults?: Partial<Faults>; version?: string; rolloutPercentage?: number; port?: number } = {}): Promise<Reference> {
    const worker = await startProofWorker({ adminToken: ADMIN_TOKEN });
    const service = await startSpeculationService({ adminToken: ADMIN_TOKEN, version: opts.version ?? "v1.2.4", faults: opts.faults, tickMs: 20, operationsPerSecond: 5000, port: opts.port });
    if (opts.rolloutPercentage !== undefined) {
        service.state.enabled = opts.rolloutPercentage > 0;
        service.state.rolloutPercentage = opts.rolloutPercentage;
    }
    return { service, worker, close: async () => { await service.close(); await worker.close(); } };
}
