#!/usr/bin/env bash
# Builds the parts of a real Kubernetes node (scripts/real-node.sh runs them) and caches them outside the repository,
# keyed by version:
#
#   kubelet, kube-proxy     k8s.io/kubernetes at the control plane's version (KUBERNETES_VERSION), from the same
#                           wrapper module as scripts/build-k8s.sh (scripts/lib/gobuild.sh)
#   coredns                 github.com/coredns/coredns: coremain with the plugins a cluster DNS needs (bind, kubernetes,
#                           forward, cache, errors, health, ready, loadbalance, log, metrics, hosts, loop, reload)
#   pause                   a static Go binary that waits for a signal and reaps children, and its one-layer OCI
#                           archive pause.tar (registry.k8s.io/pause:agenc, imported by real-node.sh)
#   containerd, runc,       Debian's packages, installed with apt-get when missing (CONTAINERD_VERSION, RUNC_VERSION,
#   CNI plugins, iptables,  CNI_PLUGINS_VERSION are their upstream versions: any other refuses to go on); their
#   conntrack, nftables     services are not started (real-node.sh runs containerd with a private config); nft
#                           deletes the empty nf_tables tables iptables-nft leaves behind
#
# Idempotent: a warm run only checks files and packages (well under a second).  Concurrent runs (other worktrees) wait
# on a lock instead of building twice.  Each cold build prints its wall and CPU time.
#
#   REAL_NODE_CACHE_DIR   cache root (default ~/.cache/agenc-deploy/real-node)
#
# Prints the versioned folder as its last line (bin/ and pause.tar inside it).  With --check it builds nothing: exit 0
# and the folder when everything is there, exit 1 and what is missing otherwise (the tests skip on that).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/scripts/versions.env"

root="${REAL_NODE_CACHE_DIR:-$HOME/.cache/agenc-deploy/real-node}"
dir="$root/kubernetes-$KUBERNETES_VERSION-coredns-$COREDNS_VERSION"
bin="$dir/bin"
LOG_PREFIX=node
k8s_binaries=(kubelet kube-proxy)
source "$here/scripts/lib/gobuild.sh"

# Debian packages: command or file that shows each is there, package, upstream version the pin names.
debs=(
  "/usr/bin/containerd containerd $CONTAINERD_VERSION"
  "/usr/sbin/runc runc $RUNC_VERSION"
  "/usr/lib/cni/bridge containernetworking-plugins $CNI_PLUGINS_VERSION"
  "/usr/sbin/iptables iptables -"
  "/usr/sbin/conntrack conntrack -"
  "/usr/sbin/nft nftables -"
)

packages_present() {
  local d f
  for d in "${debs[@]}"; do read -r f _ _ <<<"$d"; [ -x "$f" ] || return 1; done
}

complete() {
  local b
  for b in kubelet kube-proxy coredns pause; do [ -x "$bin/$b" ] || return 1; done
  [ -s "$dir/pause.tar" ] && packages_present
}

if complete; then echo "$dir"; exit 0; fi
if [ "${1:-}" = "--check" ]; then
  for b in kubelet kube-proxy coredns pause; do [ -x "$bin/$b" ] || echo "missing $bin/$b"; done
  [ -s "$dir/pause.tar" ] || echo "missing $dir/pause.tar"
  for d in "${debs[@]}"; do read -r f pkg _ <<<"$d"; [ -x "$f" ] || echo "missing $f (Debian package $pkg)"; done
  exit 1
fi
mkdir -p "$bin"
lock_or_wait "$root"
if complete; then echo "$dir"; exit 0; fi

install_packages() {
  packages_present && return 0
  local sudo="" d f pkg want have missing=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { log "installing Debian packages needs root: run as root or install sudo"; exit 1; }
    sudo="sudo"
  fi
  for d in "${debs[@]}"; do read -r f pkg _ <<<"$d"; [ -x "$f" ] || missing+=("$pkg"); done
  log "apt-get install ${missing[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  # policy-rc.d keeps the packages' services (containerd's own, on /run/containerd) from starting.
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null && $sudo chmod +x /usr/sbin/policy-rc.d
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  $sudo rm -f /usr/sbin/policy-rc.d
  for d in "${debs[@]}"; do
    read -r f pkg want <<<"$d"
    [ "$want" = "-" ] && continue
    have="$(dpkg-query -W -f '${Version}' "$pkg")"
    have="${have#*:}"; have="${have%%[~+-]*}"
    if [ "$have" != "$want" ]; then
      log "Debian's $pkg is $have, scripts/versions.env pins $want: change the pin once the node passes its test with it"
      exit 1
    fi
  done
}

build_coredns() {
  [ -x "$bin/coredns" ] && return 0
  log "building coredns v$COREDNS_VERSION"
  local w p; w="$(mktemp -d)"
  cat >"$w/go.mod" <<MOD
module agenc.local/coredns

go 1.26.0

require github.com/coredns/coredns v$COREDNS_VERSION
MOD
  {
    echo "package main"
    echo
    echo "import ("
    echo "	\"github.com/coredns/coredns/coremain\""
    echo
    # The plugins a cluster DNS uses (CoreDNS's own plugin/* packages register themselves); the rest of plugin.cfg
    # (cloud DNS back ends, etcd, …) would multiply the build.
    for p in bind kubernetes forward cache errors health ready loadbalance log metrics hosts loop reload; do
      echo "	_ \"github.com/coredns/coredns/plugin/$p\""
    done
    echo ")"
    echo
    echo "func main() { coremain.Run() }"
  } >"$w/main.go"
  (cd "$w" && go mod tidy >&2 && go build -trimpath -ldflags "-s -w" -o "$bin/coredns.tmp" .)
  mv "$bin/coredns.tmp" "$bin/coredns"
  rm -rf "$w"
}

build_pause() {
  [ -x "$bin/pause" ] && return 0
  log "building pause"
  local w; w="$(mktemp -d)"
  printf 'module agenc.local/pause\n\ngo 1.24\n' >"$w/go.mod"
  cat >"$w/main.go" <<'GO'
// pause: a pod sandbox's first process. It holds the pod's namespaces, reaps orphaned children and exits on
// SIGINT or SIGTERM.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
GO
  (cd "$w" && go build -trimpath -ldflags "-s -w" -o "$bin/pause.tmp" .)
  mv "$bin/pause.tmp" "$bin/pause"
  rm -rf "$w"
}

pause_image() {
  [ -s "$dir/pause.tar" ] && return 0
  local w; w="$(mktemp -d)"
  mkdir -p "$w/rootfs"
  cp "$bin/pause" "$w/rootfs/pause"
  node "$here/scripts/oci-image.js" --rootfs "$w/rootfs" --name "$PAUSE_IMAGE" --entrypoint '["/pause"]' \
    --user 65535:65535 --out "$dir/pause.tar.tmp" >/dev/null
  mv "$dir/pause.tar.tmp" "$dir/pause.tar"
  rm -rf "$w"
}

PAUSE_IMAGE="registry.k8s.io/pause:agenc"
install_packages
timed pause build_pause
pause_image
for b in "${k8s_binaries[@]}"; do timed "$b" build_k8s "$b"; done
timed coredns build_coredns
gobuild_cleanup
complete
echo "$dir"
