/**
 * The emergency rollback's stop (seed 000, `rollback.sh --emergency`: "scale both workloads to 0, wait for
 * termination", then redeploy the last known good): every Deployment that runs the release is scaled to 0 replicas,
 * then the step waits until none of their pods is left, terminating ones included, printing what is left each poll.
 *
 * Why a step of its own: the engine does not keep the order an emergency needs.  Replacing the two Deployments
 * delete-first, it deletes and re-creates proof-workers, then deletes and re-creates the speculation service, so
 * last-known-good proof-worker pods run beside the release's speculation pods (seen under the real provider, issue
 * 23).  The Deployments' replacements wait for this step, so no last-known-good pod is created while a release pod
 * is left.  A canary or green track's Deployment runs the release too; the engine would delete it only at the end of
 * the update, so it is scaled to 0 here as well.
 *
 * The cluster is reached through `Kube` (kubectlKube: the operator's kubectl and kubeconfig, the same ambient
 * credentials as the stack's Kubernetes provider); the decisions here are testable without one.
 */
import { execFile } from "child_process";
import { CheckResult, StepReport } from "../runbook/steps";

/** What the stop needs of the cluster. */
export interface Kube {
    /** The Deployment's pod selector (matchLabels), or undefined when there is no such Deployment. */
    selectorOf(namespace: string, deployment: string): Promise<Record<string, string> | undefined>;
    /** Sets the Deployment's replicas to 0. */
    scaleToZero(namespace: string, deployment: string): Promise<void>;
    /** Names of the pods the selector matches, terminating ones included. */
    podsOf(namespace: string, selector: Record<string, string>): Promise<string[]>;
}

export interface StopSpec {
    namespace: string;
    /** The Deployments that run the release (those absent from the cluster are skipped). */
    deployments: string[];
    /** Give up (and fail `pulumi up` before any last-known-good pod exists) after this long. */
    deadlineSeconds: number;
    pollSeconds: number;
}

export interface StopClock {
    now: () => number;
    sleep: (ms: number) => Promise<void>;
}

const realClock: StopClock = { now: Date.now, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };

/**
 * Scales every named Deployment to 0 and waits until their pods are gone.  Never throws: a cluster error is a failed
 * row (fail closed: the workloads are not replaced while a release pod may still run).
 */
export async function stopWorkloads(spec: StopSpec, kube: Kube, log: (line: string) => void = (l) => console.log(l),
    clock: StopClock = realClock): Promise<StepReport> {
    const started = clock.now();
    const rows = new Map<string, CheckResult>();
    const selectors = new Map<string, Record<string, string>>();
    const row = (name: string, observed: string, verdict: CheckResult["verdict"]) =>
        rows.set(name, { name: `stop-${name}`, target: `Deployment ${spec.namespace}/${name}`, observed, expected: "0 replicas, no pod left", verdict });
    for (const name of spec.deployments) {
        try {
            const selector = await kube.selectorOf(spec.namespace, name);
            if (!selector) { row(name, "absent: nothing to stop", "skip"); continue; }
            await kube.scaleToZero(spec.namespace, name);
            selectors.set(name, selector);
            log(`[emergency-stop] ${name}: scaled to 0 replicas`);
        } catch (e) {
            row(name, `error: ${(e as Error).message}`, "fail");
        }
    }
    const deadline = started + spec.deadlineSeconds * 1000;
    const left = new Map<string, string[]>();
    for (;;) {
        left.clear();
        for (const [name, selector] of selectors) {
            try {
                const pods = await kube.podsOf(spec.namespace, selector);
                if (pods.length > 0) left.set(name, pods);
                else if (!rows.has(name)) row(name, `0 pods after ${((clock.now() - started) / 1000).toFixed(1)} s`, "pass");
            } catch (e) {
                left.set(name, [`(cannot list pods: ${(e as Error).message})`]);
            }
        }
        if (left.size === 0) break;
        const elapsed = (clock.now() - started) / 1000;
        log(`[emergency-stop] waiting for ${[...left].map(([n, p]) => `${n}: ${p.length} pod(s) left`).join(", ")} (${elapsed.toFixed(0)} s of ${spec.deadlineSeconds} s)`);
        if (clock.now() >= deadline) {
            for (const [name, pods] of left) row(name, `${pods.length} pod(s) left after ${spec.deadlineSeconds} s: ${pods.slice(0, 5).join(", ")}`, "fail");
            break;
        }
        await clock.sleep(Math.min(spec.pollSeconds * 1000, Math.max(0, deadline - clock.now())));
    }
    const finished = clock.now();
    const checks = spec.deployments.map((n) => rows.get(n)!).filter(Boolean);
    return {
        step: "emergency-stop",
        verdict: checks.some((c) => c.verdict === "fail") ? "fail" : "pass",
        startedAt: new Date(started).toISOString(),
        finishedAt: new Date(finished).toISOString(),
        durationMs: finished - started,
        checks,
    };
}

/** Runs kubectl with an argv (no shell); rejects with its stderr. */
function kubectl(args: string[], timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
        execFile("kubectl", args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
            if (err) {
                const why = (err as NodeJS.ErrnoException).code === "ENOENT"
                    ? "kubectl is not on PATH (the emergency rollback scales the workloads with the operator's kubectl)"
                    : (stderr.trim() || err.message);
                reject(new Error(`kubectl ${args.join(" ")}: ${why}`));
            } else resolve(stdout);
        });
    });
}

/** The cluster through the operator's kubectl and kubeconfig (KUBECONFIG, current context), as the stack's provider. */
export function kubectlKube(timeoutMs = 30_000): Kube {
    return {
        async selectorOf(namespace, deployment) {
            const out = await kubectl(["-n", namespace, "get", "deployment", deployment, "--ignore-not-found", "-o", "json"], timeoutMs);
            if (!out.trim()) return undefined;
            const d = JSON.parse(out) as { spec?: { selector?: { matchLabels?: Record<string, string> } } };
            const labels = d.spec?.selector?.matchLabels;
            if (!labels || Object.keys(labels).length === 0) throw new Error(`Deployment ${namespace}/${deployment} has no matchLabels selector`);
            return labels;
        },
        async scaleToZero(namespace, deployment) {
            await kubectl(["-n", namespace, "scale", "deployment", deployment, "--replicas=0"], timeoutMs);
        },
        async podsOf(namespace, selector) {
            const l = Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(",");
            const out = await kubectl(["-n", namespace, "get", "pods", "-l", l, "-o", "jsonpath={.items[*].metadata.name}"], timeoutMs);
            return out.split(/\s+/).filter(Boolean);
        },
    };
}
