// The real-engine suite (npm run test:e2e).  Named files replace the default spec, as in .mocharc.js.
const named = process.argv.slice(2).filter((a) => !a.startsWith("-") && /\.e2e\.ts$/.test(a));
module.exports = {
    require: ["ts-node/register/transpile-only"],
    extension: ["ts"],
    spec: named.length > 0 ? named : ["test/e2e/**/*.e2e.ts"],
    timeout: 300000,
    exit: true,
};
