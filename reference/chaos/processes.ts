/**
 * The processes one engine left behind, read from /proc: everything that inherited the stack's PULUMI_HOME (the CLI,
 * its dynamic providers, the policy pack's host, a bench command a provider started) — what a killed `pulumi up`
 * must not leave running.  The process asking is never counted.
 */
import { readdirSync, readFileSync } from "fs";

export interface EngineProcess {
    pid: number;
    /** The command line, spaces for NULs, shortened. */
    cmd: string;
    /** What kind of engine process: a dynamic provider, the policy pack's host, the CLI, or something they started. */
    kind: "dynamic-provider" | "policy-pack" | "cli" | "child";
}

/** Every live process whose environment holds PULUMI_HOME=<pulumiHome> (zombies excluded). */
export function engineProcesses(pulumiHome: string): EngineProcess[] {
    const home = `PULUMI_HOME=${pulumiHome}`;
    const out: EngineProcess[] = [];
    for (const d of readdirSync("/proc")) {
        if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
        try {
            if (!readFileSync(`/proc/${d}/environ`, "utf8").split("\0").includes(home)) continue;
            const stat = readFileSync(`/proc/${d}/stat`, "utf8");
            if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
            const cmd = readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0").join(" ").trim();
            const kind = /dynamic-provider/.test(cmd) ? "dynamic-provider" : /run-policy-pack/.test(cmd) ? "policy-pack"
                : /\/pulumi( |$)/.test(cmd) ? "cli" : "child";
            out.push({ pid: Number(d), cmd: cmd.length > 140 ? `${cmd.slice(0, 137)}...` : cmd, kind });
        } catch { /* gone meanwhile, or not ours to read */ }
    }
    return out;
}

/** The processes whose command line matches `pattern` (e.g. a Prometheus by its listen address). */
export function pidsMatching(pattern: RegExp): number[] {
    return readdirSync("/proc").filter((d) => /^\d+$/.test(d)).filter((d) => {
        try { return pattern.test(readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0").join(" ")); } catch { return false; }
    }).map(Number);
}
