/**
 * The processes a killed `pulumi up` leaves behind, read from /proc: the e2e kill tests find the engine's dynamic
 * providers, check they run outside the killed process group, and wait for them to exit by themselves.
 */
import { readdirSync, readFileSync } from "fs";

/** The dynamic-provider processes of one engine, told apart by the PULUMI_HOME they inherit from it. */
export function providerPids(pulumiHome: string): number[] {
    const home = `PULUMI_HOME=${pulumiHome}`;
    return readdirSync("/proc").filter((d) => /^\d+$/.test(d)).filter((pid) => {
        try {
            return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("dynamic-provider") &&
                readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").includes(home);
        } catch { return false; }
    }).map(Number);
}

export const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

/** The process group a process runs in (the fifth field of /proc/<pid>/stat). */
export const processGroup = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")[2]);
