/**
 * The reference speculation service (seed 000, SPEC §1): every endpoint and metric the real agenc-speculation
 * service exposes, with traffic it generates itself and faults that can be set while it runs.  The tests, the local
 * stack and an operator rehearsing a rollout all run against it.
 *
 * Traffic is deterministic (fractional accumulators, no randomness) so a test that sets a 20 % rollback rate sees
 * exactly that ratio in the counters.
 */
import { createServer, IncomingMessage, Server, ServerResponse } from "http";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { listen, readBody, send, stop } from "./http";

export const COMPONENTS = ["speculation", "proof_workers", "chain_connection", "stake_pool"] as const;
export type Component = typeof COMPONENTS[number];

/** Everything an operator or a test may change at run time (POST /admin/faults, or the CLI's --fault flags). */
export interface Faults {
    /** Share of speculative operations rolled back (0..1, NaN allowed to simulate a broken gauge). */
    rollbackRate: number;
    /** Share of all operations that fail. */
    errorRate: number;
    /** Added latency per synthetic request and per operation, milliseconds. */
    latencyMs: number;
    /**
     * Added latency, milliseconds, for one operation in TAIL_EVERY only (a fat tail: p99 moves, p95 does not), so
     * p99 / p95 grows while the body of the distribution stays where it was.
     */
    tailLatencyMs: number;
    /** Components reported unhealthy by /health/detailed. */
    unhealthy: Component[];
    /** /ready answers false until this long after the service (re)started, milliseconds. */
    readinessDelayMs: number;
    /** Memory in use, percent of the limit. */
    memoryPercent: number;
    /** Proof queue size reported by /health/detailed (the worker simulator has its own). */
    proofQueue: number;
    /** Every answer is delayed this long (to exceed a client's timeout), milliseconds. */
    responseDelayMs: number;
    /** /metrics only is delayed this long: a service too slow (or hung) to scrape whose admin API still answers. */
    metricsDelayMs: number;
    /** Every non-admin answer gets this HTTP status instead of 200 (0 = off). */
    httpStatus: number;
    /** Bodies are not valid JSON / Prometheus text. */
    malformed: boolean;
    /** Metric names left out of /metrics. */
    dropMetrics: string[];
    /** /metrics keeps serving the same snapshot: counters stop advancing (stale samples). */
    freezeMetrics: boolean;
    /** Speculative operations in flight while speculation is on (at least the depth × rollout share). */
    pendingOperations: number;
    /** How many pending operations settle per second once speculation is off (0: the backlog never drains). */
    drainPerSecond: number;
    /**
     * The admin API only (every /admin/* route but /admin/faults), to drive the gate's revert:
     * adminDelayMs  every admin answer is delayed this long; a request whose client gave up meanwhile is dropped,
     *               never applied (a slow admin API);
     * adminFlapMs   the admin API is down (connection reset) for this long, then up for this long, and so on, down
     *               first from the moment the fault is set (a flapping admin API);
     * adminDown     every admin request answers 503 (a dead admin API; /metrics and the probes still answer).
     */
    adminDelayMs: number;
    adminFlapMs: number;
    adminDown: boolean;
    /** POST /admin/config answers 200 {ok: true} and applies nothing (a lying admin API). */
    adminIgnoresWrites: boolean;
}

export const DEFAULT_FAULTS: Faults = {
    rollbackRate: 0.01, errorRate: 0.002, latencyMs: 0, tailLatencyMs: 0, unhealthy: [], readinessDelayMs: 0, memoryPercent: 45,
    proofQueue: 120, responseDelayMs: 0, metricsDelayMs: 0, httpStatus: 0, malformed: false, dropMetrics: [], freezeMetrics: false,
    pendingOperations: 0, drainPerSecond: 1000,
    adminDelayMs: 0, adminFlapMs: 0, adminDown: false, adminIgnoresWrites: false,
};

