/**
 * Renders a stack offline, without an engine, cluster or cloud account (like `helm template`): runs program.ts
 * under Pulumi's mock monitor with the stack file's config and writes every Kubernetes object, the alert rules and
 * the dashboards to deployment-artifacts/rendered/<stack>/.  Secrets are written as "[secret]".
 *
 *   npm run render -- staging
 */
import * as pulumi from "@pulumi/pulumi";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import * as path from "path";
import { parse, stringify } from "yaml";
import { loadStackConfig } from "../config";
import { defineStack } from "../program";

function redact(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(redact);
    if (value && typeof value === "object") {
        const v = value as Record<string, unknown>;
        if (v[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig) return "[secret]";
        return Object.fromEntries(Object.entries(v).map(([k, inner]) => [k, redact(inner)]));
    }
    return value;
}

async function main(): Promise<void> {
    const stack = process.argv[2] ?? "staging";
    const root = path.resolve(__dirname, "..");
    const doc = parse(readFileSync(path.join(root, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> };
    const out = path.join(root, "deployment-artifacts", "rendered", stack);
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });

    const objects: { type: string; name: string; inputs: Record<string, unknown> }[] = [];
    pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)])), []);
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

    const manifests = objects.filter((o) => o.type.startsWith("kubernetes:") && o.inputs.kind);
    writeFileSync(path.join(out, "manifests.yaml"), manifests.map((m) => stringify(redact(m.inputs))).join("---\n"));
    writeFileSync(path.join(out, "resources.txt"), objects.map((o) => `${o.type}\t${o.name}`).join("\n") + "\n");
    console.log(`rendered stack ${stack}: ${objects.length} resources (${manifests.length} Kubernetes objects) in ${ms.toFixed(0)} ms → ${path.relative(root, out)}/`);
}

main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
});
