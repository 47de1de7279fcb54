/**
 * Generates docs/configuration.md, the configuration reference, from the zod schema (config/schema.ts), so the page
 * cannot drift from what the program accepts.  test/docs/configReference.test.ts regenerates it and fails when the
 * checked-in file differs.
 *
 *   npm run docs:config            rewrite docs/configuration.md
 *   npm run docs:config -- --check exit 1 (naming the file) when docs/configuration.md is stale
 *
 * Where each column comes from:
 * - key, type, allowed values, default, required: the schema itself, through zod 4's `z.toJSONSchema` (input side,
 *   so defaults are shown and keys with a default are not required);
 * - description: a `.describe()`/`.meta()` text on the schema when there is one, else the doc comment written above
 *   the key in config/*.ts (read with the TypeScript parser), else the "what" a duration helper was given
 *   (`positiveDuration("time between two samples")`);
 * - notes: the table under "## Notes by key" in docs/configuration-notes.md (hand-written rules that span keys or
 *   environments); a note whose key is not in the schema stops the generator, naming the key.
 *
 * Durations are recognised from the helper that built the key (config/durationSchema.ts), since JSON Schema sees
 * only a string; a regex-checked string shows the error message it was declared with, which names what is allowed.
 */
import { readFileSync, writeFileSync } from "fs";
import * as path from "path";
import * as ts from "typescript";
import { z } from "zod";
import { formatDuration } from "../config/duration";
import { TIMER_MAX_SECONDS } from "../config/durationSchema";
import { CONFIG_NAMESPACE, stackConfigSchema } from "../config/schema";

const ROOT = path.resolve(__dirname, "..");
/** The generated page, relative to the project folder. */
export const CONFIG_REFERENCE = "docs/configuration.md";
/** The hand-written page whose "Notes by key" table the generator merges in. */
export const CONFIG_NOTES = "docs/configuration-notes.md";
/** The sources whose doc comments describe the keys (the schema and the modules it composes). */
const SCHEMA_SOURCES = ["config/schema.ts", "config/runbook.ts", "config/sentinel.ts", "config/slo.ts", "config/signing.ts", "config/index.ts"];

/** What the source says about one key: its doc comment, and how a duration or a regex was declared. */
interface SourceInfo {
    doc?: string;
    /** The duration helper that built the key, and the text it was given. */
    duration?: { helper: "duration" | "positiveDuration" | "durationAtLeast"; what?: string; timer: boolean; minSeconds?: number };
    /** The literal error message of the key's `.regex(…, { error })`, which says what is allowed. */
    regexMessage?: string;
}

type JsonSchema = {
    type?: string | string[];
    enum?: unknown[];
    const?: unknown;
    default?: unknown;
    description?: string;
    properties?: Record<string, JsonSchema>;
    required?: string[];
    items?: JsonSchema;
    additionalProperties?: boolean | JsonSchema;
    anyOf?: JsonSchema[];
    minimum?: number;
    maximum?: number;
    exclusiveMinimum?: number;
    exclusiveMaximum?: number;
    minLength?: number;
    maxLength?: number;
    minItems?: number;
    maxItems?: number;
    pattern?: string;
    format?: string;
};

const oneLine = (s: string) => s.replace(/\s+/g, " ").trim();

function jsDocOf(node: ts.Node): string | undefined {
    const docs = (node as { jsDoc?: ts.JSDoc[] }).jsDoc;
    if (!docs || docs.length === 0) return undefined;
    const text = docs.map((d) => ts.getTextOfJSDocComment(d.comment) ?? "").join(" ");
    return text.trim() ? oneLine(text) : undefined;
}

/** `z.object` / `z.array`: a call whose callee is `z.<name>`. */
function zCall(node: ts.Node, name: string): node is ts.CallExpression {
    return ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) &&
        ts.isIdentifier(node.expression.expression) && node.expression.expression.text === "z" && node.expression.name.text === name;
}

/**
 * Reads every top-level `const` of the schema sources, then follows stackConfigSchema's object literals key by key,
 * through named sub-schemas (`gate: gateSchema.prefault({})`), helper functions (`resources(…)`) and `z.array(…)`,
 * recording what the source says about each key path (`canary.gate.revert.deadline`, `nodes.hosts[].name`).
 */
