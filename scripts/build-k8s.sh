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
export GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0 GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

log() { echo "[k8s] $*" >&2; }
k8s_binaries=(kube-apiserver kube-controller-manager kube-scheduler kubectl)

complete() {
  local b
  for b in etcd kwok "${k8s_binaries[@]}"; do [ -x "$bin/$b" ] || return 1; done
  [ -e "$crds/.complete" ] && [ -s "$dir/kwok-stages.yaml" ]
}

if complete; then echo "$dir"; exit 0; fi

exec 9>"$root/.build.lock"
if ! flock -n 9; then
  log "another build holds $root/.build.lock; waiting for it"
  flock 9
fi
if complete; then echo "$dir"; exit 0; fi

cpu_file="$(mktemp)"
children_cpu() { # children_cpu: user+sys seconds of this shell's finished children, read from `times` (run here, not
                 # in a subshell, so it sees this shell's children)
  awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%d", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$cpu_file"
}

timed() { # timed NAME CMD...: runs CMD when bin/NAME is missing, logs its wall and CPU time
  local name="$1" start end cpu0 cpu1; shift
  [ -x "$bin/$name" ] && return 0
  start=$(date +%s); times >"$cpu_file"; cpu0=$(children_cpu)
  "$@"
  end=$(date +%s); times >"$cpu_file"; cpu1=$(children_cpu)
  log "built $name in $((end - start)) s wall, $((cpu1 - cpu0)) s CPU (load average $(cut -d' ' -f1 /proc/loadavg))"
  echo "$name wall=$((end - start))s cpu=$((cpu1 - cpu0))s" >>"$dir/build-times.txt"
}

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

k8s_wrapper=""
k8s_module() {
  [ -n "$k8s_wrapper" ] && return 0
  k8s_wrapper="$(mktemp -d)"
  local gomod minor="${KUBERNETES_VERSION#1.}"
  gomod="$(go mod download -json "k8s.io/kubernetes@v$KUBERNETES_VERSION" | node -e \
    'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).GoMod))')"
  {
    echo "module agenc.local/kubernetes"
    echo
    echo "go 1.25"
    echo
    echo "require k8s.io/kubernetes v$KUBERNETES_VERSION"
    echo
    echo "replace ("
    # Every `k8s.io/x => ./staging/src/k8s.io/x` of kubernetes' own go.mod becomes `k8s.io/x => k8s.io/x v0.<minor>`.
    sed -n 's#^[[:space:]]*\(k8s\.io/[^ ]*\) => \./staging/src/.*#\t\1 => \1 v0.'"$minor"'#p' "$gomod"
    echo ")"
  } >"$k8s_wrapper/go.mod"
  {
    echo "//go:build tools"
    echo
    echo "package tools"
    echo
    echo "import ("
    local b; for b in "${k8s_binaries[@]}"; do echo "	_ \"k8s.io/kubernetes/cmd/$b\""; done
    echo ")"
  } >"$k8s_wrapper/tools.go"
  log "wrapper module for k8s.io/kubernetes v$KUBERNETES_VERSION ($(grep -c ' => k8s.io/' "$k8s_wrapper/go.mod") staging replaces)"
  (cd "$k8s_wrapper" && go mod tidy >&2)
}

build_k8s() { # build_k8s NAME
  local name="$1"
  [ -x "$bin/$name" ] && return 0
  k8s_module
  log "building $name v$KUBERNETES_VERSION"
  local minor="${KUBERNETES_VERSION#1.}"; minor="${minor%%.*}"
  local v="k8s.io/component-base/version" c="k8s.io/client-go/pkg/version"
  local flags="-s -w -X $v.gitVersion=v$KUBERNETES_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor"
  flags="$flags -X $c.gitVersion=v$KUBERNETES_VERSION -X $c.gitMajor=1 -X $c.gitMinor=$minor"
  (cd "$k8s_wrapper" && go build -trimpath -ldflags "$flags" -o "$bin/$name.tmp" "k8s.io/kubernetes/cmd/$name")
  mv "$bin/$name.tmp" "$bin/$name"
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
  src="$(go mod download -json "github.com/prometheus-operator/prometheus-operator@v$PROMETHEUS_OPERATOR_VERSION" | node -e \
    'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).Dir))')"
  cp "$src"/example/prometheus-operator-crd/monitoring.coreos.com_*.yaml "$crds/"
  chmod u+w "$crds"/*.yaml
  touch "$crds/.complete"
}

# kwok's default "fast" stages (kustomize/stage/fast in its module): node initialise, node heartbeat with lease, pod
# ready, pod complete, pod delete.  kwok exits with "no stages found" without them.
kwok_stages() {
  [ -s "$dir/kwok-stages.yaml" ] && return 0
  local src s first=1
  src="$(go mod download -json "sigs.k8s.io/kwok@v$KWOK_VERSION" | node -e \
    'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s).Dir))')/kustomize/stage"
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
[ -n "$k8s_wrapper" ] && rm -rf "$k8s_wrapper"
rm -f "$cpu_file"
complete
echo "$dir"
