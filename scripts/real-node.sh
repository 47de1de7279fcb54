#!/usr/bin/env bash
# A real Kubernetes node on this machine, joined to a running control plane (reference/controlPlane.ts): containerd
# with a private config, runc, bridge + host-local CNI, kubelet, kube-proxy (iptables) and CoreDNS as cluster DNS.
# Pods really run, in containers; Services route through kube-proxy; `<svc>.<ns>.svc.cluster.local` resolves.
#
#   real-node.sh up --kubeconfig FILE   starts it (after cleaning up what a crashed or killed earlier run left)
#   real-node.sh down                   stops it and puts the host back as it was before `up`
#   real-node.sh status                 prints whether it runs; exit 1 when it does not
#
# Parts (scripts/build-node.sh builds or installs them, cached): containerd, runc, CNI plugins and iptables from
# Debian; kubelet, kube-proxy (KUBERNETES_VERSION) and CoreDNS (COREDNS_VERSION) from Go modules; a static pause
# image imported with `ctr -n k8s.io images import`.
#
# The node: name agenc-real-node, address the machine's first non-loopback IPv4 address, taint
# agenc.test/real-node=true:NoSchedule (pods that should run here tolerate it and select
# kubernetes.io/hostname=agenc-real-node; the kwok nodes of the same control plane take everything else), pod CIDR
# 10.88.0.0/16 on bridge agenc0, cluster DNS 10.96.0.10 (Service kube-system/kube-dns, whose endpoint is CoreDNS on the
# node's address, port 53).  Forwarded traffic from pods is dropped unless it stays on agenc0 (chain AGENC-NODE):
# pods reach each other, Services and this machine's addresses, nothing beyond it.
#
# What `up` changes on the host, and `down` undoes (also after a crash: `up` runs `down` first when a state file is
# left):
#   - sysctls: the kubelet sets vm.overcommit_memory, kernel.panic, kernel.panic_on_oops; the bridge turns on
#     net.ipv4.ip_forward; kube-proxy may touch route_localnet and conntrack.  Each value is recorded before anything
#     changes, in $STATE_FILE, and written back;
#   - iptables (nft and legacy, IPv4 and IPv6): every KUBE-*, CNI-* and AGENC-* chain and the rules that jump to them;
#   - the bridge agenc0 and the route of the Service range through it; pod network namespaces;
#   - mounts under $RUN_DIR (overlay rootfs, shm, projected volumes, network namespaces);
#   - cgroups /agenc-real-node in every hierarchy (cgroupfs driver; every process in them is killed first);
#   - containerd's shims (found by the private socket in their command line), by PID;
#   - /var/log/containers, /var/log/pods, /run/containerd when they did not exist before.
# Everything else (containerd's root and state, kubelet's root, configs, logs) lives in $RUN_DIR, removed by `down`;
# the last run's logs are copied to $LOG_KEEP_DIR.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/scripts/versions.env"

RUN_DIR="${REAL_NODE_RUN_DIR:-/run/agenc-real-node}"
STATE_FILE="${RUN_DIR}.host-state"
LOG_KEEP_DIR="${REAL_NODE_LOG_DIR:-/tmp/agenc-real-node-logs}"
NODE_NAME=agenc-real-node
BRIDGE=agenc0
POD_CIDR=10.88.0.0/16
SERVICE_CIDR=10.96.0.0/16
CLUSTER_DNS=10.96.0.10
CGROUP_ROOT=/agenc-real-node
TAINT="agenc.test/real-node=true:NoSchedule"
SYSCTLS=(vm.overcommit_memory kernel.panic kernel.panic_on_oops net.ipv4.ip_forward net.ipv4.conf.all.route_localnet
  net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables net.netfilter.nf_conntrack_max
  net.netfilter.nf_conntrack_tcp_timeout_established net.netfilter.nf_conntrack_tcp_timeout_close_wait)
