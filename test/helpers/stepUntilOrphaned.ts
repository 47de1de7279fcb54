/**
 * A runbook step run as the engine runs it, in a process of its own, for test/providers/runbookStep.int.test.ts:
 * the step's work waits until `<dir>/release` exists and then writes `<dir>/report.json` (what a real step writes at
 * its end: a report, a record, a baseline).  Prints "running" once the work has started.  Its parent stands in for
 * the engine.
 *   node -r ts-node/register/transpile-only test/helpers/stepUntilOrphaned.ts <dir>
 */
import { existsSync, writeFileSync } from "fs";
import * as path from "path";
import { runbookStepProvider } from "../../providers/runbookStep";

const dir = process.argv[2];
const provider = runbookStepProvider<{ verdict?: string }>({
    id: () => "step",
    rerunOn: [],
    run: async (inputs) => {
        console.log("running");
        while (!existsSync(path.join(dir, "release"))) await new Promise((r) => setTimeout(r, 20));
        writeFileSync(path.join(dir, "report.json"), JSON.stringify({ verdict: "pass" }));
        return { ...inputs, verdict: "pass" };
    },
});
provider.create!({}).then(() => console.log("finished"), (e: Error) => console.log(`abandoned: ${e.message}`));
