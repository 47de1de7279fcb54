/**
 * A real Kubernetes node on this machine (scripts/real-node.sh): containerd, runc, bridge CNI, kubelet, kube-proxy
 * and CoreDNS, joined to a control plane of reference/controlPlane.ts.  Pods scheduled to it run in containers.
 *
 * The node is tainted `agenc.test/real-node=true:NoSchedule` so that the kwok tests sharing the control plane never
 * land on it; a pod meant for it carries `REAL_NODE_PLACEMENT` (the toleration and a nodeSelector).
 *
 * One real node per machine (it changes host-wide state: sysctls, iptables, a bridge); scripts/real-node.sh holds a
 * lock and cleans up what an earlier, crashed run left before it starts.
 */
import { spawn, spawnSync } from "child_process";
import * as path from "path";
import type { ControlPlane } from "./controlPlane";

export const ROOT = path.resolve(__dirname, "..");
const SCRIPT = path.join(ROOT, "scripts", "real-node.sh");

export const REAL_NODE_NAME = "agenc-real-node";
/** The cluster DNS Service's address (kube-system/kube-dns, CoreDNS behind it). */
export const CLUSTER_DNS = "10.96.0.10";

/** What a pod spec needs to run on the real node (and on no kwok node). */
export const REAL_NODE_PLACEMENT = {
    nodeSelector: { "kubernetes.io/hostname": REAL_NODE_NAME },
    tolerations: [{ key: "agenc.test/real-node", operator: "Equal", value: "true", effect: "NoSchedule" }],
};

export interface RealNode {
    name: string;
    /** The node's InternalIP (the machine's first non-loopback IPv4 address). */
    address: string;
    /** Seconds from `real-node.sh up` to the node Ready with kube-proxy and CoreDNS serving. */
    startSeconds: number;
    /** Stops the node and puts the host back (real-node.sh down). */
    stop(): Promise<void>;
}

function log(message: string): void {
    process.stderr.write(`[real-node] ${message}\n`);
}

/** Runs real-node.sh with these arguments; resolves with its stdout, rejects with its stderr's tail. */
export function realNodeScript(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
        const child = spawn("bash", [SCRIPT, ...args], { stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let err = "";
        child.stdout.on("data", (d) => { out += d; });
        child.stderr.on("data", (d) => { err += d; process.stderr.write(d); });
        child.on("error", reject);
        child.on("close", (code) => (code === 0 ? resolve(out)
            : reject(new Error(`scripts/real-node.sh ${args.join(" ")} exited with ${code}:\n${err.split("\n").slice(-30).join("\n")}`))));
    });
}

/**
 * Why the real node cannot start here, or undefined when it can: its build (scripts/build-node.sh --check) is absent.
 * Anything else that stops it (not root, a port taken) fails the start, loudly.
 */
export function realNodeUnavailable(): string | undefined {
    const check = spawnSync("bash", [path.join(ROOT, "scripts", "build-node.sh"), "--check"], { encoding: "utf8" });
    if (check.status !== 0) return `the real node is not built (run bash scripts/build-node.sh): ${check.stdout.trim().split("\n").join("; ")}`;
    return undefined;
}

/** Starts the real node, joined to `cp`. */
export async function startRealNode(cp: ControlPlane): Promise<RealNode> {
    const started = Date.now();
    const out = await realNodeScript(["up", "--kubeconfig", cp.kubeconfig]);
    const [name, address] = out.trim().split("\n").pop()!.split(" ");
    const startSeconds = (Date.now() - started) / 1000;
    let stopped = false;
    return {
        name, address, startSeconds,
        async stop() {
            if (stopped) return;
            stopped = true;
            await realNodeScript(["down"]);
        },
    };
}

/** Stops a real node this machine may still run (real-node.sh down: also cleans up after a crash). */
export async function stopRealNode(): Promise<void> {
    await realNodeScript(["down"]);
}

export { log as realNodeLog };
