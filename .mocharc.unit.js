// The unit tier (npm run test:unit): the pure suites, every `*.test.ts` but the integration suites (`*.int.test.ts`,
// which start servers or processes).  test/helpers/unitTier.ts (the guard of test/helpers/unitGuard.ts) fails
// any suite of this tier that starts a server or a process anyway, naming it.  Named files replace the default spec, as in .mocharc.js.  The suites run in parallel
// (one worker per core: they are CPU-bound, and share nothing); one named file runs in this process.
const os = require("os");
const named = process.argv.slice(2).filter((a) => !a.startsWith("-") && /\.test\.ts$/.test(a));
const parallel = named.length !== 1;
// Tells the guard that this process only forks the workers (see mainOfParallelRun in test/helpers/unitTier.ts).
if (parallel) process.env.AGENC_UNIT_PARALLEL = "1";
module.exports = {
    require: ["ts-node/register/transpile-only", "test/helpers/captureStacks.ts", "test/helpers/unitTier.ts"],
    extension: ["ts"],
    spec: named.length > 0 ? named : ["test/**/*.test.ts"],
    ignore: named.length > 0 ? [] : ["test/**/*.int.test.ts"],
    parallel,
    // mocha's default is one worker fewer than the cores (1 on a 2-core runner): the main process only waits here.
    jobs: Math.max(2, os.availableParallelism()),
    timeout: 60000,
    exit: true,
};
