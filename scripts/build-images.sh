#!/usr/bin/env bash
# The reference workloads as an OCI image, without a registry: the project's Node (scripts/node.sh), the glibc
# libraries `ldd` lists for it, and reference/cli.ts bundled by esbuild (prom-client inside), packed by
# scripts/oci-image.js into a one-layer OCI archive (reproducible: the same inputs give the same digest).
#
#   bash scripts/build-images.sh [--no-import]
#
# The image runs as 65534:65534 (nobody), entrypoint `node /app/cli.js`, e.g. args `serve --host 0.0.0.0` (the
# speculation service on 9090 and a proof worker on 9091; ADMIN_TOKEN from the environment).
# It is imported into the running real node's containerd (scripts/real-node.sh) unless --no-import.  Prints the image
# pinned by digest as its last line: agenc.local/reference-workloads@sha256:… (pods name it so, imagePullPolicy
# Never).  The archive is kept in ~/.cache/agenc-deploy/real-node/images/.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/scripts/node.sh"
import=1
[ "${1:-}" = "--no-import" ] && import=0
REPO=agenc.local/reference-workloads
RUN_DIR="${REAL_NODE_RUN_DIR:-/run/agenc-real-node}"
out_dir="${REAL_NODE_CACHE_DIR:-$HOME/.cache/agenc-deploy/real-node}/images"
mkdir -p "$out_dir"
log() { echo "[images] $*" >&2; }
started=$(date +%s%N)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
mkdir -p "$rootfs"/{app,etc,tmp,usr/local/bin}
chmod 1777 "$rootfs/tmp"
node_bin="$(command -v node)"
cp "$node_bin" "$rootfs/usr/local/bin/node"
# Every library the dynamic loader resolves for node, at the same path, and the loader itself.
while read -r lib; do
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done < <(ldd "$node_bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
(cd "$here" && node -e '
  require("esbuild").buildSync({ entryPoints: ["reference/cli.ts"], bundle: true, platform: "node", target: "node22",
    outfile: process.argv[1], logLevel: "warning", legalComments: "none" });' "$rootfs/app/cli.js")
tag="$(cd "$rootfs" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12)"
archive="$out_dir/reference-workloads-$tag.tar"
digest="$(node "$here/scripts/oci-image.js" --rootfs "$rootfs" --name "$REPO:$tag" --out "$archive.tmp" \
  --entrypoint '["/usr/local/bin/node", "/app/cli.js"]' --cmd '["serve", "--host", "0.0.0.0"]' --user 65534:65534 \
  --workdir /app --env NODE_ENV=production --expose 9090 --expose 9091 \
  --label "org.opencontainers.image.title=agenc reference workloads" --label "agenc.node.version=$(node --version)")"
mv "$archive.tmp" "$archive"
log "$REPO:$tag ($(du -m "$archive" | cut -f1) MiB, node $(node --version), $(ldd "$node_bin" | grep -c '/') libraries) $digest"
if [ "$import" = 1 ]; then
  [ -S "$RUN_DIR/containerd.sock" ] || { log "the real node is not running ($RUN_DIR/containerd.sock): start it, or pass --no-import"; exit 1; }
  ctr --address "$RUN_DIR/containerd.sock" -n k8s.io images import "$archive" >/dev/null
  log "imported into the real node's containerd"
fi
log "in $(( ($(date +%s%N) - started) / 1000000 )) ms"
echo "$REPO@$digest"
