/**
 * The local stack under the real engine: the Pulumi CLI built by scripts/build-toolchain.sh, a file backend and a
 * passphrase in a work folder, the program run as an Automation API inline program (no Node language host is
 * needed), the reference workloads and local SSH nodes as the things it drives.  `npm run local` and the e2e tests
 * both use this.
 */
import { execFileSync } from "child_process";
import { randomBytes } from "crypto";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "fs";
import * as path from "path";
import { parse } from "yaml";
import { ConfigMap, LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { nodeAddress } from "../lib/nodes/address";
import { defineStack } from "../program";
import { parseStackConfig } from "../config";
import { parseDuration } from "../config/duration";
import { GuardPlan, guardPlan } from "../lib/guard/plan";
import { sentinelSchema } from "../config/sentinel";
import { LocalMonitoring, LocalSentinel, startLocalMonitoring } from "../reference/localMonitoring";
import { startProofWorker, RunningProofWorker } from "../reference/proofWorker";
import { startFleet, TestFleet, writeAlysBinary } from "../reference/sshFleet";
import { RunningChainRpc, startChainRpc } from "../reference/solanaRpc";
import { RunningSpeculationService, startSpeculationService } from "../reference/speculationService";
import { RunningRegistry, startRegistry } from "../reference/registry";
import { dockerConfig, generateKeyPair, KeyPair, pushImage, signBlob, signImage, signingTools, SigningTools } from "../reference/signing";

export const ROOT = path.resolve(__dirname, "..");
export const PROJECT = "agenc-speculation";

/** Builds (or finds, warm) the CLI and the plugin shims; returns their folder. */
export function toolchain(): string {
    const out = execFileSync("bash", [path.join(ROOT, "scripts/build-toolchain.sh")], { stdio: ["ignore", "pipe", "inherit"] }).toString();
    return out.trim().split("\n").pop()!;
}

export interface LocalEnvironment {
    workDir: string;
    binDir: string;
    service: RunningSpeculationService;
    worker: RunningProofWorker;
    /** The Solana JSON-RPC stub the preflight checks (chain health, stake-pool balance). */
    chain: RunningChainRpc;
    fleet?: TestFleet;
    /** Debian's Prometheus and Alertmanager with the stack's rules and routes, and the watchdog (lib/watchdog). */
    monitoring: LocalMonitoring;
    /** The binary the node rollout ships (the reference `alys` program at the release version). */
    nodeBinary?: string;
    adminToken: string;
    sshPrivateKey?: string;
    /**
     * A signed release (startLocalEnvironment's `signing`): the loopback registry holding the release's two images,
     * each signed with cosign, the node binary signed with cosign sign-blob, and the key pair (docs/signing.md).
     */
    signing?: LocalSigning;
    passphrase: string;
    envVars: Record<string, string>;
    stop(): Promise<void>;
}

export interface LocalSigning {
    tools: SigningTools;
    registry: RunningRegistry;
    keys: KeyPair;
    /** The release's images in the loopback registry, each signed. */
    images: { speculation: { repository: string; digest: string }; proofWorker: { repository: string; digest: string } };
    /** A private registry (`signing: { auth: true }`): its credentials, and the Docker config crane and cosign push with. */
    auth?: { username: string; password: string; dockerConfig: string };
}

/**
 * The release side of signing on loopback, as a release pipeline does it: a cosign key pair, the release's two
 * images pushed (crane) and signed (cosign sign), the node binary signed (cosign sign-blob) — offline.
 */
async function signRelease(workDir: string, release: string, nodeBinary: string | undefined, auth: boolean, log: (line: string) => void): Promise<LocalSigning> {
    const tools = signingTools();
    const credentials = auth ? { username: "release-ci", password: randomBytes(18).toString("base64url") } : undefined;
    const registry = await startRegistry(credentials ? { auth: credentials } : {});
    const config = credentials ? dockerConfig({ [registry.host]: credentials }) : undefined;
    const pushEnv: Record<string, string> = config ? { DOCKER_CONFIG: config } : {};
    const keys = await generateKeyPair(tools, path.join(workDir, "keys"), "release");
    const image = async (name: string) => {
        const repository = `${registry.host}/agenc/${name}`;
        const digest = await pushImage(tools, `${repository}:${release}`, `${name} ${release}\n`, pushEnv);
        await signImage(tools, keys, `${repository}@${digest}`, pushEnv);
        log(`[local] signed ${repository}@${digest} with ${keys.pub}`);
        return { repository, digest };
    };
    const images = { speculation: await image("speculation"), proofWorker: await image("proof-worker") };
    if (nodeBinary) {
        await signBlob(tools, keys, nodeBinary);
        log(`[local] signed ${nodeBinary} (${nodeBinary}.sig) with ${keys.pub}`);
    }
    return { tools, registry, keys, images, ...(credentials && config ? { auth: { ...credentials, dockerConfig: config } } : {}) };
}

/**
 * Starts what the local stack drives and prepares its work folder: file backend under state/, a passphrase kept in
 * a 0600 file, PULUMI_HOME of its own, and a node_modules link so the engine's plugin shims find the SDK.
 */
export async function startLocalEnvironment(opts: {
    workDir: string; binDir: string; nodes: number; fleetVersion?: string; release?: string;
    /**
     * Sign the release on a loopback registry (npm run local; test/e2e/signing.e2e.ts), and verify it (localConfig);
     * `{ auth: true }`: a private registry, whose credentials the stack gets as a secret.
     */
    signing?: boolean | { auth: boolean }; log?: (line: string) => void;
}): Promise<LocalEnvironment> {
    const { workDir, binDir } = opts;
    mkdirSync(path.join(workDir, "state"), { recursive: true });
    mkdirSync(path.join(workDir, "home"), { recursive: true });
    if (!existsSync(path.join(workDir, "node_modules"))) symlinkSync(path.join(ROOT, "node_modules"), path.join(workDir, "node_modules"));
    const passphraseFile = path.join(workDir, "passphrase");
    if (!existsSync(passphraseFile)) writeFileSync(passphraseFile, randomBytes(24).toString("base64url"), { mode: 0o600 });
    const passphrase = readFileSync(passphraseFile, "utf8").trim();

    const adminToken = randomBytes(24).toString("base64url");
    const worker = await startProofWorker({ adminToken });
    const service = await startSpeculationService({ adminToken, version: opts.release ?? "v1.2.4" });
    const chain = await startChainRpc({ adminToken });
    const monitoring = await startLocalMonitoring({ serviceUrl: service.url, proofWorkerUrl: worker.url, adminToken, sentinel: localSentinel(), guard: localGuardPlan() });
    let fleet: TestFleet | undefined;
    let nodeBinary: string | undefined;
    if (opts.nodes > 0) {
        fleet = await startFleet(opts.nodes, opts.fleetVersion ?? "v1.2.3");
        nodeBinary = writeAlysBinary(path.join(workDir, "alys"), opts.release ?? "v1.2.4");
    }
    const signing = opts.signing
        ? await signRelease(workDir, opts.release ?? "v1.2.4", nodeBinary, typeof opts.signing === "object" && opts.signing.auth, opts.log ?? (() => undefined))
        : undefined;
    return {
        workDir, binDir, service, worker, chain, fleet, monitoring, nodeBinary, adminToken, passphrase, sshPrivateKey: fleet?.privateKey, signing,
        envVars: {
            PULUMI_BACKEND_URL: `file://${path.join(workDir, "state")}`,
            PULUMI_CONFIG_PASSPHRASE_FILE: passphraseFile,
            PULUMI_HOME: path.join(workDir, "home"),
            PULUMI_SKIP_UPDATE_CHECK: "1",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "1",
            PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "1",
        },
        stop: async () => {
            await monitoring.stop();
            await service.close();
            await worker.close();
            await chain.close();
            await fleet?.stop();
            await signing?.registry.stop();
        },
    };
}

/**
 * The local stack's `watchdog.sentinel` (Pulumi.local.yaml) for the local watchdog: the rule from the start, the probes
 * only once startSentinels() is called after the up that reaches 100 % (lib/watchdog/sentinel.ts's rule).
 */
export function localSentinel(): LocalSentinel {
    const doc = parse(readFileSync(path.join(ROOT, "Pulumi.local.yaml"), "utf8")) as { config: Record<string, any> };
    const s = sentinelSchema.parse(doc.config["speculation:watchdog"]?.sentinel ?? {});
    return { intervalSeconds: parseDuration(s.interval), windowSeconds: parseDuration(s.window), minProbes: s.minProbes, timeoutMs: parseDuration(s.timeout) * 1000, probing: false };
}

/**
 * The local stack's guard (lib/guard/plan.ts) from Pulumi.local.yaml: the local Prometheus, rules and watchdog run
 * with exactly the timings its bound is computed from.  The keys that exist only at run time (URLs, the token) do not
 * enter the guard; placeholders stand in for them here.
 */
export function localGuardPlan(edit: (c: Record<string, any>) => void = () => undefined): GuardPlan {
    const doc = parse(readFileSync(path.join(ROOT, "Pulumi.local.yaml"), "utf8")) as { config: Record<string, any> };
    const c: Record<string, any> = JSON.parse(JSON.stringify(doc.config));
    const placeholder = "http://127.0.0.1:9";
    c["speculation:canary"].gate = { ...c["speculation:canary"].gate, serviceUrl: placeholder, prometheusUrl: placeholder, alertmanagerUrl: placeholder };
    c["speculation:bench"] = { ...c["speculation:bench"], command: "true" };
    c["speculation:adminToken"] = "placeholder-token-0123456789abcdef";
    edit(c);
    const raw: Record<string, string> = {};
    for (const [k, v] of Object.entries(c)) raw[k] = typeof v === "string" ? v : JSON.stringify(v);
    const { config } = parseStackConfig(raw, new Set(["speculation:adminToken"]));
    return guardPlan(config);
}

/** Pulumi.local.yaml plus what exists only at run time; secrets go in as secrets. */
export function localConfig(env: LocalEnvironment, edit: (c: Record<string, any>) => void = () => undefined): ConfigMap {
    const doc = parse(readFileSync(path.join(ROOT, "Pulumi.local.yaml"), "utf8")) as { config: Record<string, any> };
    const c: Record<string, any> = JSON.parse(JSON.stringify(doc.config));
    c["speculation:canary"].gate = { ...c["speculation:canary"].gate, serviceUrl: env.service.url, proofWorkerUrl: env.worker.url,
        prometheusUrl: env.monitoring.prometheusUrl, alertmanagerUrl: env.monitoring.alertmanagerUrl, artifactsDir: path.join(env.workDir, "artifacts/gates"),
        // A revert's last path is the watchdog's action; an unconfirmed one pages through the local Alertmanager.
        revert: { ...c["speculation:canary"].gate?.revert, watchdogActionUrl: `${env.monitoring.watchdogUrl}/alerts` } };
    c["speculation:bench"] = {
        ...c["speculation:bench"],
        command: `npm run -s reference -- bench --url "$BENCH_TARGET_URL" --requests 2000 --concurrency 16 --warmup 1000`,
        resultsDir: path.join(env.workDir, "artifacts/benchmarks"),
    };
    c["speculation:preflight"] = { ...c["speculation:preflight"], chainRpcUrl: env.chain.url };
    c["speculation:records"] = { ...c["speculation:records"], artifactsDir: path.join(env.workDir, "artifacts/releases"), pushgatewayUrl: env.monitoring.pushgatewayUrl };
    if (env.fleet) {
        const p = env.fleet.paths;
        c["speculation:nodes"] = {
            ...c["speculation:nodes"],
            hosts: env.fleet.nodes.map(nodeAddress),
            binary: env.nodeBinary, restartCommand: p.restartCommand, healthCommand: p.healthCommand,
            serviceCheckCommand: p.serviceCheckCommand, artifactsDir: path.join(env.workDir, "artifacts/nodes"),
        };
    }
    if (env.signing) {
        // The signed release: its images in the loopback registry (verified although this stack deploys none), the
        // node binary's signature beside it, the key pair's public half, cosign as scripts/build-signing.sh built it.
        const s = env.signing;
        c["speculation:release"] = { ...c["speculation:release"], images: { speculation: { ...s.images.speculation }, proofWorker: { ...s.images.proofWorker } } };
        c["speculation:signing"] = {
            required: true, publicKeys: [{ name: "local-release", pem: s.keys.pem }], images: true,
            registries: [{ host: s.registry.host, insecure: true }], cosign: s.tools.cosign, timeout: "30s",
        };
    }
    edit(c);
    const map: ConfigMap = {};
    for (const [k, v] of Object.entries(c)) map[k] = { value: typeof v === "string" ? v : JSON.stringify(v) };
    map["speculation:adminToken"] = { value: env.adminToken, secret: true };
    if (env.signing?.auth) {
        const { username, password } = env.signing.auth;
        map["speculation:registryCredentials"] = { value: JSON.stringify({ [env.signing.registry.host]: { username, password } }), secret: true };
    }
    if (env.sshPrivateKey) map["speculation:sshPrivateKey"] = { value: env.sshPrivateKey, secret: true };
    return map;
}

/**
 * Gives every gRPC channel the SDK opens in this process its own subchannels. The local stack runs many inline updates
 * in one process, and each update's engine listens on a fresh loopback port; grpc-js shares subchannels process-wide
 * by address, so when a port repeats one that an earlier update's still-open channel saw fail, the new update's
 * channel inherits that subchannel in TRANSIENT_FAILURE and the update fails at once with "14 UNAVAILABLE: No
 * connection established. Last error: null". A `pulumi up` from the CLI is a new process and never meets this.
 */
export function isolateInlineGrpcChannels(): void {
    // The SDK's client options are a module-level object (runtime/settings.grpcClientOptions, marked @internal); every
    // resource monitor and engine client of an inline run is created with it.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const settings = require("@pulumi/pulumi/runtime/settings") as { grpcClientOptions?: Record<string, unknown> };
    if (!settings.grpcClientOptions) throw new Error("@pulumi/pulumi no longer exports runtime/settings.grpcClientOptions: re-check isolateInlineGrpcChannels");
    settings.grpcClientOptions["grpc.use_local_subchannel_pool"] = 1;
}

/** The stack, with the program as an inline program; `fresh` removes an earlier stack of the same name first. */
export async function openStack(env: LocalEnvironment, stackName: string, config: ConfigMap, fresh = false): Promise<Stack> {
    isolateInlineGrpcChannels();
    const pulumiCommand = await PulumiCommand.get({ root: path.dirname(env.binDir), skipVersionCheck: true });
    const ws = await LocalWorkspace.create({
        workDir: env.workDir,
        pulumiCommand,
        envVars: env.envVars,
        projectSettings: { name: PROJECT, runtime: "nodejs", description: "agenc-speculation local stack (inline program)" },
        program: async () => defineStack(),
    });
    if (fresh && (await ws.listStacks()).some((s) => s.name === stackName)) {
        await ws.removeStack(stackName, { force: true });
    }
    const stack = await Stack.createOrSelect(stackName, ws);
    await stack.setAllConfig(config);
    return stack;
}

/**
 * Window bake mode: waits until every stage in the last update's outputs has baked (bakeEndsAt), printing what it
 * waits for — what an operator does between two `pulumi up`s, in seconds instead of hours.
 */
export async function waitForBakes(stack: Stack, log: (s: string) => void = console.log): Promise<void> {
    // From the state, not the stack outputs: a refused or failed update leaves the outputs of the last good one.
    const state = await stack.exportStack();
    const gates = (state.deployment.resources ?? []).filter((r: { type: string }) => r.type.endsWith("dynamic/agenc:HealthGate"));
    const end = Math.max(0, ...gates.map((g: { outputs?: { bakeEndsAt?: string } }) => (g.outputs?.bakeEndsAt ? Date.parse(g.outputs.bakeEndsAt) : 0)));
    const wait = end - Date.now();
    if (wait <= 0) return;
    log(`[local] waiting ${(wait / 1000).toFixed(1)} s for the bake to end (${new Date(end).toISOString()})`);
    await new Promise((r) => setTimeout(r, wait + 250));
}

export const POLICY_PACK = path.join(ROOT, "policy");
export const policyConfig = (name: "local" | "staging" | "production") => path.join(ROOT, "policy/config", `${name}.json`);
