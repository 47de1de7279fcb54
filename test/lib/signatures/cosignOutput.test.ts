/**
 * What cosign's words mean (lib/signatures/cosign.ts), on the texts cosign v2.6.5 printed against the loopback registry
 * in test/lib/signatures/images.int.test.ts and blob.int.test.ts: each failure class, the error line picked out of
 * stderr (not a warning's — the TUF warning names a refused connection too), the payload digests, the http flags.
 */
import { expect } from "chai";
import { classifyFailure, cosignSaid, payloadDigests, registryFlags } from "../../../lib/signatures/cosign";

const D = "sha256:88f695542953913ac599ea87289b7d99d2b5f0e11dc30e14ea28f81f26d7dc9e";
const TUF_WARNING = 'WARNING: Could not fetch trusted_root.json from the TUF repository. Continuing with individual targets. Error from TUF: error getting live trusted root: ' +
    'failed to create TUF client failed to load metadata: tuf refresh failed: Get "https://tuf-repo-cdn.sigstore.dev/14.root.json": proxyconnect tcp: dial tcp 127.0.0.1:9: connect: connection refused';
const stderr = (error: string) => ["WARNING: Skipping tlog verification is an insecure practice that lacks transparency and auditability verification for the signature.",
    TUF_WARNING, `Error: ${error}`, `error during command execution: ${error}`, ""].join("\n");

describe("cosign's answers (lib/signatures/cosign.ts)", () => {
    const cases: [string, string, ReturnType<typeof classifyFailure>][] = [
        ["another key", "no matching signatures: invalid signature when validating ASN.1 encoded signature", "bad-signature"],
        ["unsigned", "no signatures found", "no-signature"],
        ["a copied signature", `no matching signatures: invalid or missing digest in claim: ${D}`, "mismatch"],
        ["the registry down", 'Get "https://127.0.0.1:37573/v2/": dial tcp 127.0.0.1:37573: connect: connection refused; Get "http://127.0.0.1:37573/v2/": dial tcp 127.0.0.1:37573: connect: connection refused', "unreachable"],
        ["no credentials", `GET http://127.0.0.1:40287/v2/agenc/x/manifests/${D.replace(":", "-")}.sig: UNAUTHORIZED: authentication required`, "denied"],
        ["a tag the registry lacks", "GET http://127.0.0.1:37573/v2/agenc/speculation/manifests/nope: MANIFEST_UNKNOWN: manifest unknown; map[Tag:nope]", "not-found"],
        ["a changed blob", "invalid signature when validating ASN.1 encoded signature", "bad-signature"],
        ["something new", "unexpected end of JSON input", "error"],
        ["a copied signature whose digest holds 401 and 404", `no matching signatures: invalid or missing digest in claim: sha256:${"a401b404".repeat(8)}`, "mismatch"],
    ];
    for (const [name, error, outcome] of cases) {
        it(`${name}: ${outcome}, from the Error line (not the TUF warning's refused connection)`, () => {
            const said = cosignSaid({ stdout: "", stderr: stderr(error) });
            expect(said).to.equal(error);
            expect(classifyFailure(said)).to.equal(outcome);
        });
    }

    it("reads the digests the verified payloads name", () => {
        const out = `\n[{"critical":{"identity":{"docker-reference":"127.0.0.1:37573/agenc/speculation"},"image":{"docker-manifest-digest":"${D}"},"type":"cosign container image signature"},"optional":null}]\n`;
        expect(payloadDigests(out)).to.deep.equal([D]);
        expect(payloadDigests("Verified OK\n")).to.deep.equal([]);
    });

    it("gives the plain-HTTP flags only to the registries configured insecure", () => {
        expect(registryFlags(`127.0.0.1:5000/agenc/speculation@${D}`, ["127.0.0.1:5000"])).to.deep.equal(["--allow-http-registry=true", "--allow-insecure-registry=true"]);
        expect(registryFlags(`ghcr.io/agenc/speculation@${D}`, ["127.0.0.1:5000"])).to.deep.equal([]);
    });
});
