/**
 * A test control plane with the real node joined to it, for a person at a terminal: starts both, prints how to
 * kubectl them, and on Ctrl-C (SIGINT or SIGTERM) stops the node (real-node.sh down: the host as before) and the
 * control plane.
 *
 *   bash scripts/with-node.sh ts-node --transpile-only scripts/real-cluster.ts
 */
import { artifacts, startControlPlane } from "../reference/controlPlane";
import { REAL_NODE_PLACEMENT, startRealNode } from "../reference/realNode";
import * as path from "path";

async function main(): Promise<void> {
    const cp = await startControlPlane({ nodes: 1 });
    let node;
    try {
        node = await startRealNode(cp);
    } catch (err) {
        await cp.stop();
        throw err;
    }
    const kubectl = path.join((await artifacts()).bin, "kubectl");
    console.log(`real node ${node.name} (${node.address}) Ready in ${node.startSeconds.toFixed(1)} s on ${cp.server}`);
    console.log(`  ${kubectl} --kubeconfig ${cp.kubeconfig} get nodes -o wide`);
    console.log(`  pods for the real node need: ${JSON.stringify(REAL_NODE_PLACEMENT)}`);
    console.log(`  images: bash scripts/build-images.sh (prints the image by digest; imagePullPolicy: Never)`);
    console.log("Ctrl-C stops the node and the control plane.");
    let stopping = false;
    const stop = async () => {
        if (stopping) return;
        stopping = true;
        await node!.stop().catch((e) => console.error(e));
        await cp.stop();
        process.exit(0);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
}

main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
});
