#!/usr/bin/env node
/*
 * Packs a directory into a one-layer OCI image archive (an OCI image layout in a tar) that
 * `ctr -n k8s.io images import` accepts: no registry, no daemon.  Reproducible: the layer is a GNU tar with sorted
 * names, mtime 0 and owner root, so the same directory and options give the same digest.
 *
 *   node scripts/oci-image.js --rootfs DIR --name REPO:TAG --out FILE.tar [--entrypoint JSON] [--cmd JSON]
 *        [--env K=V]... [--workdir DIR] [--user UID:GID] [--label K=V]... [--expose PORT]...
 *
 * The index names the manifest twice (containerd's `io.containerd.image.name`): REPO:TAG and REPO@sha256:<manifest>,
 * so a pod can name the image by digest with `imagePullPolicy: Never`.  Prints the manifest digest (sha256:…).
 */
"use strict";
const { execFileSync } = require("child_process");
const crypto = require("crypto");
const fs = require("fs");
const os = require("os");
const path = require("path");

function parseArgs(argv) {
    const opts = { env: [], label: [], expose: [] };
    for (let i = 0; i < argv.length; i += 2) {
        const key = argv[i].replace(/^--/, "");
        const value = argv[i + 1];
        if (value === undefined) throw new Error(`--${key} needs a value`);
        if (Array.isArray(opts[key])) opts[key].push(value);
        else opts[key] = value;
    }
    for (const k of ["rootfs", "name", "out"]) if (!opts[k]) throw new Error(`--${k} is required`);
    if (/@/.test(opts.name) || !/:[^/]+$/.test(opts.name)) throw new Error(`--name wants REPO:TAG, not ${opts.name}`);
    return opts;
}

function sha256File(file) {
    const hash = crypto.createHash("sha256");
    const fd = fs.openSync(file, "r");
    const buf = Buffer.alloc(1 << 20);
    let n;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) hash.update(buf.subarray(0, n));
    fs.closeSync(fd);
    return hash.digest("hex");
}

const DETERMINISTIC = ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "--format=gnu"];

function main() {
    const opts = parseArgs(process.argv.slice(2));
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "oci-image-"));
    try {
        const blobs = path.join(work, "layout", "blobs", "sha256");
        fs.mkdirSync(blobs, { recursive: true });
        const writeBlob = (text) => {
            const digest = crypto.createHash("sha256").update(text).digest("hex");
            fs.writeFileSync(path.join(blobs, digest), text);
            return { digest: `sha256:${digest}`, size: Buffer.byteLength(text) };
        };

        const layerTmp = path.join(work, "layer.tar");
        execFileSync("tar", ["-C", opts.rootfs, ...DETERMINISTIC, "-cf", layerTmp, "."]);
        const layerDigest = sha256File(layerTmp);
        const layerSize = fs.statSync(layerTmp).size;
        fs.renameSync(layerTmp, path.join(blobs, layerDigest));

        const config = {
            architecture: "amd64", os: "linux",
            config: {
                ...(opts.entrypoint ? { Entrypoint: JSON.parse(opts.entrypoint) } : {}),
                ...(opts.cmd ? { Cmd: JSON.parse(opts.cmd) } : {}),
                Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ...opts.env],
                ...(opts.workdir ? { WorkingDir: opts.workdir } : {}),
                ...(opts.user ? { User: opts.user } : {}),
                ...(opts.label.length ? { Labels: Object.fromEntries(opts.label.map((l) => l.split(/=(.*)/s).slice(0, 2))) } : {}),
                ...(opts.expose.length ? { ExposedPorts: Object.fromEntries(opts.expose.map((p) => [`${p}/tcp`, {}])) } : {}),
            },
            rootfs: { type: "layers", diff_ids: [`sha256:${layerDigest}`] },
            history: [{ created_by: "scripts/oci-image.js" }],
        };
        const configBlob = writeBlob(JSON.stringify(config));
        const manifest = writeBlob(JSON.stringify({
            schemaVersion: 2,
            mediaType: "application/vnd.oci.image.manifest.v1+json",
            config: { mediaType: "application/vnd.oci.image.config.v1+json", ...configBlob },
            layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: `sha256:${layerDigest}`, size: layerSize }],
        }));
        const repo = opts.name.replace(/:[^/:]+$/, "");
        const entry = (name) => ({
            mediaType: "application/vnd.oci.image.manifest.v1+json", ...manifest,
            annotations: {
                "io.containerd.image.name": name,
                ...(name.includes("@") ? {} : { "org.opencontainers.image.ref.name": name.slice(repo.length + 1) }),
            },
            platform: { architecture: "amd64", os: "linux" },
        });
        fs.writeFileSync(path.join(work, "layout", "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
        fs.writeFileSync(path.join(work, "layout", "index.json"), JSON.stringify({
            schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
            manifests: [entry(opts.name), entry(`${repo}@${manifest.digest}`)],
        }));
        const out = path.resolve(opts.out);
        execFileSync("tar", ["-C", path.join(work, "layout"), ...DETERMINISTIC, "-cf", out, "oci-layout", "index.json", "blobs"]);
        process.stdout.write(`${manifest.digest}\n`);
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
}

main();