export interface SpeculationServiceOptions {
    port?: number;
    host?: string;
    adminToken: string;
    version?: string;
    /** Operations per second the service processes (speculative or not). */
    operationsPerSecond?: number;
    /** How often traffic is generated, milliseconds. */
    tickMs?: number;
    memoryLimitMb?: number;
    faults?: Partial<Faults>;
}

export interface RunningSpeculationService {
    url: string;
    port: number;
    server: Server;
    faults: Faults;
    state: { enabled: boolean; rolloutPercentage: number; mode: string; maxDepth: number; version: string };
    setFaults(f: Partial<Faults>): Faults;
    /** Every counter and histogram starts again from zero, as after a process restart (counters go backwards mid-window). */
    resetCounters(): void;
    close(): Promise<void>;
}

/** Parses a fault update (from JSON or the command line), naming the field and what it allows on bad input. */
export function parseFaults(update: Record<string, unknown>): Partial<Faults> {
    const out: Partial<Faults> = {};
    for (const [key, value] of Object.entries(update)) {
        if (!(key in DEFAULT_FAULTS)) {
            throw new Error(`unknown fault "${key}"; allowed: ${Object.keys(DEFAULT_FAULTS).join(", ")}`);
        }
        const k = key as keyof Faults;
        const expected = DEFAULT_FAULTS[k];
        if (k === "unhealthy" || k === "dropMetrics") {
            const list = Array.isArray(value) ? value : String(value).split(",").filter(Boolean);
            if (k === "unhealthy") {
                for (const c of list) if (!COMPONENTS.includes(c as Component)) throw new Error(`fault unhealthy: "${c}" is not one of ${COMPONENTS.join(", ")}`);
            }
            (out as Record<string, unknown>)[k] = list.map(String);
        } else if (typeof expected === "boolean") {
            if (value !== true && value !== false && value !== "true" && value !== "false") throw new Error(`fault ${k}: must be true or false`);
            (out as Record<string, unknown>)[k] = value === true || value === "true";
        } else {
            const n = typeof value === "number" ? value : Number(value);
            if (typeof value !== "number" && (typeof value !== "string" || value.trim() === "")) throw new Error(`fault ${k}: must be a number`);
            if (Number.isNaN(n) && k !== "rollbackRate") throw new Error(`fault ${k}: must be a number`);
            if ((k === "rollbackRate" || k === "errorRate") && !Number.isNaN(n) && (n < 0 || n > 1)) throw new Error(`fault ${k}: must be between 0 and 1`);
            if (n < 0) throw new Error(`fault ${k}: must be 0 or more`);
            (out as Record<string, unknown>)[k] = n;
        }
    }
    return out;
}

/**
 * A config update as dotted keys.  Seed 000 POSTs flat keys (`{"speculation.enabled": false}`); the nested shape
 * that GET answers (`{"speculation":{"enabled":false}}`) is accepted too, so what was read can be written back.
 */
export function flattenConfig(body: unknown, prefix = ""): Record<string, unknown> {
    if (body === null || typeof body !== "object" || Array.isArray(body)) throw new Error("not a JSON object");
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
        const name = prefix ? `${prefix}.${key}` : key;
        if (value !== null && typeof value === "object" && !Array.isArray(value)) Object.assign(out, flattenConfig(value, name));
        else out[name] = value;
    }
    return out;
}

