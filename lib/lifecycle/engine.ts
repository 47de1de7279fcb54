/**
 * Is the Pulumi engine still there?  A dynamic provider runs in its own process group (the engine's plugin host puts
 * it there), so killing `pulumi up` — even its whole process group — leaves the provider running.  Left alone it
 * would carry on changing things nobody is watching.  A provider asks `watchEngine()` at its safe points and stops
 * there once the engine is gone.  Two signs, either is enough:
 *   - parent death: the engine started the provider; once the engine exits the provider is re-parented (its ppid
 *     changes, to init or a subreaper);
 *   - a broken gRPC connection: the engine's own gRPC endpoint (the address it passes to every provider plugin as
 *     its first argument) refuses connections.
 * Used by the node rollout (providers/sshRollout.ts), the health gate (providers/healthGate.ts) and the traffic
 * shift (providers/trafficShift.ts: a write still in flight is abandoned, so no percentage is set for nobody), by
 * every runbook step (providers/runbookStep.ts), and by the policy pack's host (policy/index.ts → exitWithEngine):
 * the analyzer is a gRPC server the engine starts and never stops once the engine is killed.
 */
import type { Socket } from "net";

export interface EngineWatch {
    /** Why the engine is considered gone, or undefined while it is there. */
    readonly gone: string | undefined;
    /** Resolves with the reason once the engine is gone. */
    readonly whenGone: Promise<string>;
    /** Looks at the parent now, synchronously (the interval may be up to intervalMs behind): the reason, if gone. */
    checkNow(): string | undefined;
    /** Stops watching (the watch never keeps the process alive either way). */
    stop(): void;
}

export interface WatchOptions {
    /** The engine's pid: by default the parent at the time of the call. */
    parentPid?: number;
    /** "host:port" of the engine's gRPC endpoint: by default the one a dynamic-provider plugin was started with. */
    engineAddress?: string;
    /** How often to look (default 500 ms for the parent, 4 × that for the endpoint). */
    intervalMs?: number;
}

/** The plugins the engine starts from @pulumi/pulumi: a dynamic provider, the policy pack's host (the analyzer). */
const ENGINE_PLUGIN = /(dynamic-provider|run-policy-pack)/;

/**
 * The engine address a plugin was started with: `@pulumi/pulumi/cmd/dynamic-provider <engine> …` or
 * `@pulumi/pulumi/cmd/run-policy-pack <engine> <pack>`.  Undefined in any other process (a test, a script), so there
 * only the parent is watched.
 */
export function engineAddressFromArgv(argv: string[] = process.argv): string | undefined {
    if (!ENGINE_PLUGIN.test(argv[1] ?? "")) return undefined;
    return /^[\w.-]+:\d+$/.test(argv[2] ?? "") ? argv[2] : undefined;
}

/**
 * The arguments this process was started with, as the kernel has them (/proc/self/cmdline): run-policy-pack rewrites
 * process.argv before it loads the pack, dropping the engine's address.  Falls back to process.argv off Linux.
 */
export function startedArgv(): string[] {
    try {
        const { readFileSync } = require("fs") as typeof import("fs");
        const argv = readFileSync("/proc/self/cmdline", "utf8").split("\0").filter((a) => a !== "");
        return argv.length > 0 ? argv : process.argv;
    } catch {
        return process.argv;
    }
}

/**
 * For an engine plugin process (a dynamic provider, the policy pack's host): exits (status 1) once the engine is gone
 * and no watched call (providerLifecycle) is running in it — a provider process that is idle between calls, or was
 * only ever asked check or diff, would otherwise serve nobody for ever; one in a watched call exits when that call is
 * done (providerLifecycle).  Once per process; later calls return the same watch.  In any other process (a unit test,
 * a script that loads the pack or a provider) it does nothing and returns undefined.
 */
export function exitWithEngine(argv: string[] = startedArgv(), exit: (why: string) => void = () => process.exit(1)): EngineWatch | undefined {
    const engineAddress = engineAddressFromArgv(argv);
    if (!engineAddress) return undefined;
    const calls = watchedCalls();
    if (calls.process) return calls.process;
    survivePipeLoss();
    const engine = watchEngine({ engineAddress });
    calls.process = engine;
    void engine.whenGone.then((why) => {
        calls.gone ??= why;
        if (calls.running === 0) exit(why);
    });
    return engine;
}

/**
 * A dynamic provider whose every method first makes sure the process exits with its engine (exitWithEngine): the one
 * wrapper every provider of this program is exported through (providers/*.ts), so no provider process outlives a
 * killed `pulumi up`, whatever it was doing — a watched step, a check, a diff, or nothing.
 */
export function exitingWithEngine<P extends object>(provider: P): P {
    const wrapped: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(provider)) {
        wrapped[name] = typeof value !== "function" ? value : (...args: unknown[]) => {
            exitWithEngine();
            return (value as (...a: unknown[]) => unknown).apply(provider, args);
        };
    }
    return wrapped as P;
}

/**
 * The last safe point before a step writes what outlives it (a report, a record, a baseline): throws when this plugin
 * process's engine is gone, looking at the parent now rather than at the last poll, so a step that finishes just
 * after its `pulumi up` was killed writes nothing for it.  A no-op outside an engine plugin (tests, scripts).
 */
