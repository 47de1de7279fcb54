/**
 * Solana JSON-RPC 2.0 over HTTP, the two calls seed 000's prerequisites make: `getHealth` (chain connectivity) and
 * `getBalance` (the stake pool's lamports).  Every way a call can go wrong (unreachable, timeout, non-2xx, not
 * JSON-RPC, an RPC error) is thrown as an Error naming the URL and the cause.
 */
import { fetchWithin } from "../http";

export const LAMPORTS_PER_SOL = 1_000_000_000;

export async function rpcCall(url: string, method: string, params: unknown[], timeoutMs: number): Promise<unknown> {
    const res = await fetchWithin(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    }, timeoutMs);
    if (!res.ok) throw new Error(`${method}: ${res.failure === "timeout" ? res.why : `unreachable (${res.why})`}`);
    if (res.status < 200 || res.status > 299) throw new Error(`${method}: HTTP ${res.status}`);
    let body: { result?: unknown; error?: { code?: number; message?: string } };
    try {
        body = JSON.parse(res.text);
    } catch {
        throw new Error(`${method}: the answer is not JSON-RPC (${JSON.stringify(res.text.slice(0, 40))})`);
    }
    if (body === null || typeof body !== "object") throw new Error(`${method}: the answer is not a JSON-RPC object`);
    if (body.error) throw new Error(`${method}: RPC error ${body.error.code ?? "?"} ${body.error.message ?? ""}`.trim());
    if (!("result" in body)) throw new Error(`${method}: the answer has neither result nor error`);
    return body.result;
}

/** `getHealth`: "ok" when the node is healthy (anything else, or an RPC error, is not). */
export async function getHealth(url: string, timeoutMs: number): Promise<string> {
    const result = await rpcCall(url, "getHealth", [], timeoutMs);
    if (typeof result !== "string") throw new Error(`getHealth: result is not a string (${JSON.stringify(result)})`);
    return result;
}

/** `getBalance [address]` in SOL (the answer is `{context:{slot}, value: lamports}`). */
export async function getBalanceSol(url: string, address: string, timeoutMs: number): Promise<{ sol: number; slot: number }> {
    const result = await rpcCall(url, "getBalance", [address, { commitment: "finalized" }], timeoutMs) as { context?: { slot?: unknown }; value?: unknown };
    if (typeof result?.value !== "number" || !Number.isFinite(result.value)) {
        throw new Error(`getBalance: result.value is not a lamport count (${JSON.stringify(result)})`);
    }
    return { sol: result.value / LAMPORTS_PER_SOL, slot: typeof result.context?.slot === "number" ? result.context.slot : -1 };
}
