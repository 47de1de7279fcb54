/**
 * The measurement half of the signature verification: runs cosign (v2, key pairs, no transparency log) and says
 * what it found as a named Observation (lib/signatures/decision.ts judges them).  Nothing here decides.
 *
 * Offline, on private infrastructure (docs/signing.md):
 *   cosign verify      --key <pub> --insecure-ignore-tlog=true [--allow-http-registry --allow-insecure-registry] <repo@digest>
 *   cosign triangulate --type signature <repo:tag>        (a tag outside production: the digest it names now)
 *   cosign verify-blob --key <pub> --insecure-ignore-tlog=true --signature <file.sig> <file>
 * with SIGSTORE_REKOR_PUBLIC_KEY set (to the key file; never read once the log is ignored): without one of cosign's
 * own-keys variables, cosign v2.6 fetches the public-good trusted root (trusted_root.json, tuf-repo-cdn.sigstore.dev)
 * on every verify, even with --key and no log — measured: a dead proxy made it warn on each run.
 * Registry credentials go to cosign in a Docker config file of its own (DOCKER_CONFIG, 0600, removed afterwards),
 * never on its command line, where any process could read them.
 *
 * Everything through require() inside the functions: the dynamic provider captures them when Pulumi serialises it.
 */
import type { Observation, Outcome } from "./decision";

export interface CosignOptions {
    /** The cosign binary: a command on PATH or an absolute path. */
    cosign: string;
    timeoutMs: number;
    /** Registries reached over plain HTTP (loopback): the http flags are given for these only. */
    insecureRegistries: readonly string[];
    /** A DOCKER_CONFIG folder holding the registry credentials (withCredentials makes one). */
    dockerConfig?: string;
    /** Extra environment (the tests point HTTPS_PROXY at a dead port to prove nothing leaves the machine). */
    env?: Record<string, string>;
}

export interface CosignRun {
    code: number;
    stdout: string;
    stderr: string;
    /** Killed at timeoutMs. */
    timedOut: boolean;
    /** The binary could not be started (not installed, not executable). */
    missing?: string;
}

/** Runs cosign with `args`; never throws (a missing binary or a timeout is in the result). */
export function runCosign(args: string[], opts: CosignOptions): Promise<CosignRun> {
    const { execFile } = require("child_process") as typeof import("child_process");
    return new Promise((resolve) => {
        execFile(opts.cosign, args, {
            timeout: opts.timeoutMs, killSignal: "SIGKILL", maxBuffer: 16 * 1024 * 1024,
            env: { ...process.env, ...(opts.dockerConfig ? { DOCKER_CONFIG: opts.dockerConfig } : {}), ...opts.env },
        }, (err, stdout, stderr) => {
            const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
            if (e && typeof e.code === "string") {
                resolve({ code: -1, stdout: String(stdout), stderr: String(stderr), timedOut: false, missing: `${opts.cosign}: ${e.code === "ENOENT" ? "not found (install cosign, or set speculation:signing.cosign)" : e.message}` });
                return;
            }
            resolve({ code: e ? (typeof e.code === "number" ? e.code : 1) : 0, stdout: String(stdout), stderr: String(stderr), timedOut: !!e?.killed });
        });
    });
}

/** The registry-reaching flags for `ref`'s registry: HTTP and any certificate only where the config says so (loopback). */
export function registryFlags(ref: string, insecureRegistries: readonly string[]): string[] {
    const first = ref.split("/")[0];
    return insecureRegistries.includes(first) ? ["--allow-http-registry=true", "--allow-insecure-registry=true"] : [];
}

/** The last meaningful line cosign printed (its `Error: …`), shortened for a report. */
export function cosignSaid(run: Pick<CosignRun, "stdout" | "stderr">): string {
    const lines = `${run.stderr}\n${run.stdout}`.split("\n").map((l) => l.trim()).filter(Boolean);
    // cosign prints `Error: <why>`, then `error during command execution: <why>` again.
    const error = [...lines].reverse().find((l) => l.startsWith("Error:")) ?? [...lines].reverse().find((l) => /^error /i.test(l)) ?? lines[lines.length - 1] ?? "";
    return error.replace(/^Error:\s*/, "").replace(/^error during command execution:\s*/, "").replace(/\s+/g, " ").slice(0, 400);
}

