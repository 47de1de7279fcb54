/**
 * Recovery after an interrupted `pulumi up` (killed terminal, CI time limit, laptop lid), as one command:
 *   npm run recover -- --stack <name> [--cwd <project or work folder>] [--pulumi <path to the CLI>]
 * with the stack's usual environment (PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE(_FILE), PULUMI_HOME).
 *
 *  1. Refuses while the update is still alive: a file-backend lock whose process is running on this host.
 *  2. `pulumi cancel --yes` when the stack is locked (the engine leaves the lock behind a killed update).
 *  3. `pulumi refresh --clear-pending-creates --yes --skip-preview`: drops the interrupted creates the engine kept
 *     as pending operations and re-reads every resource (a shift, a gate's verdict so far, the nodes' versions).
 * Then `pulumi up` resumes: recorded shifts stay recorded; an interrupted gate, window judgement or rollout runs
 * again.  Nothing here changes live traffic.
 */
import { execFileSync } from "child_process";
import { existsSync, readdirSync, readFileSync } from "fs";
import { hostname } from "os";
import * as path from "path";
import { parseArgs } from "util";

/**
 * Is the process that took the lock still running?  Signal 0 must reach it, it must not be a zombie (a killed CLI
 * that nobody reaped yet), and it must have started before the lock was taken (a recycled pid is another process).
 */
function alive(pid: number, lockedAt?: string): boolean {
    try { process.kill(pid, 0); } catch { return false; }
    try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        if (fields[0] === "Z") return false;
        const bootSeconds = Number(/^btime (\d+)$/m.exec(readFileSync("/proc/stat", "utf8"))?.[1]);
        const startedAt = (bootSeconds + Number(fields[19]) / 100) * 1000; // starttime, field 22, in clock ticks (100/s)
        if (lockedAt && Number.isFinite(startedAt) && startedAt > Date.parse(lockedAt) + 2000) return false;
        return true;
    } catch {
        return true;
    }
}

/** Lock files of a file (DIY) backend: <backend>/.pulumi/locks/<org>/<project>/<stack>/*.json. */
export function backendLocks(backendUrl: string | undefined, stack: string): { file: string; pid?: number; host?: string; time?: string }[] {
    if (!backendUrl?.startsWith("file://")) return [];
    const root = path.join(backendUrl.slice("file://".length), ".pulumi", "locks");
    if (!existsSync(root)) return [];
    const out: { file: string; pid?: number; host?: string; time?: string }[] = [];
    const walk = (dir: string) => {
        for (const e of readdirSync(dir, { withFileTypes: true })) {
            const p = path.join(dir, e.name);
            if (e.isDirectory()) walk(p);
            else if (path.basename(dir) === stack && e.name.endsWith(".json")) {
                try {
                    const l = JSON.parse(readFileSync(p, "utf8")) as { pid?: number; hostname?: string; timestamp?: string };
                    out.push({ file: p, pid: l.pid, host: l.hostname, time: l.timestamp });
                } catch { out.push({ file: p }); }
            }
        }
    };
    walk(root);
    return out;
}

function main() {
    const { values } = parseArgs({ options: { stack: { type: "string" }, cwd: { type: "string", default: "." }, pulumi: { type: "string", default: "pulumi" } } });
    if (!values.stack) throw new Error("--stack: required (the stack to recover)");
    const run = (...args: string[]) => {
        console.log(`[recover] pulumi ${args.join(" ")}`);
        execFileSync(values.pulumi!, [...args, "--stack", values.stack!, "--non-interactive"], { cwd: values.cwd, stdio: "inherit" });
    };
    const locks = backendLocks(process.env.PULUMI_BACKEND_URL, values.stack);
    const live = locks.filter((l) => l.pid && l.host === hostname() && alive(l.pid, l.time));
    if (live.length > 0) {
        throw new Error(`an update of ${values.stack} is still running (pid ${live.map((l) => l.pid).join(", ")} on ${hostname()}, since ${live[0].time}): ` +
            "let it finish, or stop it first; recovery does not take a lock from a live update");
    }
    for (const l of locks) console.log(`[recover] stale lock ${path.basename(l.file)} (pid ${l.pid ?? "?"} on ${l.host ?? "?"}, ${l.time ?? "?"}): its process is gone`);
    // The lock of a non-file backend (Pulumi Cloud) cannot be inspected here; cancel tells when there is none.
    if (locks.length > 0 || !process.env.PULUMI_BACKEND_URL?.startsWith("file://")) {
        try { run("cancel", "--yes"); } catch { console.log("[recover] nothing to cancel"); }
    }
    run("refresh", "--yes", "--skip-preview", "--clear-pending-creates");
    console.log(`[recover] ${values.stack} is whole again: run pulumi up to resume (recorded shifts stay; interrupted gates, windows and rollouts run again)`);
}

if (require.main === module) {
    try { main(); } catch (e) { console.error(`[recover] ${(e as Error).message}`); process.exit(1); }
}
