/**
 * The EmergencyStop for the chaos matrix's kill at its step.  The step runs only with Kubernetes (an emergency
 * rollback scales the release's Deployments to 0 and waits for their pods: providers/emergencyStop.ts), which the
 * local default does not have; so its kill row is a stack of that step alone, under the real engine, against the
 * test control plane (reference/controlPlane.ts: a real API server, controllers, kwok's nodes) through the operator's
 * kubectl, as in a cluster stack.  The release's Deployment keeps its pods in Terminating (a finalizer of this
 * harness), so the step polls for them up to its deadline: the kill lands while it waits, its process must still
 * exit within 5 s and write no report.
 *   program      the inline program (test/helpers/upInChild.ts loads it): the EmergencyStop alone
 *   environment  the control plane, the namespace and the Deployment, and KUBECONFIG and kubectl for the engine
 */
import * as path from "path";
import { EmergencyStop } from "../../providers/emergencyStop";
import type { LocalEnvironment } from "../../scripts/localStack";
import { artifacts, startControlPlane } from "../controlPlane";

export const NAMESPACE = "agenc-chaos";
export const DEPLOYMENT = "agenc-speculation";
const HOLD = "agenc.test/chaos-hold";

/** The `up`'s program: the emergency rollback's stop of the release's Deployment, its report under the run's artifacts. */
export function program(ctx: { workDir: string }): Record<string, unknown> {
    const stop = new EmergencyStop("emergency-stop", {
        namespace: NAMESPACE, deployments: [DEPLOYMENT], targetVersion: "v1.2.1",
        deadlineSeconds: 120, pollSeconds: 1, artifactsDir: path.join(ctx.workDir, "artifacts/runbook"),
    });
    return { verdict: stop.verdict };
}

/** The control plane with the release's Deployment (two pods, held in Terminating); the engine's KUBECONFIG and kubectl. */
export async function emergencyStopCluster(env: LocalEnvironment, log: (s: string) => void): Promise<{ stop(): Promise<void> }> {
    const cp = await startControlPlane({ nodes: 1 });
    try {
        const bin = (await artifacts()).bin;
        env.envVars.KUBECONFIG = cp.kubeconfig;
        env.envVars.PATH = `${bin}:${process.env.PATH}`;
        await cp.kubectl(["create", "namespace", NAMESPACE]);
        await cp.kubectl(["apply", "-f", "-"], JSON.stringify({
            apiVersion: "apps/v1", kind: "Deployment", metadata: { name: DEPLOYMENT, namespace: NAMESPACE },
            spec: {
                replicas: 2, selector: { matchLabels: { app: DEPLOYMENT } },
                template: {
                    metadata: { labels: { app: DEPLOYMENT }, finalizers: [HOLD] },
                    spec: { containers: [{ name: "speculation", image: "registry.invalid/agenc-speculation:v1.2.4" }] },
                },
            },
        }));
        const until = Date.now() + 60_000;
        for (;;) {
            const pods = await cp.getJson<{ items: { metadata: { finalizers?: string[] }; status?: { phase?: string } }[] }>(["get", "pods", "-n", NAMESPACE, "-o", "json"]);
            if (pods.items.length === 2 && pods.items.every((p) => p.status?.phase === "Running" && p.metadata.finalizers?.includes(HOLD))) break;
            if (Date.now() > until) throw new Error(`the release's pods did not run with their finalizer within 60 s: ${JSON.stringify(pods.items.map((p) => p.status?.phase))}`);
            await new Promise((r) => setTimeout(r, 250));
        }
        log(`[chaos] control plane up: ${NAMESPACE}/${DEPLOYMENT} with 2 pods held in Terminating once deleted`);
    } catch (e) {
        await cp.stop();
        throw e;
    }
    return {
        stop: async () => {
            // Let the held pods go, so nothing of the harness outlives it in the cluster it stops anyway.
            const pods = await cp.kubectl(["get", "pods", "-n", NAMESPACE, "-o", "name"]).catch(() => "");
            for (const pod of pods.split("\n").filter(Boolean)) {
                await cp.kubectl(["patch", "-n", NAMESPACE, pod, "--type", "merge", "-p", '{"metadata":{"finalizers":null}}']).catch(() => undefined);
            }
            await cp.stop();
        },
    };
}
