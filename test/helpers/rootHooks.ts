/**
 * Mocha root hooks (loaded through .mocharc.json `require`): whatever a run started once for all its suites is
 * stopped when the run ends.  Today that is the shared Kubernetes control plane (reference/controlPlane.ts),
 * started lazily by the first suite that asks for it.
 */
import { stopSharedControlPlane } from "../../reference/controlPlane";

export const mochaHooks = {
    async afterAll(): Promise<void> {
        await stopSharedControlPlane();
    },
};
