/**
 * Stack config for signed releases (issue 27, docs/signing.md): the public keys a release must be signed with, the
 * per-stack switch, which registries are reached over plain HTTP, and where the node binary's detached signature is.
 * One top-level key, `speculation:signing` (schema.ts adds it to the stack schema); the registry credentials are a
 * secret key of their own (`speculation:registryCredentials`, config/index.ts).  Public keys are not secret: they sit
 * in the stack file.
 *
 * The cross-key rules (production requires it; keys when required; the signature file) are signingProblems below,
 * which config/index.ts runs beside the schema's own.
 */
import { createPublicKey, KeyObject } from "crypto";
import { z } from "zod";
import { positiveDuration } from "./durationSchema";
import { localPath } from "./semantics";

/** A key's name as the reports print it: lower-case letters, digits, `.` and `-` (release-2026, ci.build-1). */
export const SIGNING_KEY_NAME = /^[a-z0-9](?:[-a-z0-9.]{0,61}[a-z0-9])?$/;
/** A registry as an image repository names it: host (with a dot or a port, or localhost), optional port. */
const REGISTRY_HOST = /^(?:localhost|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*)(?::\d{1,5})?$/;
/** The command name (looked up on PATH) or an absolute path of the cosign binary. */
const COMMAND = /^(?:[A-Za-z0-9._+-]+|\/[A-Za-z0-9._+@:,\/-]+)$/;

/**
 * Why a PEM text is not a public key the release can be verified with; undefined when it is.  Only ECDSA P-256 keys
 * (what `cosign generate-key-pair` makes): cosign signs with them, and a node checks the binary's signature with
 * `openssl dgst -sha256 -verify`, which reads the same ECDSA-with-SHA-256 signature (docs/signing.md).
 */
export function publicKeyProblem(pem: string): string | undefined {
    if (!/^-----BEGIN PUBLIC KEY-----\r?\n[\s\S]+\r?\n-----END PUBLIC KEY-----\s*$/.test(pem.trim() + "\n")) {
        if (/PRIVATE KEY-----/.test(pem)) return "is a PRIVATE key: give the public key (cosign.pub), never the private one";
        return "must be a PEM public key (-----BEGIN PUBLIC KEY----- … -----END PUBLIC KEY-----, the cosign.pub that `cosign generate-key-pair` writes)";
    }
    let key: KeyObject;
    try {
        key = createPublicKey(pem);
    } catch (e) {
        return `is not a readable PEM public key (${(e as Error).message})`;
    }
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (key.asymmetricKeyType !== "ec" || curve !== "prime256v1") {
        return `is a ${key.asymmetricKeyType}${curve ? ` ${curve}` : ""} key; must be an ECDSA P-256 key (cosign generate-key-pair), ` +
            "whose signatures the nodes verify with openssl";
    }
    return undefined;
}