HOST_PATHS=(/var/log/containers /var/log/pods /run/containerd)
CHAIN_PREFIXES='^(KUBE-|CNI-|AGENC-)'

log() { echo "[real-node] $*" >&2; }
die() { log "$*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

[ "$(id -u)" -eq 0 ] || die "needs root (containers, iptables, sysctls)"

node_ip() { ip -4 -o addr show scope global | awk '{ split($4, a, "/"); print a[1]; exit }'; }

sysctl_path() { echo "/proc/sys/${1//.//}"; }

# ---------------------------------------------------------------------------------------------------------- down
kill_pids() { # kill_pids SIGNAL PID...: sends SIGNAL, waits up to 2 s for them to go, then SIGKILL for those left
  local sig="$1" p left=(); shift
  [ $# -gt 0 ] || return 0
  for p in "$@"; do kill "-$sig" "$p" 2>/dev/null || true; done
  for _ in $(seq 20); do
    left=(); for p in "$@"; do [ -d "/proc/$p" ] && [ "$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null)" != Z ] && left+=("$p"); done
    [ ${#left[@]} -eq 0 ] && return 0
    sleep 0.1
  done
  for p in "${left[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
}

daemon_pids() { # the PIDs recorded by `up` that are still the processes it started
  local f pid
  for f in "$RUN_DIR"/pids/*.pid; do
    [ -e "$f" ] || continue
    pid="$(cat "$f")"
    [ -d "/proc/$pid" ] && grep -qa "$RUN_DIR" "/proc/$pid/cmdline" && echo "$pid"
  done
  return 0
}

shim_pids() { # containerd shims of this node's containerd (their command line names its socket)
  local d
  for d in /proc/[0-9]*; do
    grep -qa -- "$RUN_DIR/containerd.sock" "$d/cmdline" 2>/dev/null && grep -qa containerd-shim "$d/cmdline" 2>/dev/null && echo "${d#/proc/}"
  done
  return 0
}

cgroup_pids() { # every process in a cgroup under $CGROUP_ROOT, in any hierarchy
  local h
  for h in /sys/fs/cgroup/*/; do
    [ -d "$h${CGROUP_ROOT#/}" ] && find "$h${CGROUP_ROOT#/}" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -u
}

remove_cgroups() {
  local h
  for h in /sys/fs/cgroup/*/; do
    [ -d "$h${CGROUP_ROOT#/}" ] || continue
    find "$h${CGROUP_ROOT#/}" -depth -type d -exec rmdir {} + 2>/dev/null || true
    [ -d "$h${CGROUP_ROOT#/}" ] && log "could not remove cgroup $h${CGROUP_ROOT#/}"
  done
  return 0
}

unmount_under() { # unmount_under DIR: every mount point at or below DIR, deepest first
  local m
  for _ in 1 2 3; do
    mapfile -t mounts < <(awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r)
    [ ${#mounts[@]} -eq 0 ] && return 0
    for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  done
  awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print "[real-node] still mounted: " $5 }' /proc/self/mountinfo >&2
}

iptables_cleanup() { # removes every KUBE-*/CNI-*/AGENC-* chain and the rules that jump to them, in every backend
  local tool save restore table dump chains
  for tool in iptables-nft ip6tables-nft iptables-legacy ip6tables-legacy; do
    command -v "$tool" >/dev/null 2>&1 || continue
    save="${tool}-save"; restore="${tool}-restore"
    dump="$("$save" 2>/dev/null)" || continue
    [ -n "$dump" ] || continue
    for table in $(sed -n 's/^\*//p' <<<"$dump"); do
      chains="$(awk -v t="$table" '/^\*/ { cur = substr($0, 2) } cur == t && /^:/ { print substr($1, 2) }' <<<"$dump" |
        grep -E "$CHAIN_PREFIXES" || true)"
      [ -n "$chains" ] || continue
      {
        echo "*$table"
        # Rules of other chains that jump to ours: deleted by their exact spec.
        awk -v t="$table" -v re="$CHAIN_PREFIXES" '/^\*/ { cur = substr($0, 2) }
          cur == t && /^-A / && $2 !~ re { for (i = 3; i <= NF; i++) if (($i == "-j" || $i == "-g") && $(i + 1) ~ re) { sub(/^-A /, "-D "); print; break } }' <<<"$dump"
        sed 's/^/-F /' <<<"$chains"
        sed 's/^/-X /' <<<"$chains"
        echo "COMMIT"
      } | "$restore" --noflush || log "$tool: could not remove chains of table $table"
    done
  done
}

nft_cleanup() { # nft_cleanup "family:name,...": deletes the nf_tables tables not in that list that hold no rule (the
                # ones iptables-nft created for the kubelet and kube-proxy, emptied by iptables_cleanup)
  command -v nft >/dev/null 2>&1 || return 0
  local t
  for t in $(nft list tables | sed 's/^table //' | tr ' ' ':'); do
    case ",$1" in *",$t,"*) continue ;; esac
    if nft list table "${t%%:*}" "${t#*:}" | grep -vqE '^[[:space:]]*(table |chain |type |\}|$)'; then
      log "nf_tables table ${t/:/ } holds rules that are not the node's: kept"
    else
      nft delete table "${t%%:*}" "${t#*:}"
    fi
  done
}

down() {
  local started; started="$(now)"
  [ -e "$STATE_FILE" ] || [ -d "$RUN_DIR" ] || { log "nothing to clean up"; return 0; }
  # Daemons first (kubelet stops restarting containers), then every container process and shim, then containerd.
  local pids
  mapfile -t pids < <(daemon_pids)
  [ ${#pids[@]} -gt 0 ] && log "stopping ${#pids[@]} daemons"
  local kubelet=() others=()
  for p in "${pids[@]}"; do if grep -qa kubelet "/proc/$p/cmdline"; then kubelet+=("$p"); else others+=("$p"); fi; done
  kill_pids TERM "${kubelet[@]}"
  local phases="kubelet $(since "$started")"
  local containerd=() rest=()
  for p in "${others[@]}"; do if grep -qa '^/usr/bin/containerd' "/proc/$p/cmdline" 2>/dev/null; then containerd+=("$p"); else rest+=("$p"); fi; done
  # kube-proxy and CoreDNS keep no state worth a graceful stop (CoreDNS would wait 5 s on SIGTERM).
  kill_pids KILL "${rest[@]}"
  phases="$phases, kube-proxy+coredns $(since "$started")"
  for _ in 1 2 3; do
    mapfile -t pids < <(cgroup_pids)
    [ ${#pids[@]} -eq 0 ] && break
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    sleep 0.2
  done
  phases="$phases, containers $(since "$started")"
  # The shims, their containers gone, only wait for containerd to reap them: killed, like their state below.
  mapfile -t pids < <(shim_pids)
  kill_pids KILL "${pids[@]}"
  kill_pids TERM "${containerd[@]}"
  phases="$phases, shims+containerd $(since "$started")"
  # The Node object and the cluster DNS endpoints, when the control plane is still there.
  if [ -s "$RUN_DIR/control-plane" ]; then
    local kc kubectl
    read -r kc kubectl <"$RUN_DIR/control-plane"
    if [ -r "$kc" ]; then
      timeout 20 "$kubectl" --kubeconfig "$kc" delete node "$NODE_NAME" --ignore-not-found --wait=false >/dev/null 2>&1 || true
      timeout 20 "$kubectl" --kubeconfig "$kc" -n kube-system delete endpointslice "kube-dns-$NODE_NAME" --ignore-not-found >/dev/null 2>&1 || true
    fi
  fi
  # Pod network namespaces (bind mounts under the state dir) and every other mount under it.
  phases="$phases, api objects $(since "$started")"
  unmount_under "$RUN_DIR"
  remove_cgroups
  ip link show "$BRIDGE" >/dev/null 2>&1 && ip link del "$BRIDGE"
  ip route del "$SERVICE_CIDR" 2>/dev/null || true
  iptables_cleanup
  phases="$phases, mounts+cgroups+links+iptables $(since "$started")"
  if [ -e "$STATE_FILE" ]; then
    local name value path
    while IFS='=' read -r name value; do
      case "$name" in
        sysctl:*) name="${name#sysctl:}"; path="$(sysctl_path "$name")"
          [ -e "$path" ] && [ "$(cat "$path")" != "$value" ] && { echo "$value" >"$path" || log "could not restore $name"; } ;;
        path:*) [ "$value" = absent ] && rm -rf "${name#path:}" ;;
        nft:tables) nft_cleanup "$value" ;;
      esac
    done <"$STATE_FILE"
  fi
  if [ -d "$RUN_DIR/logs" ]; then rm -rf "$LOG_KEEP_DIR"; cp -r "$RUN_DIR/logs" "$LOG_KEEP_DIR"; fi
  rm -rf "$RUN_DIR"
  rm -f "$STATE_FILE"
  log "down in $(since "$started") s ($phases) (logs of the last run: $LOG_KEEP_DIR)"
}

# ------------------------------------------------------------------------------------------------------------ up
record_host() { # the original values, before anything changes; kept until a clean `down`
  local s path tmp="$STATE_FILE.tmp"
  : >"$tmp"
  for s in "${SYSCTLS[@]}"; do
    path="$(sysctl_path "$s")"
    [ -e "$path" ] && echo "sysctl:$s=$(cat "$path")" >>"$tmp"
  done
  command -v nft >/dev/null 2>&1 && echo "nft:tables=$(nft list tables | sed 's/^table //' | tr ' ' ':' | sort | tr '\n' ',')" >>"$tmp"
  for path in "${HOST_PATHS[@]}"; do
    if [ -e "$path" ]; then echo "path:$path=present" >>"$tmp"; else echo "path:$path=absent" >>"$tmp"; fi
  done
  mv "$tmp" "$STATE_FILE"
}

start_daemon() { # start_daemon NAME CMD...: in the background, its own session, output in logs/NAME.log
  local name="$1"; shift
  setsid "$@" </dev/null >>"$RUN_DIR/logs/$name.log" 2>&1 8>&- &
  echo $! >"$RUN_DIR/pids/$name.pid"
}

wait_for() { # wait_for WHAT SECONDS NAME CMD...: polls CMD every 0.1 s; fails with NAME's log tail
  local what="$1" seconds="$2" name="$3" i; shift 3
  for ((i = 0; i < seconds * 10; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    if [ -n "$name" ] && ! kill -0 "$(cat "$RUN_DIR/pids/$name.pid")" 2>/dev/null; then
      tail -30 "$RUN_DIR/logs/$name.log" >&2; die "$what: $name exited"
    fi
    sleep 0.1
  done
  [ -n "$name" ] && tail -30 "$RUN_DIR/logs/$name.log" >&2
  die "$what: not within $seconds s"
}

up() {
  local kubeconfig=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --kubeconfig) kubeconfig="$2"; shift 2 ;;
      *) die "unknown argument $1" ;;
    esac
  done
  [ -n "$kubeconfig" ] && [ -r "$kubeconfig" ] || die "up needs --kubeconfig FILE (an admin kubeconfig of the control plane)"
  kubeconfig="$(readlink -f "$kubeconfig")"
  local started; started="$(now)"
  local dir k8s_dir
  dir="$(bash "$here/scripts/build-node.sh" | tail -1)"
  k8s_dir="$(bash "$here/scripts/build-k8s.sh" | tail -1)"
  local bin="$dir/bin" kubectl="$k8s_dir/bin/kubectl"
  if [ -n "$(daemon_pids 2>/dev/null)" ]; then die "a real node is already running ($RUN_DIR); run: $0 down"; fi
  if [ -e "$STATE_FILE" ] || [ -d "$RUN_DIR" ]; then
    log "an earlier run left state behind ($STATE_FILE): cleaning up first"
    down
  fi
  record_host
  # A failed start stops what it started and puts the host back (the logs stay in $LOG_KEEP_DIR).
  up_done=0
  trap 'if [ "$up_done" != 1 ]; then set +e; log "start failed: cleaning up"; down; fi' EXIT
  local ip ca
  ip="$(node_ip)"
  [ -n "$ip" ] || die "no non-loopback IPv4 address"
  ca="$(node -e 'const k = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    process.stdout.write(k.clusters[0].cluster["certificate-authority"] ?? "")' "$kubeconfig")"
  [ -r "$ca" ] || die "the kubeconfig names no readable certificate-authority file"
  mkdir -p "$RUN_DIR"/{logs,pids,containerd/root,containerd/state,cni/net.d,cni/ipam,kubelet,pod-logs,coredns}
  chmod 700 "$RUN_DIR"

  # --- containerd: private root, state, sockets; CRI with overlayfs and restrict_oom_score_adj (root here lacks
  # CAP_SYS_RESOURCE: without it every sandbox fails with "can't get final child's PID from pipe").
  cat >"$RUN_DIR/containerd/config.toml" <<TOML
version = 2
root = "$RUN_DIR/containerd/root"
state = "$RUN_DIR/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$RUN_DIR/containerd.sock"
[ttrpc]
  address = "$RUN_DIR/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$RUN_DIR/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:agenc"
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$RUN_DIR/cni/net.d"
TOML
  cat >"$RUN_DIR/cni/net.d/10-agenc.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "agenc-real-node",
  "plugins": [
    { "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "ranges": [[{ "subnet": "$POD_CIDR" }]], "routes": [{ "dst": "0.0.0.0/0" }],
                "dataDir": "$RUN_DIR/cni/ipam" } }
  ]
}
JSON
  local t; t="$(now)"
  start_daemon containerd /usr/bin/containerd --config "$RUN_DIR/containerd/config.toml"
  ctr() { command ctr --address "$RUN_DIR/containerd.sock" "$@"; }
  wait_for "containerd serving" 30 containerd ctr version
  ctr -n k8s.io images import "$dir/pause.tar" >/dev/null
  log "containerd up, pause imported in $(since "$t") s"

  # --- kubelet: cgroup v1 without systemd (cgroupfs, failCgroupV1: false), pods under $CGROUP_ROOT.
  local h
  for h in /sys/fs/cgroup/*/; do
    [ -e "$h/cgroup.procs" ] && [ "$(basename "$h")" != unified ] && mkdir -p "$h${CGROUP_ROOT#/}"
  done
  cat >"$RUN_DIR/kubelet/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
failCgroupV1: false
cgroupRoot: $CGROUP_ROOT
containerRuntimeEndpoint: unix://$RUN_DIR/containerd.sock
address: $ip
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $ca }
authorization: { mode: Webhook }
clusterDNS: [$CLUSTER_DNS]
clusterDomain: cluster.local
resolvConf: ""
failSwapOn: false
podLogsDir: $RUN_DIR/pod-logs
registerWithTaints:
  - { key: agenc.test/real-node, value: "true", effect: NoSchedule }
evictionHard: { memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%" }
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
maxPods: 110
serializeImagePulls: false
YAML
  # A Node object left by an earlier run would show its stale Ready status: the kubelet registers afresh.
  "$kubectl" --kubeconfig "$kubeconfig" delete node "$NODE_NAME" --ignore-not-found --wait=true --timeout=30s >/dev/null
  echo "$kubeconfig $kubectl" >"$RUN_DIR/control-plane"
  t="$(now)"
  start_daemon kubelet "$bin/kubelet" --config="$RUN_DIR/kubelet/config.yaml" --kubeconfig="$kubeconfig" \
    --root-dir="$RUN_DIR/kubelet" --cert-dir="$RUN_DIR/kubelet/pki" --node-ip="$ip" --hostname-override="$NODE_NAME" \
    --node-labels="agenc.test/real-node=true" --v=1

  # --- kube-proxy (iptables), leaving conntrack and route_localnet alone.
  cat >"$RUN_DIR/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: { kubeconfig: $kubeconfig }
mode: iptables
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
bindAddress: $ip
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
iptables: { localhostNodePorts: false, masqueradeAll: false }
nodePortAddresses: ["$ip/32"]
YAML
  start_daemon kube-proxy "$bin/kube-proxy" --config="$RUN_DIR/kube-proxy.yaml" --v=1

  # --- CoreDNS on the node's address, port 53, as the endpoint of Service kube-system/kube-dns ($CLUSTER_DNS).
  cat >"$RUN_DIR/coredns/Corefile" <<COREFILE
.:53 {
    bind $ip
    errors
    health 127.0.0.1:10254
    ready 127.0.0.1:10253
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $kubeconfig
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
    loadbalance
}
COREFILE
  start_daemon coredns "$bin/coredns" -conf "$RUN_DIR/coredns/Corefile"
  "$kubectl" --kubeconfig "$kubeconfig" apply --server-side --force-conflicts --field-manager=agenc-real-node -f - >/dev/null <<JSON
{"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kube-dns", "namespace": "kube-system",
    "labels": {"k8s-app": "kube-dns"}},
   "spec": {"clusterIP": "$CLUSTER_DNS", "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
     {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]}},
  {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "kube-dns-$NODE_NAME",
    "namespace": "kube-system", "labels": {"kubernetes.io/service-name": "kube-dns",
    "endpointslice.kubernetes.io/managed-by": "agenc-real-node"}},
   "addressType": "IPv4", "endpoints": [{"addresses": ["$ip"], "conditions": {"ready": true}, "nodeName": "$NODE_NAME"}],
   "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]}
]}
JSON

  node_ready() {
    "$kubectl" --kubeconfig "$kubeconfig" get node "$NODE_NAME" \
      -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null | grep -qx True
  }
  wait_for "node $NODE_NAME Ready" 120 kubelet node_ready
  # The bridge exists once the first pod is networked; the Service range goes through it from the start, so that
  # traffic to a Service without endpoints stays on this machine.
  ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" type bridge
  ip link set "$BRIDGE" up
  ip route replace "$SERVICE_CIDR" dev "$BRIDGE"
  # Forwarded traffic from pods stays on the bridge (pod to pod, pod to Service); beyond it, dropped.
  iptables -N AGENC-NODE 2>/dev/null || iptables -F AGENC-NODE
  iptables -A AGENC-NODE -i "$BRIDGE" ! -o "$BRIDGE" -j DROP
  iptables -C FORWARD -j AGENC-NODE 2>/dev/null || iptables -I FORWARD 1 -j AGENC-NODE
  wait_for "kube-proxy healthy" 60 kube-proxy curl -sf http://127.0.0.1:10256/healthz
  wait_for "CoreDNS ready" 60 coredns curl -sf http://127.0.0.1:10253/ready
  up_done=1
  log "node $NODE_NAME Ready at $ip in $(since "$t") s after kubelet start; up in $(since "$started") s ($RUN_DIR)"
  echo "$NODE_NAME $ip"
}

status() {
  if [ -n "$(daemon_pids)" ]; then echo "running ($RUN_DIR)"; else echo "not running"; return 1; fi
}

lock() { # one up or down at a time (the daemons never inherit the lock's descriptor)
  exec 8>"${RUN_DIR}.lock"
  flock -w 120 8 || die "another real-node.sh holds ${RUN_DIR}.lock"
}
case "${1:-}" in
  up) shift; lock; up "$@" ;;
  down) lock; down ;;
  status) status ;;
  *) die "usage: $0 up --kubeconfig FILE | down | status" ;;
esac
