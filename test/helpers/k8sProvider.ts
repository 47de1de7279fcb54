/**
 * What pulumi-kubernetes 4.x does with the objects the program registers, from the options and names it registers
 * them with — the part of the provider's behaviour the mocks cannot run.  Sources (pulumi/pulumi-kubernetes,
 * provider/v4):
 *  - provider/pkg/provider/diff.go `forceNewProperties`: a Secret's `.type`, `.stringData`, `.data` and a ConfigMap's
 *    `.data`, `.binaryData` are replace-on-change unless the provider has `enableSecretMutable` /
 *    `enableConfigMapMutable` and the object is not `immutable: true`;
 *  - provider/pkg/provider/provider.go `Diff`: a replacement is delete-before-create when the object is not
 *    auto-named and keeps its name and namespace;
 *  - the engine: `replaceOnChanges` on the resource turns any change of the listed properties into a replacement.
 * Proven by the real provider since (test/e2e/kubernetes.e2e.ts: a release edit updates every object in place, no
 * fixed-name object is deleted or replaced, a second preview plans nothing); kept as the fast check of the options
 * the program registers (test/components/idempotence.test.ts), which runs in seconds without a cluster.
 */
import { Registered } from "./stack";

export type DataChange = "update-in-place" | "create-before-delete" | "delete-before-create";

const truthy = (v: unknown) => v === true || v === "true";

/** What a change of a ConfigMap's or Secret's data does under the given provider's inputs. */
export function onDataChange(resource: Registered, providerInputs: Record<string, unknown>): DataChange {
    const kind = resource.type.split(":").pop();
    const flag = kind === "Secret" ? "enableSecretMutable" : kind === "ConfigMap" ? "enableConfigMapMutable" : undefined;
    if (!flag) throw new Error(`onDataChange: ${resource.type} is neither a ConfigMap nor a Secret`);
    const options = resource.options ?? { replaceOnChanges: [], deleteBeforeReplace: false };
    const replaceOnChanges = options.replaceOnChanges.length > 0;
    const mutable = truthy(providerInputs[flag]) && !truthy(resource.inputs.immutable) && !replaceOnChanges;
    if (mutable) return "update-in-place";
    const autonamed = !resource.inputs.metadata?.name;
    return autonamed && !options.deleteBeforeReplace ? "create-before-delete" : "delete-before-create";
}

/** Whether the provider waits for an Ingress without bound: neither skipAwait nor a custom timeout. */
export function ingressAwaitPolicy(resource: Registered): "skip" | { create: string; update: string } | "unbounded" {
    if (resource.inputs.metadata?.annotations?.["pulumi.com/skipAwait"] === "true") return "skip";
    const t = resource.options?.customTimeouts;
    return t && t.create && t.update ? { create: t.create, update: t.update } : "unbounded";
}
