/**
 * `speculation:signing` and `speculation:registryCredentials` (config/signing.ts, docs/signing.md): every bad value is
 * refused at load with one message naming the key and what is allowed; production requires the verification; the
 * credentials are a secret whose value no message echoes.
 */
import { expect } from "chai";
import { generateKeyPairSync } from "crypto";
import { mkdtempSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { ConfigError, parseStackConfig } from "../../config";
import { encodeConfig, stackConfig, TEST_HOST_KEY, TEST_SSH_KEY, withEdit } from "../helpers/stack";

const pem = (type: "ec" | "rsa" | "ed25519", curve = "prime256v1") => (type === "ec"
    ? generateKeyPairSync("ec", { namedCurve: curve })
    : type === "rsa" ? generateKeyPairSync("rsa", { modulusLength: 2048 }) : generateKeyPairSync("ed25519")).publicKey.export({ type: "spki", format: "pem" }).toString();
const P256 = pem("ec");
const P256_B = pem("ec");
const dir = mkdtempSync(path.join(tmpdir(), "signing-config-"));
const BINARY = path.join(dir, "alys");
writeFileSync(BINARY, "#!/bin/sh\necho alys v1.2.3\n");
const HOST = { name: "node-1", host: "10.0.0.1", user: "deploy", hostKey: TEST_HOST_KEY };

/** staging with signing set to `signing` (and optional other edits). */
function staging(signing: unknown, edit: (c: Record<string, unknown>) => Record<string, unknown> = (c) => c): Record<string, unknown> {
    return edit(withEdit(stackConfig("staging"), "speculation:signing", undefined, signing));
}
function problems(config: Record<string, unknown>, secretKeys: string[] = []): string[] {
    try {
        parseStackConfig(encodeConfig(config), new Set(secretKeys), dir);
    } catch (e) {
        if (e instanceof ConfigError) return e.problems;
        throw e;
    }
    return [];
}
const withNodes = (c: Record<string, unknown>) =>
    withEdit(withEdit(withEdit(c, "speculation:nodes", "hosts", [HOST]), "speculation:nodes", "binary", BINARY), "speculation:sshPrivateKey", undefined, TEST_SSH_KEY);

describe("signing config (config/signing.ts)", () => {
    it("production as shipped requires it, with a key; staging as shipped leaves it off", () => {
        const prod = parseStackConfig(encodeConfig(stackConfig("production"))).config.signing;
        expect(prod.required).to.equal(true);
        expect(prod.publicKeys.map((k) => k.name)).to.deep.equal(["release"]);
        expect(parseStackConfig(encodeConfig(stackConfig("staging"))).config.signing).to.include({ required: false, cosign: "cosign", timeout: "60s" });
    });

    it("production with the verification off is refused at load, naming the key and the policy", () => {
        expect(problems(withEdit(stackConfig("production"), "speculation:signing", "required", false))).to.deep.equal([
            "speculation:signing.required: must be true in production: every image digest and the node binary are verified against signing.publicKeys before anything runs them (policy signed-releases)",
        ]);
    });

    const BAD: [string, unknown, string][] = [
        ["required without keys", { required: true }, "speculation:signing.publicKeys: must list at least one public key ({ name, pem }) when signing.required is true"],
        ["a key that is no PEM", { publicKeys: [{ name: "k", pem: "AAAA" }] }, "speculation:signing.publicKeys[0].pem: must be a PEM public key (-----BEGIN PUBLIC KEY----- … -----END PUBLIC KEY-----, the cosign.pub that `cosign generate-key-pair` writes)"],
        ["a private key", { publicKeys: [{ name: "k", pem: "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nabc\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n" }] }, "speculation:signing.publicKeys[0].pem: is a PRIVATE key: give the public key (cosign.pub), never the private one"],
        ["an RSA key", { publicKeys: [{ name: "k", pem: pem("rsa") }] }, "speculation:signing.publicKeys[0].pem: is a rsa key; must be an ECDSA P-256 key (cosign generate-key-pair), whose signatures the nodes verify with openssl"],
        ["a P-384 key", { publicKeys: [{ name: "k", pem: pem("ec", "secp384r1") }] }, "speculation:signing.publicKeys[0].pem: is a ec secp384r1 key; must be an ECDSA P-256 key (cosign generate-key-pair), whose signatures the nodes verify with openssl"],
        ["a bad key name", { publicKeys: [{ name: "Release 2026", pem: P256 }] }, "speculation:signing.publicKeys[0].name: must be a key name: lower-case letters, digits, . and - (such as release-2026), at most 63"],
        ["two keys of one name", { publicKeys: [{ name: "k", pem: P256 }, { name: "k", pem: P256_B }] }, "speculation:signing.publicKeys[1].name: duplicates an earlier key name (k)"],
        ["one key twice", { publicKeys: [{ name: "a", pem: P256 }, { name: "b", pem: P256 }] }, "speculation:signing.publicKeys[1].pem: is the same key as a"],
        ["a key without its name", { publicKeys: [{ pem: P256 }] }, "speculation:signing.publicKeys[0].name: is required (must be a key name such as release-2026)"],
        ["an unknown key", { requried: true }, "speculation:signing: unknown key \"requried\" (did you mean \"required\"?); allowed: cosign, images, nodeBinarySignature, publicKeys, registries, required, timeout"],
        ["required not a boolean", { required: "yes" }, "speculation:signing.required: must be true or false"],
        ["a registry with a scheme", { registries: [{ host: "https://ghcr.io", insecure: false }] }, "speculation:signing.registries[0].host: must be a registry host[:port] as an image repository names it (registry.example.com, 127.0.0.1:5000), no scheme or path"],
        ["a registry twice", { registries: [{ host: "ghcr.io" }, { host: "ghcr.io" }] }, "speculation:signing.registries[1].host: duplicates an earlier registry (ghcr.io)"],
        ["a cosign path with a space", { cosign: "/opt/my tools/cosign" }, "speculation:signing.cosign: must be a command name (cosign) or an absolute path of letters, digits and . _ + @ : , / -"],
        ["a timeout that is no duration", { timeout: "a minute" }, "speculation:signing.timeout: must be a duration such as 30s, 15m or 4h (longest one verification (one cosign run) may take)"],
        ["a signature path without nodes", { nodeBinarySignature: "alys.sig" }, "speculation:signing.nodeBinarySignature: only applies when nodes.hosts is set (the node binary's signature)"],
    ];
    for (const [name, signing, message] of BAD) {
        it(`refuses ${name}`, () => {
            expect(problems(staging(signing))).to.deep.equal([message]);
        });
    }

    it("production refuses a plain-HTTP registry off this machine and images off; a loopback registry is allowed", () => {
        const prod = (edit: Record<string, unknown>) => withEdit(stackConfig("production"), "speculation:signing", undefined,
            { ...(stackConfig("production")["speculation:signing"] as object), ...edit });
        expect(problems(prod({ registries: [{ host: "registry.example.com", insecure: true }] }))).to.deep.equal([
            "speculation:signing.registries[0].insecure: must be false in production for a registry off this machine (registry.example.com would be read over plain HTTP; only a loopback registry may be)",
        ]);
        expect(problems(prod({ registries: [{ host: "127.0.0.1:5000", insecure: true }] }))).to.deep.equal([]);
        expect(problems(prod({ images: false }))).to.deep.equal(["speculation:signing.images: must be true in production (its images run in pods)"]);
    });

    it("with nodes, a signed release needs the binary's signature file: refused naming the key, the default path and how to sign", () => {
        const found = problems(withNodes(staging({ required: true, publicKeys: [{ name: "k", pem: P256 }] })), ["speculation:sshPrivateKey"]);
        expect(found).to.deep.equal([
            `speculation:signing.nodeBinarySignature: ${BINARY}.sig does not exist (a local path, relative to the project folder, of the node binary's signature) (default: nodes.binary + .sig); ` +
            `sign it with cosign sign-blob --key cosign.key --tlog-upload=false --output-signature ${BINARY}.sig ${BINARY}`,
        ]);
        writeFileSync(`${BINARY}.sig`, "MEUCIQ==\n");
        expect(problems(withNodes(staging({ required: true, publicKeys: [{ name: "k", pem: P256 }] })), ["speculation:sshPrivateKey"])).to.deep.equal([]);
        expect(problems(withNodes(staging({ required: true, publicKeys: [{ name: "k", pem: P256 }], nodeBinarySignature: "nowhere.sig" })), ["speculation:sshPrivateKey"])[0])
            .to.match(/^speculation:signing\.nodeBinarySignature: \S+\/nowhere\.sig does not exist/);
    });

    it("registry credentials: a secret, per registry host, never echoed", () => {
        const password = "s3cret-registry-password-0123";
        const creds = { "127.0.0.1:5000": { username: "ci", password } };
        const c = withEdit(staging({}), "speculation:registryCredentials", undefined, creds);
        expect(problems(c)).to.deep.equal([`speculation:registryCredentials: must be set as a secret (pulumi config set --secret --path 'speculation:registryCredentials["<host>"].password' …)`]);
        expect(parseStackConfig(encodeConfig(c), new Set(["speculation:registryCredentials"])).registryCredentials).to.deep.equal(creds);
        const bad = withEdit(staging({}), "speculation:registryCredentials", undefined, { "127.0.0.1:5000": { username: "ci", pass: password } });
        const found = problems(bad, ["speculation:registryCredentials"]);
        expect(found).to.deep.equal([
            `speculation:registryCredentials["127.0.0.1:5000"]["password"]: is required (must be the registry password or token)`,
            `speculation:registryCredentials["127.0.0.1:5000"]: unknown key "pass"; allowed: password, username`,
        ]);
        expect(found.join("\n")).to.not.include(password);
        const host = problems(withEdit(staging({}), "speculation:registryCredentials", undefined, { "https://ghcr.io": { username: "ci", password } }), ["speculation:registryCredentials"]);
        expect(host).to.deep.equal(['speculation:registryCredentials["https://ghcr.io"]: must be a map of registry host to { username, password }']);
        expect(host.join("\n")).to.not.include(password);
    });
});
