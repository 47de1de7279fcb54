/**
 * The SLO's rules under promtool (lib/monitoring/sloRules.ts): each burn-rate alert fires when both windows of one of its
 * workbook pairs burn above the factor, and stays silent when only the long window does (the burn stopped: the short
 * window resets it) or only the short one does (a blip the long window absorbs).  One operation stream of 100 a minute
 * per track; the error counter's slope is the error ratio.
 */
import { expect } from "chai";
import { execFileSync } from "child_process";
import { mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { stringify } from "yaml";
import { DEFAULT_STAGE_THRESHOLDS } from "../../../config/thresholds";
import { AlertRule, ROLLBACK_TRIGGER_ALERTS, ruleGroups, rollbackTriggerTimings } from "../../../lib/monitoring/rules";
import { SLO_ALERTS, sloRuleGroups } from "../../../lib/monitoring/sloRules";
import { sloSpec } from "../../../lib/monitoring/slo";

const OPS_PER_MIN = 100;

/**
 * Counter values: `segments` of [minutes, error ratio], one sample every `step` minutes (1, or 5 for the day-long
 * windows, whose tests would otherwise cost promtool minutes of CPU), for one track.
 */
function stream(track: string, segments: [number, number][], step = 1): { series: string; values: string }[] {
    let errors = 0;
    let ops = 0;
    const e: number[] = [0];
    const o: number[] = [0];
    for (const [minutes, ratio] of segments) {
        if (minutes % step !== 0) throw new Error(`stream: ${minutes} min is not a multiple of the ${step} min step`);
        for (let i = 0; i < minutes / step; i++) {
            errors += OPS_PER_MIN * ratio * step;
            ops += OPS_PER_MIN * step;
            e.push(Number(errors.toFixed(6)));
            o.push(ops);
        }
    }
    return [
        { series: `speculation_errors_total{track="${track}",pod="${track}-0"}`, values: e.join(" ") },
        { series: `speculation_operations_total{track="${track}",pod="${track}-0",result="committed"}`, values: o.join(" ") },
    ];
}

function run(args: string[], cwd: string): string {
    try {
        return execFileSync("promtool", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
        const err = e as { stdout?: string; stderr?: string };
        throw new Error(`promtool ${args.join(" ")} failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`);
    }
}

describe("the SLO's rules under promtool (workbook multiwindow burn rates)", function () {
    this.timeout(120_000);
    // Ingress-weight: the release's track is the canary; stable burns only page.
    const spec = sloSpec({}, "ingress-weight");
    const groups = sloRuleGroups(spec, "1m");
    const alerts = groups.flatMap((g) => g.rules).filter((r): r is AlertRule => "alert" in r);
    const rule = (name: string) => alerts.find((a) => a.alert === name)!;
    const dir = mkdtempSync(path.join(tmpdir(), "agenc-slo-rules-"));
    writeFileSync(path.join(dir, "slo.yml"), stringify({ groups }));
    // The ticket pairs (1d/2h, 3d/6h) are tested at a 5 min resolution: the same rules evaluated every 5 min over
    // series sampled every 5 min.  At 1 min the two 73 h cases alone took promtool 40 s of CPU (minutes on a busy machine).
    writeFileSync(path.join(dir, "slo-5m.yml"), stringify({ groups: sloRuleGroups(spec, "5m") }));

    /** One promtool test: the series, the time, and whether `alert` fires (for `track`). */
    const test = (alert: string, series: { series: string; values: string }[], minute: number, firing?: string, interval = "1m") => {
        const r = rule(alert);
        const labels = { ...r.labels, ...(firing ? { track: firing } : {}) };
        const annotations = Object.fromEntries(Object.entries(r.annotations).map(([k, v]) => [k, v.replace(/\{\{ \$labels\.track \}\}/g, firing ?? "")]));
        return {
            interval, input_series: series,
            alert_rule_test: [{ eval_time: `${minute}m`, alertname: alert, exp_alerts: firing ? [{ exp_labels: labels, exp_annotations: annotations }] : [] }],
        };
    };

    it("passes promtool check rules, and the fast burn is a rollback trigger whose bound the guard counts (recorded, no for:)", () => {
        expect(run(["check", "rules", "slo.yml"], dir)).to.match(/SUCCESS: 13 rules found/);
        expect(ROLLBACK_TRIGGER_ALERTS).to.include(SLO_ALERTS.fastBurnRollback);
        const timing = rollbackTriggerTimings(ruleGroups(DEFAULT_STAGE_THRESHOLDS, "15s", { slo: spec })).find((t) => t.alert === SLO_ALERTS.fastBurnRollback);
        expect(timing).to.deep.equal({ alert: SLO_ALERTS.fastBurnRollback, forSeconds: 0, recorded: true });
        expect(rule(SLO_ALERTS.fastBurnRollback).expr).to.equal(
            'speculation:slo_errors:ratio_rate1h{track="canary"} > 0.0144 and speculation:slo_errors:ratio_rate5m{track="canary"} > 0.0144'.replace(/^/, "(").replace(/$/, ")"));
    });

    it("fires and stays silent with the workbook's windows (promtool test rules)", () => {
        const clean = (minutes: number) => stream("stable", [[minutes, 0.0005]]);
        const tests = [
            // 14.4× (1h and 5m) on the canary: 2 % errors for 65 min is 20×: the rollback trigger and the page fire.
            test(SLO_ALERTS.fastBurnRollback, [...stream("canary", [[65, 0.02]]), ...clean(65)], 65, "canary"),
            test(SLO_ALERTS.page, [...stream("canary", [[65, 0.02]]), ...clean(65)], 65, "canary"),
            // Stopped 10 min ago: the 1h ratio is still 1.7 % (above 1.44 %) but the 5m one is 0: silent (reset).
            test(SLO_ALERTS.fastBurnRollback, [...stream("canary", [[60, 0.02], [10, 0]]), ...clean(70)], 70),
            // A 5 % blip for 5 min after 55 clean: the 5m ratio is 5 %, the 1h one 0.5 %: silent (absorbed).
            test(SLO_ALERTS.fastBurnRollback, [...stream("canary", [[55, 0.001], [5, 0.05]]), ...clean(60)], 60),
            // Stable burning at 20× beside a clean canary: a page for stable, no rollback of the release.
            test(SLO_ALERTS.fastBurnRollback, [...stream("canary", [[65, 0.0005]]), ...stream("stable", [[65, 0.02]])], 65),
            test(SLO_ALERTS.page, [...stream("canary", [[65, 0.0005]]), ...stream("stable", [[65, 0.02]])], 65, "stable"),
            // 6× (6h and 30m): 0.8 % (8×) for 370 min pages; the 14.4× pair alone would not.
            test(SLO_ALERTS.page, stream("canary", [[370, 0.008]]), 370, "canary"),
            test(SLO_ALERTS.fastBurnRollback, stream("canary", [[370, 0.008]]), 370),
            // … stopped 35 min ago: the 6h ratio is still 0.72 % (above 0.6 %), the 30m one 0: silent.
            test(SLO_ALERTS.page, stream("canary", [[360, 0.008], [35, 0]]), 395),
            // The budget: 100 % errors for 10 min spends 600 of the week's 604.8 bad seconds: below the 50 % floor.
            test(SLO_ALERTS.belowFloor, stream("canary", [[10, 0.0005], [10, 1], [5, 0.0005]]), 25, "__none__"),
            // 5 % for 10 min spends 30 bad seconds (5 %): well above the floor.
            test(SLO_ALERTS.belowFloor, stream("canary", [[10, 0.0005], [10, 0.05], [5, 0.0005]]), 25),
        ].map((t) => {
            // The budget is the service's (no track label).
            const exp = t.alert_rule_test[0].exp_alerts[0] as { exp_labels: Record<string, string> } | undefined;
            if (exp?.exp_labels.track === "__none__") delete exp.exp_labels.track;
            return t;
        });
        writeFileSync(path.join(dir, "slo.test.yml"), stringify({ rule_files: ["slo.yml"], evaluation_interval: "1m", tests }));
        expect(run(["test", "rules", "slo.test.yml"], dir)).to.contain("SUCCESS");
    });

    it("the ticket pairs fire and stay silent with the workbook's day-long windows (promtool test rules, 5 min resolution)", () => {
        const tests = [
            // 3× (1d and 2h): 0.4 % (4×) for 25 h is a ticket, not a page.
            test(SLO_ALERTS.ticket, stream("canary", [[1500, 0.004]], 5), 1500, "canary", "5m"),
            test(SLO_ALERTS.page, stream("canary", [[1500, 0.004]], 5), 1500, undefined, "5m"),
            // 0.6 % for a day, stopped 6h5m ago: the 1d ratio is still 0.45 % (above 0.3 %), the 2h and 6h ones 0: silent.
            test(SLO_ALERTS.ticket, stream("canary", [[1440, 0.006], [365, 0]], 5), 1805, undefined, "5m"),
            // 1× (3d and 6h): 0.15 % (1.5×) for 73 h is a ticket; 3× alone would not fire.
            test(SLO_ALERTS.ticket, stream("canary", [[4380, 0.0015]], 5), 4380, "canary", "5m"),
            // 0.05 % (half the budget) for 73 h: no alert at all.
            test(SLO_ALERTS.ticket, stream("canary", [[4380, 0.0005]], 5), 4380, undefined, "5m"),
        ];
        writeFileSync(path.join(dir, "slo-5m.test.yml"), stringify({ rule_files: ["slo-5m.yml"], evaluation_interval: "5m", tests }));
        expect(run(["test", "rules", "slo-5m.test.yml"], dir)).to.contain("SUCCESS");
    });

    it("feature-flag mode: the whole service is the release's track (no track matcher)", () => {
        const ff = sloRuleGroups(sloSpec({}, "feature-flag"), "15s").flatMap((g) => g.rules).filter((r): r is AlertRule => "alert" in r);
        expect(ff.find((a) => a.alert === SLO_ALERTS.fastBurnRollback)!.expr).to.not.include("track=");
        expect(sloRuleGroups(sloSpec({}, "blue-green"), "15s")[1].rules[0]).to.have.property("expr").that.includes('track="green"');
    });
});
