/**
 * The SSH test nodes' crash and boot (reference/sshFleet.ts), which the chaos matrix's node-lost-mid-restore uses: a
 * crash kills every process of the node at once — sshd, an open session and what it runs, the node program — and
 * leaves its files as they were; a boot brings sshd and the program back from what is installed.
 */
import { expect } from "chai";
import { existsSync, writeFileSync } from "fs";
import * as path from "path";
import { connect } from "../../lib/nodes/ssh";
import { alysProgram, startFleet, TestFleet } from "../../reference/sshFleet";

describe("SSH test nodes: crash and boot", function () {
    this.timeout(120_000);
    let fleet: TestFleet;
    before(async () => { fleet = await startFleet(1, "v1.2.3"); });
    after(async () => { await fleet?.stop(); });

    it("a crash kills sshd, the session's command and the node program; a boot serves what is installed", async () => {
        const n = fleet.nodes[0];
        const session = await connect(n, fleet.privateKey);
        // A command that would outlive its session if only sshd died: it writes a file after 2 s.
        const marker = path.join(n.home, "survived");
        void session.run(`sleep 2; touch '${marker}'`, 10_000).catch(() => undefined);
        expect(await fleet.healthy(n)).to.equal(true);
        const oldSshd = n.sshd.pid;
        // What is installed changes under the running program (as a restore's copy would).
        writeFileSync(path.join(n.home, "opt/alys/bin/alys"), alysProgram("v1.2.2"));
        await new Promise((r) => setTimeout(r, 300));
        fleet.crash(n);
        expect(await fleet.healthy(n), "the program died with the node").to.equal(false);
        await new Promise((r) => setTimeout(r, 2500));
        expect(existsSync(marker), "the session's command died with the node").to.equal(false);
        const refused = await connect(n, fleet.privateKey, 3000).then(() => "connected", (e: Error) => e.message);
        expect(refused).to.match(/ECONNREFUSED|connect/);
        session.close();

        await fleet.boot(n);
        expect(n.sshd.pid).to.not.equal(oldSshd);
        const again = await connect(n, fleet.privateKey);
        expect((await again.run("/opt/alys/bin/alys --version")).stdout.trim()).to.equal("alys v1.2.2");
        again.close();
        // The program the boot started is the one installed now.
        let version: string | undefined;
        for (let i = 0; i < 100 && !version; i++) {
            try { version = ((await (await fetch(`http://127.0.0.1:${n.httpPort}/health`)).json()) as { version: string }).version; } catch { await new Promise((r) => setTimeout(r, 100)); }
        }
        expect(version).to.equal("v1.2.2");
    });
});
