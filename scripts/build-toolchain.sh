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

# The dynamic-provider plugin: a shim that runs @pulumi/pulumi's dynamic-provider host with node.  The engine starts
# it in the program's folder, so the SDK (and the modules the providers require) resolve from its node_modules.
install_shims() {
  cat >"$bin/pulumi-resource-pulumi-nodejs" <<'SH'
#!/bin/sh
script="$(node -e "process.stdout.write(require.resolve('@pulumi/pulumi/cmd/dynamic-provider'))")" || exit 1
exec node "$script" "$@"
SH
  # The policy-pack host: without a Node language plugin the engine runs `pulumi-analyzer-policy-nodejs` in the
  # pack's folder (pkg/resource/plugin/analyzer_plugin.go), which runs @pulumi/pulumi's run-policy-pack.
  cat >"$bin/pulumi-analyzer-policy-nodejs" <<'SH'
#!/bin/sh
script="$(node -e "process.stdout.write(require.resolve('@pulumi/pulumi/cmd/run-policy-pack'))")" || exit 1
exec node "$script" "$@"
SH
  chmod +x "$bin/pulumi-resource-pulumi-nodejs" "$bin/pulumi-analyzer-policy-nodejs"
}

# Provider plugins at the versions the npm packages declare (package.json `pulumi.version`), next to the CLI, where
# the engine looks first.  kubernetes: scripts/build-k8s-provider.sh "$bin" builds it from the Go module proxy (an
# untagged commit, stamped as the SDK's version); only what deploys Kubernetes asks for it (npm run test:e2e,
# npm run local -- --kubernetes), so the local default does not wait for its cold build.  random: the proxy refuses pulumi-random/provider/v4 (HTTP 403 for every
# version), so it is tried once per version and skipped with the proxy's answer; stacks then bring their own admin
# token (speculation:adminToken).  On a machine that reaches get.pulumi.com, `pulumi plugin install resource random
# 4.21.2` instead.
try_provider() {
  local name="$1" module="$2" version="$3" marker="$bin/.tried-$1-$3"
  [ -e "$marker" ] && return 0
  local answer
  answer="$(curl -s -o /dev/null -w '%{http_code}' "${GOPROXY_URL:-https://proxy.golang.org}/$module/@v/v$version.info" || echo unreachable)"
  if [ "$answer" = "200" ]; then
    log "provider $name v$version is on the module proxy: building"
    local w; w="$(mktemp -d)"
    (cd "$w" && go mod init agenc.local/plugin-$name >/dev/null 2>&1 && go get "$module/cmd/pulumi-resource-$name@v$version" >&2 \
       && go build -trimpath -o "$bin/pulumi-resource-$name" "$module/cmd/pulumi-resource-$name") \
       || log "provider $name v$version: build failed (see above)"
    rm -rf "$w"
  else
    log "provider $name v$version: module proxy answers HTTP $answer for $module@v$version; skipped"
  fi
  touch "$marker"
}

random_version="$(node -p "require('$here/node_modules/@pulumi/random/package.json').pulumi.version" 2>/dev/null || echo 4.21.2)"

build_cli
install_shims
try_provider random github.com/pulumi/pulumi-random/provider/v4 "${random_version#v}"
echo "$bin"
