#!/usr/bin/env bash
# Builds the signing tools of issue 27 from the Go module proxy, at the versions pinned in scripts/versions.env, cached
# outside the repository by version (docs/signing.md):
#   crane   github.com/google/go-containerregistry/cmd/crane   pushes the test and local images to the loopback registry
#   cosign  github.com/sigstore/cosign/v2/cmd/cosign            signs and verifies images and the node binary
# The registry itself is Debian's docker-registry (distribution 2.8), installed by scripts/setup.sh.
# Idempotent: a warm run only checks each binary's version.  Concurrent runs (other worktrees, CI's background builds
# beside the real-engine suite) wait on a lock instead of building twice.  GOTOOLCHAIN=local: the machine's Go (at least
# the `go` line of each module: 1.25.0 for both) builds them; nothing else is downloaded.
# Cold build times (empty module and build caches): docs/measurements.md#the-signing-tools.
#   TOOLS_DIR   cache root (default ~/.cache/agenc-deploy/tools)
#   $1          crane | cosign | all (default all)
# Prints `crane <path>` and `cosign <path>` (the ones asked for), one a line, last.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/scripts/versions.env"
root="${TOOLS_DIR:-$HOME/.cache/agenc-deploy/tools}"
what="${1:-all}"
case "$what" in crane|cosign|all) ;; *) echo "[signing] usage: build-signing.sh [crane|cosign|all], not $what" >&2; exit 2 ;; esac

crane_bin="$root/crane-$CRANE_VERSION/crane"
cosign_bin="$root/cosign-$COSIGN_VERSION/cosign"
# `crane version` prints the module version (-X below); `cosign version --json` its gitVersion.
crane_built() { [ "$("$crane_bin" version 2>/dev/null)" = "v$CRANE_VERSION" ]; }
cosign_built() { "$cosign_bin" version --json 2>/dev/null | grep -q "\"gitVersion\": *\"v$COSIGN_VERSION\""; }

# build <name> <check> <bin> <package@version> <ldflags>
build() {
  local name="$1" check="$2" bin="$3" pkg="$4" ldflags="$5"
  "$check" && return 0
  local dir; dir="$(dirname "$bin")"
  mkdir -p "$dir"
  exec 9>"$dir/.build.lock"
  if ! flock -n 9; then
    echo "[signing] another build holds $dir/.build.lock; waiting for it" >&2
    flock 9
  fi
  if "$check"; then exec 9>&-; return 0; fi
  command -v go >/dev/null 2>&1 || { echo "[signing] needs Go (the module proxy) to build $pkg" >&2; exit 1; }
  echo "[signing] building $pkg (GOTOOLCHAIN=local, $(go env GOVERSION))" >&2
  local start=$SECONDS
  rm -rf "$dir/.build"
  GOBIN="$dir/.build" GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0 \
    go install -trimpath -ldflags "-s -w $ldflags" "$pkg" >&2
  mv "$dir/.build/$name" "$bin"
  rmdir "$dir/.build" 2>/dev/null || true
  "$check" || { echo "[signing] $bin does not report the pinned version" >&2; exit 1; }
  echo "[signing] built $name in $(( SECONDS - start )) s wall (load average $(cut -d' ' -f1 /proc/loadavg))" >&2
  exec 9>&-
}

if [ "$what" = crane ] || [ "$what" = all ]; then
  build crane crane_built "$crane_bin" "github.com/google/go-containerregistry/cmd/crane@v$CRANE_VERSION" \
    "-X github.com/google/go-containerregistry/cmd/crane/cmd.Version=v$CRANE_VERSION"
fi
if [ "$what" = cosign ] || [ "$what" = all ]; then
  build cosign cosign_built "$cosign_bin" "github.com/sigstore/cosign/v2/cmd/cosign@v$COSIGN_VERSION" \
    "-X sigs.k8s.io/release-utils/version.gitVersion=v$COSIGN_VERSION"
fi
if [ "$what" = crane ] || [ "$what" = all ]; then echo "crane $crane_bin"; fi
if [ "$what" = cosign ] || [ "$what" = all ]; then echo "cosign $cosign_bin"; fi
