/**
 * lib/slo/read.ts readSlo: a window judged after the fact (the bake window at the next `up`) reads everything at the
 * window's end, the budget left included, not the budget as it is now.  Against a Prometheus stub that answers each
 * instant query by the instant it is asked about, and records which instants it was asked.
 */
import { expect } from "chai";
import { createServer, Server } from "http";
import { AddressInfo } from "net";
import { SLO_RECORDED, sloSpec } from "../../../lib/monitoring/slo";
import { readSlo } from "../../../lib/slo/read";

describe("lib/slo/read.ts readSlo at a window's end", () => {
    let server: Server | undefined;
    afterEach(async () => { await new Promise<void>((r) => (server ? server.close(() => r()) : r())); server = undefined; });

    it("reads the budget left at atMs, as the burn windows are: the budget as it was when the bake ended, not as it is now", async () => {
        const endMs = Date.parse("2026-12-07T12:00:00Z");
        const asked: { query: string; time: string | null }[] = [];
        server = createServer((req, res) => {
            const q = new URL(req.url ?? "/", "http://x").searchParams;
            const query = q.get("query") ?? "";
            asked.push({ query, time: q.get("time") });
            // The budget left: 80 % at the window's end, 10 % now; counts: 1000 operations, 1 error; ages: 1 s.
            const value = query.startsWith("time()") ? 1 : query === SLO_RECORDED.budgetRemaining ? (q.get("time") === String(endMs / 1000) ? 0.8 : 0.1)
                : query.includes("errors") ? 1 : 1000;
            res.setHeader("content-type", "application/json");
            res.end(JSON.stringify({ status: "success", data: { resultType: "vector", result: [{ metric: {}, value: [Number(q.get("time") ?? Date.now() / 1000), String(value)] }] } }));
        });
        await new Promise<void>((r) => server!.listen(0, "127.0.0.1", r));
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

        const reading = await readSlo(url, sloSpec({ objective: 0.999 }), { longSeconds: 3600, shortSeconds: 300 }, 2000, endMs);
        expect(reading.budgetRemaining).to.deep.equal({ ok: true, value: 0.8 });
        expect(reading.long).to.deep.equal({ ok: true, value: 1 });
        const budgetAsked = asked.filter((a) => a.query === SLO_RECORDED.budgetRemaining);
        expect(budgetAsked.length).to.be.greaterThan(0);
        expect(asked.filter((a) => a.time !== String(endMs / 1000)), "every query at the window's end").to.deep.equal([]);

        // Without atMs (the live gate): now.
        const live = await readSlo(url, sloSpec({ objective: 0.999 }), { longSeconds: 3600, shortSeconds: 300 }, 2000);
        expect(live.budgetRemaining).to.deep.equal({ ok: true, value: 0.1 });
    });
});