export function sourceInfo(root = ROOT): Map<string, SourceInfo> {
    const consts = new Map<string, ts.Expression>();
    const files = SCHEMA_SOURCES.map((f) => ts.createSourceFile(f, readFileSync(path.join(root, f), "utf8"), ts.ScriptTarget.ES2022, true));
    for (const file of files) {
        for (const statement of file.statements) {
            if (!ts.isVariableStatement(statement)) continue;
            for (const decl of statement.declarationList.declarations) {
                if (ts.isIdentifier(decl.name) && decl.initializer && !consts.has(decl.name.text)) consts.set(decl.name.text, decl.initializer);
            }
        }
    }

    /** The object literal that holds an expression's keys, and how many arrays wrap it; undefined for a leaf. */
    const shapeOf = (expr: ts.Node, seen: Set<string>): { literal: ts.ObjectLiteralExpression; arrays: number } | undefined => {
        let found: { literal: ts.ObjectLiteralExpression; arrays: number } | undefined;
        const visit = (node: ts.Node): void => {
            if (found) return;
            if (zCall(node, "object") && node.arguments[0] && ts.isObjectLiteralExpression(node.arguments[0])) {
                found = { literal: node.arguments[0], arrays: 0 };
                return;
            }
            if (zCall(node, "array") && node.arguments[0]) {
                const inner = shapeOf(node.arguments[0], seen);
                if (inner) found = { literal: inner.literal, arrays: inner.arrays + 1 };
                return;
            }
            if (ts.isIdentifier(node) && consts.has(node.text) && !seen.has(node.text)) {
                const inner = shapeOf(consts.get(node.text)!, new Set([...seen, node.text]));
                if (inner) found = inner;
                return;
            }
            // Option objects ({ error: … }) and prefault({}) arguments are not shapes; keys of the shape are visited by walk.
            if (ts.isObjectLiteralExpression(node)) return;
            ts.forEachChild(node, visit);
        };
        visit(expr);
        return found;
    };

    /** A numeric literal, or a const holding one (WATCHDOG_MIN_REVERT_DEADLINE_SECONDS). */
    const numberOf = (expr: ts.Node | undefined): number | undefined => {
        if (expr && ts.isNumericLiteral(expr)) return Number(expr.text.replace(/_/g, ""));
        if (expr && ts.isIdentifier(expr) && consts.has(expr.text)) return numberOf(consts.get(expr.text));
        return undefined;
    };

    const durationOf = (expr: ts.Node): SourceInfo["duration"] => {
        let result: SourceInfo["duration"];
        const visit = (node: ts.Node): void => {
            if (result) return;
            if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) &&
                ["duration", "positiveDuration", "durationAtLeast"].includes(node.expression.text)) {
                const [what, ...rest] = node.arguments;
                const timer = rest.some((a) => ts.isObjectLiteralExpression(a) && a.properties.some((p) =>
                    ts.isPropertyAssignment(p) && p.name.getText() === "timer" && p.initializer.kind === ts.SyntaxKind.TrueKeyword));
                const helper = node.expression.text as "duration" | "positiveDuration" | "durationAtLeast";
                result = { helper, what: what && ts.isStringLiteralLike(what) ? what.text : undefined, timer };
                if (helper === "durationAtLeast") result.minSeconds = numberOf(rest[0]);
                return;
            }
            if (ts.isIdentifier(node) && consts.has(node.text) && !followed.has(node.text)) {
                followed.add(node.text);
                visit(consts.get(node.text)!);
                return;
            }
            if (ts.isObjectLiteralExpression(node) || ts.isArrowFunction(node)) return;
            ts.forEachChild(node, visit);
        };
        const followed = new Set<string>();
        visit(expr);
        return result;
    };

    const regexMessageOf = (expr: ts.Node): string | undefined => {
        let message: string | undefined;
        const visit = (node: ts.Node): void => {
            if (message !== undefined) return;
            if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === "regex") {
                const options = node.arguments[1];
                if (options && ts.isObjectLiteralExpression(options)) {
                    for (const p of options.properties) {
                        if (ts.isPropertyAssignment(p) && p.name.getText() === "error" && ts.isStringLiteralLike(p.initializer)) message = p.initializer.text;
                    }
                }
            }
            if (ts.isIdentifier(node) && consts.has(node.text) && !followed.has(node.text)) {
                followed.add(node.text);
                visit(consts.get(node.text)!);
                return;
            }
            if (ts.isArrowFunction(node)) return;
            ts.forEachChild(node, visit);
        };
        const followed = new Set<string>();
        visit(expr);
        return message;
    };

    const info = new Map<string, SourceInfo>();
    const walk = (literal: ts.ObjectLiteralExpression, prefix: string, seen: Set<string>): void => {
        for (const property of literal.properties) {
            if (!ts.isPropertyAssignment(property)) continue;
            const name = ts.isIdentifier(property.name) || ts.isStringLiteral(property.name) ? property.name.text : property.name.getText();
            const key = prefix ? `${prefix}.${name}` : name;
            const shape = shapeOf(property.initializer, seen);
            info.set(key, {
                doc: jsDocOf(property),
                duration: shape ? undefined : durationOf(property.initializer),
                regexMessage: shape ? undefined : regexMessageOf(property.initializer),
            });
            if (shape) walk(shape.literal, key + "[]".repeat(shape.arrays), seen);
        }
    };
    const root0 = shapeOf(consts.get("stackConfigSchema")!, new Set(["stackConfigSchema"]));
    if (!root0) throw new Error("config/schema.ts: stackConfigSchema is no longer a z.object({ … }) literal; update scripts/gen-config-docs.ts");
    walk(root0.literal, "", new Set(["stackConfigSchema"]));

    // The secret keys (config/index.ts SECRET_KEYS): documented beside their names.
    const secrets = consts.get("SECRET_KEYS");
    const secretLiteral = secrets && ts.isAsExpression(secrets) ? secrets.expression : secrets;
    if (secretLiteral && ts.isObjectLiteralExpression(secretLiteral)) {
        for (const p of secretLiteral.properties) if (ts.isPropertyAssignment(p)) info.set(`secret:${p.name.getText()}`, { doc: jsDocOf(p) });
    }
    return info;
}

