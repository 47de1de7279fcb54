/**
 * The verdict on each thing a release runs (an image digest, the node binary), from what the verification read:
 * pure, so every failure class is tested without a registry (test/lib/signatures/decision.test.ts).  The reading is
 * lib/signatures/cosign.ts's (measurement apart from decision, as the gates do).
 *
 * Fail closed: a subject passes only when one of the configured keys verified its signature; anything else — no
 * signature, another key's, a signature over other bytes, a registry that does not answer, a tag where a digest is
 * required, a tool that failed — refuses the release, with a message naming the digest (or file) and the keys.
 */

/** An image the release runs: its repository and digest (or, outside production, a tag resolved at verification). */
export interface ImageSubject {
    kind: "image";
    /** What it is in the release (`speculation`, `proof-worker`, `speculation (previous)`). */
    name: string;
    /** The config key that names it, for the refusal (`release.images.speculation.digest`). */
    configKey: string;
    repository: string;
    digest?: string;
    tag?: string;
    /** A tag is refused (production: images are pinned by digest). */
    digestRequired: boolean;
}

/** A file the release ships (the node binary) with its detached signature (base64, as cosign sign-blob writes). */
export interface BlobSubject {
    kind: "blob";
    name: string;
    path: string;
    signaturePath: string;
    /** The file's SHA-256 when the plan was made: a changed file is verified again. */
    sha256?: string;
}

export type Subject = ImageSubject | BlobSubject;

/** What one verification under one key found (lib/signatures/cosign.ts reads it). */
export type Outcome =
    /** The signature verified under this key; `digest` is the manifest digest the signature names. */
    | "verified"
    /** No signature is stored for the digest (no `sha256-<hex>.sig` manifest), or the signature file is missing/empty. */
    | "no-signature"
    /** A signature exists, but it does not verify under this key (another key's, or altered bytes). */
    | "bad-signature"
    /** The signature verifies, but over something else: its payload names another digest. */
    | "mismatch"
    /** The registry did not answer (connection refused, timeout, DNS, TLS). */
    | "unreachable"
    /** The registry answered that the image or digest does not exist. */
    | "not-found"
    /** The registry refused the credentials (401/403). */
    | "denied"
    /** Anything else: cosign missing, timed out, or an answer not understood. */
    | "error";

export interface Observation {
    /** The key it was verified under (undefined: a reading before any key, such as resolving a tag). */
    key?: string;
    outcome: Outcome;
    /** What the tool said, one line, for the report. */
    detail: string;
    /** The digest verified, or the one the signature names (mismatch). */
    digest?: string;
}

/** Why a subject was refused: the issue's failure classes, and the ones a real registry adds. */
export type FailureClass = "unsigned" | "other-key" | "mismatch" | "unreachable" | "tag" | "not-found" | "denied" | "tool";

/** How each class reads in a refusal. */
export const FAILURE_TEXT: Record<FailureClass, string> = {
    unsigned: "unsigned",
    "other-key": "signed by another key",
    mismatch: "the signature does not match",
    unreachable: "the registry is unreachable",
    tag: "a tag where a digest is required",
    "not-found": "not in the registry",
    denied: "the registry refused the credentials",
    tool: "the verification itself failed",
};

export interface SubjectVerdict {
    subject: string;
    kind: Subject["kind"];
    /** What was verified: repository@digest (or :tag when it could not be resolved), or the file's path. */
    ref: string;
    digest?: string;
    verdict: "pass" | "fail";
    /** The key that verified it: `name (SHA256:…)`. */
    signer?: string;
    failure?: FailureClass;
    /** One line: who signed it, or why it is refused (naming the digest or file and the keys). */
    message: string;
}

/** The registry part of a repository (`127.0.0.1:5000/agenc/speculation` → `127.0.0.1:5000`; Docker Hub's default otherwise). */
export function registryOf(repository: string): string {
    const first = repository.split("/")[0];
    return repository.includes("/") && (/[.:]/.test(first) || first === "localhost") ? first : "index.docker.io";
}

/** The reference a subject is read at: repository@digest, repository:tag, or the file. */
export function subjectRef(s: Subject, digest?: string): string {
    if (s.kind === "blob") return s.path;
    const d = digest ?? s.digest;
    return d ? `${s.repository}@${d}` : `${s.repository}:${s.tag ?? "latest"}`;
}

const keysText = (keys: readonly { name: string; fingerprint: string }[]) =>
    keys.length === 0 ? "no key (signing.publicKeys is empty)" : keys.map((k) => `${k.name} (${k.fingerprint})`).join(", ");

/**
 * Refused before anything is read: a tag where a digest is required.  (The config refuses it first in production;
 * this holds whatever reaches the step.)
 */
export function refusedUnread(s: Subject): SubjectVerdict | undefined {
    if (s.kind !== "image" || s.digest || !s.digestRequired) return undefined;
    return {
        subject: s.name, kind: s.kind, ref: subjectRef(s), verdict: "fail", failure: "tag",
        message: `image ${s.name} ${subjectRef(s)}: ${FAILURE_TEXT.tag} — a tag can be pushed over after it is verified; ` +
            `pin the signed digest (${s.configKey}: sha256:<64 hex>)`,
    };
}

/** Which observation explains a refusal, when several keys disagree: what the operator must fix first. */
const PRECEDENCE: Outcome[] = ["unreachable", "denied", "error", "not-found", "no-signature", "mismatch", "bad-signature"];

