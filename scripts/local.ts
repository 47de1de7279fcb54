/**
 * The main job on the embedded local default:  npm run local [-- --to 50] [-- --stay]
 * Builds the toolchain (cached), starts the reference workloads and two local SSH nodes, creates a fresh `local`
 * stack (file backend and passphrase under .pulumi-local/) and runs `pulumi up` with the policy pack, stage by
 * stage up to --to (default: the first stage, 10 %).  --stay keeps the workloads running afterwards and prints the
 * environment for `pulumi refresh` / `pulumi destroy` / `pulumi stack` from another shell.
 */
import { rmSync } from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { localConfig, openStack, policyConfig, POLICY_PACK, ROOT, startLocalEnvironment, toolchain } from "./localStack";

async function main(): Promise<void> {
    const { values } = parseArgs({ options: { to: { type: "string", default: "10" }, stay: { type: "boolean", default: false }, nodes: { type: "string", default: "2" } } });
    const target = Number(values.to);
    const steps = [10, 50, 100].filter((p) => p <= target);
    if (steps.length === 0 || ![10, 50, 100].includes(target)) throw new Error(`--to: must be one of 10, 50, 100 (the local plan's steps), not ${values.to}`);
    const binDir = toolchain();
    // Every run is a fresh rehearsal (new workloads, new stack): an earlier run's bench baseline does not apply.
    rmSync(path.join(ROOT, ".pulumi-local", "artifacts"), { recursive: true, force: true });
    const env = await startLocalEnvironment({ workDir: path.join(ROOT, ".pulumi-local"), binDir, nodes: Number(values.nodes) });
    console.log(`[local] speculation service ${env.service.url}, proof worker ${env.worker.url}, ${env.fleet?.nodes.length ?? 0} SSH node(s)`);
    try {
        for (const [i, pct] of steps.entries()) {
            const stack = await openStack(env, "local", localConfig(env, (c) => { c["speculation:rolloutPercentage"] = pct; }), i === 0);
            console.log(`[local] pulumi up: rolloutPercentage ${pct}`);
            const result = await stack.up({ onOutput: (s) => process.stdout.write(s), policyPacks: [POLICY_PACK], policyPackConfigs: [policyConfig("local")] });
            console.log(`[local] ${result.summary.result}: live rollout ${env.service.state.rolloutPercentage} %, gates ${JSON.stringify(result.outputs.gateVerdicts?.value)}, nodes ${JSON.stringify(result.outputs.nodeDeployment?.value)}`);
        }
        if (values.stay) {
            console.log("[local] workloads keep running (Ctrl-C stops them). From another shell:");
            console.log(Object.entries(env.envVars).map(([k, v]) => `  export ${k}='${v}'`).join("\n"));
            console.log(`  cd ${env.workDir} && pulumi stack --stack local && pulumi refresh --stack local`);
            await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
        }
    } finally {
        await env.stop();
    }
}

main().catch((e) => {
    console.error(`[local] ${(e as Error).message}`);
    process.exit(1);
});
