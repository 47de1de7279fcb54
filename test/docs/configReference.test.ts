/**
 * docs/configuration.md is generated from the zod schema (scripts/gen-config-docs.ts, `npm run docs:config`): this
 * regenerates it and fails when the checked-in page differs, so the reference cannot go stale.
 */
import { expect } from "chai";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { z } from "zod";
import { stackConfigSchema } from "../../config/schema";
import { CONFIG_NOTES, CONFIG_REFERENCE, renderConfigReference } from "../../scripts/gen-config-docs";

const ROOT = path.resolve(__dirname, "../..");

/** Every key path of a JSON schema, lists written `a[].b` as on the page. */
function keyPaths(s: any, prefix = ""): string[] {
    const nested = s.type === "object" && s.properties ? s : s.type === "array" && s.items?.properties ? s.items : undefined;
    if (!nested) return [prefix];
    const base = s.type === "array" ? `${prefix}[]` : prefix;
    return Object.entries(nested.properties).flatMap(([k, v]) => keyPaths(v, base ? `${base}.${k}` : k));
}

describe("docs/configuration.md (generated from config/schema.ts)", () => {
    it("is exactly what `npm run docs:config` generates now", () => {
        const expected = renderConfigReference();
        const actual = readFileSync(path.join(ROOT, CONFIG_REFERENCE), "utf8");
        if (actual !== expected) {
            const a = actual.split("\n"), e = expected.split("\n");
            const line = e.findIndex((l, i) => l !== a[i]);
            expect.fail(`${CONFIG_REFERENCE} is stale: run \`npm run docs:config\` and commit it.  First difference at line ${line + 1}:\n` +
                `  checked in: ${a[line] ?? "(end of file)"}\n  generated:  ${e[line] ?? "(end of file)"}`);
        }
    });

    it("has a row for every key the schema accepts", () => {
        const page = readFileSync(path.join(ROOT, CONFIG_REFERENCE), "utf8");
        const keys = keyPaths(z.toJSONSchema(stackConfigSchema, { io: "input", unrepresentable: "any", reused: "inline" }));
        expect(keys.length).to.be.greaterThan(100);
        const missing = keys.filter((k) => !page.includes(`| \`${k}\` |`));
        expect(missing, "keys without a row").to.deep.equal([]);
    });

    it("refuses a note for a key the schema does not have, naming the key", () => {
        const root = mkdtempSync(path.join(tmpdir(), "config-docs-"));
        try {
            cpSync(path.join(ROOT, "config"), path.join(root, "config"), { recursive: true });
            mkdirSync(path.join(root, "docs"));
            writeFileSync(path.join(root, CONFIG_NOTES), "# notes\n\n## Notes by key\n\n| key | note |\n|---|---|\n| `canary.gate.pollIntervall` | typo |\n");
            expect(() => renderConfigReference(root)).to.throw(/names `canary\.gate\.pollIntervall`, not a key of the schema/);
        } finally {
            rmSync(root, { recursive: true, force: true });
        }
    });
});
