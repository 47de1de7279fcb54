import { expect } from "chai";
import { createServer } from "http";
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
});
