/** The admin client reads GET /admin/config in the documented nested shape and refuses any other. */
import { expect } from "chai";
import { createServer } from "http";
import { readAdminConfig } from "../../lib/adminApi";
import { listen } from "../../reference/http";
import { ADMIN_TOKEN, startReference } from "../helpers/reference";

describe("admin client: GET /admin/config", () => {
    it("reads .speculation.enabled and the rest from the reference service", async () => {
        const ref = await startReference({ rolloutPercentage: 25 });
        try {
            expect(await readAdminConfig(ref.service.url, ADMIN_TOKEN)).to.deep.equal({ enabled: true, mode: "conservative", maxDepth: 2, rolloutPercentage: 25 });
            await readAdminConfig(ref.service.url, "wrong").then(() => expect.fail("accepted a wrong token"), (e: Error & { reason: string }) => expect(e.reason).to.equal("rejected-token"));
        } finally { await ref.close(); }
    });

    it("refuses the flat dotted keys as malformed instead of guessing", async () => {
        const server = createServer((_req, res) => { res.writeHead(200, { "content-type": "application/json" }); res.end(JSON.stringify({ "speculation.enabled": false, "speculation.features.rollout_percentage": 0 })); });
        const { url } = await listen(server);
        try {
            await readAdminConfig(url, "t").then(() => expect.fail("accepted flat keys"), (e: Error & { reason: string }) => {
                expect(e.reason).to.equal("malformed");
                expect(e.message).to.match(/expected \{speculation:\{enabled/);
            });
        } finally { server.close(); }
    });
});
