/**
 * Runs program.ts under Pulumi's mocks with a stack file's config (optionally edited), and records every resource
 * the program registers so tests can look at them by type and name.
 */
import * as pulumi from "@pulumi/pulumi";
import { mkdtempSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { parse } from "yaml";
import { ConfigError, loadStackConfig } from "../../config";
import { defineStack } from "../../program";

export interface Registered {
    type: string;
    name: string;
    inputs: Record<string, any>;
    /** What the mocks return as the resource's state (inputs plus what a real run would add). */
    outputs: Record<string, any>;
    parent?: string;
    dependencies: string[];
    urn: string;
    /** The resource options the program set that change how the engine and provider treat it. */
    options?: RegisteredOptions;
}

export interface RegisteredOptions {
    /** The provider reference (`<provider URN>::<id>`), when an explicit provider was given. */
    provider?: string;
    replaceOnChanges: string[];
    deleteBeforeReplace: boolean;
    customTimeouts?: { create: string; update: string; delete: string };
    /**
     * The aliases registered (name, type — empty when the same — and parent URN): how an object keeps its identity
     * when it moves.  Kubernetes classes add type aliases of their own (older API versions).
     */
    aliases?: { name: string; type: string; parentUrn: string }[];
}

export const ROOT = path.resolve(__dirname, "..", "..");

/** What program.ts's defineStack returns: the stack's outputs. */
export type StackOutputs = ReturnType<typeof defineStack>;

/** The config map a stack file declares, as the engine hands it to the program (JSON for structured values). */
export function stackConfig(stack: "staging" | "production"): Record<string, unknown> {
    const doc = parse(readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
    return { ...doc.config };
}

export function encodeConfig(config: Record<string, unknown>): Record<string, string> {
    return Object.fromEntries(Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]));
}

export class MockEngine {
    readonly resources: Registered[] = [];

    install(config: Record<string, unknown>, secretKeys: string[] = []): void {
        this.resources.length = 0;
        this.registrations.clear();
        pulumi.runtime.setAllConfig(encodeConfig(config), secretKeys);
        void pulumi.runtime.setMocks({
            newResource: (args) => {
                const outputs = { ...args.inputs };
                if (args.type === "random:index/randomPassword:RandomPassword") outputs.result = "mock-admin-token-0123456789abcdef";
                // Gates and bench runs report a verdict only once they have run; under mocks they "passed".
                if (/dynamic\/agenc:(HealthGate|BenchRun|Preflight|ReleaseSmokeTest|Verification)$/.test(args.type)) outputs.verdict = "pass";
                if (args.type.endsWith("dynamic/agenc:SignatureVerification")) outputs.verdict = args.inputs.required ? "pass" : "off";
                if (args.type.endsWith("dynamic/agenc:ErrorBaseline")) outputs.errorRate = 0.002;
                if (args.type.endsWith("dynamic/agenc:SshRollout")) outputs.record = { status: "deployed", version: args.inputs.version };
                if (args.inputs?.metadata && !args.inputs.metadata.name) {
                    outputs.metadata = { ...args.inputs.metadata, name: `${args.name}-generated` };
                }
                const seen = this.registrations.get(`${args.type}::${args.name}`);
                this.resources.push({
                    type: args.type, name: args.name, inputs: args.inputs, outputs,
                    urn: seen?.urn ?? `urn:pulumi:test::agenc-speculation::${args.type}::${args.name}`,
                    parent: seen?.parent || undefined, dependencies: seen?.dependencies ?? [],
                    options: seen?.options ?? { replaceOnChanges: [], deleteBeforeReplace: false },
                });
                return { id: `${args.name}-id`, state: outputs };
            },
            call: (args) => args.inputs,
        }, "agenc-speculation", "test", false);
        // The mock monitor hands newResource no parent or dependencies; record them from the registration request
        // so the policy pack's stack policies can be run against the program's real resource graph.
        const monitor = (pulumi.runtime as unknown as { getMonitor(): any }).getMonitor();
        const register = monitor.registerResource.bind(monitor);
        monitor.registerResource = (req: any, callback: unknown) => {
            const timeouts = req.getCustomtimeouts();
            this.registrations.set(`${req.getType()}::${req.getName()}`, {
                urn: monitor.newUrn(req.getParent(), req.getType(), req.getName()),
                parent: req.getParent(),
                dependencies: req.getDependenciesList(),
                options: {
                    provider: req.getProvider() || undefined,
                    replaceOnChanges: req.getReplaceonchangesList(),
                    deleteBeforeReplace: req.getDeletebeforereplace(),
                    customTimeouts: timeouts && (timeouts.getCreate() || timeouts.getUpdate() || timeouts.getDelete())
                        ? { create: timeouts.getCreate(), update: timeouts.getUpdate(), delete: timeouts.getDelete() } : undefined,
                    aliases: (req.getAliasesList?.() ?? []).map((a: any) => a.getSpec?.()).filter(Boolean)
                        .map((spec: any) => ({ name: spec.getName(), type: spec.getType(), parentUrn: spec.getParenturn() })),
                },
            });
            return register(req, callback);
        };
    }

    private readonly registrations = new Map<string, { urn: string; parent: string; dependencies: string[]; options: RegisteredOptions }>();

    private readonly rendered = new Map<string, { resources: Registered[]; outputs: StackOutputs }>();

