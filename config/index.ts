/**
 * Reads and validates the stack configuration once, before any resource is registered.
 *
 * `parseStackConfig` is pure (raw key → string map in, typed config or one ConfigError out) so the whole table of
 * bad configurations is tested without the engine; `loadStackConfig` feeds it from the running Pulumi program.
 */
import * as pulumi from "@pulumi/pulumi";
import { accessSync, constants, statSync } from "fs";
import * as path from "path";
import { z } from "zod";
import { CONFIG_NAMESPACE, crossFieldProblems, StackConfig, stackConfigSchema } from "./schema";
import { nodeBinarySignaturePath, RegistryCredentials, registryCredentialsSchema, signingProblems } from "./signing";
import { PushgatewayCredentials, pushgatewayCredentialsSchema } from "./runbook";

export * from "./schema";
export * from "./thresholds";
export * from "./duration";

/** The shortest admin token accepted from config (`speculation:adminToken`); the generated one has 48 characters. */
export const MIN_ADMIN_TOKEN_LENGTH = 32;

/** Config keys that hold secrets.  They must be set with `pulumi config set --secret` and stay Outputs. */
export const SECRET_KEYS = {
    /** { slackWebhookUrl?, pagerdutyRoutingKey? } — Alertmanager receivers. */
    alertReceivers: `${CONFIG_NAMESPACE}:alertReceivers`,
    /** PEM/OpenSSH private key the node rollout logs in with. */
    sshPrivateKey: `${CONFIG_NAMESPACE}:sshPrivateKey`,
    /**
     * The admin token (at least 32 characters).  Required for a service this program does not deploy
     * (kubernetes.enabled: false, the local stack).  With Kubernetes, optional: bring it from your secret manager,
     * or leave it out and the program generates one (RandomPassword, which needs the random provider plugin).
     */
    adminToken: `${CONFIG_NAMESPACE}:adminToken`,
    /**
     * { "<registry host>": { username, password } } — how the signature verification reads a private registry
     * (config/signing.ts).  Handed to cosign in a Docker config file of its own, never on a command line.
     */
    registryCredentials: `${CONFIG_NAMESPACE}:registryCredentials`,
    /**
     * { username, password } — HTTP basic auth of the Pushgateway at records.pushgatewayUrl (config/runbook.ts): sent
     * by the record and baseline pushes, and read by the generated scrape config from a Secret, never from the URL.
     */
    pushgatewayCredentials: `${CONFIG_NAMESPACE}:pushgatewayCredentials`,
} as const;

export interface AlertReceivers {
    slackWebhookUrl?: string;
    pagerdutyRoutingKey?: string;
}

const alertReceiversSchema = z.object({
    slackWebhookUrl: z.url({ protocol: /^https$/, error: "must be an https:// webhook URL" }).optional(),
    pagerdutyRoutingKey: z.string().regex(/^[A-Za-z0-9]{20,64}$/, { error: "must be a PagerDuty routing key (20-64 letters and digits)" }).optional(),
}).strict();

