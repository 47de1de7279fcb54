/**
 * The unit tier's guard: a unit suite is pure, so starting a server or a process from one is an error.  Armed, it
 * wraps `net.Server.prototype.listen` (http, https, tls and net servers alike), `dgram.Socket.prototype.bind` and
 * every process-starting function of `child_process`; a call throws at once, naming the suite file and the call, and
 * is recorded in `violations`, so a suite that swallows the error still fails the run (test/helpers/unitTier.ts, the
 * unit tier's root hooks, arms it and fails the run when `violations` is not empty).
 *
 * The rule it enforces:
 *   - `*.test.ts`      a unit suite: no servers, no child processes — `npm run test:unit` runs these;
 *   - `*.int.test.ts`  an integration suite: starts servers or processes (reference workloads, Prometheus, SSH
 *                      nodes, the Kubernetes control plane, tsc, bash); `npm test` runs both tiers.
 *
 * Importing this module changes nothing; only `armGuard()` does.
 *
 * UNIT_GUARD_REPORT=<file>: each violation is also appended to that file as one JSON line (calls still throw), for a
 * census of many suites in one run: `UNIT_GUARD_REPORT=/tmp/v.jsonl npx mocha --config .mocharc.unit.js <files>`.
 */
import * as dgram from "dgram";
import { appendFileSync } from "fs";
import * as net from "net";

// The module object itself (an `import *` namespace is a read-only copy): suites call through its properties.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const childProcess = require("child_process") as typeof import("child_process");

/** One server or process a unit suite tried to start. */
export interface Violation {
    /** What was called, e.g. `net.Server.listen` or `child_process.spawn("bash")`. */
    call: string;
    /** The suite file (relative to the repository) that made the call, or `unknown`. */
    file: string;
    /** The test running when the call was made, when mocha was inside one. */
    test?: string;
}

/** Every violation since this process started (a test of the guard removes the ones it provokes). */
export const violations: Violation[] = [];

const PROCESS_FUNCTIONS = ["spawn", "spawnSync", "exec", "execSync", "execFile", "execFileSync", "fork"] as const;
type ProcessFunction = typeof PROCESS_FUNCTIONS[number];

const originals = {
    listen: net.Server.prototype.listen,
    bind: dgram.Socket.prototype.bind,
    ...Object.fromEntries(PROCESS_FUNCTIONS.map((f) => [f, childProcess[f]])) as Record<ProcessFunction, unknown>,
};

let armed = false;
let current: { title: string; file?: string } | undefined;

/** Tells the guard which test is running (the root hooks call it), so a violation names it. */
export function runningTest(test: { title: string; file?: string } | undefined): void {
    current = test;
}

/** The suite file in the call's stack: the first frame under test/ that is a suite (`*.test.ts`). */
function suiteFile(stack: string | undefined): string | undefined {
    return /(test\/[^\s:()]+\.test\.ts)/.exec(stack ?? "")?.[1];
}

function refuse(call: string): never {
    const file = suiteFile(new Error().stack) ?? (current?.file ? current.file.replace(/^.*?(test\/)/, "$1") : "unknown");
    const v: Violation = { call, file, ...(current ? { test: current.title } : {}) };
    violations.push(v);
    if (process.env.UNIT_GUARD_REPORT) appendFileSync(process.env.UNIT_GUARD_REPORT, JSON.stringify(v) + "\n");
    throw new Error(`unit tier: ${file} called ${call}. A unit suite starts no servers and no processes; ` +
        "a suite that does is an integration suite: rename it *.int.test.ts (npm test runs it, npm run test:unit does not).");
}

/** Wraps the server and process entry points so that calling one throws (idempotent). */
export function armGuard(): void {
    if (armed) return;
    armed = true;
    net.Server.prototype.listen = function () { return refuse("net.Server.listen"); } as typeof net.Server.prototype.listen;
    dgram.Socket.prototype.bind = function () { return refuse("dgram.Socket.bind"); } as typeof dgram.Socket.prototype.bind;
    for (const f of PROCESS_FUNCTIONS) {
        (childProcess as Record<ProcessFunction, unknown>)[f] = (command: unknown) => refuse(`child_process.${f}(${JSON.stringify(String(command))})`);
    }
}

/** Restores the real entry points (idempotent). */
export function disarmGuard(): void {
    if (!armed) return;
    armed = false;
    net.Server.prototype.listen = originals.listen;
    dgram.Socket.prototype.bind = originals.bind;
    for (const f of PROCESS_FUNCTIONS) (childProcess as Record<ProcessFunction, unknown>)[f] = originals[f];
}

/** Whether the guard is armed (it is for the whole unit tier). */
export function guardArmed(): boolean {
    return armed;
}

/** The violations as lines for an error message. */
export function listed(vs: Violation[]): string {
    return vs.map((v) => `  ${v.file}${v.test ? ` («${v.test}»)` : ""}: ${v.call}`).join("\n");
}
