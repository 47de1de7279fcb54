/**
 * Post-deployment verification at 100 % (seed 000's verify-deployment.sh, seed 001's version check): pods ready,
 * health at the release version, the metrics flowing, the rollback rate, memory and the proof queue within the
 * go/no-go table, and the live rollout at 100 %.  Where the seed's script only prints a value, each check here has
 * the table's threshold, so the verification is a verdict and a record, not a printout.
 */
import { readAdminStatus } from "../adminApi";
import { fetchWithin } from "../http";
import { parseExposition } from "../prometheus/exposition";
import { Check, runChecks, StepReport } from "../runbook/steps";

export interface VerifyTarget {
    version: string;
    serviceUrl: string;
    proofWorkerUrl?: string;
    timeoutMs: number;
    /** Ready vs desired replicas of each Deployment (from the program's own objects); none without Kubernetes. */
    pods: { name: string; ready: number; desired: number }[];
    /** The live percentage expected (100 in feature-flag mode; skipped in ingress-weight mode). */
    expectRolloutPercentage?: number;
    limits: { minSpeculationMetrics: number; maxRollbackRate: number; maxMemoryPercent: number; maxProofQueueSize: number };
}

async function text(url: string, timeoutMs: number): Promise<string> {
    const res = await fetchWithin(url, {}, timeoutMs);
    if (!res.ok) throw new Error(res.why);
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    return res.text;
}

function gauge(exposition: string, name: string): number {
    const families = parseExposition(exposition);
    const fam = families?.find((f) => f.name === name);
    if (!fam || fam.metrics.length === 0) throw new Error(`${name} is not exposed`);
    const v = Math.max(...fam.metrics.map((m) => Number(m.value)));
    if (Number.isNaN(v)) throw new Error(`${name} is NaN`);
    return v;
}

export function verifyChecks(t: VerifyTarget): Check[] {
    const s = t.serviceUrl;
    const l = t.limits;
    let metrics: Promise<string> | undefined;
    const serviceMetrics = () => (metrics ??= text(`${s}/metrics`, t.timeoutMs));
    const checks: Check[] = t.pods.length > 0
        ? t.pods.map((p) => ({
            name: `pods-${p.name}`, target: `Deployment ${p.name}`, expected: `${p.desired}/${p.desired} ready`,
            run: async () => ({ ok: p.desired > 0 && p.ready === p.desired, observed: `${p.ready}/${p.desired} ready` }),
        }))
        : [{ name: "pods", target: "Deployments", expected: "all ready", run: async () => ({ ok: "skip" as const, observed: "no Kubernetes side (kubernetes.enabled false)" }) }];
    checks.push(
        {
            name: "health", target: `GET ${s}/health`, expected: `healthy at ${t.version}`,
            run: async () => {
                const body = JSON.parse(await text(`${s}/health`, t.timeoutMs)) as { status?: string; version?: string };
                return { ok: body.status === "healthy" && body.version === t.version, observed: `${body.status} at ${body.version}` };
            },
        },
        {
            name: "metrics", target: `GET ${s}/metrics`, expected: `> ${l.minSpeculationMetrics} lines ^speculation_`,
            run: async () => {
                const n = (await serviceMetrics()).split("\n").filter((x) => x.startsWith("speculation_")).length;
                return { ok: n > l.minSpeculationMetrics, observed: `${n} speculation_ lines` };
            },
        },
        {
            name: "rollback-rate", target: "speculation_rollback_rate", expected: `< ${l.maxRollbackRate}`,
            run: async () => { const v = gauge(await serviceMetrics(), "speculation_rollback_rate"); return { ok: v < l.maxRollbackRate, observed: String(v) }; },
        },
        {
            name: "memory", target: `GET ${s}/admin/memory-stats`, expected: `< ${l.maxMemoryPercent} % of the limit`,
            run: async () => {
                const m = JSON.parse(await text(`${s}/admin/memory-stats`, t.timeoutMs)) as { total_mb?: number; limit_mb?: number };
                if (typeof m.total_mb !== "number" || typeof m.limit_mb !== "number" || m.limit_mb <= 0) throw new Error("expected {total_mb, limit_mb}");
                const pct = (100 * m.total_mb) / m.limit_mb;
                return { ok: pct < l.maxMemoryPercent, observed: `${m.total_mb}MB / ${m.limit_mb}MB (${pct.toFixed(1)} %)` };
            },
        },
        {
            name: "proof-queue", target: t.proofWorkerUrl ? `proof_queue_size at ${t.proofWorkerUrl}/metrics` : "speculation_proof_queue_size",
            expected: `≤ ${l.maxProofQueueSize}`,
            run: async () => {
                const v = t.proofWorkerUrl ? gauge(await text(`${t.proofWorkerUrl}/metrics`, t.timeoutMs), "proof_queue_size")
                    : gauge(await serviceMetrics(), "speculation_proof_queue_size");
                return { ok: v <= l.maxProofQueueSize, observed: String(v) };
            },
        },
    );
    if (t.expectRolloutPercentage !== undefined) {
        const want = t.expectRolloutPercentage;
        checks.push({
            name: "rollout", target: `GET ${s}/admin/status`, expected: `enabled at ${want} %`,
            run: async () => { const st = await readAdminStatus(s, t.timeoutMs); return { ok: st.enabled && st.rolloutPercentage === want, observed: `${st.enabled ? "enabled" : "disabled"} at ${st.rolloutPercentage} %` }; },
        });
    }
    return checks;
}

export function runVerification(t: VerifyTarget, log?: (line: string) => void): Promise<StepReport> {
    return runChecks("verify", verifyChecks(t), log);
}
