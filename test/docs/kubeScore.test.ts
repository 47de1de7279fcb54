/**
 * docs/kube-score.md shows the kube-score findings the stack keeps exactly as lib/kubeScore.ts lists them (the list
 * test/lint/kubeScore.int.test.ts checks the rendered manifests against), each with a reason, and README links it.
 */
import { expect } from "chai";
import { readFileSync } from "fs";
import * as path from "path";
import { KEPT_FINDINGS, keptFindingsTable, TABLE_BEGIN, TABLE_END } from "../../lib/kubeScore";

const ROOT = path.resolve(__dirname, "../..");

describe("docs/kube-score.md: the kept kube-score findings, from lib/kubeScore.ts", () => {
    const doc = readFileSync(path.join(ROOT, "docs/kube-score.md"), "utf8");

    it("carries the table generated from KEPT_FINDINGS between its markers", () => {
        const begin = doc.indexOf(TABLE_BEGIN);
        const end = doc.indexOf(TABLE_END);
        expect(begin, `docs/kube-score.md has no ${TABLE_BEGIN}`).to.be.greaterThan(-1);
        expect(end, `docs/kube-score.md has no ${TABLE_END}`).to.be.greaterThan(begin);
        expect(doc.slice(begin + TABLE_BEGIN.length, end).trim(), "regenerate the table: keptFindingsTable() in lib/kubeScore.ts")
            .to.equal(keptFindingsTable());
    });

    it("every kept finding names its objects and a reason, once per check and grade", () => {
        for (const k of KEPT_FINDINGS) {
            expect(k.objects.length, k.check).to.be.greaterThan(0);
            expect(k.reason.length, `${k.check}: a reason an operator can act on`).to.be.greaterThan(80);
        }
        const keys = KEPT_FINDINGS.map((k) => `${k.check}/${k.grade}`);
        expect(new Set(keys).size).to.equal(keys.length);
    });

    it("is linked from the README", () => {
        expect(readFileSync(path.join(ROOT, "README.md"), "utf8")).to.contain("(docs/kube-score.md)");
    });
});
