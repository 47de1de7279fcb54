/**
 * The public keys a release is verified against: their fingerprints, as every report prints them, and the check a
 * deployer (and a test) can make without cosign.  A cosign key-pair signature is a plain ECDSA P-256 signature over the
 * SHA-256 of the signed bytes, DER-encoded and base64'd: Node's crypto.verify and `openssl dgst -sha256 -verify` read
 * the same signature (test/lib/signatures/blob.int.test.ts shows the three agree, cosign included).
 * Plain functions: the dynamic provider captures them when Pulumi serialises it (crypto through require()).
 */

export interface PublicKey {
    /** The key's name in the reports (speculation:signing.publicKeys[].name). */
    name: string;
    pem: string;
}

/** The key as reports name it: `release-2026 (SHA256:…)`, the SHA-256 of its DER SubjectPublicKeyInfo, base64 unpadded (as ssh-keygen -l prints). */
export function keyFingerprint(pem: string): string {
    const { createHash, createPublicKey } = require("crypto") as typeof import("crypto");
    const der = createPublicKey(pem).export({ type: "spki", format: "der" });
    return `SHA256:${createHash("sha256").update(der).digest("base64").replace(/=+$/, "")}`;
}

export const keyLabel = (k: PublicKey): string => `${k.name} (${keyFingerprint(k.pem)})`;

/**
 * Whether `signatureBase64` (what `cosign sign-blob --output-signature` writes) is a valid signature of `data` under
 * `pem`: ECDSA with SHA-256, DER signature — what `cosign verify-blob --key` and `openssl dgst -sha256 -verify` accept.
 */
export function signatureVerifies(data: Buffer, signatureBase64: string, pem: string): boolean {
    const { verify } = require("crypto") as typeof import("crypto");
    const signature = Buffer.from(signatureBase64.trim(), "base64");
    if (signature.length === 0) return false;
    try {
        return verify("sha256", data, pem, signature);
    } catch {
        return false;
    }
}

/** The first key `signatureBase64` verifies `data` under, or undefined. */
export function signerOf(data: Buffer, signatureBase64: string, keys: readonly PublicKey[]): PublicKey | undefined {
    return keys.find((k) => signatureVerifies(data, signatureBase64, k.pem));
}
