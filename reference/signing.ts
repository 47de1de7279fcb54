/**
 * The release side of signing, as a release pipeline does it, for the tests and the local default (docs/signing.md):
 * a cosign key pair, images pushed to the loopback registry with crane, each digest signed with `cosign sign`, the node
 * binary signed with `cosign sign-blob` — all offline (no transparency log: --tlog-upload=false).  The tools come from
 * scripts/build-signing.sh (cached by version); the registry from reference/registry.ts.
 */
import { execFile, execFileSync } from "child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "..");

export interface SigningTools { crane: string; cosign: string }

/** Builds (cold: minutes) or finds (warm: a version check) crane and cosign; their paths. */
export function signingTools(): SigningTools {
    const out = execFileSync("bash", [path.join(ROOT, "scripts/build-signing.sh")], { stdio: ["ignore", "pipe", "inherit"] }).toString();
    const tools: Partial<SigningTools> = {};
    for (const line of out.trim().split("\n")) {
        const [name, file] = line.split(" ");
        if (name === "crane" || name === "cosign") tools[name] = file;
    }
    if (!tools.crane || !tools.cosign) throw new Error(`scripts/build-signing.sh printed no tool paths: ${out}`);
    return tools as SigningTools;
}

/**
 * No network beyond loopback: every HTTP(S) request a Go tool makes goes to a dead proxy, except to loopback, which Go
 * never proxies.  A signing or verification that needs the transparency log or a TUF root fails under it.
 */
export const OFFLINE_ENV: Record<string, string> = {
    HTTPS_PROXY: "http://127.0.0.1:9", HTTP_PROXY: "http://127.0.0.1:9", https_proxy: "http://127.0.0.1:9", http_proxy: "http://127.0.0.1:9",
    NO_PROXY: "", no_proxy: "",
};

function run(file: string, args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
        execFile(file, args, { env: { ...process.env, ...OFFLINE_ENV, ...env }, maxBuffer: 16 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
            if (err) reject(Object.assign(new Error(`${path.basename(file)} ${args.join(" ")} failed: ${stderr || err.message}`), { stdout, stderr }));
            else resolve({ stdout: String(stdout), stderr: String(stderr) });
        });
    });
}

export interface KeyPair {
    /** The encrypted private key (cosign.key) and its password. */
    key: string;
    password: string;
    /** The public key (cosign.pub) and its PEM text. */
    pub: string;
    pem: string;
}

/** `cosign generate-key-pair` into `dir` as `<name>.key` / `<name>.pub`, encrypted with a fresh password. */
export async function generateKeyPair(tools: SigningTools, dir: string, name = "cosign"): Promise<KeyPair> {
    mkdirSync(dir, { recursive: true });
    const password = `pw-${Math.random().toString(36).slice(2)}`;
    await run(tools.cosign, ["generate-key-pair", "--output-key-prefix", path.join(dir, name)], { COSIGN_PASSWORD: password });
    const pub = path.join(dir, `${name}.pub`);
    return { key: path.join(dir, `${name}.key`), password, pub, pem: readFileSync(pub, "utf8") };
}

/** A Docker config folder for crane and cosign holding registry credentials ({ host: { username, password } }). */
export function dockerConfig(credentials: Record<string, { username: string; password: string }>): string {
    const dir = mkdtempSync(path.join(tmpdir(), "docker-config-"));
    const auths = Object.fromEntries(Object.entries(credentials).map(([h, c]) => [h, { auth: Buffer.from(`${c.username}:${c.password}`).toString("base64") }]));
    writeFileSync(path.join(dir, "config.json"), JSON.stringify({ auths }), { mode: 0o600 });
    return dir;
}

/**
 * Pushes a one-layer image (a file holding `content`) as `<host>/<repository>:<tag>` with `crane append` (no base
 * image: nothing is pulled from the internet) and returns its digest.
 */
export async function pushImage(tools: SigningTools, ref: string, content: string, env: Record<string, string> = {}): Promise<string> {
    const dir = mkdtempSync(path.join(tmpdir(), "layer-"));
    mkdirSync(path.join(dir, "root"));
    writeFileSync(path.join(dir, "root", "release.txt"), content);
    execFileSync("tar", ["-cf", path.join(dir, "layer.tar"), "-C", path.join(dir, "root"), "."]);
    await run(tools.crane, ["append", "--insecure", "-f", path.join(dir, "layer.tar"), "-t", ref], env);
    return (await run(tools.crane, ["digest", "--insecure", ref], env)).stdout.trim();
}

/** `cosign sign` of `ref` (repository@digest) with the key pair, no transparency log. */
export async function signImage(tools: SigningTools, keys: KeyPair, ref: string, env: Record<string, string> = {}): Promise<void> {
    await run(tools.cosign, ["sign", "--key", keys.key, "--tlog-upload=false", "--yes", "--allow-http-registry=true", "--allow-insecure-registry=true", ref],
        { COSIGN_PASSWORD: keys.password, ...env });
}

/** `cosign sign-blob` of `file` with the key pair, no transparency log; writes the base64 signature to `out` (default `<file>.sig`). */
export async function signBlob(tools: SigningTools, keys: KeyPair, file: string, out = `${file}.sig`): Promise<string> {
    await run(tools.cosign, ["sign-blob", "--key", keys.key, "--tlog-upload=false", "--yes", "--output-signature", out, file], { COSIGN_PASSWORD: keys.password });
    return out;
}

/** `crane copy` inside the registry (the attacker's copy of a signature onto another digest, in the tests). */
export async function craneCopy(tools: SigningTools, from: string, to: string, env: Record<string, string> = {}): Promise<void> {
    await run(tools.crane, ["copy", "--insecure", from, to], env);
}
