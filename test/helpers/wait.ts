/** Waiting on real parts: poll a probe until it holds, never sleep for a fixed time. */

/** Polls `probe` until it returns a truthy value or the deadline passes (then throws with `what` and the last value).
 * A probe that throws an error marked `fatal` stops the wait at once. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
        try {
            const v = await probe();
            if (v) return v;
            last = v;
        } catch (err) {
            if ((err as { fatal?: boolean }).fatal) throw err;
            last = err;
        }
        if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
        await new Promise((r) => setTimeout(r, 250));
    }
}
