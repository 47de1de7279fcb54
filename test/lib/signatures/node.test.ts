/**
 * The node's own check of the uploaded binary (lib/signatures/node.ts), as the switch step runs it
 * (lib/nodes/script.ts): openssl against every configured key before the rename, a refusal that removes the uploads,
 * writes the node's state and exits before anything is renamed or restarted; the pre-check refuses a node without
 * openssl before any node is touched.  Run for real on SSH nodes in test/lib/nodes/signedRollout.int.test.ts.
 */
import { expect } from "chai";
import { NODE_OPENSSL_MISSING, NODE_SIGNATURE_REFUSED, nodeRefusal, nodeSignaturePaths, nodeSigner, nodeVerifyScript } from "../../../lib/signatures/node";
import { precheckScript, ScriptSpec, switchScript } from "../../../lib/nodes/script";

const SPEC: ScriptSpec = {
    version: "v2.0.0", installPath: "/opt/alys", backupPath: "/var/backups/alys/rollback", serviceName: "alys",
    restartCommand: "systemctl restart alys", healthCommand: "curl -sf http://localhost:8545/health", versionCommand: "/opt/alys/bin/alys --version",
    serviceCheckCommand: "systemctl cat alys", healthRetries: 3, healthIntervalSeconds: 1, nodeGraceSeconds: 0,
};
const KEYS = [{ name: "release-2026", fingerprint: "SHA256:aaaa" }, { name: "release-2025", fingerprint: "SHA256:bbbb" }];
const state = (step: string) => `echo STATE ${step}`;

describe("the node's signature check (lib/signatures/node.ts)", () => {
    it("checks the upload with openssl under each key, names the signer; a refusal removes the upload, its signature and keys", () => {
        const text = nodeVerifyScript("/opt/alys/bin/alys.new", KEYS, state("refused"));
        const files = nodeSignaturePaths("/opt/alys/bin/alys.new", 2);
        expect(files).to.deep.equal({ signature: "/opt/alys/bin/alys.new.sig", keys: ["/opt/alys/bin/alys.new.pub0", "/opt/alys/bin/alys.new.pub1"] });
        expect(text).to.include(`openssl dgst -sha256 -verify "/opt/alys/bin/alys.new.pub0" -signature "/opt/alys/bin/alys.new.sig" "/opt/alys/bin/alys.new"`);
        expect(text).to.include(`openssl dgst -sha256 -verify "/opt/alys/bin/alys.new.pub1" -signature "/opt/alys/bin/alys.new.sig" "/opt/alys/bin/alys.new"`);
        expect(text).to.include("signer='release-2025 (SHA256:bbbb)'");
        expect(text).to.include(`rm -f "/opt/alys/bin/alys.new" "/opt/alys/bin/alys.new.sig" "/opt/alys/bin/alys.new.pub0" "/opt/alys/bin/alys.new.pub1"; echo STATE refused; exit ${NODE_SIGNATURE_REFUSED}`);
        expect(text).to.include(`exit ${NODE_OPENSSL_MISSING}`);
        expect(text).to.match(/does not verify with release-2026 \(SHA256:aaaa\), release-2025 \(SHA256:bbbb\): refused on the node before the swap/);
    });

    it("in the switch step it comes before the rename (swap only), and a config upload is removed with the binary's", () => {
        const text = switchScript(SPEC, { bin: "/opt/alys/bin/alys", config: "/opt/alys/config/alys.toml" }, true, 0, (s) => `echo STATE ${s}`, { keys: KEYS });
        const check = text.indexOf("openssl dgst");
        const rename = text.indexOf(`mv -f "/opt/alys/bin/alys.new" "/opt/alys/bin/alys"`);
        const restart = text.indexOf("systemctl restart alys");
        const cleanup = text.indexOf(`rm -f "/opt/alys/bin/alys.new.sig" "/opt/alys/bin/alys.new.pub0" "/opt/alys/bin/alys.new.pub1"`);
        expect(check).to.be.greaterThan(-1);
        expect(check).to.be.lessThan(rename);
        expect(rename).to.be.lessThan(restart);
        // The signature and keys go after the rename: a run killed between the check and the rename checks again.
        expect(cleanup, "the signature and keys are removed once renamed").to.be.greaterThan(rename);
        expect(cleanup).to.be.lessThan(restart);
        expect(text).to.include(`rm -f "/opt/alys/config/alys.toml.new"; echo STATE refused; exit ${NODE_SIGNATURE_REFUSED}`);
        // A resumed restart (no swap) has nothing to check; an unsigned stack checks nothing.
        expect(switchScript(SPEC, { bin: "/opt/alys/bin/alys" }, false, 0, (s) => s, { keys: KEYS })).to.not.include("openssl");
        expect(switchScript(SPEC, { bin: "/opt/alys/bin/alys" }, true, 0, (s) => s)).to.not.include("openssl");
    });

    it("the pre-check refuses a node without openssl before any node is touched (signed releases only)", () => {
        const paths = { bin: "/opt/alys/bin/alys", config: "", state: "/s", lock: "/l" };
        expect(precheckScript(SPEC, paths, "{}", 0, true)).to.include(`command -v openssl >/dev/null 2>&1 || { echo "ERR openssl is not installed: this node cannot verify the binary's signature before the swap"; exit 13; }`);
        expect(precheckScript(SPEC, paths, "{}", 0)).to.not.include("openssl");
    });

    it("reads the node's answer: the refusal and the signer", () => {
        expect(nodeRefusal("SIGNATURE /opt/alys/bin/alys.new (sha256:ab) does not verify\n")).to.equal("/opt/alys/bin/alys.new (sha256:ab) does not verify");
        expect(nodeSigner("SIGNER release-2026 (SHA256:aaaa)\nSWITCHED\n")).to.equal("release-2026 (SHA256:aaaa)");
        expect(nodeRefusal("SWITCHED\n")).to.equal(undefined);
    });
});