export class ConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(`invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
            problems.map((p) => `  - ${p}`).join("\n"));
        this.name = "ConfigError";
    }
}

export interface StackSecrets {
    alertReceivers: pulumi.Output<AlertReceivers>;
    sshPrivateKey: pulumi.Output<string> | undefined;
    adminToken: pulumi.Output<string> | undefined;
    registryCredentials: pulumi.Output<RegistryCredentials> | undefined;
    pushgatewayCredentials: pulumi.Output<PushgatewayCredentials> | undefined;
}

export interface LoadedConfig {
    config: StackConfig;
    /** The namespace, defaulted to agenc-<environment>. */
    namespace: string;
    secrets: StackSecrets;
    /** Which alert receivers are configured (a fact, not a secret). */
    receivers: { slack: boolean; pagerduty: boolean };
}

/** Renders a zod path as the operator typed it: `speculation:canary.steps[2].percentage`. */
export function configKeyPath(path: ReadonlyArray<PropertyKey>): string {
    const [top, ...rest] = path;
    let key = `${CONFIG_NAMESPACE}:${String(top ?? "")}`;
    for (const part of rest) {
        key += typeof part === "number" ? `[${part}]` : `.${String(part)}`;
    }
    return key;
}

/**
 * Edit distance between two keys, ignoring case (pollintreval → pollInterval): optimal string alignment, where an
 * insertion, a deletion, a substitution or a swap of two neighbours (nodse → nodes) each count as one edit.  The swap
 * case reads the row two back (d[i-2][j-2]), so three rows are kept.
 */
function distance(a: string, b: string): number {
    const x = a.toLowerCase();
    const y = b.toLowerCase();
    let twoBack: number[] = [];
    let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
    for (let i = 1; i <= x.length; i++) {
        const cur = [i];
        for (let j = 1; j <= y.length; j++) {
            cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
            if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) cur[j] = Math.min(cur[j], twoBack[j - 2] + 1);
        }
        twoBack = prev;
        prev = cur;
    }
    return prev[y.length];
}

/** The allowed key closest to an unknown one, when it is close enough to be a likely typo. */
export function closestKey(unknown: string, allowed: readonly string[]): string | undefined {
    let best: string | undefined;
    let bestDistance = Infinity;
    for (const key of allowed) {
        const d = distance(unknown, key);
        if (d < bestDistance) { best = key; bestDistance = d; }
    }
    return best !== undefined && bestDistance <= Math.max(1, Math.floor(Math.min(unknown.length, best.length) / 3)) ? best : undefined;
}

/** "unknown key "x": did you mean "y"? (allowed: …)": every unknown key with its likely typo, then what is allowed. */
export function unknownKeysMessage(keys: readonly string[], allowed: readonly string[]): string {
    const named = keys.map((k) => {
        const near = closestKey(k, allowed);
        return `"${k}"${near ? ` (did you mean "${near}"?)` : ""}`;
    });
    return `unknown key${keys.length > 1 ? "s" : ""} ${named.join(", ")}; allowed: ${[...allowed].sort().join(", ")}`;
}

/** The zod schema at a path inside another (through defaults, optionals and arrays), to list an object's keys. */
function schemaAt(root: z.ZodType, at: ReadonlyArray<PropertyKey>): z.ZodType | undefined {
    type Def = { type: string; innerType?: z.ZodType; element?: z.ZodType; shape?: Record<string, z.ZodType> };
    const def = (t: z.ZodType) => (t as unknown as { _zod: { def: Def } })._zod.def;
    const unwrap = (t: z.ZodType | undefined): z.ZodType | undefined => {
        let cur = t;
        while (cur && ["optional", "default", "prefault", "nullable", "readonly", "catch"].includes(def(cur).type)) cur = def(cur).innerType;
        return cur;
    };
    let cur = unwrap(root);
    for (const part of at) {
        if (!cur) return undefined;
        const d = def(cur);
        cur = unwrap(typeof part === "number" ? (d.type === "array" ? d.element : undefined) : (d.type === "object" ? d.shape?.[String(part)] : undefined));
    }
    return cur;
}

function allowedKeysAt(root: z.ZodType, at: ReadonlyArray<PropertyKey>): string[] {
    const s = schemaAt(root, at) as unknown as { _zod?: { def: { type: string; shape?: Record<string, unknown> } } } | undefined;
    return s?._zod?.def.type === "object" ? Object.keys(s._zod.def.shape ?? {}) : [];
}

function describeIssue(issue: z.core.$ZodIssue, root: z.ZodType = stackConfigSchema): string {
    if (issue.input === undefined && (issue.code === "invalid_type" || issue.code === "invalid_value")) {
        return `is required (${describeValueIssue(issue, root)})`;
    }
    return describeValueIssue(issue, root);
}

function describeValueIssue(issue: z.core.$ZodIssue, root: z.ZodType): string {
    switch (issue.code) {
        case "unrecognized_keys":
            return unknownKeysMessage(issue.keys, allowedKeysAt(root, issue.path));
        case "invalid_value":
            return `must be one of: ${issue.values.map(String).join(", ")}`;
        case "invalid_type":
            return issue.message.startsWith("Invalid input") ? `must be ${issue.expected === "int" ? "a whole number" : `a ${issue.expected}`}` : issue.message;
        default:
            return issue.message;
    }
}

/** Parses a raw config value the way the Pulumi CLI stores it: JSON for structured values, text otherwise. */
function decodeValue(raw: string): unknown {
    try {
        return JSON.parse(raw);
    } catch {
        return raw;
    }
}

/**
 * Validates the raw config map.  Every problem is collected and reported at once, each under the key the operator
 * sets, with what is allowed.
 */
export function parseStackConfig(raw: Record<string, string | undefined>, secretKeys: ReadonlySet<string> = new Set(),
    /** Folder local paths (nodes.binary, nodes.configFile) are relative to: the project folder the program runs in. */
    baseDir: string = process.cwd()):
    { config: StackConfig; namespace: string; alertReceivers: AlertReceivers; sshPrivateKey?: string; adminToken?: string; registryCredentials?: RegistryCredentials;
        pushgatewayCredentials?: PushgatewayCredentials } {
    const problems: string[] = [];
    const prefix = `${CONFIG_NAMESPACE}:`;
    const known = new Set(Object.keys(stackConfigSchema.shape));
    const secretNames = new Set<string>(Object.values(SECRET_KEYS));
    const input: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(raw)) {
        if (!key.startsWith(prefix) || value === undefined) continue;
        const name = key.slice(prefix.length);
        if (secretNames.has(key)) continue;
        if (!known.has(name)) {
            problems.push(`${key}: ${unknownKeysMessage([name], [...known, ...Object.keys(SECRET_KEYS)]).replace(/^unknown key "[^"]*"/, "unknown key")}`);
            continue;
        }
        input[name] = decodeValue(value);
    }

    // Issues carry the input (to tell "missing" from "wrong"); messages never print it.
    const result = stackConfigSchema.safeParse(input, { reportInput: true });
    if (!result.success) {
        for (const issue of result.error.issues) {
            problems.push(`${configKeyPath(issue.path)}: ${describeIssue(issue)}`);
        }
    }
    const parsedKeys: Record<string, unknown> = {};
    for (const [name, field] of Object.entries(stackConfigSchema.shape)) {
        const one = (field as z.ZodType).safeParse(input[name]);
        if (one.success) parsedKeys[name] = one.data;
    }
    for (const problem of [...crossFieldProblems(parsedKeys as Partial<StackConfig>), ...signingProblems(parsedKeys)]) {
        problems.push(`${configKeyPath(problem.path)}: ${problem.message}`);
    }

    let alertReceivers: AlertReceivers = {};
    const receiversRaw = raw[SECRET_KEYS.alertReceivers];
    if (receiversRaw !== undefined) {
        if (!secretKeys.has(SECRET_KEYS.alertReceivers)) {
            problems.push(`${SECRET_KEYS.alertReceivers}: must be set as a secret (pulumi config set --secret --path ...)`);
        }
        const parsed = alertReceiversSchema.safeParse(decodeValue(receiversRaw), { reportInput: true });
        if (parsed.success) {
            alertReceivers = parsed.data;
        } else {
            // Never echo the value: it is a secret.
            for (const issue of parsed.error.issues) {
                problems.push(`${SECRET_KEYS.alertReceivers}${issue.path.map((p) => `.${String(p)}`).join("")}: ${describeIssue(issue, alertReceiversSchema)}`);
            }
        }
    }
    const sshPrivateKey = raw[SECRET_KEYS.sshPrivateKey];
    if (sshPrivateKey !== undefined) {
        if (!secretKeys.has(SECRET_KEYS.sshPrivateKey)) {
            problems.push(`${SECRET_KEYS.sshPrivateKey}: must be set as a secret (pulumi config set --secret)`);
        }
        if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(sshPrivateKey)) {
            problems.push(`${SECRET_KEYS.sshPrivateKey}: must be a PEM or OpenSSH private key (-----BEGIN ... PRIVATE KEY-----)`);
        }
    }
    if (result.success && result.data.nodes.hosts.length > 0) {
        for (const key of ["binary", "configFile"] as const) {
            const file = result.data.nodes[key];
            const problem = file === undefined ? undefined : localFileProblem(file, baseDir);
            if (problem) problems.push(`${CONFIG_NAMESPACE}:nodes.${key}: ${problem}`);
        }
    }
    // A signed release ships the binary with its detached signature: a missing one is refused before anything runs.
    if (result.success && result.data.signing.required && result.data.nodes.hosts.length > 0 && result.data.nodes.binary) {
        const signature = nodeBinarySignaturePath(result.data)!;
        const problem = localFileProblem(signature, baseDir);
        if (problem) {
            problems.push(`${CONFIG_NAMESPACE}:signing.nodeBinarySignature: ${problem.replace("of the file to roll out", "of the node binary's signature")}` +
                `${result.data.signing.nodeBinarySignature ? "" : ` (default: nodes.binary + .sig); sign it with cosign sign-blob --key cosign.key --tlog-upload=false --output-signature ${signature} ${result.data.nodes.binary}`}`);
        }
    }
    if (result.success && result.data.nodes.hosts.length > 0 && sshPrivateKey === undefined) {
        problems.push(`${SECRET_KEYS.sshPrivateKey}: is required when ${CONFIG_NAMESPACE}:nodes.hosts is set`);
    }

    const adminToken = raw[SECRET_KEYS.adminToken];
    if (adminToken !== undefined && !secretKeys.has(SECRET_KEYS.adminToken)) {
        problems.push(`${SECRET_KEYS.adminToken}: must be set as a secret (pulumi config set --secret)`);
    }
    // With Kubernetes the program generates the token (a RandomPassword, which needs the random provider plugin)
    // unless the operator brings one from their secret manager; either way it lands in the service's Secret.
    if (adminToken !== undefined && adminToken.length < MIN_ADMIN_TOKEN_LENGTH) {
        problems.push(`${SECRET_KEYS.adminToken}: must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters (the generated one has 48)`);
    }
    if (result.success && !result.data.kubernetes.enabled && adminToken === undefined) {
        problems.push(`${SECRET_KEYS.adminToken}: is required when ${CONFIG_NAMESPACE}:kubernetes.enabled is false (the token of the service the gates talk to)`);
    }

    const registryKey = SECRET_KEYS.registryCredentials;
    const registryCredentials = secretCredentials(registryKey, raw[registryKey], registryCredentialsSchema, secretKeys, problems, {
        setHint: `${registryKey}["<host>"].password`, pathOf: (p) => `[${JSON.stringify(String(p))}]`,
    });

    const pushgatewayKey = SECRET_KEYS.pushgatewayCredentials;
    const pushgatewayCredentials = secretCredentials(pushgatewayKey, raw[pushgatewayKey], pushgatewayCredentialsSchema, secretKeys, problems, {
        setHint: `${pushgatewayKey}.password`, pathOf: (p) => `.${String(p)}`,
        applies: () => result.success && !result.data.records.pushgatewayUrl
            ? `only applies when ${CONFIG_NAMESPACE}:records.pushgatewayUrl is set (the credentials of that Pushgateway)` : undefined,
    });

    if (problems.length > 0 || !result.success) {
        throw new ConfigError(problems);
    }
    const config = result.data;
    return { config, namespace: config.namespace ?? `agenc-${config.environment}`, alertReceivers, sshPrivateKey, adminToken, registryCredentials, pushgatewayCredentials };
}

