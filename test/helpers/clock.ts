/**
 * Clocks for tests of loops that poll until a deadline (the gate, the revert).
 *
 * `steppedClock()`: `now()` advances by exactly what the loop sleeps, never by what the machine spends between
 * sleeps, so a loop with a deadline of D and a poll of P takes exactly ceil(D / P) samples however loaded the CPU
 * is — the last sample is never squeezed into the few milliseconds left before a wall-clock deadline.  `sleep(ms)`
 * also waits `ms` for real: the reference workloads' traffic runs on real timers (a tick every 20 ms in the tests),
 * and Node fires an earlier-due timer first, so at least one tick lands between two samples.  The loop's timing is
 * the subject; the real wait is the workload's, not the test's synchronisation.
 */
import { Clock } from "../../lib/gate/run";

/** A clock whose time is the sum of the sleeps asked of it (from `start`); see the module comment. */
export interface SteppedClock extends Clock {
    /** Milliseconds slept since the clock was made: the time the loop believes has passed. */
    elapsedMs(): number;
}

/** A clock that moves by exactly what is slept (really sleeping that long too). */
export function steppedClock(start = Date.now()): SteppedClock {
    let elapsed = 0;
    return {
        now: () => start + elapsed,
        sleep: async (ms) => {
            const step = Math.max(0, ms);
            await new Promise((resolve) => setTimeout(resolve, step));
            elapsed += step;
        },
        elapsedMs: () => elapsed,
    };
}
