/** Printing URLs safely (records, and every log line that names an endpoint). */
/**
 * A URL as it may be printed: any user:password replaced by `***`, so a log line or an error never carries a
 * credential (the stack config refuses userinfo in plain URL keys; this also covers URLs from elsewhere).  Text that
 * is no URL is not echoed either.
 */
export function redactUrl(url: string): string {
    try {
        const u = new URL(url);
        if (u.username || u.password) { u.username = "***"; u.password = ""; }
        return u.toString().replace(/\/$/, "");
    } catch {
        return "(an unparseable URL)";
    }
}
