/**
 * `pulumi up` as an operator runs it, in a process group of its own (this process hosts the inline program, the CLI
 * is its child), so the e2e test can kill the whole group the way a terminal's kill or a CI timeout does.
 * Usage: nodeKill.up.ts <job.json> — { env: { workDir, binDir, envVars }, stackName, config }
 */
import { readFileSync } from "fs";
import { LocalEnvironment, openStack } from "../../scripts/localStack";

const job = JSON.parse(readFileSync(process.argv[2], "utf8")) as { env: LocalEnvironment; stackName: string; config: Record<string, { value: string; secret?: boolean }> };
(async () => {
    const stack = await openStack(job.env, job.stackName, job.config);
    await stack.up({ onOutput: (s) => process.stdout.write(s) });
    process.stdout.write("\nUP FINISHED\n");
})().catch((e: Error) => { process.stdout.write(`\nUP FAILED: ${e.message}\n`); process.exit(1); });
