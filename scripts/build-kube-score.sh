#!/usr/bin/env bash
# Builds kube-score (the manifest linter the tests run on every rendered mode, test/lint/kubeScore.int.test.ts) from the
# Go module proxy at the version pinned in scripts/versions.env, cached outside the repository.  Idempotent: a warm
# run only checks the binary.  Concurrent runs (other worktrees) wait on a lock instead of building twice.
# Cold (empty module and build caches): see docs/kube-score.md for the measured time on 2 shared cores.
#   TOOLS_DIR   cache root (default ~/.cache/agenc-deploy/tools)
# Prints the binary's path as its last line.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/scripts/versions.env"
root="${TOOLS_DIR:-$HOME/.cache/agenc-deploy/tools}"
dir="$root/kube-score-$KUBE_SCORE_VERSION"
bin="$dir/kube-score"
# `kube-score version` prints "kube-score version: <v>, commit: …, built: …"; the version is set by -ldflags below.
built() { "$bin" version 2>/dev/null | grep -q "version: $KUBE_SCORE_VERSION,"; }
if built; then echo "$bin"; exit 0; fi
mkdir -p "$dir"
exec 9>"$dir/.build.lock"
if ! flock -n 9; then
  echo "[kube-score] another build holds $dir/.build.lock; waiting for it" >&2
  flock 9
fi
if built; then echo "$bin"; exit 0; fi
command -v go >/dev/null 2>&1 || { echo "[kube-score] needs Go (the module proxy) to build github.com/zegl/kube-score v$KUBE_SCORE_VERSION" >&2; exit 1; }
echo "[kube-score] building github.com/zegl/kube-score v$KUBE_SCORE_VERSION" >&2
start=$(date +%s)
rm -rf "$dir/.build"
GOBIN="$dir/.build" GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0 \
  go install -ldflags "-s -w -X main.version=$KUBE_SCORE_VERSION" \
  "github.com/zegl/kube-score/cmd/kube-score@v$KUBE_SCORE_VERSION" >&2
mv "$dir/.build/kube-score" "$bin"
rmdir "$dir/.build" 2>/dev/null || true
built || { echo "[kube-score] $bin does not report version $KUBE_SCORE_VERSION" >&2; exit 1; }
echo "[kube-score] built in $(( $(date +%s) - start )) s wall (load average $(cut -d' ' -f1 /proc/loadavg))" >&2
echo "$bin"