/** The "Notes by key" table of docs/configuration-notes.md: key → note (markdown). */
export function readNotes(root = ROOT): Map<string, string> {
    const text = readFileSync(path.join(root, CONFIG_NOTES), "utf8");
    const start = text.indexOf("\n## Notes by key");
    if (start < 0) throw new Error(`${CONFIG_NOTES}: no "## Notes by key" section (the generator merges its table into ${CONFIG_REFERENCE})`);
    const end = text.indexOf("\n## ", start + 1);
    const notes = new Map<string, string>();
    for (const line of text.slice(start, end < 0 ? undefined : end).split("\n")) {
        const m = /^\|\s*`([^`]+)`\s*\|(.*)\|\s*$/.exec(line);
        if (!m) continue;
        if (notes.has(m[1])) throw new Error(`${CONFIG_NOTES}: key ${m[1]} has two notes; merge them into one row`);
        notes.set(m[1], m[2].trim());
    }
    return notes;
}

const code = (s: string) => "`" + s.replace(/`/g, "'") + "`";
/** A table cell: no line breaks, and a `|` that does not end the cell. */
const cell = (s: string) => oneLine(s).replace(/\|/g, "\\|");

function formatValue(v: unknown): string {
    if (typeof v === "string") return code(v);
    if (Array.isArray(v) && v.length === 0) return "`[]`";
    if (Array.isArray(v) && v.every((x) => x && typeof x === "object")) return v.map((x) => code(JSON.stringify(x))).join(", ");
    return code(JSON.stringify(v));
}

