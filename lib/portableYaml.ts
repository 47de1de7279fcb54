/**
 * YAML that YAML 1.1 and 1.2 loaders read identically (issue 25, item 3).  The `yaml` package writes 1.2, where a
 * plain `=`, `yes`, `on`, `y`, `1:20` or `2024-01-01` is a string; a 1.1 loader (PyYAML, so Ansible, and many CI
 * tools) reads them as the value tag (an error), booleans, a sexagesimal number or a timestamp.  Every string scalar
 * that a 1.1 or a 1.2 loader would not read back as the same string when written plain is double-quoted; everything
 * else is written as `yaml` writes it.  Multi-line strings keep their block style (a block scalar is a string in both).
 */
import { Document, isScalar, parse, visit } from "yaml";

/** Plain scalars that YAML 1.1 gives a meaning of its own beyond 1.1's core types: the value and merge keys. */
const YAML11_SPECIAL = new Set(["=", "<<"]);

/** `text`, written plain, reads back as the same string in both versions. */
function plainIsPortable(text: string): boolean {
    if (YAML11_SPECIAL.has(text)) return false;
    for (const version of ["1.1", "1.2"] as const) {
        try {
            if (parse(text, { version, logLevel: "silent" }) !== text) return false;
        } catch {
            return false;
        }
    }
    return true;
}

/** `value` as YAML both versions read the same way (one document, ending in a newline). */
export function portableYaml(value: unknown): string {
    const doc = new Document(value);
    visit(doc, {
        Scalar(_key, node) {
            if (isScalar(node) && typeof node.value === "string" && !node.value.includes("\n") && !plainIsPortable(node.value)) {
                node.type = "QUOTE_DOUBLE";
            }
        },
    });
    return doc.toString();
}
