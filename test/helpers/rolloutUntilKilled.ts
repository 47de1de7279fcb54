/** Runs a rollout from a spec file and SIGKILLs itself at the given node:status transition (the resume test). */
import { readFileSync } from "fs";
import { runRollout } from "../../lib/nodes/rollout";

const [specFile, killAt] = process.argv.slice(2);
void runRollout(JSON.parse(readFileSync(specFile, "utf8")), (node, status) => {
    if (`${node}:${status}` === killAt) process.kill(process.pid, "SIGKILL");
});
