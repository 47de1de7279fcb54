/**
 * The image half of a signed release against the real parts (docs/signing.md): Debian's docker-registry on loopback
 * (reference/registry.ts), images pushed with crane and signed with cosign (reference/signing.ts), verified by the
 * release's verification (lib/signatures/run.ts → cosign verify) — offline: no transparency log, and every request
 * that is not to loopback goes to a dead proxy, so anything that needed the internet would fail.
 *   good → pass, naming the signer; another key → refused; two keys → the one that signed; unsigned → refused;
 *   tampered (a new manifest pushed over the tag; a signature copied onto another image) → refused; registry down →
 *   refused; a tag where a digest is required → refused without reading; a digest the registry lacks → refused;
 *   a private registry: refused without credentials, passes with them, which never reach cosign's command line.
 */
import { expect } from "chai";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { ImageSubject } from "../../../lib/signatures/decision";
import { keyFingerprint } from "../../../lib/signatures/keys";
import { verifyRelease, VerifySpec } from "../../../lib/signatures/run";
import { RunningRegistry, startRegistry } from "../../../reference/registry";
import { craneCopy, dockerConfig, generateKeyPair, KeyPair, OFFLINE_ENV, pushImage, signImage, signingTools, SigningTools } from "../../../reference/signing";

describe("image signatures against a real registry, crane and cosign (offline)", function () {
    this.timeout(180_000);
    let tools: SigningTools;
    let registry: RunningRegistry;
    let release: KeyPair;
    let other: KeyPair;
    const digests: Record<string, string> = {};
    let repo: string;

    before(async function () {
        this.timeout(3_600_000); // a cold cosign build when scripts/test.sh has not made it yet
        tools = signingTools();
        const dir = mkdtempSync(path.join(tmpdir(), "image-keys-"));
        release = await generateKeyPair(tools, dir, "release");
        other = await generateKeyPair(tools, dir, "other");
        registry = await startRegistry();
        repo = `${registry.host}/agenc/speculation`;
        digests.signed = await pushImage(tools, `${repo}:v1.2.4`, "speculation v1.2.4");
        await signImage(tools, release, `${repo}@${digests.signed}`);
        digests.otherKey = await pushImage(tools, `${repo}:other`, "signed by someone else");
        await signImage(tools, other, `${repo}@${digests.otherKey}`);
        digests.unsigned = await pushImage(tools, `${repo}:unsigned`, "nobody signed this");
    });
    after(async () => registry?.stop());

    const subject = (digest: string | undefined, edit: Partial<ImageSubject> = {}): ImageSubject => ({
        kind: "image", name: "speculation v1.2.4", configKey: "release.images.speculation.digest", repository: repo,
        ...(digest ? { digest } : {}), digestRequired: true, ...edit,
    });
    const spec = (subjects: ImageSubject[], edit: Partial<VerifySpec> = {}): VerifySpec => ({
        subjects, keys: [{ name: "release", pem: release.pem }], cosign: tools.cosign, insecureRegistries: [registry.host],
        timeoutMs: 60_000, env: OFFLINE_ENV, ...edit,
    });
    const quiet = () => undefined;
    const fp = () => keyFingerprint(release.pem);

    it("a digest signed with the configured key passes, naming the signer; the report has one row per digest", async () => {
        const { verdicts, report, verified } = await verifyRelease(spec([subject(digests.signed)]), [], quiet);
        expect(verdicts[0]).to.include({ verdict: "pass", signer: `release (${fp()})`, digest: digests.signed });
        expect(verdicts[0].message).to.equal(`image speculation v1.2.4 ${repo}@${digests.signed}: signed by release (${fp()})`);
        expect(report.verdict).to.equal("pass");
        expect(report.checks[0]).to.include({ name: "image speculation v1.2.4", target: `${repo}@${digests.signed}`, observed: `signed by release (${fp()})`, verdict: "pass" });
        expect(report.checks.find((c) => c.name === "cosign")?.observed).to.match(/^v2\.\d+\.\d+$/);
        expect(verified).to.deep.equal([{ subject: "speculation v1.2.4", ref: `${repo}@${digests.signed}`, digest: digests.signed, signer: `release (${fp()})`, at: verified[0].at }]);
    });

    it("signed with another key: refused, naming the digest and the key it was checked against", async () => {
        const { verdicts, report } = await verifyRelease(spec([subject(digests.otherKey)]), [], quiet);
        expect(verdicts[0]).to.include({ verdict: "fail", failure: "other-key" });
        expect(verdicts[0].message).to.equal(`image speculation v1.2.4 ${repo}@${digests.otherKey}: signed by another key — its signature verifies with none of release (${fp()})`);
        expect(report.verdict).to.equal("fail");
    });

    it("with two keys configured, either signs: the report names the one that did", async () => {
        const { verdicts } = await verifyRelease(spec([subject(digests.otherKey)], { keys: [{ name: "release", pem: release.pem }, { name: "other", pem: other.pem }] }), [], quiet);
        expect(verdicts[0]).to.include({ verdict: "pass", signer: `other (${keyFingerprint(other.pem)})` });
    });

    it("unsigned: refused, naming the digest", async () => {
        const { verdicts } = await verifyRelease(spec([subject(digests.unsigned)]), [], quiet);
        expect(verdicts[0]).to.include({ verdict: "fail", failure: "unsigned" });
        expect(verdicts[0].message).to.match(new RegExp(`^image speculation v1\\.2\\.4 ${repo}@${digests.unsigned}: unsigned — no signature is stored for this digest`));
    });

    it("tampered: a new manifest pushed over a signed tag is refused (the digest it names now is unsigned); the pinned digest still passes", async () => {
        const tag = "v1.2.5";
        const original = await pushImage(tools, `${repo}:${tag}`, "speculation v1.2.5");
        await signImage(tools, release, `${repo}@${original}`);
        const byTag = subject(undefined, { tag, digestRequired: false, name: "speculation v1.2.5" });
        expect((await verifyRelease(spec([byTag]), [], quiet)).verdicts[0]).to.include({ verdict: "pass", digest: original });
        const pushedOver = await pushImage(tools, `${repo}:${tag}`, "speculation v1.2.5 with a backdoor");
        expect(pushedOver).to.not.equal(original);
        const after = (await verifyRelease(spec([byTag]), [], quiet)).verdicts[0];
        expect(after).to.include({ verdict: "fail", failure: "unsigned", digest: pushedOver });
        expect(after.message).to.include(`${repo}@${pushedOver}: unsigned`);
        // Pinned by digest, the release runs the bytes that were signed, whatever the tag says now.
        expect((await verifyRelease(spec([subject(original)]), [], quiet)).verdicts[0]).to.include({ verdict: "pass" });
    });

    it("tampered: a valid signature copied onto another image does not match it", async () => {
        const victim = await pushImage(tools, `${repo}:copied`, "an image that borrows a signature");
        const sigTag = (d: string) => `${repo}:${d.replace(":", "-")}.sig`;
        await craneCopy(tools, sigTag(digests.signed), sigTag(victim));
        const v = (await verifyRelease(spec([subject(victim)]), [], quiet)).verdicts[0];
        expect(v, v.message).to.include({ verdict: "fail", failure: "mismatch", digest: victim });
        expect(v.message).to.include(`${repo}@${victim}: the signature does not match`);
    });

    it("a digest the registry does not hold is unsigned (cosign reads its signature first); a tag it does not hold is not found", async () => {
        const missing = `sha256:${"0".repeat(64)}`;
        const v = (await verifyRelease(spec([subject(missing)]), [], quiet)).verdicts[0];
        expect(v, v.message).to.include({ verdict: "fail", failure: "unsigned" });
        expect(v.message).to.include(`${repo}@${missing}: unsigned`);
        const tag = (await verifyRelease(spec([subject(undefined, { tag: "v9.9.9", digestRequired: false })]), [], quiet)).verdicts[0];
        expect(tag, tag.message).to.include({ verdict: "fail", failure: "not-found" });
        expect(tag.message).to.include(`${repo}:v9.9.9: not in the registry — the registry has no such image or digest (`);
        expect(tag.message).to.include("MANIFEST_UNKNOWN");
    });

    it("a tag where a digest is required is refused without reading the registry", async () => {
        await registry.stop();
        try {
            const v = (await verifyRelease(spec([subject(undefined, { tag: "v1.2.4" })]), [], quiet)).verdicts[0];
            expect(v).to.include({ verdict: "fail", failure: "tag", ref: `${repo}:v1.2.4` });
        } finally {
            await registry.start();
        }
    });

    it("the registry down: refused as unreachable, naming the registry and the digest; back up, it passes again", async () => {
        await registry.stop();
        try {
            const v = (await verifyRelease(spec([subject(digests.signed)]), [], quiet)).verdicts[0];
            expect(v, v.message).to.include({ verdict: "fail", failure: "unreachable" });
            expect(v.message).to.include(`image speculation v1.2.4 ${repo}@${digests.signed}: the registry is unreachable — ${registry.host} did not answer`);
        } finally {
            await registry.start();
        }
        expect((await verifyRelease(spec([subject(digests.signed)]), [], quiet)).verdicts[0]).to.include({ verdict: "pass" });
    });

    it("a private registry: refused without credentials, verified with them; the password never reaches cosign's command line", async () => {
        const auth = { username: "ci", password: `registry-password-${Date.now()}` };
        const priv = await startRegistry({ auth });
        try {
            const privRepo = `${priv.host}/agenc/proof-worker`;
            const config = dockerConfig({ [priv.host]: auth });
            const digest = await pushImage(tools, `${privRepo}:v1.2.4`, "proof worker", { DOCKER_CONFIG: config });
            await signImage(tools, release, `${privRepo}@${digest}`, { DOCKER_CONFIG: config });
            // A cosign that records its arguments and whether it was handed a Docker config.
            const dir = mkdtempSync(path.join(tmpdir(), "cosign-wrapper-"));
            const wrapper = path.join(dir, "cosign");
            writeFileSync(wrapper, `#!/bin/bash\necho "$* DOCKER_CONFIG=\${DOCKER_CONFIG:-none}" >> "${dir}/calls"\n` +
                `exec "${tools.cosign}" "$@" 2> >(tee -a "${dir}/stderr" >&2)\n`);
            chmodSync(wrapper, 0o755);
            const s = subject(digest, { repository: privRepo, name: "proof-worker v1.2.4" });
            const without = (await verifyRelease(spec([s], { cosign: wrapper, insecureRegistries: [priv.host] }), [], quiet)).verdicts[0];
            expect(without, without.message).to.include({ verdict: "fail", failure: "denied" });
            expect(without.message).to.include("check speculation:registryCredentials for this host");
            const refusedBefore = priv.seen.refused;
            const withCreds = (await verifyRelease(spec([s], { cosign: wrapper, insecureRegistries: [priv.host], credentials: { [priv.host]: auth } }), [], quiet)).verdicts[0];
            expect(withCreds, withCreds.message).to.include({ verdict: "pass", signer: `release (${fp()})` });
            expect(priv.seen.allowed, "the registry saw the credentials").to.be.greaterThan(0);
            expect(priv.seen.refused).to.be.at.least(refusedBefore);
            const calls = readFileSync(path.join(dir, "calls"), "utf8");
            expect(calls).to.not.include(auth.password);
            expect(calls).to.match(/verify --key \S+ --insecure-ignore-tlog=true --allow-http-registry=true --allow-insecure-registry=true \S+ DOCKER_CONFIG=\/\S+agenc-cosign-\S+/);
            // The Docker config the credentials went into is gone once the verification ended.
            const used = /DOCKER_CONFIG=(\/\S+agenc-cosign-\S+)/.exec(calls)![1];
            expect(() => readFileSync(path.join(used, "config.json"))).to.throw(/ENOENT/);
            // Offline: cosign never reached for the public-good trusted root (SIGSTORE_REKOR_PUBLIC_KEY, lib/signatures/cosign.ts).
            const said = readFileSync(path.join(dir, "stderr"), "utf8");
            expect(said).to.include("Skipping tlog verification");
            expect(said).to.not.match(/TUF|tuf-repo-cdn|trusted_root/);
        } finally {
            await priv.stop();
        }
    });
});
