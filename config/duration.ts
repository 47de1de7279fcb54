/**
 * Durations in config ("30s", "15m", "4h", "1d", "1h30m"): parsed and formatted in lib/time/duration.ts, the one
 * module for durations; re-exported here for config's schema and its callers.
 */
export { formatDuration, isDuration, parseDuration } from "../lib/time/duration";