/**
 * What a failed cosign run means, from its words (v2.6; test/lib/signatures/cosignOutput.test.ts holds the texts the
 * real cosign printed in test/lib/signatures/images.int.test.ts and blob.int.test.ts).  Order matters: the network before the registry's
 * answers, those before the signature's.
 */
export function classifyFailure(text: string): Outcome {
    const t = text.toLowerCase();
    if (/connection refused|no such host|i\/o timeout|dial tcp|connection reset|tls: |x509: |eof$|context deadline exceeded|network is unreachable|server misbehaving/.test(t)) return "unreachable";
    // Status codes as words only: a digest's hex may hold "401" or "404".
    if (/unauthorized|authentication required|denied|forbidden|\b401\b|\b403\b/.test(t)) return "denied";
    if (/manifest_unknown|manifest unknown|name_unknown|not found|\b404\b/.test(t)) {
        // The signature's own manifest (sha256-<hex>.sig) missing is "no signatures found", not a missing image.
        if (/no signatures found/.test(t)) return "no-signature";
        return "not-found";
    }
    if (/no signatures found|no matching signatures: *$/.test(t)) return "no-signature";
    if (/docker-manifest-digest|digest.*(mismatch|does not match)|invalid or missing digest in claim|image.*digest.*claim/.test(t)) return "mismatch";
    if (/invalid signature|signature verification failed|failed to verify signature|verification error|no matching signatures/.test(t)) return "bad-signature";
    return "error";
}

/** The manifest digest each verified signature's payload names (cosign verify prints the payloads as JSON). */
export function payloadDigests(stdout: string): string[] {
    const digests: string[] = [];
    for (const line of stdout.split("\n")) {
        const l = line.trim();
        if (!l.startsWith("[") && !l.startsWith("{")) continue;
        try {
            const parsed = JSON.parse(l) as unknown;
            for (const p of Array.isArray(parsed) ? parsed : [parsed]) {
                const d = (p as { critical?: { image?: { "docker-manifest-digest"?: string } } })?.critical?.image?.["docker-manifest-digest"];
                if (typeof d === "string") digests.push(d);
            }
        } catch { /* not a payload line */ }
    }
    return digests;
}

/** An Observation for a run that did not verify: cosign missing, timed out, or its failure classified. */
function failed(run: CosignRun, key?: string): Observation {
    if (run.missing) return { key, outcome: "error", detail: run.missing };
    if (run.timedOut) return { key, outcome: "unreachable", detail: "cosign did not finish within signing.timeout" };
    const said = cosignSaid(run);
    const outcome = classifyFailure(said);
    // "invalid or missing digest in claim: sha256:…": the digest the signature's payload names.
    const claimed = outcome === "mismatch" ? /(sha256:[0-9a-f]{64})/.exec(said)?.[1] : undefined;
    return { key, outcome, detail: said, ...(claimed ? { digest: claimed } : {}) };
}

/** The environment that keeps a verification off the public-good TUF root (see the header). */
const privateInfrastructure = (keyFile: string) => ({ SIGSTORE_REKOR_PUBLIC_KEY: keyFile });

/** `cosign verify` of `repository@digest` under the key in `keyFile` (named `key`). */
export async function verifyImage(repository: string, digest: string, key: string, keyFile: string, opts: CosignOptions): Promise<Observation> {
    const ref = `${repository}@${digest}`;
    const run = await runCosign(["verify", "--key", keyFile, "--insecure-ignore-tlog=true", ...registryFlags(ref, opts.insecureRegistries), ref],
        { ...opts, env: { ...privateInfrastructure(keyFile), ...opts.env } });
    if (run.code !== 0 || run.missing || run.timedOut) return failed(run, key);
    // cosign checked the payload's digest against the image; the payloads say so again, and a run that verified
    // nothing naming this digest is not taken as a pass.
    const named = payloadDigests(run.stdout);
    if (!named.includes(digest)) {
        return { key, outcome: named.length > 0 ? "mismatch" : "error", digest: named[0], detail: named.length > 0 ? `the verified payloads name ${named.join(", ")}` : "cosign printed no signature payload" };
    }
    return { key, outcome: "verified", digest, detail: "cosign verify: the cosign claims were validated and the signature verified against the key" };
}

