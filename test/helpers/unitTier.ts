/**
 * Mocha root hooks of the unit tier (loaded by .mocharc.unit.js, never by the full run): arms the guard of
 * test/helpers/unitGuard.ts as soon as mocha loads this file (before the suites, so a suite that starts something at
 * load time is caught too), tells it which test is running, and fails the run when any suite started a server or a
 * process (named, with the call), even one that caught the guard's error.
 */
import { armGuard, listed, runningTest, violations } from "./unitGuard";

/**
 * Whether this process is the main process of a parallel run (.mocharc.unit.js sets AGENC_UNIT_PARALLEL when it runs
 * in parallel): it only forks mocha's workers and runs no suite, so it is left unguarded.  Workers carry
 * MOCHA_WORKER_ID; `--no-parallel` on the command line makes the run serial again.
 */
function mainOfParallelRun(): boolean {
    return process.env.AGENC_UNIT_PARALLEL === "1" && process.env.MOCHA_WORKER_ID === undefined &&
        !process.argv.includes("--no-parallel") && !process.argv.includes("--parallel=false");
}

if (!mainOfParallelRun()) armGuard();

export const mochaHooks = {
    beforeEach(this: Mocha.Context): void {
        runningTest(this.currentTest ? { title: this.currentTest.fullTitle(), file: this.currentTest.file } : undefined);
    },
    afterEach(): void {
        // No throw here: a failing root afterEach would skip every later suite.  The call itself threw inside its
        // test; a test that swallowed the error is still named by afterAll.
        runningTest(undefined);
    },
    afterAll(): void {
        // Once per run, or once per file in a parallel run's workers.
        if (violations.length > 0) {
            throw new Error(`unit tier: ${violations.length} server(s)/process(es) started by unit suites:\n${listed(violations)}\n` +
                "Rename those suites *.int.test.ts (npm test runs them).");
        }
    },
};
