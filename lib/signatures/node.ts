/**
 * The check a node makes on the binary it received, after the upload and before the swap (lib/nodes/script.ts puts
 * it in front of the rename): the detached signature (DER) against each configured public key with
 * `openssl dgst -sha256 -verify` — the same ECDSA P-256 / SHA-256 check `cosign verify-blob --key` makes
 * (lib/signatures/keys.ts), so a Debian node needs openssl, not cosign.  Pure shell text.
 *
 * On a refusal the uploaded file and its signature are removed, nothing is renamed or restarted, and the command
 * exits NODE_SIGNATURE_REFUSED with a `SIGNATURE …` line naming the file, its SHA-256 and the keys tried.
 */

/** Exit codes of the check: refused (no key verifies the file), and openssl missing on the node. */
export const NODE_SIGNATURE_REFUSED = 34;
export const NODE_OPENSSL_MISSING = 35;

/** The files the rollout uploads beside `<bin>.new`: the signature (DER) and one PEM per key. */
export function nodeSignaturePaths(newFile: string, keyCount: number): { signature: string; keys: string[] } {
    return { signature: `${newFile}.sig`, keys: Array.from({ length: keyCount }, (_, i) => `${newFile}.pub${i}`) };
}

/** A literal for the node's shell. */
const lit = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;

/**
 * Shell text verifying `file` (the uploaded `.new`) against `keys` (their names and fingerprints, and the PEM
 * files uploaded beside it); `onRefusal` is shell text run before the refusal exits (the node's state).  Prints
 * `SIGNER <name>` when a key verifies it.  Paths are double-quoted (they may use the node's environment).
 */
export function nodeVerifyScript(file: string, keys: readonly { name: string; fingerprint: string }[], onRefusal: string): string {
    const { signature, keys: keyFiles } = nodeSignaturePaths(file, keys.length);
    const q = (p: string) => `"${p}"`;
    const cleanup = `rm -f ${q(file)} ${q(signature)} ${keyFiles.map(q).join(" ")}`;
    const tried = keys.map((k) => `${k.name} (${k.fingerprint})`).join(", ");
    return [
        `command -v openssl >/dev/null 2>&1 || { echo ${lit(`SIGNATURE openssl is not installed on this node: the signature of ${file} cannot be verified; refused before the swap`)}; ${cleanup}; ${onRefusal}; exit ${NODE_OPENSSL_MISSING}; }`,
        `signer=""`,
        ...keys.map((k, i) => `[ -n "$signer" ] || ! openssl dgst -sha256 -verify ${q(keyFiles[i])} -signature ${q(signature)} ${q(file)} >/dev/null 2>&1 || signer=${lit(`${k.name} (${k.fingerprint})`)}`),
        `if [ -z "$signer" ]; then`,
        `  sum=$(sha256sum ${q(file)} 2>/dev/null | cut -d' ' -f1)`,
        `  echo "SIGNATURE ${file.replace(/["`$\\]/g, "")} (sha256:$sum) does not verify with ${tried.replace(/["`$\\]/g, "")}: refused on the node before the swap; the running binary is untouched"`,
        `  ${cleanup}; ${onRefusal}; exit ${NODE_SIGNATURE_REFUSED}`,
        `fi`,
        `echo "SIGNER $signer"`,
    ].join("\n");
}

/**
 * Removes the signature and keys uploaded beside `file` — after the rename (lib/nodes/script.ts), so a run killed
 * between the check and the rename finds them again when it resumes and checks again.
 */
export function nodeSignatureCleanup(file: string, keyCount: number): string {
    const { signature, keys } = nodeSignaturePaths(file, keyCount);
    return `rm -f ${[signature, ...keys].map((p) => `"${p}"`).join(" ")}`;
}

/** The refusal line of a node's answer, without its tag; undefined when the answer has none. */
export function nodeRefusal(stdout: string): string | undefined {
    return stdout.split("\n").find((l) => l.startsWith("SIGNATURE "))?.slice("SIGNATURE ".length);
}

/** The signer a node's answer names, or undefined. */
export function nodeSigner(stdout: string): string | undefined {
    return stdout.split("\n").find((l) => l.startsWith("SIGNER "))?.slice("SIGNER ".length);
}
