#!/usr/bin/env bash
# Builds actionlint (the GitHub Actions workflow linter the tests run on .github/workflows) from the Go module proxy
# at the version pinned in scripts/versions.env, cached outside the repository.  Idempotent: a warm run only checks
# the binary.  Cold: about 1.5 min on 2 shared cores.
#   TOOLS_DIR   cache root (default ~/.cache/agenc-deploy/tools)
# Prints the binary's path as its last line.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/scripts/versions.env"
dir="${TOOLS_DIR:-$HOME/.cache/agenc-deploy/tools}/actionlint-$ACTIONLINT_VERSION"
bin="$dir/actionlint"
if [ "$("$bin" -version 2>/dev/null | head -1)" != "v$ACTIONLINT_VERSION" ]; then
  command -v go >/dev/null 2>&1 || { echo "[actionlint] needs Go (the module proxy) to build github.com/rhysd/actionlint v$ACTIONLINT_VERSION" >&2; exit 1; }
  echo "[actionlint] building github.com/rhysd/actionlint v$ACTIONLINT_VERSION" >&2
  mkdir -p "$dir"
  GOBIN="$dir/.build" GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0 \
    go install -ldflags "-s -w" \
    "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION" >&2
  mv "$dir/.build/actionlint" "$bin"
  rmdir "$dir/.build" 2>/dev/null || true
fi
echo "$bin"