/** A local file the node rollout ships must exist and be readable before anything is registered. */
function localFileProblem(file: string, baseDir: string): string | undefined {
    const full = path.resolve(baseDir, file);
    try {
        if (!statSync(full).isFile()) return `${full} is not a file (a local path, relative to the project folder)`;
        accessSync(full, constants.R_OK);
        return undefined;
    } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        return code === "ENOENT"
            ? `${full} does not exist (a local path, relative to the project folder, of the file to roll out)`
            : `${full} cannot be read (${code ?? (e as Error).message})`;
    }
}

/**
 * The SDK knows which keys were set with --secret but marks that function internal; it is the only way to refuse a
 * secret written in plain text, so it is looked up by name and its absence is an error, not a silent "no".
 */
function isConfigSecret(key: string): boolean {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const runtimeConfig = require("@pulumi/pulumi/runtime/config") as { isConfigSecret?: (k: string) => boolean };
    if (typeof runtimeConfig.isConfigSecret !== "function") {
        throw new Error("@pulumi/pulumi no longer exports runtime/config.isConfigSecret; update config/index.ts");
    }
    return runtimeConfig.isConfigSecret(key);
}

/** Reads the running program's config.  Throws ConfigError before anything is registered. */
export function loadStackConfig(): LoadedConfig {
    const raw = pulumi.runtime.allConfig();
    const secretKeys = new Set(Object.keys(raw).filter((k) => isConfigSecret(k)));
    const parsed = parseStackConfig(raw, secretKeys);
    return {
        config: parsed.config,
        namespace: parsed.namespace,
        secrets: {
            alertReceivers: pulumi.secret(parsed.alertReceivers),
            sshPrivateKey: parsed.sshPrivateKey === undefined ? undefined : pulumi.secret(parsed.sshPrivateKey),
            adminToken: parsed.adminToken === undefined ? undefined : pulumi.secret(parsed.adminToken),
            registryCredentials: parsed.registryCredentials === undefined ? undefined : pulumi.secret(parsed.registryCredentials),
            pushgatewayCredentials: parsed.pushgatewayCredentials === undefined ? undefined : pulumi.secret(parsed.pushgatewayCredentials),
        },
        receivers: { slack: !!parsed.alertReceivers.slackWebhookUrl, pagerduty: !!parsed.alertReceivers.pagerdutyRoutingKey },
    };
}

