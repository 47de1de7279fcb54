/**
 * The SignatureVerification provider as the engine runs it (deserialised), against the real registry, crane and
 * cosign: a refused release fails create as created-but-failed with the whole refusal in `reasons` (the digest, the
 * reason, the key) and its report kept, never the credentials; a pass records each subject's signer; the next run
 * reads a digest it verified before under a key still configured from its own record (a registry outage does not
 * hold back a rollback to it); `required: false` records `off` and runs nothing.
 */
import { expect } from "chai";
import { mkdtempSync, readFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { ImageSubject } from "../../lib/signatures/decision";
import { keyFingerprint } from "../../lib/signatures/keys";
import { signatureVerificationProvider } from "../../providers/signatureVerification";
import { RunningRegistry, startRegistry } from "../../reference/registry";
import { generateKeyPair, KeyPair, pushImage, signImage, signingTools, SigningTools } from "../../reference/signing";
import { deserialised } from "../helpers/deserialise";

describe("SignatureVerification provider (deserialised, as the engine runs it)", function () {
    this.timeout(180_000);
    let tools: SigningTools;
    let registry: RunningRegistry;
    let keys: KeyPair;
    let signed: string;
    let unsigned: string;
    let repo: string;
    const artifactsDir = mkdtempSync(path.join(tmpdir(), "signatures-"));

    before(async function () {
        this.timeout(3_600_000); // a cold cosign build when scripts/test.sh has not made it yet
        tools = signingTools();
        keys = await generateKeyPair(tools, mkdtempSync(path.join(tmpdir(), "keys-")), "release");
        registry = await startRegistry();
        repo = `${registry.host}/agenc/speculation`;
        signed = await pushImage(tools, `${repo}:v1.2.3`, "v1.2.3");
        await signImage(tools, keys, `${repo}@${signed}`);
        unsigned = await pushImage(tools, `${repo}:v1.2.4`, "v1.2.4");
    });
    after(async () => registry?.stop());

    const image = (name: string, digest: string): ImageSubject => ({ kind: "image", name, configKey: "release.images.speculation.digest", repository: repo, digest, digestRequired: true });
    const inputs = (subjects: ImageSubject[], edit: Record<string, unknown> = {}) => ({
        required: true, subjects, publicKeys: [{ name: "release", pem: keys.pem }], insecureRegistries: [registry.host],
        cosign: tools.cosign, timeoutMs: 60_000, artifactsDir, registryCredentials: { [registry.host]: { username: "ci", password: "never-in-a-report-0123" } }, ...edit,
    });

    it("refuses an unsigned digest as created-but-failed: the refusal in reasons, the report kept, the credentials not", async () => {
        const p = await deserialised(signatureVerificationProvider);
        const err = await p.create(inputs([image("speculation v1.2.3", signed), image("speculation v1.2.4", unsigned)])).then(() => undefined, (e) => e) as
            { id: string; reasons: string[]; properties: Record<string, any> } | undefined;
        expect(err, "an unsigned digest passed").to.not.equal(undefined);
        expect(err!.id).to.equal("signatures");
        expect(err!.reasons[0]).to.match(/^signature verification refused the release: 1 of 2 subject\(s\) failed \(unsigned\); nothing after this step was changed \(no workload, no node\)/);
        expect(err!.reasons[0]).to.include(`  - image speculation v1.2.4 ${repo}@${unsigned}: unsigned — no signature is stored for this digest`);
        expect(err!.reasons[0]).to.include(`expected one from release (${keyFingerprint(keys.pem)})`);
        expect(err!.properties.verdict).to.equal("fail");
        expect(err!.properties.verified.map((v: { subject: string }) => v.subject)).to.deep.equal(["speculation v1.2.3"]);
        expect(err!.properties).to.not.have.property("registryCredentials");
        expect(readFileSync(err!.properties.artifact, "utf8")).to.not.include("never-in-a-report");
        expect(JSON.stringify(err)).to.not.include("never-in-a-report");
    });

    it("passes a signed digest, recording its signer; the next run reuses it from its record with the registry down", async () => {
        const p = await deserialised(signatureVerificationProvider);
        const first = await p.create(inputs([image("speculation v1.2.3", signed)]));
        expect(first.outs.verdict).to.equal("pass");
        expect(first.outs.verified).to.deep.equal([{ subject: "speculation v1.2.3", ref: `${repo}@${signed}`, digest: signed, signer: `release (${keyFingerprint(keys.pem)})`, at: first.outs.verified[0].at }]);
        await registry.stop();
        try {
            // A rollback's edit: the subject is the same digest under another name; the registry is unreachable.
            const news = inputs([image("speculation v1.2.3 (rollback)", signed)]);
            expect((await p.diff("signatures", first.outs, news)).changes).to.equal(true);
            const again = await p.update("signatures", first.outs, news);
            expect(again.outs.verdict).to.equal("pass");
            expect(again.outs.report.checks[0].observed).to.equal(`signed by release (${keyFingerprint(keys.pem)})`);
            expect(again.outs.verified[0].at, "kept from the first reading").to.equal(first.outs.verified[0].at);
            // A digest it never verified is read, and refused as unreachable.
            const fresh = await p.update("signatures", again.outs, inputs([image("speculation v1.2.4", unsigned)])).then(() => undefined, (e) => e) as { reasons: string[] } | undefined;
            expect(fresh?.reasons[0]).to.include(`${repo}@${unsigned}: the registry is unreachable — ${registry.host} did not answer`);
        } finally {
            await registry.start();
        }
    });

    it("no cosign where the config says: refused (fail closed), saying how to fix it", async () => {
        const p = await deserialised(signatureVerificationProvider);
        const err = await p.create(inputs([image("speculation v1.2.3", signed)], { cosign: "/nonexistent/cosign" })).then(() => undefined, (e) => e) as { reasons: string[] } | undefined;
        expect(err?.reasons[0]).to.include(`${repo}@${signed}: the verification itself failed — cosign could not verify it (/nonexistent/cosign: not found (install cosign, or set speculation:signing.cosign))`);
    });

    it("required false records off and verifies nothing; it does not run again until an input changes", async () => {
        const p = await deserialised(signatureVerificationProvider);
        const { outs } = await p.create(inputs([image("speculation v1.2.4", unsigned)], { required: false, cosign: "/nonexistent/cosign" }));
        expect(outs.verdict).to.equal("off");
        expect(outs.verified).to.deep.equal([]);
        expect((await p.diff("signatures", outs, { ...outs, verdict: undefined })).changes).to.equal(false);
        expect((await p.check({}, inputs([], { publicKeys: [] }))).failures).to.deep.equal([{ property: "publicKeys", reason: "must list at least one key when required is true" }]);
    });
});