/** The digest a tag names now (`cosign triangulate` prints the signature's location, `<repo>:sha256-<hex>.sig`). */
export async function resolveTag(repository: string, tag: string, opts: CosignOptions): Promise<{ digest: string } | Observation> {
    const ref = `${repository}:${tag}`;
    const run = await runCosign(["triangulate", "--type", "signature", ...registryFlags(ref, opts.insecureRegistries), ref], opts);
    if (run.code !== 0 || run.missing || run.timedOut) return failed(run);
    const m = /:sha256-([0-9a-f]{64})\.sig\s*$/m.exec(run.stdout);
    return m ? { digest: `sha256:${m[1]}` } : { outcome: "error", detail: `cosign triangulate printed no digest (${run.stdout.trim().slice(0, 200)})` };
}

/** `cosign verify-blob` of `file` with its detached signature under the key in `keyFile`. */
export async function verifyBlob(file: string, signatureFile: string, key: string, keyFile: string, opts: CosignOptions): Promise<Observation> {
    const fs = require("fs") as typeof import("fs");
    let signature = "";
    try { signature = fs.readFileSync(signatureFile, "utf8").trim(); } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        return { key, outcome: "no-signature", detail: `${signatureFile}: ${code === "ENOENT" ? "no such file" : code ?? (e as Error).message}` };
    }
    if (!signature) return { key, outcome: "no-signature", detail: `${signatureFile} is empty` };
    try { fs.accessSync(file, fs.constants.R_OK); } catch (e) {
        return { key, outcome: "unreachable", detail: `${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
    }
    const run = await runCosign(["verify-blob", "--key", keyFile, "--insecure-ignore-tlog=true", "--signature", signatureFile, file],
        { ...opts, env: { ...privateInfrastructure(keyFile), ...opts.env } });
    if (run.code !== 0 || run.missing || run.timedOut) {
        const o = failed(run, key);
        // For a blob, a signature that does not verify is the key's or the bytes' (cosign cannot tell which).
        return o.outcome === "mismatch" ? { ...o, outcome: "bad-signature" } : o;
    }
    return { key, outcome: "verified", detail: "cosign verify-blob: Verified OK" };
}

/**
 * A Docker config folder holding `credentials` ({ host: { username, password } }), 0700 with a 0600 config.json,
 * for cosign's DOCKER_CONFIG; `remove()` deletes it.  Undefined when there are none.
 */
export function withCredentials(credentials: Record<string, { username: string; password: string }> | undefined): { dir: string; remove(): void } | undefined {
    if (!credentials || Object.keys(credentials).length === 0) return undefined;
    const fs = require("fs") as typeof import("fs");
    const os = require("os") as typeof import("os");
    const path = require("path") as typeof import("path");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agenc-cosign-"));
    fs.chmodSync(dir, 0o700);
    const auths = Object.fromEntries(Object.entries(credentials).map(([host, c]) => [host, { auth: Buffer.from(`${c.username}:${c.password}`).toString("base64") }]));
    fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify({ auths }), { mode: 0o600 });
    return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** The keys as files cosign reads (`--key <file>`), in a 0700 folder; `remove()` deletes it. */
export function keyFiles(keys: readonly { name: string; pem: string }[]): { files: Record<string, string>; remove(): void } {
    const fs = require("fs") as typeof import("fs");
    const os = require("os") as typeof import("os");
    const path = require("path") as typeof import("path");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "agenc-keys-"));
    const files: Record<string, string> = {};
    keys.forEach((k, i) => {
        files[k.name] = path.join(dir, `${i}-${k.name}.pub`);
        fs.writeFileSync(files[k.name], k.pem.trim() + "\n");
    });
    return { files, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** cosign's version line (`cosign version --json` gitVersion), for the report; undefined when it does not run. */
export async function cosignVersion(opts: CosignOptions): Promise<string | undefined> {
    const run = await runCosign(["version", "--json"], opts);
    if (run.code !== 0) return undefined;
    try { return (JSON.parse(run.stdout) as { gitVersion?: string }).gitVersion; } catch { return undefined; }
}