function typeOf(s: JsonSchema, src: SourceInfo | undefined): string {
    if (s.enum) return s.enum.map((e) => code(String(e))).join(", ");
    if (s.anyOf) return s.anyOf.map((a) => typeOf(a, undefined)).join(" or ");
    if (src?.duration) {
        const d = src.duration;
        const bounds = [d.helper === "positiveDuration" ? "> `0s`" : d.helper === "duration" ? "`0s` allowed (no wait)"
            : d.minSeconds !== undefined ? `≥ ${code(formatDuration(d.minSeconds))}` : "",
            d.timer ? `≤ ${code(formatDuration(TIMER_MAX_SECONDS))} (one Node timer)` : ""].filter(Boolean);
        return ["duration (`30s`, `15m`, `4h`, `1d`)", ...bounds].join(", ");
    }
    const range = (lo?: number, hi?: number, xlo?: number, xhi?: number) => [
        xlo !== undefined ? `> ${xlo}` : lo !== undefined && lo > Number.MIN_SAFE_INTEGER ? `≥ ${lo}` : "",
        xhi !== undefined ? `< ${xhi}` : hi !== undefined && hi < Number.MAX_SAFE_INTEGER ? `≤ ${hi}` : "",
    ].filter(Boolean).join(", ");
    switch (s.type) {
        case "integer": case "number": {
            const r = range(s.minimum, s.maximum, s.exclusiveMinimum, s.exclusiveMaximum);
            return (s.type === "integer" ? "whole number" : "number") + (r ? ` ${r}` : "");
        }
        case "boolean": return "`true`, `false`";
        case "string": {
            if (s.format === "uri") return "http(s) URL";
            if (src?.regexMessage) return `string that ${src.regexMessage.replace(/^must be /, "is ")}`;
            const parts = [s.pattern ? `matching ${code(s.pattern)}` : "", s.minLength ? `at least ${s.minLength} character(s)` : "",
                s.maxLength ? `at most ${s.maxLength} characters` : ""].filter(Boolean);
            return "string" + (parts.length ? ` ${parts.join(", ")}` : "");
        }
        case "array": {
            const items = s.items ? (s.items.type === "object" && s.items.properties ? "objects (keys below)" : typeOf(s.items, undefined)) : "values";
            const r = [s.minItems !== undefined ? `at least ${s.minItems}` : "", s.maxItems !== undefined ? `at most ${s.maxItems}` : ""].filter(Boolean).join(", ");
            return `list of ${items}${r ? ` (${r})` : ""}`;
        }
        case "object":
            if (!s.properties && s.additionalProperties && typeof s.additionalProperties === "object") return `map of string → ${typeOf(s.additionalProperties, undefined)}`;
            return "object";
        default: return s.type ? String(s.type) : "any";
    }
}

interface Row { key: string; type: string; def: string; description: string }