    /**
     * Runs the program on `config` (the stack's config map, `secretKeys` marked secret) and waits for every
     * registration; returns the stack's outputs, `resources` holding what it registered.  A config this engine already
     * ran is not run again: the program is deterministic under the mocks, so the same registrations are restored (and
     * the runtime's config set to `config`, for a test that reads it back).  A config the program refuses is never
     * remembered: it throws each time.
     */
    async render(config: Record<string, unknown>, secretKeys: string[] = []): Promise<StackOutputs> {
        const key = `${JSON.stringify(config)}\u0000${secretKeys.join(",")}`;
        const seen = this.rendered.get(key);
        if (seen) {
            pulumi.runtime.setAllConfig(encodeConfig(config), secretKeys);
            this.resources.length = 0;
            this.resources.push(...seen.resources);
            return seen.outputs;
        }
        this.install(config, secretKeys);
        const outputs = defineStack(loadStackConfig());
        await settle(outputs as unknown as Record<string, unknown>);
        this.rendered.set(key, { resources: [...this.resources], outputs });
        return outputs;
    }

    ofType(type: string): Registered[] {
        return this.resources.filter((r) => r.type === type);
    }

    one(type: string, name: string): Registered {
        const found = this.resources.find((r) => r.type === type && r.name === name);
        if (!found) throw new Error(`no ${type} named ${name}; registered: ${this.resources.map((r) => `${r.type}/${r.name}`).join(", ")}`);
        return found;
    }

    byK8sName(type: string, k8sName: string): Registered {
        const found = this.resources.find((r) => r.type === type && r.inputs?.metadata?.name === k8sName);
        if (!found) throw new Error(`no ${type} with metadata.name ${k8sName}`);
        return found;
    }
}

/** Resolves an Output in a mocked program (values may be unknown during preview; mocks run as update). */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((v) => { resolve(v); return v; }));
}

/** Lets every pending registration reach the mock monitor. */
export async function settle(outputs: Record<string, unknown>): Promise<void> {
    await Promise.all(Object.values(outputs).filter(pulumi.Output.isInstance).map((o) => valueOf(o as pulumi.Output<unknown>)));
    await new Promise((resolve) => setImmediate(resolve));
}

export function isSecretOutput(o: pulumi.Output<unknown>): Promise<boolean> {
    return (o as unknown as { isSecret: Promise<boolean> }).isSecret;
}

/** Deep-sets a dotted path ("canary.steps[2].percentage") inside a config value, for the bad-config table. */
export function withEdit(config: Record<string, unknown>, key: string, pathInKey: string | undefined, value: unknown): Record<string, unknown> {
    const copy = JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
    if (!pathInKey) {
        if (value === undefined) delete copy[key]; else copy[key] = value;
        return copy;
    }
    const parts = pathInKey.split(/\.|\[|\]/).filter(Boolean).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
    let target = (copy[key] ??= {}) as Record<string | number, unknown>;
    for (const part of parts.slice(0, -1)) target = (target[part] ??= {}) as Record<string | number, unknown>;
    const last = parts[parts.length - 1];
    if (value === undefined) delete target[last]; else target[last] = value;
    return copy;
}

/** The value inside a secret as the mock monitor receives it (the engine protocol's secret envelope), else undefined. */
export function secretEnvelope(value: unknown): unknown | undefined {
    const v = value as Record<string, unknown> | undefined;
    return v && v[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig ? v.value : undefined;
}

export const TEST_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
export const TEST_SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
/** The secret keys a config from withNodes needs marked as secret. */
export const NODE_SECRET_KEYS = ["speculation:sshPrivateKey"];

let testBinary: string | undefined;

/**
 * Adds `count` bare-metal nodes (alys-1 … at 10.0.0.1 …, one pinned test host key), a binary that exists (with a
 * signature file beside it) and the SSH key secret to a stack config, then any further `speculation:nodes` settings.
 */
export function withNodes(config: Record<string, unknown>, count: number, nodes: Record<string, unknown> = {}): Record<string, unknown> {
    if (!testBinary) {
        testBinary = path.join(mkdtempSync(path.join(tmpdir(), "alys-")), "alys");
        writeFileSync(testBinary, "#!/bin/sh\necho alys v1.2.3\n");
        // Its detached signature's file (a signed release ships one; the loader checks it exists, the step verifies it).
        writeFileSync(`${testBinary}.sig`, "MEUCIQDtest\n");
    }
    const hosts = Array.from({ length: count }, (_, i) => ({ name: `alys-${i + 1}`, host: `10.0.0.${i + 1}`, user: "deploy", hostKey: TEST_HOST_KEY }));
    let c = withEdit(config, "speculation:nodes", "hosts", hosts);
    c = withEdit(c, "speculation:nodes", "binary", testBinary);
    for (const [k, v] of Object.entries(nodes)) c = withEdit(c, "speculation:nodes", k, v);
    return withEdit(c, "speculation:sshPrivateKey", undefined, TEST_SSH_KEY);
}

/**
 * Runs the program on the installed config and returns the ConfigError it must stop with (anything else fails the
 * test): what the config tests assert on, together with `engine.resources` being empty.
 */
export function expectConfigRefusal(): ConfigError {
    try {
        defineStack(loadStackConfig());
    } catch (e) {
        if (e instanceof ConfigError) return e;
        throw e;
    }
    throw new Error("the config was accepted: expected a ConfigError before anything registered");
}