function metrics(registry: Registry) {
    const r = { registers: [registry] };
    return {
        operations: new Counter({ name: "speculation_operations_total", help: "Operations processed, by result", labelNames: ["result"], ...r }),
        errors: new Counter({ name: "speculation_errors_total", help: "Operations that failed", ...r }),
        rollbackRate: new Gauge({ name: "speculation_rollback_rate", help: "Share of speculative operations rolled back", ...r }),
        pending: new Gauge({ name: "speculation_pending_operations_count", help: "Speculative operations not yet committed", ...r }),
        enabled: new Gauge({ name: "speculation_enabled", help: "1 when speculation is enabled", ...r }),
        rollout: new Gauge({ name: "speculation_rollout_percentage", help: "Share of traffic that runs speculatively", ...r }),
        maxDepth: new Gauge({ name: "speculation_max_depth", help: "Configured speculation depth", ...r }),
        memoryUsage: new Gauge({ name: "speculation_memory_usage_bytes", help: "Memory in use", ...r }),
        memoryLimit: new Gauge({ name: "speculation_memory_limit_bytes", help: "Memory limit", ...r }),
        breaker: new Gauge({ name: "speculation_circuit_breaker_open", help: "1 when the circuit breaker is open", ...r }),
        component: new Gauge({ name: "speculation_component_healthy", help: "1 when the component is healthy", labelNames: ["component"], ...r }),
        chain: new Gauge({ name: "speculation_chain_connected", help: "1 when the chain RPC answers getHealth ok", ...r }),
        proofQueue: new Gauge({ name: "speculation_proof_queue_size", help: "Proofs waiting, as seen by the service", ...r }),
        commits: new Counter({ name: "speculation_commits_total", help: "Speculative branches committed", ...r }),
        rollbacks: new Counter({ name: "speculation_rollbacks_total", help: "Speculative branches rolled back", ...r }),
        synthetic: new Counter({ name: "speculation_synthetic_tests_total", help: "Synthetic speculation tests run", labelNames: ["result"], ...r }),
        configChanges: new Counter({ name: "speculation_config_changes_total", help: "Admin config changes applied", ...r }),
        duration: new Histogram({
            name: "speculation_operation_duration_seconds", help: "Time to settle one operation",
            buckets: [0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], ...r,
        }),
        http: new Histogram({
            name: "http_request_duration_seconds", help: "HTTP request latency", labelNames: ["path"],
            buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], ...r,
        }),
        buildInfo: new Gauge({ name: "speculation_build_info", help: "Build of the running service", labelNames: ["version"], ...r }),
        uptime: new Gauge({ name: "speculation_uptime_seconds", help: "Seconds since the service started", ...r }),
    };
}

/** Latency observations per traffic tick (the histogram is a sample of the operations, not every one). */
const LATENCY_SAMPLES_PER_TICK = 50;
/** One observed operation in this many gets the tail latency fault (3 %: above p97, so p99 moves and p95 does not). */
const TAIL_EVERY = 33;

