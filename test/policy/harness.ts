/**
 * Runs the policy pack's policies the way the analyzer does, without the engine: real type strings (no `isType`
 * stub that matches everything), config from the stack's pack-config file over the schema defaults, and the
 * enforcement level the engine would apply from that file.  Model: pulumi/compliance-policies tests/utils.ts.
 */
import type { PolicyResource, ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";
import { readFileSync } from "fs";
import * as path from "path";
import { policies } from "../../policy/policies";
import { Registered, ROOT } from "../helpers/stack";

export type Stack = "staging" | "production";
export type Level = "advisory" | "mandatory" | "disabled" | "remediate";

export interface Violation {
    policy: string;
    level: Level;
    message: string;
    resource?: string;
}

type PackConfig = Record<string, string | Record<string, unknown>>;

export function packConfig(stack: Stack): PackConfig {
    return JSON.parse(readFileSync(path.join(ROOT, "policy", "config", `${stack}.json`), "utf8"));
}

/** The engine's rule: a policy's own entry, then "all", then the pack's default (advisory). */
export function enforcementLevel(policy: string, config: PackConfig): Level {
    const own = config[policy];
    if (typeof own === "string") return own as Level;
    if (own && typeof own === "object" && typeof own.enforcementLevel === "string") return own.enforcementLevel as Level;
    if (typeof config.all === "string") return config.all as Level;
    return "advisory";
}

function policyConfig(name: string, config: PackConfig, schema: { properties?: Record<string, { default?: unknown }> } | undefined): object {
    const defaults = Object.fromEntries(Object.entries(schema?.properties ?? {}).map(([k, v]) => [k, v.default]));
    const own = typeof config[name] === "object" ? config[name] as Record<string, unknown> : {};
    const { enforcementLevel: _l, ...values } = own;
    return { ...defaults, ...values };
}

const notApplicable = (): never => { throw new Error("not applicable"); };

export interface PolicyInput {
    type: string; name: string; props: Record<string, any>; urn?: string;
    customTimeouts?: { createSeconds: number; updateSeconds: number; deleteSeconds: number };
}

/** A registered `customTimeouts` ("3m") as the analyzer hands it to a policy (seconds). */
function timeoutSeconds(t: { create: string; update: string; delete: string } | undefined): PolicyInput["customTimeouts"] {
    if (!t) return undefined;
    const secs = (d: string) => { const m = /^(\d+)(s|m|h)$/.exec(d ?? ""); return m ? Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as "s"] : 0; };
    return { createSeconds: secs(t.create), updateSeconds: secs(t.update), deleteSeconds: secs(t.delete) };
}

/** `packEdit`: entries laid over the stack's pack-config file (a pack that raises or lowers one policy's values). */
export function runResourcePolicy(policy: ResourceValidationPolicy, r: PolicyInput, stack: Stack, packEdit: PackConfig = {}): Violation[] {
    const config = { ...packConfig(stack), ...packEdit };
    const level = enforcementLevel(policy.name, config);
    const out: Violation[] = [];
    const args = {
        type: r.type, name: r.name, props: r.props, urn: r.urn ?? `urn:pulumi:${stack}::agenc-speculation::${r.type}::${r.name}`,
        opts: { protect: false, ignoreChanges: [], aliases: [], additionalSecretOutputs: [], ...(r.customTimeouts ? { customTimeouts: r.customTimeouts } : {}) },
        stackTags: new Map(),
        isType: (cls: { __pulumiType?: string }) => cls.__pulumiType === r.type,
        asType: (cls: { __pulumiType?: string }) => (cls.__pulumiType === r.type ? r.props : undefined),
        getConfig: () => policyConfig(policy.name, config, policy.configSchema as never),
        notApplicable,
    } as unknown as ResourceValidationArgs;
    const validations = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
    for (const v of validations) void v!(args, (message, urn) => out.push({ policy: policy.name, level, message, resource: urn ?? r.name }));
    return out;
}

export function runStackPolicy(policy: StackValidationPolicy, resources: PolicyResource[], stack: Stack, packEdit: PackConfig = {}): Violation[] {
    const config = { ...packConfig(stack), ...packEdit };
    const level = enforcementLevel(policy.name, config);
    const out: Violation[] = [];
    const args = {
        resources, stackTags: new Map(),
        getConfig: () => policyConfig(policy.name, config, policy.configSchema as never),
        notApplicable,
    } as unknown as StackValidationArgs;
    void policy.validateStack(args, (message, urn) => out.push({ policy: policy.name, level, message, resource: urn }));
    return out;
}

/** The program's registered resources as the analyzer sees them: parents and dependencies resolved by URN. */
export function asPolicyResources(registered: Registered[], useOutputs: boolean): PolicyResource[] {
    const byUrn = new Map<string, PolicyResource>();
    const list = registered.map((r) => {
        const pr = {
            type: r.type, name: r.name, urn: r.urn, props: useOutputs ? r.outputs : r.inputs,
            opts: { protect: false, ignoreChanges: [], aliases: [], additionalSecretOutputs: [] },
            dependencies: [] as PolicyResource[], propertyDependencies: {},
            // The analyzer names each resource's provider (`<provider URN>::<id>` in the registration).
            ...(r.options?.provider ? { provider: { urn: r.options.provider.replace(/::[^:]*$/, ""), type: "", name: "", props: {} } } : {}),
            isType: () => false, asType: () => undefined,
        } as unknown as PolicyResource & { parent?: PolicyResource; dependencies: PolicyResource[] };
        byUrn.set(r.urn, pr);
        return pr;
    });
    registered.forEach((r, i) => {
        const pr = list[i] as { parent?: PolicyResource; dependencies: PolicyResource[] };
        if (r.parent) pr.parent = byUrn.get(r.parent);
        pr.dependencies = r.dependencies.map((d) => byUrn.get(d)).filter((d): d is PolicyResource => d !== undefined);
    });
    return list;
}

/** The whole pack over a program run: every resource policy on every resource, then every stack policy. */
export function runPack(registered: Registered[], stack: Stack, phase: "preview" | "update" = "preview"): Violation[] {
    const out: Violation[] = [];
    for (const p of policies) {
        if ("validateStack" in p) {
            out.push(...runStackPolicy(p as StackValidationPolicy, asPolicyResources(registered, phase === "update"), stack));
        } else {
            for (const r of registered) {
                out.push(...runResourcePolicy(p, { type: r.type, name: r.name, props: r.inputs, urn: r.urn, customTimeouts: timeoutSeconds(r.options?.customTimeouts) }, stack));
            }
        }
    }
    return out;
}
