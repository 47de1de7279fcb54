/**
 * The signature verification of a release (providers/signatureVerification.ts runs it): for every subject, each
 * configured key in turn until one verifies it (lib/signatures/cosign.ts reads, lib/signatures/decision.ts judges),
 * one row per subject in the step's report (lib/runbook/steps.ts).  Fails closed: any subject not verified fails the
 * step, and nothing that waits for it (the workloads, the node rollout) changes.
 */
import { StepReport } from "../runbook/steps";
import { CosignOptions, cosignVersion, keyFiles, resolveTag, verifyBlob, verifyImage, withCredentials } from "./cosign";
import { judgeSubject, Observation, refusedUnread, reusedVerdict, Subject, subjectRef, SubjectVerdict, VerifiedSubject } from "./decision";
import { keyFingerprint, PublicKey } from "./keys";

export interface VerifySpec {
    subjects: Subject[];
    keys: PublicKey[];
    cosign: string;
    /** Registries reached over plain HTTP (loopback). */
    insecureRegistries: string[];
    credentials?: Record<string, { username: string; password: string }>;
    timeoutMs: number;
    /** Extra environment for cosign (the tests' dead proxy). */
    env?: Record<string, string>;
}

export interface VerifyResult {
    report: StepReport;
    verdicts: SubjectVerdict[];
    /** What passed, for the state (reused by the next run) and the deployment record. */
    verified: VerifiedSubject[];
}

/** Reads one subject under each key until one verifies it. */
async function observe(s: Subject, keys: PublicKey[], files: Record<string, string>, opts: CosignOptions): Promise<Observation[]> {
    const observations: Observation[] = [];
    let digest = s.kind === "image" ? s.digest : undefined;
    if (s.kind === "image" && !digest) {
        const resolved = await resolveTag(s.repository, s.tag ?? "latest", opts);
        if (!("digest" in resolved)) return [resolved];
        digest = resolved.digest;
    }
    for (const k of keys) {
        const o = s.kind === "image"
            ? await verifyImage(s.repository, digest!, k.name, files[k.name], opts)
            : await verifyBlob(s.path, s.signaturePath, k.name, files[k.name], opts);
        observations.push({ ...o, ...(o.digest || !digest ? {} : { digest }) });
        if (o.outcome === "verified") break;
        // No signature, or a registry that does not answer: another key reads the same nothing.
        if (o.outcome === "no-signature" || o.outcome === "unreachable" || o.outcome === "not-found" || o.outcome === "denied") break;
    }
    return observations;
}

export async function verifyRelease(spec: VerifySpec, earlier: readonly VerifiedSubject[] = [], log: (line: string) => void = (l) => console.log(l)): Promise<VerifyResult> {
    const started = Date.now();
    const keys = spec.keys.map((k) => ({ name: k.name, fingerprint: keyFingerprint(k.pem) }));
    const expected = `a valid signature from ${keys.map((k) => `${k.name} (${k.fingerprint})`).join(" or ") || "a configured key"}`;
    const creds = withCredentials(spec.credentials);
    const files = keyFiles(spec.keys);
    const opts: CosignOptions = {
        cosign: spec.cosign, timeoutMs: spec.timeoutMs, insecureRegistries: spec.insecureRegistries,
        ...(creds ? { dockerConfig: creds.dir } : {}), ...(spec.env ? { env: spec.env } : {}),
    };
    const verdicts: SubjectVerdict[] = [];
    let version: string | undefined;
    try {
        version = spec.subjects.length > 0 ? await cosignVersion(opts) : undefined;
        for (const s of spec.subjects) {
            const verdict = refusedUnread(s) ?? reusedVerdict(s, keys, earlier)
                ?? judgeSubject(s, keys, await observe(s, spec.keys, files.files, opts));
            verdicts.push(verdict);
            log(`[signatures] ${verdict.verdict.toUpperCase()} ${verdict.message}`);
        }
    } finally {
        files.remove();
        creds?.remove();
    }
    const at = new Date().toISOString();
    const verified: VerifiedSubject[] = verdicts.filter((v) => v.verdict === "pass").map((v) => {
        const reused = earlier.find((e) => e.ref === v.ref && e.signer === v.signer && /not read again/.test(v.message));
        return { subject: v.subject, ref: v.ref, ...(v.digest ? { digest: v.digest } : {}), signer: v.signer!, at: reused?.at ?? at };
    });
    const finished = Date.now();
    return {
        verdicts, verified,
        report: {
            step: "signatures",
            verdict: verdicts.some((v) => v.verdict === "fail") ? "fail" : "pass",
            startedAt: new Date(started).toISOString(), finishedAt: new Date(finished).toISOString(), durationMs: finished - started,
            checks: [
                ...verdicts.map((v, i) => ({
                    name: `${spec.subjects[i].kind === "image" ? "image" : "file"} ${v.subject}`,
                    target: v.ref === subjectRef(spec.subjects[i]) ? v.ref : `${subjectRef(spec.subjects[i])} → ${v.ref}`,
                    observed: v.verdict === "pass" ? `signed by ${v.signer}` : v.message.slice(v.message.indexOf(": ") + 2),
                    expected, verdict: v.verdict,
                })),
                ...(version ? [{ name: "cosign", target: spec.cosign, observed: version, expected: "any v2", verdict: "pass" as const }] : []),
            ],
        },
    };
}
