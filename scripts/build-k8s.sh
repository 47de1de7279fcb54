#!/usr/bin/env bash
# Builds a real Kubernetes control plane for the tests from Go modules and caches it outside the repository, keyed
# by version (nothing is downloadable from release sites here):
#
#   etcd                    go.etcd.io/etcd/server/v3 (a three-line main calling etcdmain.Main)
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
#                           k8s.io/kubernetes, from a wrapper module (its go.mod replaces the k8s.io/* staging
#                           modules with local paths, so `go install` refuses; the wrapper replaces each with v0.X.Y)
#   kwok                    sigs.k8s.io/kwok (simulated nodes and pods: nothing runs in a container)
#   CRDs                    prometheus-operator's example/prometheus-operator-crd/*.yaml from its module zip
#
# Idempotent: a warm run only checks that each file exists (well under a second).  Concurrent runs (other worktrees)
# wait on a lock instead of building twice.  Each cold build prints its wall time.
#
#   K8S_CACHE_DIR   cache root (default ~/.cache/agenc-deploy/k8s)
#
# Prints the cache root's versioned folder as its last line (bin/ and crds/ inside it).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/scripts/versions.env"

root="${K8S_CACHE_DIR:-$HOME/.cache/agenc-deploy/k8s}"
dir="$root/kubernetes-$KUBERNETES_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-promop-$PROMETHEUS_OPERATOR_VERSION"
bin="$dir/bin"
crds="$dir/crds"
mkdir -p "$bin" "$crds"
LOG_PREFIX=k8s
k8s_binaries=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
source "$here/scripts/lib/gobuild.sh"

complete() {
  local b
  for b in etcd kwok "${k8s_binaries[@]}"; do [ -x "$bin/$b" ] || return 1; done
  [ -e "$crds/.complete" ] && [ -s "$dir/kwok-stages.yaml" ]
}

if complete; then echo "$dir"; exit 0; fi
lock_or_wait "$root"
if complete; then echo "$dir"; exit 0; fi

build_etcd() {
  [ -x "$bin/etcd" ] && return 0
  log "building etcd v$ETCD_VERSION"
  local w; w="$(mktemp -d)"
  cat >"$w/go.mod" <<MOD
module agenc.local/etcd

go 1.24

require go.etcd.io/etcd/server/v3 v$ETCD_VERSION
MOD
  cat >"$w/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$w" && go mod tidy >&2 && go build -trimpath -ldflags "-s -w" -o "$bin/etcd.tmp" .)
  mv "$bin/etcd.tmp" "$bin/etcd"
  rm -rf "$w"
}

build_kwok() {
  [ -x "$bin/kwok" ] && return 0
  log "building kwok v$KWOK_VERSION"
  local w; w="$(mktemp -d)"
  (GOBIN="$w" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION")
  mv "$w/kwok" "$bin/kwok"
  rm -rf "$w"
}

fetch_crds() {
  [ -e "$crds/.complete" ] && return 0
  log "prometheus-operator v$PROMETHEUS_OPERATOR_VERSION CRDs"
  local src
  src="$(go_mod_dir "github.com/prometheus-operator/prometheus-operator@v$PROMETHEUS_OPERATOR_VERSION")"
  cp "$src"/example/prometheus-operator-crd/monitoring.coreos.com_*.yaml "$crds/"
  chmod u+w "$crds"/*.yaml
  touch "$crds/.complete"
}

# kwok's default "fast" stages (kustomize/stage/fast in its module): node initialise, node heartbeat with lease, pod
# ready, pod complete, pod delete.  kwok exits with "no stages found" without them.
kwok_stages() {
  [ -s "$dir/kwok-stages.yaml" ] && return 0
  local src s first=1
  src="$(go_mod_dir "sigs.k8s.io/kwok@v$KWOK_VERSION")/kustomize/stage"
  for s in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    [ $first = 1 ] || echo "---"
    first=0
    cat "$src/$s"
  done >"$dir/kwok-stages.yaml.tmp"
  mv "$dir/kwok-stages.yaml.tmp" "$dir/kwok-stages.yaml"
}

fetch_crds
kwok_stages
timed etcd build_etcd
for b in "${k8s_binaries[@]}"; do timed "$b" build_k8s "$b"; done
timed kwok build_kwok
gobuild_cleanup
complete
echo "$dir"
