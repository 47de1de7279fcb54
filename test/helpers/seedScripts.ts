/**
 * Seed 000's shell scripts, extracted verbatim from the seed (`../shared/seeds/000_*.txt`): the fenced bash block
 * whose header comment names the script (`# smoke-test.sh`, `# health-check.sh`, `# verify-deployment.sh`).
 */
import { readdirSync, readFileSync } from "fs";
import * as path from "path";
import { SHARED_DIR } from "./shared";

/** Where the seeds are (under ../shared: a suite using them skips without it, see skipWithoutShared). */
export const SEEDS_DIR = path.join(SHARED_DIR, "seeds");

export function seedScript(name: string, seed = "000"): string {
    const file = readdirSync(SEEDS_DIR).find((f) => f.startsWith(`${seed}_`));
    if (!file) throw new Error(`no seed ${seed} in ${SEEDS_DIR}`);
    const text = readFileSync(path.join(SEEDS_DIR, file), "utf8");
    const blocks = [...text.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]);
    const block = blocks.find((b) => b.split("\n").slice(0, 3).some((line) => line.trim() === `# ${name}`));
    if (!block) throw new Error(`seed ${seed} has no bash block headed "# ${name}"`);
    return block;
}
