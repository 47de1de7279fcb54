/**
 * A small Solana-compatible JSON-RPC stub (seed 000's prerequisites: `getHealth` and the stake pool's `getBalance`),
 * on loopback, with fault knobs: unhealthy, low balance, slow, malformed.  Answers follow Solana's JSON-RPC 2.0
 * shapes: `getHealth` → `{"result":"ok"}` or the error -32005 "Node is unhealthy"; `getBalance [pubkey]` →
 * `{"result":{"context":{"slot":…},"value":<lamports>}}`.
 */
import { createServer, Server } from "http";
import { listen, readBody, send } from "./http";

export const LAMPORTS_PER_SOL = 1_000_000_000;

export interface ChainFaults {
    /** getHealth answers the "Node is unhealthy" error (-32005). */
    unhealthy: boolean;
    /** Balance of every account, in SOL (set it under the minimum to simulate an underfunded stake pool). */
    balanceSol: number;
    /** Every answer is delayed this long, milliseconds (beyond a client's timeout: a slow RPC). */
    responseDelayMs: number;
    /** Bodies are not JSON-RPC. */
    malformed: boolean;
}

export const DEFAULT_CHAIN_FAULTS: ChainFaults = { unhealthy: false, balanceSol: 250, responseDelayMs: 0, malformed: false };

export interface RunningChainRpc {
    url: string;
    port: number;
    faults: ChainFaults;
    /** JSON-RPC calls answered, by method (what a test can assert was asked). */
    calls: string[];
    setFaults(f: Partial<ChainFaults>): ChainFaults;
    close(): Promise<void>;
}

/** Parses fault updates from the command line or JSON, naming the knob and what it allows. */
export function parseChainFaults(update: Record<string, unknown>): Partial<ChainFaults> {
    const out: Partial<ChainFaults> = {};
    for (const [key, value] of Object.entries(update)) {
        if (!(key in DEFAULT_CHAIN_FAULTS)) throw new Error(`unknown chain fault "${key}"; allowed: ${Object.keys(DEFAULT_CHAIN_FAULTS).join(", ")}`);
        const k = key as keyof ChainFaults;
        if (typeof DEFAULT_CHAIN_FAULTS[k] === "boolean") {
            if (![true, false, "true", "false"].includes(value as never)) throw new Error(`chain fault ${k}: must be true or false`);
            (out as Record<string, unknown>)[k] = value === true || value === "true";
        } else {
            const n = Number(value);
            if (value === "" || Number.isNaN(n) || n < 0) throw new Error(`chain fault ${k}: must be a number, 0 or more`);
            (out as Record<string, unknown>)[k] = n;
        }
    }
    return out;
}

export async function startChainRpc(opts: { port?: number; host?: string; adminToken?: string; faults?: Partial<ChainFaults> } = {}): Promise<RunningChainRpc> {
    const faults: ChainFaults = { ...DEFAULT_CHAIN_FAULTS, ...(opts.faults ?? {}) };
    const calls: string[] = [];
    const startedAt = Date.now();
    const slot = () => 250_000_000 + Math.floor((Date.now() - startedAt) / 400);
    const server: Server = createServer((req, res) => {
        void (async () => {
            const body = await readBody(req);
            if (req.url === "/admin/faults") {
                if (!opts.adminToken || req.headers.authorization !== `Bearer ${opts.adminToken}`) return send(res, 401, { error: "missing or wrong bearer token" });
                try { Object.assign(faults, parseChainFaults(JSON.parse(body || "{}"))); } catch (e) { return send(res, 400, { error: (e as Error).message }); }
                return send(res, 200, faults);
            }
            if (faults.responseDelayMs > 0) await new Promise((r) => setTimeout(r, faults.responseDelayMs));
            if (faults.malformed) return send(res, 200, "<html>502 Bad Gateway</html>", "text/html");
            let call: { id?: unknown; method?: unknown; params?: unknown[] };
            try { call = JSON.parse(body); } catch { return send(res, 200, { jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } }); }
            const id = call.id ?? null;
            calls.push(String(call.method));
            if (call.method === "getHealth") {
                return send(res, 200, faults.unhealthy
                    ? { jsonrpc: "2.0", id, error: { code: -32005, message: "Node is unhealthy", data: { numSlotsBehind: 42 } } }
                    : { jsonrpc: "2.0", id, result: "ok" });
            }
            if (call.method === "getBalance") {
                const pubkey = Array.isArray(call.params) ? call.params[0] : undefined;
                if (typeof pubkey !== "string" || !/^[1-9A-HJ-NP-Za-km-z]{32,44}$/.test(pubkey)) {
                    return send(res, 200, { jsonrpc: "2.0", id, error: { code: -32602, message: "Invalid param: Invalid" } });
                }
                return send(res, 200, { jsonrpc: "2.0", id, result: { context: { slot: slot() }, value: Math.round(faults.balanceSol * LAMPORTS_PER_SOL) } });
            }
            return send(res, 200, { jsonrpc: "2.0", id, error: { code: -32601, message: "Method not found" } });
        })().catch((e) => send(res, 500, { error: (e as Error).message }));
    });
    const { url, port } = await listen(server, opts.port, opts.host);
    return {
        url, port, faults, calls,
        setFaults: (f) => Object.assign(faults, f),
        close: () => { server.closeAllConnections(); return new Promise((r) => server.close(() => r())); },
    };
}
