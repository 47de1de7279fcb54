/**
 * watchdog.revertDeadline keeps the watchdog script's own minimum: refused below it with the key and the minimum named.
 */
import { expect } from "chai";
import { spawnSync } from "child_process";
import * as path from "path";
import { ConfigError, formatDuration, parseStackConfig, WATCHDOG_MIN_REVERT_DEADLINE_SECONDS } from "../../config";
import { encodeConfig, ROOT, stackConfig, withEdit } from "../helpers/stack";

/** The staging stack with one key (a path such as canary.gate.maxGap) set. */
function withKey(dotted: string, value: unknown): Record<string, unknown> {
    const [top, ...rest] = dotted.split(".");
    return withEdit(stackConfig("staging"), `speculation:${top}`, rest.join(".") || undefined, value);
}

describe("config: watchdog.revertDeadline and the watchdog's own minimum", () => {
    /** Runs the watchdog script with only REVERT_DEADLINE_SECONDS set: it exits at once either way (no service URL). */
    const start = (seconds: number) => spawnSync(process.execPath, [path.join(ROOT, "lib/watchdog/action.js")],
        { env: { REVERT_DEADLINE_SECONDS: String(seconds) }, encoding: "utf8", timeout: 10_000 });

    it("the script refuses a deadline just below the schema's minimum and takes the minimum itself", () => {
        const below = start(WATCHDOG_MIN_REVERT_DEADLINE_SECONDS - 0.001);
        expect(below.status).to.equal(2);
        expect(below.stderr).to.contain("REVERT_DEADLINE_SECONDS");
        const at = start(WATCHDOG_MIN_REVERT_DEADLINE_SECONDS);
        expect(at.stderr).to.not.contain("REVERT_DEADLINE_SECONDS");
        expect(at.stderr).to.contain("SERVICE_URL and ADMIN_TOKEN");
    });

    it("the schema refuses 0s naming the key and the minimum, and accepts the minimum", () => {
        expect(() => parseStackConfig(encodeConfig(withKey("watchdog.revertDeadline", "0s")))).to.throw(ConfigError).with.property("problems").that.deep.equals([
            "speculation:watchdog.revertDeadline: must be at least 1s (how long one revert keeps trying): " +
            "the watchdog (lib/watchdog/action.js) exits at start on a shorter REVERT_DEADLINE_SECONDS, and its pods would crash-loop",
        ]);
        const ok = parseStackConfig(encodeConfig(withKey("watchdog.revertDeadline", formatDuration(WATCHDOG_MIN_REVERT_DEADLINE_SECONDS))));
        expect(ok.config.watchdog.revertDeadline).to.equal("1s");
    });
});
