/**
 * The Prometheus text exposition format (what a `/metrics` endpoint serves), parsed with parse-prometheus-text-format.
 * Shared by the gate's scrapes, the revert's read-back, the drain, the verification and the smoke tests.
 */

/** One metric family as parse-prometheus-text-format returns it (histograms carry `buckets` on each metric). */
export interface Family { name: string; metrics: { value?: string; labels?: Record<string, string> }[] }

/** Parses the Prometheus text format; a body that yields no metric families at all is malformed (undefined). */
export function parseExposition(text: string): Family[] | undefined {
    // Required here, not at the top: a dynamic provider's serialised closure captures node_modules by reference.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const parse = require("parse-prometheus-text-format") as (t: string) => Family[];
    try {
        const families = parse(text);
        return families.length > 0 ? families : undefined;
    } catch {
        return undefined;
    }
}
