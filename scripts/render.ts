/**
 * Renders a stack offline, without an engine, cluster or cloud account (like `helm template`): runs program.ts
 * under Pulumi's mock monitor with the stack file's config and writes every Kubernetes object, in the order the
 * program registers them, to deployment-artifacts/rendered/<stack>/manifests.yaml (and the list of every resource
 * to resources.txt).  `kubectl apply -f manifests.yaml` accepts the result: secrets keep their shape and only
 * their values are redacted, one by one ("[secret]"; base64 of it under a Secret's `data`).
 *
 *   npm run render -- staging [--out DIR]
 */
import * as pulumi from "@pulumi/pulumi";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import * as path from "path";
import { parse } from "yaml";
import { portableYaml } from "../lib/portableYaml";
import { loadStackConfig } from "../config";
import { defineStack } from "../program";

export const REDACTED = "[secret]";

/** Every leaf inside a secret becomes "[secret]" (base64-encoded under `data`), so maps and lists keep their keys. */
function redactLeaves(value: unknown, base64: boolean): unknown {
    if (Array.isArray(value)) return value.map((v) => redactLeaves(v, base64));
    if (value && typeof value === "object") {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactLeaves(v, base64)]));
    }
    return base64 ? Buffer.from(REDACTED).toString("base64") : REDACTED;
}

/** Replaces each secret (the engine protocol's secret envelope) by its value with every leaf redacted. */
export function redact(value: unknown, key?: string): unknown {
    if (Array.isArray(value)) return value.map((v) => redact(v));
    if (value && typeof value === "object") {
        const v = value as Record<string, unknown>;
        if (v[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig) return redactLeaves(unwrap(v.value), key === "data");
        return Object.fromEntries(Object.entries(v).filter(([, inner]) => inner !== undefined).map(([k, inner]) => [k, redact(inner, k)]));
    }
    return value;
}

/** Nested envelopes inside a secret value (a secret inside a secret map) are just values. */
function unwrap(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(unwrap);
    if (value && typeof value === "object") {
        const v = value as Record<string, unknown>;
        if (v[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig) return unwrap(v.value);
        return Object.fromEntries(Object.entries(v).map(([k, inner]) => [k, unwrap(inner)]));
    }
    return value;
}

export interface Rendered {
    /** Every registered resource, type and name. */
    resources: { type: string; name: string }[];
    /** The Kubernetes objects, redacted, in registration order. */
    manifests: Record<string, unknown>[];
    /** manifests as one multi-document YAML. */
    yaml: string;
    ms: number;
}

/** Runs the program under the mocks with this config (secret keys marked) and returns what it registers. */
export async function renderStack(stack: string, config: Record<string, unknown>, secretKeys: string[] = []): Promise<Rendered> {
    const objects: { type: string; name: string; inputs: Record<string, unknown> }[] = [];
    pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])), secretKeys);
    await pulumi.runtime.setMocks({
        newResource: (args) => {
            objects.push({ type: args.type, name: args.name, inputs: args.inputs });
            return { id: `${args.name}-id`, state: { ...args.inputs, ...(args.type.startsWith("random:") ? { result: "[generated at deploy]" } : {}) } };
        },
        call: (args) => args.inputs,
    }, "agenc-speculation", stack, true);

    const started = process.hrtime.bigint();
    const outputs = defineStack(loadStackConfig());
    await new Promise<void>((resolve) => pulumi.output(outputs.namespace).apply(() => resolve()));
    await new Promise((resolve) => setImmediate(resolve));
    const ms = Number(process.hrtime.bigint() - started) / 1e6;

    const manifests = objects.filter((o) => o.type.startsWith("kubernetes:") && o.inputs.kind).map((m) => redact(m.inputs) as Record<string, unknown>);
    return {
        resources: objects.map((o) => ({ type: o.type, name: o.name })),
        manifests,
        yaml: manifests.map((m) => portableYaml(m)).join("---\n"),
        ms,
    };
}

async function main(): Promise<void> {
    const args = process.argv.slice(2);
    const outAt = args.indexOf("--out");
    const outArg = outAt >= 0 ? args.splice(outAt, 2)[1] : undefined;
    const stack = args[0] ?? "staging";
    const root = path.resolve(__dirname, "..");
    const doc = parse(readFileSync(path.join(root, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
    const out = outArg ? path.resolve(outArg) : path.join(root, "deployment-artifacts", "rendered", stack);
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    const rendered = await renderStack(stack, doc.config);
    writeFileSync(path.join(out, "manifests.yaml"), rendered.yaml);
    writeFileSync(path.join(out, "resources.txt"), rendered.resources.map((o) => `${o.type}\t${o.name}`).join("\n") + "\n");
    console.log(`rendered stack ${stack}: ${rendered.resources.length} resources (${rendered.manifests.length} Kubernetes objects) in ${rendered.ms.toFixed(0)} ms → ${path.relative(process.cwd(), out) || "."}/`);
}

if (require.main === module) {
    main().catch((err) => {
        console.error(err instanceof Error ? err.message : err);
        process.exit(1);
    });
}
