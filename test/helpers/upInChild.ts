/**
 * `pulumi up` of an existing local stack from a process of its own, so a test can kill the whole process group
 * (this Automation API host, the CLI it runs, the inline program) with SIGKILL, as a dropped terminal or a CI time
 * limit would.  Args: a JSON file with { workDir, binDir, envVars, stack, policyPacks?, policyPackConfigs?, program? } (the
 * pack runs as `npm run local` runs it when given; `program`: a module whose `program({ workDir })` is the inline
 * program instead of the stack's own, program.ts).  Prints the engine's output.
 */
import { readFileSync } from "fs";
import * as path from "path";
import { LocalWorkspace, PulumiCommand, Stack } from "@pulumi/pulumi/automation";
import { defineStack } from "../../program";
import { PROJECT } from "../../scripts/localStack";

async function main() {
    const a = JSON.parse(readFileSync(process.argv[2], "utf8")) as {
        workDir: string; binDir: string; envVars: Record<string, string>; stack: string; policyPacks?: string[]; policyPackConfigs?: string[]; program?: string;
    };
    const own = a.program ? (require(a.program) as { program: (ctx: { workDir: string }) => void | Record<string, unknown> }).program : undefined;
    const pulumiCommand = await PulumiCommand.get({ root: path.dirname(a.binDir), skipVersionCheck: true });
    const ws = await LocalWorkspace.create({
        workDir: a.workDir, pulumiCommand, envVars: a.envVars,
        projectSettings: { name: PROJECT, runtime: "nodejs" }, program: async () => (own ? own({ workDir: a.workDir }) : defineStack()),
    });
    await ws.selectStack(a.stack);
    const stack = await Stack.select(a.stack, ws);
    const r = await stack.up({ onOutput: (s) => process.stdout.write(s), policyPacks: a.policyPacks, policyPackConfigs: a.policyPackConfigs });
    process.stdout.write(`\n[child] ${r.summary.result}\n`);
}
main().catch((e) => { process.stdout.write(`\n[child] failed: ${(e as Error).message}\n`); process.exit(1); });
