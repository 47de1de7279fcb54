/**
 * A cosign key-pair blob signature is a plain ECDSA P-256 / SHA-256 DER signature, base64'd: the node's
 * `openssl dgst -sha256 -verify` (lib/signatures/node.ts), this machine's crypto.verify (lib/signatures/keys.ts) and
 * `cosign verify-blob` agree on it — both ways (a cosign signature checked by openssl, an openssl signature checked by
 * cosign), and all three refuse a changed file and another key's signature.  Real cosign (scripts/build-signing.sh),
 * offline (no transparency log, every non-loopback request to a dead proxy).
 */
import { expect } from "chai";
import { execFileSync, spawnSync } from "child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { CosignOptions, verifyBlob } from "../../../lib/signatures/cosign";
import { signatureVerifies } from "../../../lib/signatures/keys";
import { generateKeyPair, KeyPair, OFFLINE_ENV, signBlob, signingTools, SigningTools } from "../../../reference/signing";

describe("blob signatures: cosign, openssl and Node's crypto agree", function () {
    this.timeout(120_000);
    let tools: SigningTools;
    let dir: string;
    let keys: KeyPair;
    let other: KeyPair;
    let file: string;
    let opts: CosignOptions;

    before(async function () {
        this.timeout(3_600_000); // a cold cosign build when scripts/test.sh has not made it yet
        tools = signingTools();
        dir = mkdtempSync(path.join(tmpdir(), "blob-"));
        keys = await generateKeyPair(tools, dir, "release");
        other = await generateKeyPair(tools, dir, "other");
        file = path.join(dir, "alys");
        writeFileSync(file, "#!/bin/sh\necho alys v2.0.0\n");
        opts = { cosign: tools.cosign, timeoutMs: 60_000, insecureRegistries: [], env: OFFLINE_ENV };
    });

    const opensslVerifies = (pub: string, sigBase64File: string, data: string) => {
        const der = `${sigBase64File}.der`;
        writeFileSync(der, Buffer.from(readFileSync(sigBase64File, "utf8").trim(), "base64"));
        const r = spawnSync("openssl", ["dgst", "-sha256", "-verify", pub, "-signature", der, data], { encoding: "utf8" });
        return { ok: r.status === 0, said: `${r.stdout}${r.stderr}`.trim() };
    };

    it("cosign sign-blob (offline) → openssl, crypto.verify and cosign verify-blob all accept it", async () => {
        const sig = await signBlob(tools, keys, file);
        const o = opensslVerifies(keys.pub, sig, file);
        expect(o, o.said).to.deep.equal({ ok: true, said: "Verified OK" });
        expect(signatureVerifies(readFileSync(file), readFileSync(sig, "utf8"), keys.pem)).to.equal(true);
        expect(await verifyBlob(file, sig, "release", keys.pub, opts)).to.include({ outcome: "verified" });
    });

    it("an openssl signature of the same kind → cosign verify-blob accepts it (the other way round)", async () => {
        const key = path.join(dir, "openssl.key");
        const pub = path.join(dir, "openssl.pub");
        execFileSync("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key]);
        execFileSync("openssl", ["ec", "-in", key, "-pubout", "-out", pub], { stdio: "ignore" });
        const der = execFileSync("openssl", ["dgst", "-sha256", "-sign", key, file]);
        const sig = path.join(dir, "openssl.sig");
        writeFileSync(sig, der.toString("base64"));
        expect(await verifyBlob(file, sig, "openssl", pub, opts)).to.include({ outcome: "verified" });
        expect(signatureVerifies(readFileSync(file), der.toString("base64"), readFileSync(pub, "utf8"))).to.equal(true);
    });

    it("a changed file and another key's signature: all three refuse", async () => {
        const sig = await signBlob(tools, keys, file, path.join(dir, "good.sig"));
        const changed = path.join(dir, "alys-changed");
        writeFileSync(changed, readFileSync(file, "utf8").replace("v2.0.0", "v2.0.0; rm -rf /"));
        const o = opensslVerifies(keys.pub, sig, changed);
        expect(o.ok).to.equal(false);
        expect(o.said).to.equal("Verification failure");
        expect(signatureVerifies(readFileSync(changed), readFileSync(sig, "utf8"), keys.pem)).to.equal(false);
        const cosignChanged = await verifyBlob(changed, sig, "release", keys.pub, opts);
        expect(cosignChanged.outcome, cosignChanged.detail).to.equal("bad-signature");

        const stranger = await signBlob(tools, other, file, path.join(dir, "other.sig"));
        expect(opensslVerifies(keys.pub, stranger, file).ok).to.equal(false);
        expect(signatureVerifies(readFileSync(file), readFileSync(stranger, "utf8"), keys.pem)).to.equal(false);
        expect((await verifyBlob(file, stranger, "release", keys.pub, opts)).outcome).to.equal("bad-signature");
    });

    it("no signature file, or an empty one, is unsigned (read before cosign runs)", async () => {
        expect(await verifyBlob(file, path.join(dir, "nowhere.sig"), "release", keys.pub, opts)).to.deep.include({ outcome: "no-signature", detail: `${path.join(dir, "nowhere.sig")}: no such file` });
        writeFileSync(path.join(dir, "empty.sig"), "\n");
        expect((await verifyBlob(file, path.join(dir, "empty.sig"), "release", keys.pub, opts)).outcome).to.equal("no-signature");
    });
});