export async function startSpeculationService(opts: SpeculationServiceOptions): Promise<RunningSpeculationService> {
    const registry = new Registry();
    const m = metrics(registry);
    const faults: Faults = { ...DEFAULT_FAULTS, ...(opts.faults ?? {}) };
    const state = { enabled: false, rolloutPercentage: 0, mode: "conservative", maxDepth: 2, version: opts.version ?? "v1.2.3" };
    const limitBytes = (opts.memoryLimitMb ?? 4096) * 1024 * 1024;
    const opsPerSecond = opts.operationsPerSecond ?? 500;
    const tickMs = opts.tickMs ?? 100;
    let startedAt = Date.now();
    let frozen: string | undefined;
    let flapSince = Date.now();
    let lastSynthetic: unknown = null;
    const acc = { ops: 0, errors: 0, rolledBack: 0, spread: 0, synthetic: 0, observed: 0 };
    // In-flight speculative operations: held while speculation runs, settling at drainPerSecond once it is off.
    const pending = { value: 0 };
    const settlePending = (seconds: number) => {
        const speculating = state.enabled && state.rolloutPercentage > 0;
        if (speculating) pending.value = Math.max(faults.pendingOperations, state.maxDepth * state.rolloutPercentage / 10);
        else pending.value = Math.max(0, pending.value - faults.drainPerSecond * seconds);
    };

    const refreshGauges = () => {
        settlePending(0);
        const speculating = state.enabled && state.rolloutPercentage > 0;
        m.rollbackRate.set(speculating ? faults.rollbackRate : 0);
        m.enabled.set(state.enabled ? 1 : 0);
        m.rollout.set(state.rolloutPercentage);
        m.maxDepth.set(state.maxDepth);
        m.memoryLimit.set(limitBytes);
        m.memoryUsage.set(Math.round(limitBytes * faults.memoryPercent / 100));
        m.breaker.set(speculating && faults.rollbackRate > 0.5 ? 1 : 0);
        for (const c of COMPONENTS) m.component.set({ component: c }, faults.unhealthy.includes(c) ? 0 : 1);
        m.chain.set(faults.unhealthy.includes("chain_connection") ? 0 : 1);
        m.proofQueue.set(faults.proofQueue);
        m.pending.set(Math.round(pending.value));
        m.uptime.set((Date.now() - startedAt) / 1000);
    };

    // Operations: a fixed stream; the rollout percentage of it runs speculatively and may roll back.
    const tick = () => {
        settlePending(tickMs / 1000);
        acc.ops += opsPerSecond * tickMs / 1000;
        const whole = Math.floor(acc.ops);
        acc.ops -= whole;
        if (whole === 0) return;
        const speculative = state.enabled ? Math.round(whole * state.rolloutPercentage / 100) : 0;
        acc.errors += whole * faults.errorRate;
        const errors = Math.min(whole, Math.floor(acc.errors));
        acc.errors -= errors;
        acc.rolledBack += Number.isNaN(faults.rollbackRate) ? 0 : speculative * faults.rollbackRate;
        const rolledBack = Math.min(speculative, Math.floor(acc.rolledBack));
        acc.rolledBack -= rolledBack;
        m.operations.inc({ result: "committed" }, speculative - rolledBack);
        m.operations.inc({ result: "rolled_back" }, rolledBack);
        m.operations.inc({ result: "executed" }, whole - speculative);
        m.commits.inc(speculative - rolledBack);
        m.rollbacks.inc(rolledBack);
        m.errors.inc(errors);
        // Operations' settle times: 1-10 ms spread evenly (a golden-ratio sequence, so deterministic) plus the
        // injected latency; two services with the same faults have the same latency distribution.  At most
        // LATENCY_SAMPLES_PER_TICK are observed per tick, so a busy reference stays cheap to run beside the tests.
        for (let i = 0; i < Math.min(whole, LATENCY_SAMPLES_PER_TICK); i++) {
            acc.spread = (acc.spread + 0.6180339887498949) % 1;
            acc.observed = (acc.observed + 1) % TAIL_EVERY;
            const tail = acc.observed === 0 ? faults.tailLatencyMs : 0;
            m.duration.observe((1 + 9 * acc.spread + faults.latencyMs + tail) / 1000);
        }
    };
    const timer = setInterval(tick, tickMs);
    timer.unref();
    // Every series exists from the first scrape (a counter that was never incremented is still exported).
    for (const result of ["committed", "rolled_back", "executed"]) m.operations.inc({ result }, 0);
    m.buildInfo.set({ version: state.version }, 1);

    const authorised = (req: IncomingMessage) => req.headers.authorization === `Bearer ${opts.adminToken}`;
    const json = (res: ServerResponse, body: unknown) => {
        if (faults.httpStatus) return send(res, faults.httpStatus, { error: "injected" });
        return faults.malformed ? send(res, 200, "{not json", "application/json") : send(res, 200, body);
    };

    const handle = async (req: IncomingMessage, res: ServerResponse) => {
        const url = new URL(req.url ?? "/", "http://localhost");
        const path = url.pathname;
        const end = m.http.startTimer({ path });
        res.on("finish", () => end());
        if (faults.responseDelayMs > 0) await new Promise((r) => setTimeout(r, faults.responseDelayMs));
        if (path.startsWith("/admin/") && path !== "/admin/faults") {
            if (faults.adminDelayMs > 0) {
                await new Promise((r) => setTimeout(r, faults.adminDelayMs));
                if (req.socket.destroyed) return undefined;
            }
            if (faults.adminFlapMs > 0 && Math.floor((Date.now() - flapSince) / faults.adminFlapMs) % 2 === 0) {
                req.socket.destroy();
                return undefined;
            }
            if (faults.adminDown) return send(res, 503, { error: "admin API unavailable (injected)" });
        }
        refreshGauges();
        const unhealthy = faults.unhealthy.length > 0;
        if (req.method === "GET" && path === "/health") {
            return json(res, { status: unhealthy ? "degraded" : "healthy", speculation: state.enabled ? "enabled" : "disabled", version: state.version });
        }
        if (req.method === "GET" && path === "/ready") {
            const ready = Date.now() - startedAt >= faults.readinessDelayMs;
            if (faults.httpStatus || faults.malformed) return json(res, {});
            return send(res, ready ? 200 : 503, { ready });
        }
        if (req.method === "GET" && path === "/health/detailed") {
            const status = (bad: boolean) => (bad ? "unhealthy" : "healthy");
            return json(res, {
                status: unhealthy ? "degraded" : "healthy",
                version: state.version,
                components: Object.fromEntries(COMPONENTS.map((c) => [c, status(faults.unhealthy.includes(c))])),
                checks: {
                    memory: { status: status(faults.memoryPercent >= 90), usage_percent: faults.memoryPercent },
                    proof_queue: { status: status(faults.proofQueue > 2000), size: faults.proofQueue, max: 2000 },
                    rollback_rate: { status: status(faults.rollbackRate > 0.15), rate: state.enabled ? faults.rollbackRate : 0 },
                },
            });
        }
        if (req.method === "GET" && path === "/metrics") {
            if (faults.metricsDelayMs > 0) {
                await new Promise((r) => setTimeout(r, faults.metricsDelayMs));
                if (req.socket.destroyed) return undefined;
                refreshGauges();
            }
            if (faults.httpStatus) return send(res, faults.httpStatus, "injected\n", "text/plain");
            if (faults.malformed) return send(res, 200, "<html>this is not the Prometheus text format</html>\n", "text/plain");
            if (faults.freezeMetrics && frozen !== undefined) return send(res, 200, frozen, registry.contentType);
            let text = await registry.metrics();
            if (faults.dropMetrics.length > 0) {
                // A dropped histogram takes its _bucket, _sum and _count series with it.
                const series = (line: string, name: string) => ["", "_bucket", "_sum", "_count"].some((suffix) =>
                    line.startsWith(`${name}${suffix} `) || line.startsWith(`${name}${suffix}{`));
                text = text.split("\n").filter((line) => !faults.dropMetrics.some((name) =>
                    series(line, name) || line.startsWith(`# HELP ${name} `) || line.startsWith(`# TYPE ${name} `))).join("\n");
            }
            frozen = text;
            return send(res, 200, text, registry.contentType);
        }
        if (req.method === "GET" && path === "/admin/status") {
            return send(res, 200, { speculation: { enabled: state.enabled, rollout_percentage: state.rolloutPercentage, mode: state.mode, max_depth: state.maxDepth }, version: state.version });
        }
        if (path === "/admin/config") {
            if (!authorised(req)) return send(res, 401, { error: "missing or wrong bearer token" });
            if (req.method === "GET") {
                // The documented contract (seed 000 smoke test 4 reads `.speculation.enabled`): a nested object.
                return send(res, 200, {
                    speculation: {
                        enabled: state.enabled, mode: state.mode, max_depth: state.maxDepth,
                        features: { rollout_percentage: state.rolloutPercentage },
                    },
                });
            }
            if (req.method === "POST") {
                let update: Record<string, unknown>;
                try { update = flattenConfig(JSON.parse(await readBody(req))); } catch { return send(res, 400, { error: "body must be a JSON object" }); }
                const problems: string[] = [];
                const next = { ...state };
                for (const [key, value] of Object.entries(update)) {
                    if (key === "speculation.enabled" && typeof value === "boolean") next.enabled = value;
                    else if (key === "speculation.mode" && (value === "conservative" || value === "aggressive")) next.mode = value;
                    else if (key === "speculation.max_depth" && Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 8) next.maxDepth = value as number;
                    else if (key === "speculation.features.rollout_percentage" && Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 100) next.rolloutPercentage = value as number;
                    else problems.push(`${key}: not a known key or a bad value (${JSON.stringify(value)})`);
                }
                if (problems.length > 0) return send(res, 400, { error: problems.join("; ") });
                if (faults.adminIgnoresWrites) return send(res, 200, { ok: true });
                Object.assign(state, next);
                m.configChanges.inc();
                return send(res, 200, { ok: true });
            }
        }
        if (req.method === "GET" && path === "/admin/memory-stats") {
            return send(res, 200, { total_mb: Math.round(limitBytes * faults.memoryPercent / 100 / 1048576), limit_mb: limitBytes / 1048576 });
        }
        if (req.method === "GET" && path === "/admin/chain-status") {
            return send(res, 200, { connected: !faults.unhealthy.includes("chain_connection") });
        }
        if (req.method === "POST" && path === "/admin/test/speculation") {
            // A synthetic speculative operation: takes the injected latency, fails at the injected error rate.
            const started = process.hrtime.bigint();
            if (faults.latencyMs > 0) await new Promise((r) => setTimeout(r, faults.latencyMs));
            // Its own accumulator: the n-th synthetic run fails when n × errorRate crosses a whole number, never
            // because the traffic generator's error accumulator happened to be near 1.
            acc.synthetic += faults.errorRate;
            const failed = acc.synthetic >= 1;
            if (failed) acc.synthetic -= 1;
            m.synthetic.inc({ result: failed ? "failed" : "ok" });
            lastSynthetic = { result: failed ? "failed" : "ok", duration_ms: Number(process.hrtime.bigint() - started) / 1e6, at: new Date().toISOString() };
            return send(res, failed ? 500 : 200, lastSynthetic);
        }
        if (req.method === "GET" && path === "/admin/test/speculation/latest") {
            return send(res, 200, { latest: lastSynthetic });
        }
        if (path === "/admin/faults") {
            if (!authorised(req)) return send(res, 401, { error: "missing or wrong bearer token" });
            if (req.method === "POST") {
                try {
                    service.setFaults(parseFaults(JSON.parse(await readBody(req))));
                } catch (e) {
                    return send(res, 400, { error: (e as Error).message });
                }
            }
            return send(res, 200, faults);
        }
        if (req.method === "POST" && path === "/admin/restart") {
            if (!authorised(req)) return send(res, 401, { error: "missing or wrong bearer token" });
            startedAt = Date.now();
            return send(res, 200, { restarted: true });
        }
        return send(res, 404, { error: `no route ${req.method} ${path}` });
    };

    const server = createServer((req, res) => {
        handle(req, res).catch((e) => send(res, 500, { error: (e as Error).message }));
    });
    const { url, port } = await listen(server, opts.port, opts.host);
    const service: RunningSpeculationService = {
        url,
        port,
        server,
        faults,
        state,
        setFaults(f) {
            if (f.adminFlapMs !== undefined) flapSince = Date.now();
            Object.assign(faults, f);
            if (!faults.freezeMetrics) frozen = undefined;
            return faults;
        },
        resetCounters() {
            registry.resetMetrics();
            for (const result of ["committed", "rolled_back", "executed"]) m.operations.inc({ result }, 0);
            m.buildInfo.set({ version: state.version }, 1);
            refreshGauges();
        },
        close: () => stop(server, timer),
    };
    return service;
}
