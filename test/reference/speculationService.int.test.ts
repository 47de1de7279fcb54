/** The reference service serves SPEC §1's endpoints and metrics, guards its admin API, and takes faults at run time. */
import { expect } from "chai";
import { parseExposition } from "../../lib/gate/measure";
import { parseFaults } from "../../reference/speculationService";
import { ADMIN_TOKEN, Reference, startReference } from "../helpers/reference";

describe("reference speculation service", () => {
    let ref: Reference;
    beforeEach(async () => { ref = await startReference(); });
    afterEach(async () => ref.close());
    const get = async (path: string, headers: Record<string, string> = {}) => {
        const res = await fetch(`${ref.service.url}${path}`, { headers });
        return { status: res.status, body: await res.text() };
    };

    it("serves the seed's health, readiness and detailed health bodies, starting with speculation disabled", async () => {
        expect(JSON.parse((await get("/health")).body)).to.deep.equal({ status: "healthy", speculation: "disabled", version: "v1.2.4" });
        expect(JSON.parse((await get("/ready")).body)).to.deep.equal({ ready: true });
        const detailed = JSON.parse((await get("/health/detailed")).body);
        expect(Object.keys(detailed.components)).to.have.members(["speculation", "proof_workers", "chain_connection", "stake_pool"]);
        expect(detailed.checks.proof_queue).to.include({ max: 2000 });
        expect(JSON.parse((await get("/admin/status")).body).speculation).to.include({ enabled: false, rollout_percentage: 0 });
        expect(JSON.parse((await get("/admin/memory-stats")).body)).to.have.keys(["total_mb", "limit_mb"]);
        expect(JSON.parse((await get("/admin/chain-status")).body)).to.deep.equal({ connected: true });
    });

    it("exposes more than 20 speculation_* series including the seed's named metrics", async () => {
        const families = parseExposition((await get("/metrics")).body)!;
        const series = families.filter((f) => f.name.startsWith("speculation_")).reduce((n, f) => n + f.metrics.length, 0);
        expect(series).to.be.greaterThan(20);
        const names = families.map((f) => f.name);
        expect(names).to.include.members(["speculation_operations_total", "speculation_errors_total", "speculation_rollback_rate", "speculation_pending_operations_count"]);
        const ops = families.find((f) => f.name === "speculation_operations_total")!;
        expect(ops.metrics.map((m) => m.labels?.result)).to.include("rolled_back");
    });

    it("requires the bearer token on /admin/config and honours a rollout percentage change", async () => {
        expect((await get("/admin/config")).status).to.equal(401);
        expect((await get("/admin/config", { authorization: "Bearer wrong" })).status).to.equal(401);
        const post = await fetch(`${ref.service.url}/admin/config`, {
            method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
            body: JSON.stringify({ "speculation.enabled": true, "speculation.features.rollout_percentage": 25 }),
        });
        expect(post.status).to.equal(200);
        const config = JSON.parse((await get("/admin/config", { authorization: `Bearer ${ADMIN_TOKEN}` })).body);
        expect(config).to.deep.equal({ speculation: { enabled: true, mode: "conservative", max_depth: 2, features: { rollout_percentage: 25 } } });
        // What GET answers can be written back as it is (nested), besides the seed's flat dotted keys.
        const nested = await fetch(`${ref.service.url}/admin/config`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: JSON.stringify({ speculation: { features: { rollout_percentage: 10 } } }) });
        expect(nested.status).to.equal(200);
        expect(ref.service.state.rolloutPercentage).to.equal(10);
        const bad = await fetch(`${ref.service.url}/admin/config`, { method: "POST", headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, body: JSON.stringify({ "speculation.features.rollout_percentage": 101 }) });
        expect(bad.status).to.equal(400);
    });

    it("holds pending operations while speculating and drains them at drainPerSecond once disabled", async () => {
        const pending = async () => Number(parseExposition((await get("/metrics")).body)!.find((f) => f.name === "speculation_pending_operations_count")!.metrics[0].value);
        ref.service.setFaults({ pendingOperations: 200, drainPerSecond: 0 });
        Object.assign(ref.service.state, { enabled: true, rolloutPercentage: 10 });
        expect(await pending()).to.equal(200);
        Object.assign(ref.service.state, { enabled: false, rolloutPercentage: 0 });
        expect(await pending()).to.equal(200);          // a backlog that never settles (drainPerSecond 0)
        ref.service.setFaults({ drainPerSecond: 100_000 });
        for (let i = 0; i < 500 && await pending() > 0; i++) await new Promise((r) => setImmediate(r));
        expect(await pending()).to.equal(0);
    });

    it("runs a synthetic speculation test and reports the latest", async () => {
        const run = await fetch(`${ref.service.url}/admin/test/speculation`, { method: "POST" });
        expect(run.status).to.equal(200);
        expect(JSON.parse((await get("/admin/test/speculation/latest")).body).latest).to.include({ result: "ok" });
    });

    it("takes faults through the admin API and refuses unknown ones by name", async () => {
        const post = (body: unknown, token = ADMIN_TOKEN) => fetch(`${ref.service.url}/admin/faults`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
        expect((await post({ rollbackRate: 0.3 }, "wrong")).status).to.equal(401);
        expect((await post({ unhealthy: ["stake_pool"], readinessDelayMs: 60_000 })).status).to.equal(200);
        expect(JSON.parse((await get("/health/detailed")).body).components.stake_pool).to.equal("unhealthy");
        expect((await get("/ready")).status).to.equal(503);
        const refused = await post({ rollbackRat: 0.3 });
        expect(refused.status).to.equal(400);
        expect(JSON.parse(await refused.text()).error).to.match(/unknown fault "rollbackRat"; allowed: rollbackRate/);
        expect(() => parseFaults({ errorRate: "2" })).to.throw(/errorRate: must be between 0 and 1/);
        expect(() => parseFaults({ unhealthy: "disk" })).to.throw(/"disk" is not one of speculation, proof_workers/);
    });

    it("worker serves /health and proof_queue_size", async () => {
        expect(JSON.parse(await (await fetch(`${ref.worker.url}/health`)).text())).to.deep.equal({ status: "healthy" });
        ref.worker.faults.queueSize = 2500;
        const families = parseExposition(await (await fetch(`${ref.worker.url}/metrics`)).text())!;
        expect(families.find((f) => f.name === "proof_queue_size")!.metrics[0].value).to.equal("2500");
    });
});
