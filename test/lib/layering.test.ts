/**
 * The layering of lib/ (docs/layering.md): every import between units of lib/ goes to a lower layer, no two units
 * import each other (directly or round a cycle), and the table places every unit that exists — no more, no fewer.
 * Reads the layers from the doc itself, so the doc and the check cannot drift apart.  Pure: reads files only.
 */
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";

const ROOT = path.resolve(__dirname, "../..");
const LIB = path.join(ROOT, "lib");

/** The unit a path under lib/ belongs to: its first folder (`gate/`), or the file itself (`http.ts`). */
function unitOf(file: string): string {
    const [first, ...rest] = path.relative(LIB, file).split(path.sep);
    return rest.length > 0 ? `${first}/` : first;
}

/** The layers as docs/layering.md's table states them: unit → layer number. */
function statedLayers(): Map<string, number> {
    const doc = fs.readFileSync(path.join(ROOT, "docs/layering.md"), "utf8");
    const layers = new Map<string, number>();
    for (const line of doc.split("\n")) {
        const row = /^\|\s*(\d+)\s*\|([^|]*)\|/.exec(line);
        if (!row) continue;
        for (const [, unit] of row[2].matchAll(/`([^`]+)`/g)) {
            expect(layers.has(unit), `docs/layering.md places ${unit} twice`).to.equal(false);
            layers.set(unit, Number(row[1]));
        }
    }
    return layers;
}

function sourceFiles(dir: string): string[] {
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) return sourceFiles(p);
        return /\.(ts|js)$/.test(e.name) && !e.name.endsWith(".d.ts") ? [p] : [];
    });
}

/** Where a relative specifier points, if it stays inside lib/ (a file, or a folder's index). */
function resolveInLib(from: string, spec: string): string | undefined {
    if (!spec.startsWith(".")) return undefined;
    const base = path.resolve(path.dirname(from), spec);
    if (!base.startsWith(LIB + path.sep)) return undefined;
    for (const candidate of [base, `${base}.ts`, `${base}.js`, path.join(base, "index.ts")]) {
        if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) return candidate;
    }
    throw new Error(`${path.relative(ROOT, from)} imports ${spec}, which resolves to no file`);
}

/** Every import between two different units: `import`, `export … from`, `import type`, `require()` and `import()`. */
function unitImports(): { from: string; to: string; file: string; spec: string }[] {
    const edges: { from: string; to: string; file: string; spec: string }[] = [];
    for (const file of sourceFiles(LIB)) {
        const info = ts.preProcessFile(fs.readFileSync(file, "utf8"), true, true);
        for (const { fileName: spec } of info.importedFiles) {
            const target = resolveInLib(file, spec);
            if (!target) continue;
            const [from, to] = [unitOf(file), unitOf(target)];
            if (from !== to) edges.push({ from, to, file: path.relative(ROOT, file), spec });
        }
    }
    return edges;
}

/** The cycles between units (strongly connected components of more than one unit), each as a list of units. */
function cycles(edges: { from: string; to: string }[]): string[][] {
    const next = new Map<string, Set<string>>();
    for (const e of edges) next.set(e.from, (next.get(e.from) ?? new Set()).add(e.to));
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const stack: string[] = [];
    const found: string[][] = [];
    const visit = (v: string) => {
        index.set(v, index.size);
        low.set(v, index.get(v)!);
        stack.push(v);
        for (const w of next.get(v) ?? []) {
            if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
            else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
        }
        if (low.get(v) === index.get(v)) {
            const scc: string[] = [];
            let w: string;
            do { w = stack.pop()!; scc.push(w); } while (w !== v);
            if (scc.length > 1) found.push(scc.sort());
        }
    };
    for (const v of next.keys()) if (!index.has(v)) visit(v);
    return found;
}

describe("lib/ layering (docs/layering.md)", () => {
    const layers = statedLayers();
    const edges = unitImports();
    const units = new Set(sourceFiles(LIB).map(unitOf));

    it("places every unit of lib/ in exactly one layer, and names none that does not exist", () => {
        expect([...units].filter((u) => !layers.has(u)).sort(), "units docs/layering.md does not place").to.deep.equal([]);
        expect([...layers.keys()].filter((u) => !units.has(u)).sort(), "units docs/layering.md names that do not exist").to.deep.equal([]);
    });

    it("has no import cycle between units", () => {
        expect(cycles(edges), "cycles between units of lib/").to.deep.equal([]);
    });

    it("imports only from lower layers (nothing sideways, nothing up)", () => {
        const wrong = edges
            .filter((e) => layers.has(e.from) && layers.has(e.to) && layers.get(e.to)! >= layers.get(e.from)!)
            .map((e) => `${e.file} imports "${e.spec}": ${e.from} (layer ${layers.get(e.from)}) → ${e.to} (layer ${layers.get(e.to)})`);
        expect(wrong, "imports that do not go down a layer").to.deep.equal([]);
    });

    it("finds the imports it checks (the parser sees import, export-from, import type and require)", () => {
        const seen = (from: string, to: string) => edges.some((e) => e.from === from && e.to === to);
        expect(seen("gate/", "prometheus/"), "import").to.equal(true);
        expect(seen("bake/", "prometheus/"), "export … from / import type").to.equal(true);
        expect(seen("nodes/", "gate/"), "import").to.equal(true);
    });
});
