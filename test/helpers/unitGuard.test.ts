/**
 * The unit tier's guard (test/helpers/unitGuard.ts) catches a suite that starts a server or a process, naming the
 * suite and the rename.  Synchronous throughout: in the full run (where the guard is not armed) it arms the guard only
 * for the duration of one test and nothing else runs meanwhile.
 */
import { expect } from "chai";
import * as childProcess from "child_process";
import * as http from "http";
import * as net from "net";
import { armGuard, disarmGuard, guardArmed, violations } from "./unitGuard";

/** Runs `provoke` with the guard armed, returns the error it threw and forgets the violation it recorded. */
function caught(provoke: () => unknown): { error: Error; call: string; file: string } {
    const wasArmed = guardArmed();
    armGuard();
    const before = violations.length;
    try {
        provoke();
    } catch (e) {
        const [v] = violations.splice(before);
        expect(v, "the violation is recorded, so a suite that swallows the error still fails the run").to.not.equal(undefined);
        return { error: e as Error, call: v.call, file: v.file };
    } finally {
        if (!wasArmed) disarmGuard();
    }
    throw new Error("the guard let it through");
}

describe("the unit tier's guard (test/helpers/unitGuard.ts)", () => {
    it("refuses a listening server (net, http) and names this suite and the rename", () => {
        for (const server of [net.createServer(), http.createServer()]) {
            const { error, call, file } = caught(() => server.listen(0));
            expect(call).to.equal("net.Server.listen");
            expect(file).to.equal("test/helpers/unitGuard.test.ts");
            expect(error.message).to.include("test/helpers/unitGuard.test.ts called net.Server.listen").and.include("rename it *.int.test.ts");
        }
    });

    it("refuses every way of starting a process", () => {
        for (const f of ["spawn", "spawnSync", "exec", "execSync", "execFile", "execFileSync", "fork"] as const) {
            const { call } = caught(() => (childProcess[f] as (c: string) => unknown)("true"));
            expect(call).to.equal(`child_process.${f}("true")`);
        }
    });

    it("restores the real functions when disarmed (the full run keeps them)", () => {
        const listen = net.Server.prototype.listen;
        const spawn = childProcess.spawn;
        if (guardArmed()) return; // the unit tier: armed for the whole run, nothing to restore here
        armGuard();
        disarmGuard();
        expect(net.Server.prototype.listen).to.equal(listen);
        expect(childProcess.spawn).to.equal(spawn);
    });
});
