/**
 * kube-score (built from the Go module proxy at scripts/versions.env's KUBE_SCORE_VERSION by
 * scripts/build-kube-score.sh, cached) on the rendered manifests of every mode (test/helpers/renderModes.ts: both
 * stacks, each monitoring mode, each shift mode), rendered as `npm run render` renders them (scripts/render.ts):
 *  - no CRITICAL anywhere;
 *  - every WARNING, and every check an object skips through its `kube-score/ignore` annotation, is one that
 *    lib/kubeScore.ts keeps for that object, with its reason (docs/kube-score.md);
 *  - every kept finding still happens somewhere (a fixed one leaves the list).
 */
import { expect } from "chai";
import { execFileSync, spawnSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { KEPT_FINDINGS, KeptGrade, keptFinding, KUBE_SCORE_LIST_VERSION } from "../../lib/kubeScore";
import { renderStack } from "../../scripts/render";
import { renderModes } from "../helpers/renderModes";
import { ROOT } from "../helpers/stack";

const versions = Object.fromEntries(readFileSync(path.join(ROOT, "scripts/versions.env"), "utf8").split("\n")
    .filter((l) => /^[A-Z_]+=/.test(l)).map((l) => l.split("=") as [string, string]));

/** One object's report in `kube-score score --output-format json`. */
interface Scored {
    type_meta: { kind: string };
    object_meta: { name: string; namespace?: string };
    checks: { check: { id: string; optional: boolean }; grade: number; skipped: boolean; comments: { summary: string }[] | null }[];
}
const CRITICAL = 1;
const WARNING = 5;

/** A finding as the test reports it: `mode: Kind/name check (grade): summary`. */
interface Finding { mode: string; kind: string; object: string; check: string; grade: "CRITICAL" | KeptGrade; summary: string }

/** Every CRITICAL, WARNING and annotation-ignored check of one rendered file. */
function findings(mode: string, report: Scored[]): Finding[] {
    const out: Finding[] = [];
    for (const o of report) {
        for (const c of o.checks) {
            const summary = (c.comments ?? []).map((x) => x.summary).join("; ");
            const base = { mode, kind: o.type_meta.kind, object: o.object_meta.name, check: c.check.id, summary };
            // An optional check that is not enabled is skipped with the same words: only a default check counts.
            if (c.skipped) {
                if (!c.check.optional && summary === `Skipped because ${c.check.id} is ignored`) out.push({ ...base, grade: "IGNORED" });
            } else if (c.grade === CRITICAL) out.push({ ...base, grade: "CRITICAL" });
            else if (c.grade === WARNING) out.push({ ...base, grade: "WARNING" });
        }
    }
    return out;
}

const line = (f: Finding) => `${f.mode}: ${f.kind}/${f.object} ${f.check} (${f.grade}): ${f.summary}`;

describe("kube-score on the rendered manifests of every mode: no CRITICAL, only the kept warnings (issue 25)", function () {
    this.timeout(15 * 60_000); // a cold kube-score build: about 2.5 min on 2 shared cores
    let kubeScore: string;
    let dir: string;
    const seen: Finding[] = [];

    before(() => {
        const out = execFileSync("bash", [path.join(ROOT, "scripts/build-kube-score.sh")], { encoding: "utf8" }).trim().split("\n");
        kubeScore = out[out.length - 1];
        dir = mkdtempSync(path.join(tmpdir(), "kube-score-"));
    });
    after(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

    const score = (file: string): Scored[] => {
        const run = spawnSync(kubeScore, ["score", "--output-format", "json", file], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
        // kube-score exits 1 when it found a CRITICAL: the JSON is printed either way.
        expect(run.status, run.stderr).to.be.oneOf([0, 1]);
        return JSON.parse(run.stdout) as Scored[];
    };

    it(`runs kube-score v${versions.KUBE_SCORE_VERSION}, the version lib/kubeScore.ts's list was made with`, () => {
        expect(execFileSync(kubeScore, ["version"], { encoding: "utf8" })).to.contain(`version: ${versions.KUBE_SCORE_VERSION},`);
        expect(versions.KUBE_SCORE_VERSION).to.equal(KUBE_SCORE_LIST_VERSION);
    });

    it("really scores: a bare Deployment has the CRITICAL findings issue 25 listed", () => {
        const bare = { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "bare", namespace: "x" }, spec: {
            replicas: 2, selector: { matchLabels: { app: "bare" } },
            template: { metadata: { labels: { app: "bare" } }, spec: { containers: [{ name: "c", image: "example.invalid/app:v1",
                livenessProbe: { httpGet: { path: "/h", port: 80 } }, readinessProbe: { httpGet: { path: "/h", port: 80 } } }] } } } };
        const file = path.join(dir, "bare.json");
        writeFileSync(file, JSON.stringify(bare));
        const got = findings("bare", score(file)).filter((f) => f.grade === "CRITICAL").map((f) => f.check);
        expect(got).to.include.members(["container-ephemeral-storage-request-and-limit", "container-image-pull-policy",
            "container-security-context-user-group-id", "pod-probes-identical", "pod-networkpolicy"]);
    });

    for (const mode of renderModes()) {
        it(`${mode.name}: no CRITICAL, and every WARNING or ignored check is a kept one`, async () => {
            const rendered = await renderStack(mode.stack, mode.config);
            const file = path.join(dir, `${mode.name.replace(/\//g, "-")}.yaml`);
            writeFileSync(file, rendered.yaml);
            const all = findings(mode.name, score(file));
            seen.push(...all);
            expect(all.filter((f) => f.grade === "CRITICAL").map(line), "CRITICAL findings").to.deep.equal([]);
            const unexplained = all.filter((f) => f.grade !== "CRITICAL" && !keptFinding(f.check, f.object, f.grade));
            expect(unexplained.map(line), "findings not in lib/kubeScore.ts KEPT_FINDINGS (fix them, or keep them there with a reason)").to.deep.equal([]);
        });
    }

    it("every kept finding still happens on each object it names (a fixed one leaves the list)", function () {
        if (seen.length === 0) this.skip();
        const stale = KEPT_FINDINGS.flatMap((k) => k.objects.filter((o) => !seen.some((f) => f.check === k.check && f.grade === k.grade && f.object === o))
            .map((o) => `${k.check} (${k.grade}) on ${o}`));
        expect(stale, "kept in lib/kubeScore.ts but no mode reports them").to.deep.equal([]);
    });
});
