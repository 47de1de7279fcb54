/**
 * The verdict on each subject of a signed release (lib/signatures/decision.ts), pure: every failure class the issue
 * names (unsigned, another key, a signature that does not match, the registry unreachable, a tag where a digest is
 * required) and the ones a real registry adds (not found, denied, a tool that failed), each naming the digest or file
 * and the keys; a pass names the signer; several keys; and the reuse of a digest an earlier run verified.
 */
import { expect } from "chai";
import { BlobSubject, FAILURE_TEXT, ImageSubject, judgeSubject, Observation, refusalHeadline, refusedUnread, registryOf, reusedVerdict, subjectRef } from "../../../lib/signatures/decision";

const D = `sha256:${"ab".repeat(32)}`;
const OTHER = `sha256:${"cd".repeat(32)}`;
const image = (edit: Partial<ImageSubject> = {}): ImageSubject => ({
    kind: "image", name: "speculation v1.2.4", configKey: "release.images.speculation.digest",
    repository: "127.0.0.1:5000/agenc/speculation", digest: D, digestRequired: true, ...edit,
});
const blob: BlobSubject = { kind: "blob", name: "node binary", path: "/srv/alys", signaturePath: "/srv/alys.sig", sha256: "ef".repeat(32) };
const KEYS = [{ name: "release-2026", fingerprint: "SHA256:aaaa" }, { name: "release-2025", fingerprint: "SHA256:bbbb" }];
const obs = (outcome: Observation["outcome"], key?: string, detail = "", digest?: string): Observation => ({ key, outcome, detail, ...(digest ? { digest } : {}) });