/**
 * The verdict on one subject from its observations under each key (`keys`: name and fingerprint of every configured
 * key, in order).  Passes on the first `verified`; otherwise refuses with the most telling observation.
 */
export function judgeSubject(s: Subject, keys: readonly { name: string; fingerprint: string }[], observations: readonly Observation[]): SubjectVerdict {
    const unread = refusedUnread(s);
    if (unread) return unread;
    const verified = observations.find((o) => o.outcome === "verified");
    const digest = verified?.digest ?? observations.find((o) => o.digest && o.outcome !== "mismatch")?.digest ?? (s.kind === "image" ? s.digest : s.sha256 && `sha256:${s.sha256}`);
    const ref = s.kind === "image" ? subjectRef(s, digest && digest.startsWith("sha256:") ? digest : undefined) : s.path;
    const what = s.kind === "image" ? `image ${s.name} ${ref}` : `${s.name} ${s.path}${digest ? ` (${digest})` : ""}`;
    const base = { subject: s.name, kind: s.kind, ref, ...(digest ? { digest } : {}) };
    if (verified) {
        const key = keys.find((k) => k.name === verified.key);
        const signer = key ? `${key.name} (${key.fingerprint})` : verified.key ?? "an unnamed key";
        // A tag outside production: verified at the digest it named now, which a later push can move.
        const moved = s.kind === "image" && !s.digest ? ` (tag ${s.tag} resolved to it now; pin it in ${s.configKey})` : "";
        return { ...base, verdict: "pass", signer, message: `${what}: signed by ${signer}${moved}` };
    }
    const worst = PRECEDENCE.map((p) => observations.find((o) => o.outcome === p)).find((o) => o !== undefined);
    const fail = (failure: FailureClass, why: string): SubjectVerdict => ({ ...base, verdict: "fail", failure, message: `${what}: ${FAILURE_TEXT[failure]} — ${why}` });
    const tried = keysText(keys);
    if (keys.length === 0) return fail("other-key", `there is no key to verify it with (signing.publicKeys is empty)`);
    if (!worst) return fail("tool", `nothing was verified (no reading was made), expected a signature from ${tried}`);
    const said = worst.detail ? ` (${worst.detail})` : "";
    switch (worst.outcome) {
        case "unreachable": {
            const where = s.kind === "image" ? `${registryOf(s.repository)} did not answer` : "the file could not be read";
            return fail("unreachable", `${where}${said}, so its signature could not be checked against ${tried}`);
        }
        case "denied":
            return fail("denied", `${s.kind === "image" ? registryOf(s.repository) : "the file"} refused access${said}: check speculation:registryCredentials for this host`);
        case "not-found":
            return fail("not-found", `the registry has no such image or digest${said}`);
        case "no-signature":
            return fail("unsigned", s.kind === "image"
                ? `no signature is stored for this digest${said}; expected one from ${tried}`
                : `its signature file ${s.signaturePath} is missing or empty${said}; expected a signature from ${tried}`);
        case "mismatch":
            return fail("mismatch", `the signature stored for it signs ${worst.digest ?? "other content"}, not this digest (copied from another image, or the image was replaced)${said}`);
        case "bad-signature":
            return s.kind === "image"
                ? fail("other-key", `its signature verifies with none of ${tried}`)
                : fail("other-key", `${s.signaturePath} verifies with none of ${tried}: signed by another key, or the file changed after it was signed`);
        default:
            return fail("tool", `cosign could not verify it${said}; expected a signature from ${tried}`);
    }
}

/** One line per subject, for the step's progress and the deployment record: `<subject> <digest> signed by <key>`. */
export function verdictLine(v: SubjectVerdict): string {
    return v.verdict === "pass" ? `PASS ${v.message}` : `FAIL ${v.message}`;
}

/** The headline of a refused release: how many subjects, which classes. */
export function refusalHeadline(verdicts: readonly SubjectVerdict[]): string {
    const failed = verdicts.filter((v) => v.verdict === "fail");
    const classes = [...new Set(failed.map((v) => FAILURE_TEXT[v.failure!]))];
    return `signature verification refused the release: ${failed.length} of ${verdicts.length} subject(s) failed (${classes.join("; ")})`;
}

/** A subject a run verified, as the step keeps it (its state) and the deployment record names it. */
export interface VerifiedSubject {
    subject: string;
    ref: string;
    digest?: string;
    /** `name (SHA256:…)` of the key that verified it. */
    signer: string;
    /** When it was read from the registry (a reused one keeps its first reading's time). */
    at: string;
}

/**
 * A digest an earlier run of this step verified under a key still configured (same name and fingerprint): its bytes
 * cannot have changed, so it passes without reading the registry again — a rollback to an image verified when it
 * shipped is not held back by a registry outage.  A tag, a blob, or a key since removed is read again.
 */
export function reusedVerdict(s: Subject, keys: readonly { name: string; fingerprint: string }[], earlier: readonly VerifiedSubject[]): SubjectVerdict | undefined {
    if (s.kind !== "image" || !s.digest) return undefined;
    const ref = subjectRef(s);
    const signers = new Set(keys.map((k) => `${k.name} (${k.fingerprint})`));
    const found = earlier.find((e) => e.ref === ref && signers.has(e.signer));
    if (!found) return undefined;
    return {
        subject: s.name, kind: s.kind, ref, digest: s.digest, verdict: "pass", signer: found.signer,
        message: `image ${s.name} ${ref}: signed by ${found.signer} (verified at ${found.at}; a digest's content cannot change, not read again)`,
    };
}
