/**
 * How long a stage's `pulumi up` holds the stack lock, window bake mode against watch mode with the same plan
 * (10 → 50 → 100 %, 30 s bakes, 1 s polls, a 2 s entry analysis), under the real engine against the reference
 * workloads and the local monitoring loop.  npm run bench:bake-lock [-- <bake seconds, default 30>]
 */
import { mkdtempSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { localConfig, openStack, startLocalEnvironment, toolchain, waitForBakes } from "./localStack";

async function main() {
    const bake = Number(process.argv[2] ?? 30);
    const binDir = toolchain();
    const env = await startLocalEnvironment({ workDir: mkdtempSync(path.join(tmpdir(), "bench-lock-")), binDir, nodes: 0 });
    const rows: string[] = [];
    try {
        for (const mode of ["watch", "window"] as const) {
            const held: number[] = [];
            for (const [i, pct] of [10, 50, 100].entries()) {
                const stack = await openStack(env, `lock-${mode}`, localConfig(env, (c) => {
                    c["speculation:rolloutPercentage"] = pct;
                    c["speculation:bench"] = { enabled: false };
                    c["speculation:canary"].steps = [10, 50, 100].map((p) => ({ percentage: p, bake: `${bake}s` }));
                    c["speculation:canary"].gate = { ...c["speculation:canary"].gate, bakeMode: mode, entryAnalysis: "2s" };
                }), i === 0);
                if (mode === "window" && i > 0) await waitForBakes(stack, () => undefined);
                const t = Date.now();
                await stack.up();
                held.push((Date.now() - t) / 1000);
            }
            rows.push(`${mode.padEnd(7)} ${held.map((h) => h.toFixed(1).padStart(6)).join(" ")}   ${held.reduce((a, b) => a + b, 0).toFixed(1)}`);
        }
    } finally {
        await env.stop();
    }
    console.log(`stack lock held per stage's pulumi up (s), ${bake} s bakes:`);
    console.log(`mode     10 %   50 %  100 %   total`);
    for (const r of rows) console.log(r);
}
main().catch((e) => { console.error(e); process.exit(1); });
