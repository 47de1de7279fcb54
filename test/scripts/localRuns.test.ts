/**
 * `npm run local` keeps every run's evidence: each run gets a new folder, an earlier run's journal, log, gate records
 * and state are never touched, and an earlier run whose stack is still locked is found (and reported by local.ts).
 */
import { expect } from "chai";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { lockedRuns, newRunDir } from "../../scripts/localRuns";
import { ROOT } from "../helpers/stack";

describe("npm run local: one folder per run, nothing of an earlier run deleted", () => {
    it("gives each run a new folder, keeps the earlier run's evidence byte for byte, and points latest at the new one", () => {
        const root = mkdtempSync(path.join(tmpdir(), "pulumi-local-"));
        const at = new Date("2026-11-28T20:00:00.000Z");
        const first = newRunDir(root, at);
        const evidence = {
            "artifacts/nodes/rollout-journal.json": '{"nodes":{"alys-1":{"status":"swapped"}}}',
            "artifacts/nodes/deployments.log": "2026-11-28 v1.2.4 rolled-back\n",
            "artifacts/gates/stage-1-10pct-2026-11-28T20-00-05-000Z.json": '{"verdict":"fail"}',
            "state/.pulumi/locks/organization/agenc-speculation/local/3f2a.json": '{"pid":4242}',
        };
        for (const [file, text] of Object.entries(evidence)) {
            mkdirSync(path.dirname(path.join(first.dir, file)), { recursive: true });
            writeFileSync(path.join(first.dir, file), text);
        }
        // Same second: still a new folder, never the earlier one.
        const second = newRunDir(root, at);
        expect(second.dir).to.not.equal(first.dir);
        expect(second.id).to.equal(`${first.id}-2`);
        for (const [file, text] of Object.entries(evidence)) expect(readFileSync(path.join(first.dir, file), "utf8"), file).to.equal(text);
        expect(readlinkSync(path.join(root, "latest"))).to.equal(path.join("runs", second.id));
        expect(lockedRuns(root), "the earlier run's lock is found; the new run has none").to.deep.equal([
            { run: first.dir, locks: [path.join(first.dir, "state/.pulumi/locks/organization/agenc-speculation/local/3f2a.json")] },
        ]);
        expect(existsSync(path.join(second.dir, "artifacts"))).to.equal(false);
    });

    it("local.ts deletes nothing: it no longer removes any folder before a run (the artifacts were removed before the lock was even read)", () => {
        const source = readFileSync(path.join(ROOT, "scripts/local.ts"), "utf8");
        expect(source).to.not.match(/\brmSync\b|\brmdirSync\b|\bunlinkSync\b|removeStack|rm -rf/);
        expect(source).to.match(/newRunDir\(/);
    });
});
