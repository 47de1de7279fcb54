/**
 * The project's shared folder beside the repository (`../shared`: the spec, the seeds).  A clone without it still
 * passes `npm test`: the few tests that read it skip, with the reason in their title and on stderr.  CI never skips
 * them: `.ci/run` fails up front when `../shared/seeds` is absent.
 */
import { existsSync } from "fs";
import * as path from "path";

/** `../shared`, beside the repository's root. */
export const SHARED_DIR = path.resolve(__dirname, "../../../shared");

/** Why a test needing `relative` (a path under ../shared) cannot run here, or undefined when it is present. */
export function sharedAbsent(relative: string): string | undefined {
    const wanted = path.join(SHARED_DIR, relative);
    return existsSync(wanted) ? undefined
        : `${wanted} is absent (the shared folder beside the repository; .ci/run requires it, so CI runs this test)`;
}

/**
 * For a `beforeEach`: skips the current test when `relative` under ../shared is absent, saying so in the test's
 * title (the reporter prints it among the pending tests) and on stderr.
 */
export function skipWithoutShared(ctx: Mocha.Context, relative: string): void {
    const reason = sharedAbsent(relative);
    if (!reason) return;
    process.stderr.write(`[tests] skipping «${ctx.currentTest?.fullTitle() ?? "a test"}»: ${reason}\n`);
    if (ctx.currentTest) ctx.currentTest.title += ` [skipped: ${reason}]`;
    ctx.skip();
}
