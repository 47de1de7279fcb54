/**
 * The watchdog as one plain-Node file: lib/watchdog/main.ts and what it imports (lib/watchdog/actions.ts,
 * lib/adminApi.ts, lib/guard/bound.ts's schedule, lib/revert's jitter, lib/watchdog/synthetic.js), bundled by esbuild
 * for Node 22 with no external imports.  The Watchdog component mounts the text from a ConfigMap into a stock,
 * digest-pinned node image (no image to build); the local stack and the tests run the same text from a file.
 * Deterministic: the same sources give the same bytes, so the ConfigMap and its checksum change only with the code.
 */
import { createHash } from "crypto";
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";

export const WATCHDOG_ENTRY = path.resolve(__dirname, "main.ts");
/** The file name inside the ConfigMap and the container. */
export const WATCHDOG_FILE = "watchdog.js";

let cached: string | undefined;

/** The bundled watchdog, as text. */
export function watchdogBundle(): string {
    if (cached !== undefined) return cached;
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const esbuild = require("esbuild") as typeof import("esbuild");
    const out = esbuild.buildSync({
        entryPoints: [WATCHDOG_ENTRY], bundle: true, platform: "node", target: "node22", format: "cjs", write: false,
        // Paths in the output relative to the project, never the machine's: the same bytes everywhere.
        absWorkingDir: path.resolve(__dirname, "../.."), legalComments: "none", logLevel: "silent",
        banner: { js: "// The watchdog, bundled from lib/watchdog/main.ts (lib/watchdog/bundle.ts). Do not edit." },
    });
    cached = out.outputFiles[0].text;
    return cached;
}

/** The bundle written to a file named by its hash (reused while the code is unchanged), for `node <file>`. */
export function watchdogScriptFile(dir = path.join(tmpdir(), "agenc-watchdog")): string {
    const text = watchdogBundle();
    const file = path.join(dir, `watchdog-${createHash("sha256").update(text).digest("hex").slice(0, 16)}.js`);
    if (!existsSync(file) || readFileSync(file, "utf8") !== text) {
        mkdirSync(dir, { recursive: true });
        writeFileSync(file, text);
    }
    return file;
}
