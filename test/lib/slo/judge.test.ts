/** The error budget as the gates judge it (lib/slo/judge.ts, lib/monitoring/slo.ts, lib/gate/slo.ts): pure, table-tested. */
import { expect } from "chai";
import { budgetSpent, burnRate, gateWindows, stageBudget } from "../../../lib/slo/judge";
import { sloChecks } from "../../../lib/gate/slo";
import { releaseTrackMatcher, sloSpec } from "../../../lib/monitoring/slo";

const ok = (value: number) => ({ ok: true as const, value });

describe("the error budget in the gates (lib/slo)", () => {
    const spec = sloSpec();

    it("resolves the seed's SLO: 99.9 % over 7 d, the 6× pair (6h and 30m), a floor of half the budget", () => {
        expect(spec).to.deep.include({ objective: 0.999, budget: 0.001, window: "7d", windowSeconds: 604_800, budgetFloor: 0.5, releaseTrack: "" });
        expect(spec.gatePair).to.deep.equal({ name: "6x", factor: 6, longSeconds: 21_600, shortSeconds: 1800, level: "page" });
        expect(sloSpec({ gatePair: "3x", window: "28d" }).gatePair.longSeconds).to.equal(86_400);
        expect(releaseTrackMatcher("ingress-weight")).to.equal('track="canary"');
        expect(releaseTrackMatcher("blue-green")).to.equal('track="green"');
        expect(() => sloSpec({ gatePair: "5x" })).to.throw(/unknown burn-rate pair "5x"; allowed: 14.4x, 6x, 3x, 1x/);
    });

    it("reads the bake so far (at most the pair's long window) and its last twelfth, never below the minimum", () => {
        expect(gateWindows(spec.gatePair, 4 * 3600, 60)).to.deep.equal({ longSeconds: 14_400, shortSeconds: 1200 });
        expect(gateWindows(spec.gatePair, 24 * 3600, 60)).to.deep.equal({ longSeconds: 21_600, shortSeconds: 1800 });
        expect(gateWindows(spec.gatePair, 120, 1)).to.deep.equal({ longSeconds: 120, shortSeconds: 10 });
        expect(gateWindows(spec.gatePair, 10, 60)).to.deep.equal({ longSeconds: 60, shortSeconds: 60 });
    });

    it("a burn rate is the error ratio over the budget; no operations is no data", () => {
        expect(burnRate({ errors: 5, operations: 1000 }, spec)).to.deep.equal(ok(5));
        expect(burnRate({ errors: 0, operations: 0 }, spec)).to.include({ ok: false, failure: "stale" });
    });

    const reading = (long: number, short: number, left = 0.9) => ({ windows: { longSeconds: 600, shortSeconds: 50 }, long: ok(long), short: ok(short), budgetRemaining: ok(left), query: "q" });

    const cases: [string, ReturnType<typeof reading>, string[]][] = [
        ["a slow burn: 5× in both windows, under the 6× pair", reading(5, 5), ["pass", "pass"]],
        ["7× in both windows: burning", reading(7, 7), ["hold", "pass"]],
        ["7× over the bake, 0.5× now: the burn stopped (the workbook's reset)", reading(7, 0.5), ["pass", "pass"]],
        ["a blip now, 2× over the bake: absorbed", reading(2, 30), ["pass", "pass"]],
        ["40 % of the budget left: below the 50 % floor", reading(1, 1, 0.4), ["pass", "hold"]],
    ];
    for (const [name, r, verdicts] of cases) {
        it(`live gate: ${name}`, () => {
            expect(sloChecks(spec, r, "hold").map((c) => c.verdict)).to.deep.equal(verdicts);
        });
    }

    it("the window judgement fails a burn, says how long the budget lasts, and holds on no data", () => {
        const [burn] = sloChecks(spec, reading(7, 7), "fail");
        expect(burn).to.include({ check: "error budget burn", verdict: "fail", observed: "7× over 10m, 7× over 50s" });
        expect(burn.reason).to.match(/faster than 6× over both windows \(at this rate the 7d budget lasts 24h 0m\)/);
        const [noData] = sloChecks(spec, { ...reading(1, 1), short: { ok: false, failure: "stale", detail: "no operations in the window" } }, "fail");
        expect(noData).to.include({ verdict: "hold", noData: true });
        expect(sloChecks(sloSpec({ gatePair: "3x" }), reading(5, 5), "fail")[0].verdict, "the 3× pair stops a 5× burn").to.equal("fail");
    });

    it("a stage's budget spent is its burn × its bake ÷ the window", () => {
        expect(budgetSpent(5, 4 * 3600, 604_800)).to.be.closeTo(0.119, 0.001);
        expect(stageBudget(spec, reading(2, 1, 0.8))).to.deep.equal({ burnRate: 2, overSeconds: 600, budgetSpent: budgetSpent(2, 600, 604_800), budgetRemaining: 0.8 });
    });
});