/** The reference page, exactly as `npm run docs:config` writes it. */
export function renderConfigReference(root = ROOT): string {
    const schema = z.toJSONSchema(stackConfigSchema, { io: "input", unrepresentable: "any", reused: "inline" }) as JsonSchema;
    const src = sourceInfo(root);
    const notes = readNotes(root);
    const used = new Set<string>();

    const describe = (key: string, s: JsonSchema): string => {
        const what = src.get(key)?.duration?.what;
        const own = s.description ?? src.get(key)?.doc ?? (what ? what[0].toUpperCase() + what.slice(1) : undefined);
        const note = notes.get(key);
        if (note !== undefined) used.add(key);
        return [own ? (/[.!?)]$/.test(own) ? own : `${own}.`) : "", note ?? ""].filter(Boolean).join(" ");
    };
    /** `inherited`: the key's value in its parent's default (`release.images.speculation` defaults to { repository: … }). */
    const rowsOf = (s: JsonSchema, key: string, required: boolean, inherited?: unknown): Row[] => {
        const nested = s.type === "object" && s.properties ? s : s.type === "array" && s.items?.type === "object" && s.items.properties ? s.items : undefined;
        const rows: Row[] = [];
        const description = describe(key, s);
        const def = nested && s.type === "object" ? "—" : inherited !== undefined ? formatValue(inherited)
            : required ? "(required)" : s.default !== undefined ? formatValue(s.default) : "none";
        if (!nested || s.type === "array" || description || key.indexOf(".") < 0) {
            rows.push({ key, type: typeOf(s, src.get(key)), def, description });
        }
        if (nested) {
            const prefix = s.type === "array" ? `${key}[]` : key;
            const defaults = s.type === "object" && s.default && typeof s.default === "object" ? s.default as Record<string, unknown> : {};
            for (const [name, child] of Object.entries(nested.properties!)) {
                rows.push(...rowsOf(child, `${prefix}.${name}`, (nested.required ?? []).includes(name), defaults[name] ?? (inherited as Record<string, unknown> | undefined)?.[name]));
            }
        }
        return rows;
    };

    const out: string[] = [
        "# Configuration reference",
        "",
        "<!-- GENERATED by scripts/gen-config-docs.ts from config/schema.ts: do not edit by hand. Change the schema's doc",
        "     comments (or .describe()) or the \"Notes by key\" table of docs/configuration-notes.md, then run",
        "     `npm run docs:config`. test/docs/configReference.test.ts fails while this file is stale. -->",
        "",
        `Every key lives in the \`${CONFIG_NAMESPACE}\` namespace: \`pulumi config set ${CONFIG_NAMESPACE}:rolloutPercentage 10\`;`,
        `structured keys with \`--path\`: \`pulumi config set --path '${CONFIG_NAMESPACE}:canary.steps[1].bake' 8h\`. A key written`,
        "`a[].b` is key `b` of each entry of the list `a`. How the configuration is checked, the rules that span keys or",
        "environments, the secrets and the go/no-go table: [configuration notes](configuration-notes.md).",
        "",
        "Sections: " + Object.keys(schema.properties!).map((k) => `[${k}](#${k.toLowerCase()})`).join(" · ") + " · [secrets](#secrets)",
        "",
    ];
    for (const [name, s] of Object.entries(schema.properties!)) {
        out.push(`## ${name}`, "");
        const head = describe(name, s);
        const rows = rowsOf(s, name, (schema.required ?? []).includes(name));
        if (head && rows[0]?.key === name && s.type === "object") { out.push(head, ""); rows[0].description = ""; }
        const shown = rows.filter((r) => !(r.key === name && s.type === "object" && !r.description));
        out.push("| key | type and allowed values | default | description |", "|---|---|---|---|");
        for (const r of shown) out.push(`| ${code(r.key)} | ${cell(r.type)} | ${cell(r.def)} | ${cell(r.description)} |`);
        out.push("");
    }
    out.push("## secrets", "", "Set with `pulumi config set --secret`; a secret key set without `--secret` is refused.", "",
        "| key | description |", "|---|---|");
    for (const [key, info] of src) {
        if (!key.startsWith("secret:")) continue;
        const name = key.slice("secret:".length);
        const note = notes.get(name);
        if (note !== undefined) used.add(name);
        out.push(`| ${code(`${CONFIG_NAMESPACE}:${name}`)} | ${cell([info.doc ?? "", note ?? ""].filter(Boolean).join(" "))} |`);
    }
    out.push("");
    const unknown = [...notes.keys()].filter((k) => !used.has(k));
    if (unknown.length > 0) {
        throw new Error(`${CONFIG_NOTES}: "Notes by key" names ${unknown.map((k) => `\`${k}\``).join(", ")}, not a key of the schema ` +
            `(keys are written as in ${CONFIG_REFERENCE}: canary.gate.pollInterval, nodes.hosts[].hostKey, or a secret's name such as sshPrivateKey)`);
    }
    return out.join("\n");
}

if (require.main === module) {
    const check = process.argv.includes("--check");
    const file = path.join(ROOT, CONFIG_REFERENCE);
    const text = renderConfigReference();
    if (check) {
        let current = "";
        try { current = readFileSync(file, "utf8"); } catch { /* a missing file is stale */ }
        if (current !== text) {
            console.error(`${CONFIG_REFERENCE} is stale: run npm run docs:config`);
            process.exit(1);
        }
        console.log(`${CONFIG_REFERENCE} is up to date`);
    } else {
        writeFileSync(file, text);
        console.log(`wrote ${CONFIG_REFERENCE}`);
    }
}
