/**
 * The canary-vs-stable comparison inside a gate: opens a window when the gate starts, reads both tracks at each
 * sample (lib/gate/measure.ts) and turns the judge's verdicts (lib/judge) into the gate's checks:
 *   pass → pass;  fail → fail (a no-go at once);  inconclusive → hold (the bake starts again; never a pass).
 * A track that cannot be read is a no-go, like every other reading.
 */
import { JudgeSettings, judgeCanary, windowBetween } from "../judge/judge";
import { CheckResult, judgementChecks } from "./decision";
import { queryTracks, scrapeTracks, trackQueries, TrackPair, TracksTarget } from "./measure";

export interface CompareSpec extends JudgeSettings {
    /** Where the stable track answers (metrics-endpoint source); the gate's serviceUrl is the canary track. */
    stableUrl: string;
}

export interface CompareWindow {
    openedAt: number;
    /** Metrics-endpoint source: both tracks' counters when the window opened. */
    start?: TrackPair;
}

interface Where {
    serviceUrl: string;
    prometheusUrl?: string;
    source: "metrics-endpoint" | "prometheus";
    timeoutMs: number;
    compare: CompareSpec;
}

const tracksTarget = (w: Where): TracksTarget => ({
    urls: { canary: w.serviceUrl, stable: w.compare.stableUrl }, prometheusUrl: w.prometheusUrl, source: w.source, timeoutMs: w.timeoutMs,
});

/** Opens the window both tracks are compared over (the same for both): from now on. */
export async function openWindow(w: Where, now: number): Promise<CompareWindow> {
    if (w.source === "prometheus") return { openedAt: now };
    const start = await scrapeTracks(tracksTarget(w));
    return { openedAt: now, start: start.ok ? start.value : undefined };
}

/** Shortest window asked of Prometheus: increase() needs a few scrapes in its range. */
const MIN_PROMETHEUS_WINDOW_SECONDS = 60;

export async function compareChecks(w: Where, window: CompareWindow, now: number): Promise<CheckResult[]> {
    const elapsed = (now - window.openedAt) / 1000;
    const seconds = Math.max(MIN_PROMETHEUS_WINDOW_SECONDS, elapsed);
    const query = w.source === "prometheus"
        ? `${trackQueries("canary", seconds).errors} / …operations and …_bucket by le, track="canary" vs track="stable"`
        : `Δspeculation_errors_total, Δspeculation_operations_total, Δspeculation_operation_duration_seconds_bucket on ${w.serviceUrl} vs ${w.compare.stableUrl} since the gate started`;
    const failed = (detail: string, failure: string): CheckResult[] => [{
        check: "canary vs stable", query, observed: `no data (${failure})`, threshold: "both tracks readable", verdict: "fail", reason: `${failure}: ${detail}`,
    }];
    let pair: TrackPair;
    if (w.source === "prometheus") {
        const read = await queryTracks(tracksTarget(w), seconds, now);
        if (!read.ok) return failed(read.detail, read.failure);
        pair = read.value;
    } else {
        const read = await scrapeTracks(tracksTarget(w));
        if (!read.ok) return failed(read.detail, read.failure);
        if (!window.start) {
            // The window could not open at the gate's start; it opens now, and there is nothing to compare yet.
            window.start = read.value;
            window.openedAt = now;
            return [{ check: "canary vs stable", query, observed: "window opened", threshold: "a window with traffic", verdict: "hold", reason: "inconclusive: the comparison window just opened" }];
        }
        const canary = windowBetween(window.start.canary, read.value.canary);
        const stable = windowBetween(window.start.stable, read.value.stable);
        if (!canary || !stable) {
            return failed(`${!canary ? "canary" : "stable"} track's counters went backwards (a restart): the window is void`, "stale");
        }
        pair = { canary, stable };
    }
    return judgementChecks(judgeCanary(pair.canary, pair.stable, w.compare), query);
}
