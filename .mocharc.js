// Mocha adds spec files named on the command line to the configured spec instead of replacing it, so
// `npx mocha test/x.test.ts` used to run the whole suite plus x.  Named files now replace the default.
const named = process.argv.slice(2).filter((a) => !a.startsWith("-") && /\.test\.ts$/.test(a));
module.exports = {
    // rootHooks: stops what a run started once for all suites (the shared Kubernetes control plane).
    require: ["ts-node/register/transpile-only", "test/helpers/captureStacks.ts", "test/helpers/rootHooks.ts"],
    extension: ["ts"],
    spec: named.length > 0 ? named : ["test/**/*.test.ts"],
    timeout: 60000,
    exit: true,
};
