/**
 * Where `npm run local` keeps each run: its own folder under .pulumi-local/runs/<UTC time>, holding the file
 * backend (state, locks, history), the passphrase, PULUMI_HOME and every artifact (node journal and deployment log,
 * gate decision records, bench results).  Nothing of an earlier run is ever deleted or reused, so the evidence of an
 * interrupted or failed run stays where it was, and a run never inherits an earlier run's bench baseline or journal.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, statSync, symlinkSync, unlinkSync } from "fs";
import * as path from "path";

export interface LocalRun {
    id: string;
    dir: string;
}

/** A new, empty run folder (never an existing one), and `latest` pointing at it. */
export function newRunDir(localRoot: string, now: Date = new Date()): LocalRun {
    const runs = path.join(localRoot, "runs");
    mkdirSync(runs, { recursive: true });
    const stamp = now.toISOString().replace(/[:.]/g, "-");
    let id = stamp;
    for (let n = 2; existsSync(path.join(runs, id)); n++) id = `${stamp}-${n}`;
    const dir = path.join(runs, id);
    mkdirSync(dir);
    // Swap the link atomically: a rename over the old one.
    const tmp = path.join(localRoot, `.latest-${process.pid}`);
    if (existsSync(tmp)) unlinkSync(tmp);
    symlinkSync(path.join("runs", id), tmp);
    renameSync(tmp, path.join(localRoot, "latest"));
    return { id, dir };
}

function files(dir: string): string[] {
    if (!existsSync(dir)) return [];
    return readdirSync(dir).flatMap((name) => {
        const full = path.join(dir, name);
        return statSync(full).isDirectory() ? files(full) : [full];
    });
}

/** Earlier runs whose stack the file backend still holds locked (a killed `pulumi up`), with their lock files. */
export function lockedRuns(localRoot: string): { run: string; locks: string[] }[] {
    const runs = path.join(localRoot, "runs");
    if (!existsSync(runs)) return [];
    return readdirSync(runs).sort().map((id) => ({ run: path.join(runs, id), locks: files(path.join(runs, id, "state", ".pulumi", "locks")) }))
        .filter((r) => r.locks.length > 0);
}
