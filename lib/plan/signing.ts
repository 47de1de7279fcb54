/**
 * What a signed release verifies (speculation:signing, docs/signing.md), resolved with the rest of the plan: every image
 * reference the update's pods run — exactly what program.ts gives the workloads (imageOf, one definition for both) —
 * and the node binary with its detached signature, each against the configured public keys.
 */
import * as path from "path";
import type { StackConfig } from "../../config/schema";
import { nodeBinarySignaturePath, verifiesImages } from "../../config/signing";
import type { BlobSubject, ImageSubject } from "../signatures/decision";
import { subjectRef } from "../signatures/decision";
import { keyFingerprint, PublicKey } from "../signatures/keys";

type ImageConfig = StackConfig["release"]["images"]["speculation"];

/**
 * A version's own image: the release's digest for the release, previousDigest (or none: the tag) for any other version
 * the workloads run (the stable track, a rollback's target).
 */
export function imageOf(image: ImageConfig, version: string, release: string): { repository: string; digest?: string } {
    const digest = version === release ? image.digest : image.previousDigest;
    return { repository: image.repository, ...(digest ? { digest } : {}) };
}

export interface SigningPlan {
    /** signing.required: false registers the step, which records `off`. */
    required: boolean;
    /** The image references the update's pods run (none when signing.images is off). */
    images: ImageSubject[];
    /** The node binary and its signature (with nodes.hosts): verified here, then on every node before the swap. */
    nodeBinary?: Omit<BlobSubject, "sha256">;
    publicKeys: PublicKey[];
    insecureRegistries: string[];
    cosign: string;
    timeoutMs: number;
    /** What `pulumi preview` shows (stack output `signing`): the keys, and what must verify under one of them. */
    summary: SigningSummary;
}

/**
 * The stack output `signing`, known in a preview: every key (name → fingerprint) and everything that must carry a
 * signature from one of them (images: name → repository@digest; the node binary and its signature file).  Short
 * values, one per line: the CLI cuts a long string in its display.
 */
export type SigningSummary =
    | { verification: "off: speculation:signing.required is false" }
    | { verification: "required"; keys: Record<string, string>; images: Record<string, string>; nodeBinary?: { file: string; signature: string; onEveryNode: string } };

/** Which versions of which image the update's pods run: the workloads, and the new track when the mode has one. */
export interface ImagesInUse {
    /** The proof workers' version (a rollback's target, else the release). */
    proofWorker: string;
    /** The stable speculation Deployment's version (a rollback's target, else the shift mode's stable track). */
    speculation: string;
    /** The new track's version (ingress-weight's canary, blue-green's green), when the plan declares one. */
    newTrack?: string;
}

export function signingPlan(config: StackConfig, inUse: ImagesInUse, env: { cwd: string }, timeoutMs: number): SigningPlan {
    const s = config.signing;
    const release = config.release;
    const digestRequired = config.environment === "production";
    const images: ImageSubject[] = [];
    if (verifiesImages(config)) {
        const add = (name: "speculation" | "proof-worker", image: ImageConfig, key: "speculation" | "proofWorker", version: string) => {
            const { repository, digest } = imageOf(image, version, release.version);
            const subject: ImageSubject = {
                kind: "image", name: `${name} ${version}`, repository, ...(digest ? { digest } : { tag: version }), digestRequired,
                configKey: `release.images.${key}.${version === release.version ? "digest" : "previousDigest"}`,
            };
            if (!images.some((i) => subjectRef(i) === subjectRef(subject))) images.push(subject);
        };
        add("speculation", release.images.speculation, "speculation", inUse.speculation);
        if (inUse.newTrack) add("speculation", release.images.speculation, "speculation", inUse.newTrack);
        add("proof-worker", release.images.proofWorker, "proofWorker", inUse.proofWorker);
    }
    const signature = nodeBinarySignaturePath(config);
    const nodeBinary = config.nodes.hosts.length > 0 && config.nodes.binary && signature
        ? { kind: "blob" as const, name: "node binary", path: path.resolve(env.cwd, config.nodes.binary), signaturePath: path.resolve(env.cwd, signature) }
        : undefined;
    return {
        required: s.required,
        images,
        ...(nodeBinary ? { nodeBinary } : {}),
        publicKeys: s.publicKeys.map((k) => ({ name: k.name, pem: k.pem })),
        insecureRegistries: s.registries.filter((r) => r.insecure).map((r) => r.host),
        cosign: s.cosign,
        timeoutMs,
        summary: !s.required ? { verification: "off: speculation:signing.required is false" } : {
            verification: "required",
            keys: Object.fromEntries(s.publicKeys.map((k) => [k.name, safeFingerprint(k.pem)])),
            images: Object.fromEntries(images.map((i) => [i.name, subjectRef(i)])),
            ...(nodeBinary ? { nodeBinary: { file: nodeBinary.path, signature: nodeBinary.signaturePath, onEveryNode: "openssl, after the upload and before the swap" } } : {}),
        },
    };
}

/** A key's fingerprint, or why it has none (the config refused it already; a plan is still printable). */
function safeFingerprint(pem: string): string {
    try { return keyFingerprint(pem); } catch { return "unreadable key"; }
}
