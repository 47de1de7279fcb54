/**
 * The front page stays a front page (at most 15 KB; the rest lives in docs/), and no relative link in README.md or
 * docs/**.md points at a file or a heading that is not there (anchors as GitHub makes them from headings).
 */
import { expect } from "chai";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";

const ROOT = path.resolve(__dirname, "../..");
/** The front page's budget (issue 28): what it is, the two commands, prerequisites, the release loop, rollback, links. */
export const README_MAX_BYTES = 15 * 1024;

function markdownFiles(dir: string): string[] {
    return readdirSync(dir).flatMap((name) => {
        const full = path.join(dir, name);
        return statSync(full).isDirectory() ? markdownFiles(full) : name.endsWith(".md") ? [full] : [];
    });
}

/** The text without fenced code blocks and inline code, where a `[x](y)` is not a link. */
function prose(markdown: string): string {
    return markdown.replace(/^```[\s\S]*?^```/gm, "").replace(/`[^`\n]*`/g, "``");
}

/** GitHub's anchor for a heading: lower case, punctuation dropped (letters, digits, space, - and _ kept), spaces to -. */
export function slug(heading: string): string {
    return heading.replace(/\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/`/g, "").trim().toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, "").replace(/ /g, "-");
}

/** Every anchor a file's headings (outside code blocks) give, duplicates numbered as GitHub numbers them. */
export function anchors(markdown: string): Set<string> {
    const seen = new Map<string, number>();
    const result = new Set<string>();
    for (const line of markdown.replace(/^```[\s\S]*?^```/gm, "").split("\n")) {
        const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
        if (!m) continue;
        const base = slug(m[1]);
        const n = seen.get(base) ?? 0;
        seen.set(base, n + 1);
        result.add(n === 0 ? base : `${base}-${n}`);
    }
    return result;
}

/** Relative links of a markdown file that do not resolve: "file: target (why)". */
export function brokenLinks(file: string): string[] {
    const text = readFileSync(file, "utf8");
    const broken: string[] = [];
    for (const m of prose(text).matchAll(/\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = m[1];
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
        const [filePart, anchor] = target.split("#", 2) as [string, string | undefined];
        const resolved = filePart === "" ? file : path.resolve(path.dirname(file), decodeURIComponent(filePart));
        const where = `${path.relative(ROOT, file)}: ${target}`;
        if (!existsSync(resolved)) { broken.push(`${where} (no such file)`); continue; }
        if (anchor === undefined) continue;
        if (statSync(resolved).isDirectory() || !resolved.endsWith(".md")) { broken.push(`${where} (an anchor into a file that is not markdown)`); continue; }
        if (!anchors(readFileSync(resolved, "utf8")).has(anchor)) broken.push(`${where} (no heading with that anchor)`);
    }
    return broken;
}

describe("README.md and docs/", () => {
    it(`the README is at most ${README_MAX_BYTES} bytes`, () => {
        const size = statSync(path.join(ROOT, "README.md")).size;
        expect(size, `README.md is ${size} bytes; move detail to docs/ and link to it`).to.be.at.most(README_MAX_BYTES);
    });

    it("the README names the test command CI runs", () => {
        const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
        expect(readme).to.contain("`npm test`");
        expect(readFileSync(path.join(ROOT, ".ci/run"), "utf8")).to.match(/^npm test$/m);
    });

    it("every relative link in README.md and docs/**/*.md resolves to a file (and a heading, when it names one)", () => {
        const files = [path.join(ROOT, "README.md"), ...markdownFiles(path.join(ROOT, "docs"))];
        expect(files.length).to.be.greaterThan(5);
        expect(files.flatMap(brokenLinks)).to.deep.equal([]);
    });

    it("the link check catches a missing file and a missing heading", () => {
        expect(slug("An interrupted `pulumi up`")).to.equal("an-interrupted-pulumi-up");
        expect(slug("`npm run local` keeps every run's evidence")).to.equal("npm-run-local-keeps-every-runs-evidence");
        expect([...anchors("# A\n## B c\n## B c\n```\n# not a heading\n```\n")]).to.deep.equal(["a", "b-c", "b-c-1"]);
        const dir = mkdtempSync(path.join(tmpdir(), "links-"));
        try {
            writeFileSync(path.join(dir, "b.md"), "# Here\n");
            writeFileSync(path.join(dir, "a.md"), "[ok](b.md#here) [gone](c.md) [no heading](b.md#there) [web](https://example.com/x.md) `[code](d.md)`\n");
            expect(brokenLinks(path.join(dir, "a.md")).map((b) => b.replace(/^.*: /, ""))).to.deep.equal([
                "c.md (no such file)", "b.md#there (no heading with that anchor)",
            ]);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});