/**
 * A credentials key that must be a Pulumi secret (registryCredentials, pushgatewayCredentials): refused unless set
 * with --secret, refused where it does not apply, parsed by `schema`; each problem names the key and the path in it
 * (`pathOf`), never the value.  Undefined when absent or refused.
 */
function secretCredentials<T>(key: string, raw: string | undefined, schema: z.ZodType<T>, secretKeys: ReadonlySet<string>, problems: string[],
    how: { setHint: string; pathOf: (p: PropertyKey) => string; applies?: () => string | undefined }): T | undefined {
    if (raw === undefined) return undefined;
    if (!secretKeys.has(key)) problems.push(`${key}: must be set as a secret (pulumi config set --secret --path '${how.setHint}' …)`);
    const notHere = how.applies?.();
    if (notHere) problems.push(`${key}: ${notHere}`);
    const parsed = schema.safeParse(decodeValue(raw), { reportInput: true });
    if (parsed.success) return parsed.data;
    // Never echo the value: it is a secret (a registry host is not, but an issue's input may hold the password).
    for (const issue of parsed.error.issues) {
        const said = issue.code === "unrecognized_keys" ? unknownKeysMessage(issue.keys, ["username", "password"]) : describeIssue(issue, schema);
        problems.push(`${key}${issue.path.map(how.pathOf).join("")}: ${said}`);
    }
    return undefined;
}
