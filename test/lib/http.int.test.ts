import { expect } from "chai";
import { createServer, IncomingMessage } from "http";
import { fetchWithin } from "../../lib/http";
import { listen } from "../../reference/http";

describe("fetchWithin (lib/http.ts)", () => {
    it("takes a budget with a fraction of a millisecond (what is left of a deadline) instead of failing every request", async () => {
        const server = createServer((_req, res) => res.end("ok"));
        const { url } = await listen(server);
        try {
            const r = await fetchWithin(url, {}, 1828.714577926835);
            expect(r, JSON.stringify(r)).to.deep.equal({ ok: true, status: 200, text: "ok" });
        } finally {
            server.close();
        }
    });

    it("a caller's signal abandons a request in flight: its connection closes at once, the caller's reason is thrown (not a timeout, not unreachable)", async () => {
        let requests = 0;
        let arrived!: (req: IncomingMessage) => void;
        const arrival = new Promise<IncomingMessage>((r) => (arrived = r));
        // Never answers: the request is in flight until the caller gives up (or its 10 s budget ends).
        const server = createServer((req) => { requests++; arrived(req); });
        const { url } = await listen(server);
        try {
            const controller = new AbortController();
            const pending = fetchWithin(url, { method: "POST", body: "{}", signal: controller.signal }, 10_000).then((r) => r, (e: Error) => e);
            const req = await arrival;
            const closed = new Promise((r) => req.socket.once("close", r));
            const abortedAt = Date.now();
            controller.abort(new Error("the engine is gone: abandoned"));
            const err = await pending;
            expect(err, JSON.stringify(err)).to.be.instanceOf(Error);
            expect((err as Error).message).to.equal("the engine is gone: abandoned");
            await closed;
            expect(Date.now() - abortedAt, "the connection closed at the abort, not at the timeout").to.be.below(5_000);
            // Already given up: no request is sent at all.
            const again = await fetchWithin(url, { signal: controller.signal }, 10_000).then((r) => r, (e: Error) => e);
            expect((again as Error).message).to.equal("the engine is gone: abandoned");
            expect(requests).to.equal(1);
        } finally {
            server.closeAllConnections();
            server.close();
        }
    });
});
