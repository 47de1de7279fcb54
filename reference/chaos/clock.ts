/**
 * A skewed clock for the deployer alone, for the chaos matrix's clock-skew fault: Debian's libfaketime, preloaded
 * (LD_PRELOAD) into every process of one `up` — the Automation API host, the CLI, its language host, the policy pack
 * and every dynamic provider the engine starts, which inherit the environment — with a fixed offset (FAKETIME="+600":
 * the clock runs normally, 600 s ahead).  Node's Date.now() reads the C library's clock, which libfaketime answers;
 * the Go binaries (the CLI, the language host) read the kernel's directly and keep the true time, which changes nothing
 * here: every time a step judges by is a Node provider's.  Prometheus, the service and the watchdog keep the true time.
 * The monotonic clock is left alone (FAKETIME_DONT_FAKE_MONOTONIC), so timers and timeouts run as usual.
 *
 * Not in CI's short matrix, so not in scripts/setup.sh: ensureFaketime() installs the package (idempotently) when a
 * chaos run that needs it starts (scripts/chaos.ts's preflight).
 */
import { execFileSync } from "child_process";
import { existsSync, readdirSync } from "fs";
import * as path from "path";

/** Where Debian's libfaketime is, whatever the architecture's folder; undefined when it is not installed. */
export function libfaketime(): string | undefined {
    const roots = ["/usr/lib", "/usr/lib64"].filter((r) => existsSync(r));
    for (const root of roots) {
        for (const dir of [root, ...readdirSync(root).map((d) => path.join(root, d))]) {
            const lib = path.join(dir, "faketime", "libfaketime.so.1");
            if (existsSync(lib)) return lib;
        }
    }
    return undefined;
}

/** libfaketime's path, installing Debian's `faketime` package first when it is missing (as scripts/setup.sh installs its packages). */
export function ensureFaketime(log: (s: string) => void = console.log): string {
    const found = libfaketime();
    if (found) return found;
    const sudo = process.getuid?.() === 0 ? [] : ["sudo"];
    log(`[chaos] installing Debian's faketime (libfaketime) for the clock-skew fault${sudo.length ? " (with sudo)" : ""}`);
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    const run = (args: string[]) => execFileSync(sudo[0] ?? args[0], sudo.length ? args : args.slice(1), { env, stdio: ["ignore", "ignore", "inherit"] });
    run(["apt-get", "update", "-qq"]);
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "faketime"]);
    const lib = libfaketime();
    if (!lib) throw new Error("apt-get installed faketime, but libfaketime.so.1 is not under /usr/lib/*/faketime");
    return lib;
}

/** The environment that puts a process tree's wall clock `offsetSeconds` off the true time (negative: behind). */
export function skewedClockEnv(offsetSeconds: number): Record<string, string> {
    const lib = libfaketime();
    if (!lib) throw new Error("libfaketime is not installed: ensureFaketime() first (npm run chaos does)");
    return {
        LD_PRELOAD: [lib, process.env.LD_PRELOAD].filter(Boolean).join(":"),
        FAKETIME: `${offsetSeconds >= 0 ? "+" : "-"}${Math.abs(offsetSeconds)}`,
        FAKETIME_DONT_FAKE_MONOTONIC: "1",
    };
}
