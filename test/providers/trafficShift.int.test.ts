/**
 * TrafficShift through its provider methods against a real HTTP admin API on loopback (a minimal stand-in of the
 * service's /admin endpoints, enough to prove the provider's contract), and its serialisation.
 */
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { createServer, Server } from "http";
import { AddressInfo } from "net";
import { AdminApiError } from "../../lib/adminApi";
import { trafficShiftProvider } from "../../providers/trafficShift";

const TOKEN = "test-admin-token";

function adminApi(state: { enabled: boolean; percentage: number; ignoreWrites?: boolean }): Promise<{ server: Server; url: string }> {
    const server = createServer((req, res) => {
        let body = "";
        req.on("data", (c) => (body += c));
        req.on("end", () => {
            if (req.url === "/admin/status" && req.method === "GET") {
                res.writeHead(200, { "content-type": "application/json" });
                res.end(JSON.stringify({ speculation: { enabled: state.enabled, rollout_percentage: state.percentage } }));
            } else if (req.url === "/admin/config" && req.method === "POST") {
                if (req.headers.authorization !== `Bearer ${TOKEN}`) { res.writeHead(401); res.end("{}"); return; }
                const update = JSON.parse(body) as Record<string, unknown>;
                if (!state.ignoreWrites) {
                    state.enabled = Boolean(update["speculation.enabled"]);
                    state.percentage = Number(update["speculation.features.rollout_percentage"]);
                }
                res.writeHead(200, { "content-type": "application/json" });
                res.end("{}");
            } else {
                res.writeHead(404); res.end();
            }
        });
    });
    return new Promise((resolve) => server.listen(0, "127.0.0.1", () =>
        resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

describe("TrafficShift provider", () => {
    const p = trafficShiftProvider as Required<pulumi.dynamic.ResourceProvider>;
    const inputs = (url: string, token = TOKEN) => ({ serviceUrl: url, adminToken: token, percentage: 25, previousPercentage: 10, stage: "stage-2-25pct" });

    it("create sets the percentage and enables speculation; delete hands back the previous percentage", async () => {
        const state = { enabled: true, percentage: 10 };
        const { server, url } = await adminApi(state);
        try {
            const created = await p.create(inputs(url));
            expect(state).to.deep.equal({ enabled: true, percentage: 25 });
            expect(created.outs.livePercentage).to.equal(25);
            await p.delete(created.id, created.outs);
            expect(state.percentage).to.equal(10);
        } finally { server.close(); }
    });

    it("delete never hands back more than is live: after a rollback's disable (0 %) speculation stays disabled", async () => {
        const state = { enabled: true, percentage: 25 };
        const { server, url } = await adminApi(state);
        try {
            Object.assign(state, { enabled: false, percentage: 0 });     // the rollback disabled speculation
            await p.delete("stage-2-25pct", { ...inputs(url), livePercentage: 25 });
            expect(state).to.deep.equal({ enabled: false, percentage: 0 });
            Object.assign(state, { enabled: true, percentage: 5 });      // lowered by hand below the previous stage
            await p.delete("stage-2-25pct", { ...inputs(url), livePercentage: 25 });
            expect(state).to.deep.equal({ enabled: true, percentage: 5 });
        } finally { server.close(); }
    });

    it("read shows a percentage changed out of band, and diff then asks to re-apply", async () => {
        const state = { enabled: true, percentage: 25 };
        const { server, url } = await adminApi(state);
        try {
            const created = await p.create(inputs(url));
            state.percentage = 0;
            const read = await p.read(created.id, created.outs);
            expect(read.props!.livePercentage).to.equal(0);
            const diff = await p.diff(created.id, read.props, inputs(url));
            expect(diff.changes).to.equal(true);
            const clean = await p.diff(created.id, created.outs, inputs(url));
            expect(clean.changes).to.equal(false);
            // A kill switch that only disabled speculation (the percentage still 25) is traffic off: drift too.
            state.percentage = 25;
            state.enabled = false;
            const killed = await p.read(created.id, created.outs);
            expect(killed.props!.livePercentage).to.equal(0);
            expect((await p.diff(created.id, killed.props, inputs(url))).changes).to.equal(true);
        } finally { server.close(); }
    });

    it("fails on a rejected token and on a change that did not take", async () => {
        const state = { enabled: false, percentage: 0, ignoreWrites: false };
        const { server, url } = await adminApi(state);
        try {
            await p.create(inputs(url, "wrong")).then(() => expect.fail("accepted a bad token"), (e: AdminApiError) => expect(e.reason).to.equal("rejected-token"));
            state.ignoreWrites = true;
            await p.create(inputs(url)).then(() => expect.fail("accepted a write that did not take"), (e: Error) => expect(e.message).to.match(/reads 0 after setting 25/));
        } finally { server.close(); }
    });

    it("fails closed when the service is unreachable", async () => {
        const { server, url } = await adminApi({ enabled: false, percentage: 0 });
        server.close();
        await p.create(inputs(url)).then(() => expect.fail("succeeded"), (e: AdminApiError) => expect(e.reason).to.equal("unreachable"));
    });
});