const publicKeySchema = z.object({
    /** The key's name in every report ("signed by release-2026"). */
    name: z.string({ error: "must be a key name such as release-2026" }).regex(SIGNING_KEY_NAME, {
        error: "must be a key name: lower-case letters, digits, . and - (such as release-2026), at most 63",
    }),
    /** The PEM public key (cosign.pub), as `pulumi config set --path 'speculation:signing.publicKeys[0].pem' "$(cat cosign.pub)"` stores it. */
    pem: z.string({ error: "must be a PEM public key (the text of cosign.pub)" }).superRefine((pem, ctx) => {
        const problem = publicKeyProblem(pem);
        if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
}).strict();

const registrySchema = z.object({
    /** The registry as the image repositories name it (127.0.0.1:5000, registry.example.com). */
    host: z.string({ error: "must be a registry host such as registry.example.com or 127.0.0.1:5000" }).regex(REGISTRY_HOST, {
        error: "must be a registry host[:port] as an image repository names it (registry.example.com, 127.0.0.1:5000), no scheme or path",
    }),
    /**
     * Reach it over plain HTTP and accept any TLS certificate (cosign's --allow-http-registry and
     * --allow-insecure-registry): a registry on loopback only.  Refused in production for any other host.
     */
    insecure: z.boolean({ error: "must be true or false" }).default(false),
}).strict();

/** Signed releases (docs/signing.md): what must carry a valid signature before any pod or node runs it. */
export const signingSchema = z.object({
    /**
     * Every image digest of the release and the node binary must carry a valid signature from one of publicKeys before
     * anything runs them; false turns the verification off (the step records `off`).  Production requires true.
     */
    required: z.boolean({ error: "must be true or false" }).default(false),
    /** The public keys a release may be signed with (any one of them suffices); not secrets. */
    publicKeys: z.array(publicKeySchema, { error: "must be a list of { name, pem }" }).max(10, { error: "must list at most 10 keys" }).default([]),
    /**
     * Verify the release's image digests (default: kubernetes.enabled — a stack that deploys no images verifies only
     * the node binary, unless this is true and the images' registry is reachable, as `npm run local` does).
     */
    images: z.boolean({ error: "must be true or false" }).optional(),
    /** Registries reached over plain HTTP (loopback), by host; any other registry is reached over HTTPS. */
    registries: z.array(registrySchema, { error: "must be a list of { host, insecure }" }).default([]),
    /**
     * The node binary's detached signature: the base64 file `cosign sign-blob --output-signature` writes (default:
     * nodes.binary with .sig appended), relative to the project folder.
     */
    nodeBinarySignature: localPath("the node binary's signature").optional(),
    /** The cosign binary the verification runs: a command on PATH or an absolute path (scripts/build-signing.sh builds one). */
    cosign: z.string({ error: "must be a command name or an absolute path" }).regex(COMMAND, {
        error: "must be a command name (cosign) or an absolute path of letters, digits and . _ + @ : , / -",
    }).default("cosign"),
    timeout: positiveDuration("longest one verification (one cosign run) may take", { timer: true }).default("60s"),
}).strict().prefault({});

export type SigningConfig = z.output<typeof signingSchema>;

/** The per-registry credentials secret (`speculation:registryCredentials`): `{ "<host>": { username, password } }`. */
export const registryCredentialsSchema = z.record(
    z.string().regex(REGISTRY_HOST, { error: "each key must be a registry host[:port] as the image repositories name it" }),
    z.object({
        username: z.string({ error: "must be the registry user name" }).min(1, { error: "must not be empty" }),
        password: z.string({ error: "must be the registry password or token" }).min(1, { error: "must not be empty" }),
    }).strict(),
    { error: "must be a map of registry host to { username, password }" },
);
export type RegistryCredentials = z.output<typeof registryCredentialsSchema>;

/** What signingProblems reads of the other keys. */
export interface SigningInput {
    environment?: string;
    signing?: SigningConfig;
    kubernetes?: { enabled: boolean };
    nodes?: { hosts: unknown[]; binary?: string };
}

export interface SigningProblem {
    path: (string | number)[];
    message: string;
}

/** Whether the release's images are verified (signing.images, else kubernetes.enabled). */
export function verifiesImages(cfg: { signing: SigningConfig; kubernetes: { enabled: boolean } }): boolean {
    return cfg.signing.images ?? cfg.kubernetes.enabled;
}

/** The node binary's signature file (signing.nodeBinarySignature, else `<nodes.binary>.sig`). */
export function nodeBinarySignaturePath(cfg: { signing: SigningConfig; nodes: { binary?: string } }): string | undefined {
    return cfg.signing.nodeBinarySignature ?? (cfg.nodes.binary ? `${cfg.nodes.binary}.sig` : undefined);
}

/** The cross-key rules of `signing` (production requires it; keys when on; no insecure registry in production). */
export function signingProblems(cfg: SigningInput): SigningProblem[] {
    const s = cfg.signing;
    if (!s) return [];
    const problems: SigningProblem[] = [];
    const production = cfg.environment === "production";
    if (production && !s.required) {
        problems.push({ path: ["signing", "required"], message: "must be true in production: every image digest and the node binary are verified against signing.publicKeys before anything runs them (policy signed-releases)" });
    }
    if (s.required && s.publicKeys.length === 0) {
        problems.push({ path: ["signing", "publicKeys"], message: "must list at least one public key ({ name, pem }) when signing.required is true" });
    }
    const names = new Set<string>();
    const pems = new Map<string, string>();
    s.publicKeys.forEach((k, i) => {
        if (names.has(k.name)) problems.push({ path: ["signing", "publicKeys", i, "name"], message: `duplicates an earlier key name (${k.name})` });
        names.add(k.name);
        const der = derOf(k.pem);
        if (der && pems.has(der)) problems.push({ path: ["signing", "publicKeys", i, "pem"], message: `is the same key as ${pems.get(der)}` });
        if (der) pems.set(der, k.name);
    });
    const hosts = new Set<string>();
    s.registries.forEach((r, i) => {
        if (hosts.has(r.host)) problems.push({ path: ["signing", "registries", i, "host"], message: `duplicates an earlier registry (${r.host})` });
        hosts.add(r.host);
        if (production && r.insecure && !isLoopback(r.host)) {
            problems.push({ path: ["signing", "registries", i, "insecure"], message: `must be false in production for a registry off this machine (${r.host} would be read over plain HTTP; only a loopback registry may be)` });
        }
    });
    if (production && s.images === false) {
        problems.push({ path: ["signing", "images"], message: "must be true in production (its images run in pods)" });
    }
    if (s.nodeBinarySignature !== undefined && !(cfg.nodes?.hosts.length)) {
        problems.push({ path: ["signing", "nodeBinarySignature"], message: "only applies when nodes.hosts is set (the node binary's signature)" });
    }
    return problems;
}

/** A registry on this machine (loopback): plain HTTP to it never crosses a network. */
export function isLoopback(host: string): boolean {
    const name = host.replace(/:\d+$/, "");
    return name === "localhost" || /^127\.\d+\.\d+\.\d+$/.test(name) || host.startsWith("[::1]");
}

/** The key's DER (SubjectPublicKeyInfo) as base64, or undefined when it does not parse (its own key says why). */
function derOf(pem: string): string | undefined {
    try { return createPublicKey(pem).export({ type: "spki", format: "der" }).toString("base64"); } catch { return undefined; }
}
