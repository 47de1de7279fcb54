import * as pulumi from "@pulumi/pulumi";

/** Loads a dynamic provider the way the engine's dynamic-provider host does: from its serialised text. */
export async function deserialised(provider: pulumi.dynamic.ResourceProvider): Promise<Required<pulumi.dynamic.ResourceProvider>> {
    const { text, exportName } = await pulumi.runtime.serializeFunction(() => provider, { isFactoryFunction: true });
    // With isFactoryFunction the module exports the factory's result: the provider object.
    const mod = { exports: {} as Record<string, Required<pulumi.dynamic.ResourceProvider>> };
    new Function("exports", "require", "module", "__filename", "__dirname", text)(mod.exports, require, mod, __filename, __dirname);
    return mod.exports[exportName];
}