export function refuseWriteWithoutEngine(what: string): void {
    const calls = watchedCalls();
    const why = calls.gone ?? calls.process?.checkNow();
    if (why) {
        calls.gone ??= why;
        throw new Error(`${what} not written: the engine is gone (${why}); this update no longer exists`);
    }
}

/** Starts watching.  Cheap: one `ppid` read per interval, one TCP connect per four. */
export function watchEngine(opts: WatchOptions = {}): EngineWatch {
    const parentPid = opts.parentPid ?? process.ppid;
    const engineAddress = opts.engineAddress ?? engineAddressFromArgv();
    const intervalMs = opts.intervalMs ?? 500;
    let gone: string | undefined;
    let settle: (reason: string) => void = () => undefined;
    const whenGone = new Promise<string>((resolve) => { settle = resolve; });
    let timer: NodeJS.Timeout | undefined;
    function stop(): void {
        if (timer) clearInterval(timer);
    }
    function declare(reason: string): void {
        if (gone) return;
        gone = reason;
        stop();
        settle(reason);
    }
    let ticks = 0;
    let probing = false;
    const parentGone = () => `the engine process (pid ${parentPid}) exited`;
    timer = setInterval(() => {
        if (!parentAlive(parentPid)) return declare(parentGone());
        if (engineAddress && ++ticks % 4 === 0 && !probing) {
            probing = true;
            void refuses(engineAddress).then((refused) => {
                probing = false;
                if (refused) declare(`the engine's gRPC endpoint ${engineAddress} refuses connections`);
            });
        }
    }, intervalMs);
    timer.unref();
    return {
        get gone() { return gone; }, whenGone, stop,
        checkNow: () => {
            if (!gone && !parentAlive(parentPid)) declare(parentGone());
            return gone;
        },
    };
}

/** The parent is alive while we are still its child (re-parenting changes ppid) and it answers signal 0. */
function parentAlive(pid: number): boolean {
    if (process.ppid !== pid) return false;
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === "EPERM";
    }
}

/** True only for a definite refusal (nothing listens any more); a slow answer is not evidence. */
function refuses(address: string): Promise<boolean> {
    const { connect } = require("net") as typeof import("net");
    const i = address.lastIndexOf(":");
    return new Promise((resolve) => {
        const s: Socket = connect(Number(address.slice(i + 1)), address.slice(0, i));
        const done = (v: boolean) => { s.destroy(); resolve(v); };
        s.setTimeout(2_000, () => done(false));
        s.once("connect", () => done(false));
        s.once("error", (e: NodeJS.ErrnoException) => done(e.code === "ECONNREFUSED"));
    });
}

/**
 * Once the engine is gone, the pipes it read our stdout and stderr from are closed: a progress line would raise
 * EPIPE, and an unhandled stream error kills the process — possibly mid-swap.  Writes are dropped instead.
 */
export function survivePipeLoss(): void {
    for (const stream of [process.stdout, process.stderr]) {
        if (stream.listenerCount("error") === 0) stream.on("error", () => undefined);
    }
}

/**
 * What a long-running provider call (a node rollout, a health gate, a traffic shift) does about the engine: its
 * progress lines survive the engine's pipes closing, it asks `gone` at its safe points (a synchronous look at the
 * parent, one syscall; the endpoint is probed by the poll), or hands `signal` to its
 * requests, which aborts them once the engine is gone), and `done()` — once the call has stopped — ends the watch
 * and, when the engine is gone, the provider process itself: nobody is left to answer, so it exits instead of
 * lingering.  One process serves every dynamic resource of an update, so it exits only once the last watched call
 * in it is done: a gate that stopped never cuts short a node rollout still on its way to a safe point.
 */
export function providerLifecycle(): { readonly gone: string | undefined; readonly signal: AbortSignal; done(): void } {
    survivePipeLoss();
    exitWithEngine();
    const engine = watchEngine();
    const calls = watchedCalls();
    calls.running++;
    const controller = new AbortController();
    void engine.whenGone.then((why) => {
        calls.gone ??= why;
        controller.abort(new Error(`the engine is gone (${why}): abandoned`));
    });
    let finished = false;
    return {
        // Looked at now, not at the last poll: a safe point reached right after the engine died (a step whose I/O
        // completes before the poll's next tick, as after the process was descheduled) must see it.
        get gone() { return engine.checkNow(); },
        signal: controller.signal,
        done: () => {
            if (finished) return;
            finished = true;
            calls.running--;
            engine.stop();
            if ((engine.gone || calls.gone) && calls.running === 0) setTimeout(() => process.exit(1), 200).unref();
        },
    };
}

/**
 * The watched calls of this process.  On the process object, not in a module variable: the engine deserialises each
 * dynamic provider's closure on its own, so module state is not shared between them.
 */
function watchedCalls(): { running: number; gone?: string; process?: EngineWatch } {
    const holder = process as unknown as Record<symbol, { running: number; gone?: string; process?: EngineWatch } | undefined>;
    const key = Symbol.for("agenc.lifecycle.watchedCalls");
    return (holder[key] ??= { running: 0 });
}
