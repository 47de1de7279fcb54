/** The one duration module: config notation round-trips through parseDuration; prose notation rounds to two units. */
import { expect } from "chai";
import { formatDuration, formatSeconds, isDuration, parseDuration } from "../../../lib/time/duration";

describe("durations (lib/time/duration.ts)", () => {
    it("parses config notation and names the text it refuses", () => {
        expect(parseDuration("1h30m")).to.equal(5400);
        expect(parseDuration("1d")).to.equal(86400);
        expect(isDuration("15 m")).to.equal(false);
        expect(() => parseDuration("soon")).to.throw('"soon" is not a duration (use e.g. 30s, 15m, 4h, 1d)');
    });

    it("formats config notation exactly, so it reads back", () => {
        for (const s of [0, 1, 59, 90, 3600, 5400, 86400 + 61]) expect(parseDuration(formatDuration(s))).to.equal(s);
        expect(formatDuration(90)).to.equal("1m30s");
        expect(formatDuration(0)).to.equal("0s");
    });

    it("formats prose for people: seconds under 2 min, minutes and seconds under 2 h, then hours and minutes", () => {
        expect([0.4, 90, 120, 125, 7199, 7200, 7300].map(formatSeconds)).to.deep.equal(["0s", "90s", "2m", "2m 5s", "119m 59s", "2h 0m", "2h 1m"]);
        expect(formatSeconds(-3)).to.equal("0s");
        expect(formatDuration(125, "prose")).to.equal(formatSeconds(125));
    });
});
