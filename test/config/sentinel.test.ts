/** `speculation:watchdog.sentinel`: defaults from the go/no-go table, and bad values refused naming the key. */
import { expect } from "chai";
import { ConfigError, parseStackConfig } from "../../config";
import { SENTINEL_MIN_PROBES_DEFAULT } from "../../config/sentinel";
import { GO_NO_GO } from "../../config/thresholds";
import { encodeConfig, stackConfig, withEdit } from "../helpers/stack";

const parse = (edits: [string, unknown][]) =>
    parseStackConfig(encodeConfig(edits.reduce((c, [p, v]) => withEdit(c, "speculation:watchdog", p, v), stackConfig("staging"))));
const problems = (edits: [string, unknown][]) => {
    try { parse(edits); } catch (e) { expect(e).to.be.instanceOf(ConfigError); return (e as ConfigError).problems; }
    throw new Error("accepted");
};

describe("config: watchdog.sentinel", () => {
    it("defaults: on at 100 %, a probe a minute, judged over 1 h once 20 probes are in it (one failure alone cannot cross 95 %)", () => {
        expect(parse([]).config.watchdog.sentinel).to.deep.equal({ enabled: true, interval: "1m", window: "1h", minProbes: 20, timeout: "10s" });
        expect(SENTINEL_MIN_PROBES_DEFAULT).to.equal(20);
        // 19 of 20 is exactly the target, not below it.
        expect((SENTINEL_MIN_PROBES_DEFAULT - 1) / SENTINEL_MIN_PROBES_DEFAULT).to.be.at.least(GO_NO_GO.sentinelProbeSuccess);
    });

    it("refuses a window that cannot hold minProbes probes, naming the keys and the way out", () => {
        expect(problems([["sentinel.window", "10m"]])).to.deep.equal([
            "speculation:watchdog.sentinel.window: holds only 10 probe(s) at interval 1m, fewer than minProbes (20): the alert could never fire; " +
            "make the window at least 20 × interval, shorten the interval, or lower minProbes",
        ]);
        expect(() => parse([["sentinel.window", "10m"], ["sentinel.interval", "30s"]])).to.not.throw();
    });

    it("refuses bad values naming the key and what it allows", () => {
        expect(problems([["sentinel.interval", "hourly"]])).to.deep.equal(["speculation:watchdog.sentinel.interval: must be a duration such as 30s, 15m or 4h (time between two sentinel probes)"]);
        expect(problems([["sentinel.interval", "0s"]])).to.deep.equal(["speculation:watchdog.sentinel.interval: must be longer than 0s (time between two sentinel probes)"]);
        expect(problems([["sentinel.minProbes", 0]])).to.deep.equal(["speculation:watchdog.sentinel.minProbes: must be from 1 to 10000"]);
        expect(problems([["sentinel.enabled", "yes"]])).to.deep.equal(["speculation:watchdog.sentinel.enabled: must be true or false"]);
        expect(problems([["sentinel.every", "1m"]])[0]).to.match(/^speculation:watchdog\.sentinel: unknown key "every"; allowed: enabled, interval, minProbes, timeout, window$/);
    });
});
