/** Durations in config are written the way operators write them in the seeds: "30s", "15m", "4h", "1d", "1h30m". */
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
const DURATION = /^(?:\d+[smhd])+$/;

export function isDuration(text: string): boolean {
    return DURATION.test(text);
}

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

export function formatDuration(seconds: number): string {
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