describe("signature verdicts (lib/signatures/decision.ts)", () => {
    it("passes on the key that verified it and names it with its fingerprint and the digest", () => {
        const v = judgeSubject(image(), KEYS, [obs("bad-signature", "release-2026"), obs("verified", "release-2025", "", D)]);
        expect(v).to.include({ verdict: "pass", signer: "release-2025 (SHA256:bbbb)", digest: D, ref: `127.0.0.1:5000/agenc/speculation@${D}` });
        expect(v.message).to.equal(`image speculation v1.2.4 127.0.0.1:5000/agenc/speculation@${D}: signed by release-2025 (SHA256:bbbb)`);
    });

    it("unsigned: no signature stored for the digest, naming the digest and the keys expected", () => {
        const v = judgeSubject(image(), KEYS, [obs("no-signature", "release-2026", "no signatures found")]);
        expect(v).to.include({ verdict: "fail", failure: "unsigned" });
        expect(v.message).to.equal(`image speculation v1.2.4 127.0.0.1:5000/agenc/speculation@${D}: unsigned — no signature is stored for this digest (no signatures found); ` +
            "expected one from release-2026 (SHA256:aaaa), release-2025 (SHA256:bbbb)");
    });

    it("signed by another key: a signature that verifies under none of the configured keys", () => {
        const v = judgeSubject(image(), KEYS, [obs("bad-signature", "release-2026", "invalid signature"), obs("bad-signature", "release-2025", "invalid signature")]);
        expect(v).to.include({ verdict: "fail", failure: "other-key" });
        expect(v.message).to.match(new RegExp(`@${D}: signed by another key — its signature verifies with none of release-2026 \\(SHA256:aaaa\\), release-2025 \\(SHA256:bbbb\\)$`));
    });

    it("the signature does not match: it signs another digest (copied from another image, or the image replaced)", () => {
        const v = judgeSubject(image(), KEYS, [obs("mismatch", "release-2026", "payload digest differs", OTHER)]);
        expect(v).to.include({ verdict: "fail", failure: "mismatch", digest: D });
        expect(v.message).to.include(`@${D}: the signature does not match — the signature stored for it signs ${OTHER}, not this digest`);
    });

    it("the registry is unreachable: names the registry and the digest; it outranks what another key read", () => {
        const v = judgeSubject(image(), KEYS, [obs("bad-signature", "release-2026"), obs("unreachable", "release-2025", "dial tcp 127.0.0.1:5000: connect: connection refused")]);
        expect(v).to.include({ verdict: "fail", failure: "unreachable" });
        expect(v.message).to.include(`image speculation v1.2.4 127.0.0.1:5000/agenc/speculation@${D}: the registry is unreachable — 127.0.0.1:5000 did not answer (dial tcp 127.0.0.1:5000: connect: connection refused)`);
    });

    it("a tag where a digest is required is refused before anything is read, naming the key to set", () => {
        const s = image({ digest: undefined, tag: "v1.2.4" });
        expect(refusedUnread(s)).to.deep.include({ verdict: "fail", failure: "tag", ref: "127.0.0.1:5000/agenc/speculation:v1.2.4" });
        const v = judgeSubject(s, KEYS, [obs("verified", "release-2026", "", D)]);
        expect(v.verdict, "a verified tag still fails where digests are required").to.equal("fail");
        expect(v.message).to.equal("image speculation v1.2.4 127.0.0.1:5000/agenc/speculation:v1.2.4: a tag where a digest is required — a tag can be pushed over after it is verified; " +
            "pin the signed digest (release.images.speculation.digest: sha256:<64 hex>)");
    });

    it("outside production a tag is verified at the digest it names now, and the pass says to pin it", () => {
        const s = image({ digest: undefined, tag: "v1.2.4", digestRequired: false });
        expect(refusedUnread(s)).to.equal(undefined);
        const v = judgeSubject(s, KEYS, [obs("verified", "release-2026", "", D)]);
        expect(v).to.include({ verdict: "pass", digest: D, ref: `127.0.0.1:5000/agenc/speculation@${D}` });
        expect(v.message).to.include("(tag v1.2.4 resolved to it now; pin it in release.images.speculation.digest)");
        const unsigned = judgeSubject(s, KEYS, [obs("no-signature", "release-2026", "", OTHER)]);
        expect(unsigned.message, "a moved tag's refusal names the digest it moved to").to.include(`@${OTHER}: unsigned`);
    });

    it("not in the registry, refused credentials, and a tool that failed are their own refusals", () => {
        expect(judgeSubject(image(), KEYS, [obs("not-found", "release-2026", "MANIFEST_UNKNOWN")])).to.include({ failure: "not-found" });
        const denied = judgeSubject(image(), KEYS, [obs("denied", "release-2026", "UNAUTHORIZED")]);
        expect(denied).to.include({ failure: "denied" });
        expect(denied.message).to.include("127.0.0.1:5000 refused access (UNAUTHORIZED): check speculation:registryCredentials for this host");
        const tool = judgeSubject(image(), KEYS, [obs("error", "release-2026", "cosign: not found")]);
        expect(tool).to.include({ failure: "tool" });
        expect(tool.message).to.include("cosign could not verify it (cosign: not found)");
        expect(judgeSubject(image(), KEYS, []), "no reading at all is no pass").to.include({ verdict: "fail", failure: "tool" });
    });

    it("no configured key is no pass", () => {
        const v = judgeSubject(image(), [], []);
        expect(v).to.include({ verdict: "fail", failure: "other-key" });
        expect(v.message).to.include("signing.publicKeys is empty");
    });

    it("the node binary: unsigned (signature file missing) and signed by another key or changed since, naming the file", () => {
        const missing = judgeSubject(blob, KEYS, [obs("no-signature", "release-2026", "/srv/alys.sig: no such file")]);
        expect(missing).to.include({ verdict: "fail", failure: "unsigned", ref: "/srv/alys" });
        expect(missing.message).to.equal(`node binary /srv/alys (sha256:${"ef".repeat(32)}): unsigned — its signature file /srv/alys.sig is missing or empty (/srv/alys.sig: no such file); ` +
            "expected a signature from release-2026 (SHA256:aaaa), release-2025 (SHA256:bbbb)");
        const other = judgeSubject(blob, KEYS, [obs("bad-signature", "release-2026"), obs("bad-signature", "release-2025")]);
        expect(other.message).to.include("/srv/alys.sig verifies with none of release-2026 (SHA256:aaaa), release-2025 (SHA256:bbbb): signed by another key, or the file changed after it was signed");
        expect(judgeSubject(blob, KEYS, [obs("verified", "release-2026")])).to.include({ verdict: "pass", signer: "release-2026 (SHA256:aaaa)" });
    });

    it("reuses a digest an earlier run verified under a key still configured, never a removed key, a tag or a blob", () => {
        const earlier = [{ subject: "speculation v1.2.4", ref: `127.0.0.1:5000/agenc/speculation@${D}`, digest: D, signer: "release-2025 (SHA256:bbbb)", at: "2026-12-01T00:00:00.000Z" }];
        expect(reusedVerdict(image(), KEYS, earlier)).to.include({ verdict: "pass", signer: "release-2025 (SHA256:bbbb)" });
        expect(reusedVerdict(image(), [KEYS[0]], earlier), "the key was removed: read again").to.equal(undefined);
        expect(reusedVerdict(image({ digest: undefined, tag: "v1.2.4", digestRequired: false }), KEYS, earlier)).to.equal(undefined);
        expect(reusedVerdict(blob, KEYS, earlier)).to.equal(undefined);
        expect(reusedVerdict(image({ digest: OTHER }), KEYS, earlier), "another digest").to.equal(undefined);
    });

    it("helpers: the registry of a repository, the reference read, and the refusal's headline", () => {
        expect(registryOf("127.0.0.1:5000/agenc/speculation")).to.equal("127.0.0.1:5000");
        expect(registryOf("ghcr.io/agenc/speculation")).to.equal("ghcr.io");
        expect(registryOf("library/node")).to.equal("index.docker.io");
        expect(subjectRef(image({ digest: undefined, tag: "v1" }))).to.equal("127.0.0.1:5000/agenc/speculation:v1");
        const a = judgeSubject(image(), KEYS, [obs("no-signature", "release-2026")]);
        const b = judgeSubject(blob, KEYS, [obs("verified", "release-2026")]);
        expect(refusalHeadline([a, b])).to.equal(`signature verification refused the release: 1 of 2 subject(s) failed (${FAILURE_TEXT.unsigned})`);
    });
});
