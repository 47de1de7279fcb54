/**
 * Durations, the one place they are parsed and formatted.  Config writes them the way operators write them in the
 * seeds ("30s", "15m", "4h", "1d", "1h30m"); messages print them for a person to read ("90s", "2m 5s", "2h 1m").
 * No imports: the lowest layer of lib/ (docs/layering.md), which config/ also builds on (config/duration.ts
 * re-exports this module).
 */
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
const DURATION = /^(?:\d+[smhd])+$/;

/** Whether `text` is a duration in config notation. */
export function isDuration(text: string): boolean {
    return DURATION.test(text);
}

/** Seconds of a duration in config notation; anything else throws, naming the text and the notation. */
export function parseDuration(text: string): number {
    if (!isDuration(text)) {
        throw new Error(`"${text}" is not a duration (use e.g. 30s, 15m, 4h, 1d)`);
    }
    let seconds = 0;
    for (const [, amount, unit] of text.matchAll(/(\d+)([smhd])/g)) {
        seconds += Number(amount) * UNIT_SECONDS[unit];
    }
    return seconds;
}

/**
 * How a duration is written:
 *   config  exact, in the notation parseDuration reads back (`1h30m`, `90` → `1m30s`, `0s`): for messages that
 *           tell the operator what to write in config;
 *   prose   rounded to the second and to at most two units, for a person reading a progress line or a verdict:
 *           under 2 minutes in seconds (`90s`), under 2 hours in minutes and seconds (`2m 5s`), else hours and
 *           minutes (`2h 1m`).
 */
export type DurationNotation = "config" | "prose";

/** The one duration formatter: `seconds` in the given notation (DurationNotation). */
export function formatDuration(seconds: number, notation: DurationNotation = "config"): string {
    if (notation === "prose") {
        const sec = Math.max(0, Math.round(seconds));
        if (sec < 120) return `${sec}s`;
        if (sec < 7200) return `${Math.floor(sec / 60)}m${sec % 60 ? ` ${sec % 60}s` : ""}`;
        return `${Math.floor(sec / 3600)}h ${Math.floor((sec % 3600) / 60)}m`;
    }
    const parts: string[] = [];
    let rest = seconds;
    for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]] as const) {
        if (rest >= size) {
            parts.push(`${Math.floor(rest / size)}${unit}`);
            rest %= size;
        }
    }
    return parts.join("") || "0s";
}

/** `seconds` in prose notation (formatDuration(seconds, "prose")): what progress lines and verdicts print. */
export function formatSeconds(seconds: number): string {
    return formatDuration(seconds, "prose");
}
