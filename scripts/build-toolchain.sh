#!/usr/bin/env bash
# Builds the Pulumi engine pieces this project needs from Go modules (nothing is downloadable from the Pulumi or
# GitHub release sites here) and caches them outside the repository, keyed by version.  Idempotent: a warm run
# only checks that each binary exists.
#
#   TOOLCHAIN_DIR   cache root (default ~/.cache/agenc-deploy/toolchain)
#
# Prints the bin directory to put on PATH as its last line.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/scripts/versions.env"

root="${TOOLCHAIN_DIR:-$HOME/.cache/agenc-deploy/toolchain}"
bin="$root/pulumi-$PULUMI_VERSION/bin"
mkdir -p "$bin"
export GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0

log() { echo "[toolchain] $*" >&2; }

build_cli() {
  [ -x "$bin/pulumi" ] && return 0
  log "building pulumi CLI v$PULUMI_VERSION (cold build: several minutes)"
  local w; w="$(mktemp -d)"
  # pkg/v3's own go.mod replaces sdk/v3 with a local path, so `go install pkg/v3/cmd/pulumi@v` refuses.  A wrapper
  # module requiring both at the same version builds it; the one non-local replace is copied over.
  cat >"$w/go.mod" <<MOD
module agenc.local/pulumi-cli

go 1.24

require (
	github.com/pulumi/pulumi/pkg/v3 v$PULUMI_VERSION
	github.com/pulumi/pulumi/sdk/v3 v$PULUMI_VERSION
)

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
MOD
  cat >"$w/tools.go" <<'GO'
//go:build tools

package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
GO
  (cd "$w" && go mod tidy >/dev/null 2>&1 || true
   cd "$w" && go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@v$PULUMI_VERSION" >&2
   go build -trimpath -o "$bin/pulumi.tmp" \
     -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
     github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  mv "$bin/pulumi.tmp" "$bin/pulumi"
  rm -rf "$w"
}

build_cli
echo "$bin"
