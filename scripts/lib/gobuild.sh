# Sourced by the scripts that build binaries from Go modules into a versioned cache folder (build-k8s.sh,
# build-node.sh).  The caller sets:
#   dir         the versioned cache folder (build-times.txt goes there)
#   bin         where the binaries go
#   LOG_PREFIX  the tag of its log lines, e.g. k8s
#   k8s_binaries  (an array) the k8s.io/kubernetes cmd/ packages it builds, when it builds any
# and sources scripts/versions.env first.  Provides:
#   log MSG...                 a progress line on stderr
#   lock_or_wait ROOT          takes ROOT/.build.lock (fd 9), waiting for another build that holds it
#   timed NAME CMD...          runs CMD when bin/NAME is missing; logs and records its wall and CPU time
#   build_k8s NAME             builds k8s.io/kubernetes/cmd/NAME, its version stamped, from a wrapper module for
#                              k8s.io/kubernetes@v$KUBERNETES_VERSION (made on first use, importing every k8s_binaries)
#   go_mod_dir MODULE@VERSION  the downloaded module's folder
#   gobuild_cleanup            removes the temporary files (call at the end)
export GOFLAGS="${GOFLAGS:--buildvcs=false}" CGO_ENABLED=0 GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

log() { echo "[${LOG_PREFIX:-build}] $*" >&2; }

lock_or_wait() {
  exec 9>"$1/.build.lock"
  if ! flock -n 9; then
    log "another build holds $1/.build.lock; waiting for it"
    flock 9
  fi
}

gobuild_cpu_file=""
children_cpu() { # children_cpu: user+sys seconds of this shell's finished children, read from `times` (run here, not
                 # in a subshell, so it sees this shell's children)
  awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%d", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$gobuild_cpu_file"
}

timed() { # timed NAME CMD...: runs CMD when bin/NAME is missing, logs its wall and CPU time
  local name="$1" start end cpu0 cpu1; shift
  [ -x "$bin/$name" ] && return 0
  [ -n "$gobuild_cpu_file" ] || gobuild_cpu_file="$(mktemp)"
  start=$(date +%s); times >"$gobuild_cpu_file"; cpu0=$(children_cpu)
  "$@"
  end=$(date +%s); times >"$gobuild_cpu_file"; cpu1=$(children_cpu)
  log "built $name in $((end - start)) s wall, $((cpu1 - cpu0)) s CPU (load average $(cut -d' ' -f1 /proc/loadavg))"
  echo "$name wall=$((end - start))s cpu=$((cpu1 - cpu0))s" >>"$dir/build-times.txt"
}

go_mod_field() { # go_mod_field MODULE@VERSION FIELD: a field of `go mod download -json` (Dir, GoMod, …)
  go mod download -json "$1" | node -e \
    'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>process.stdout.write(JSON.parse(s)[process.argv[1]]))' "$2"
}
go_mod_dir() { go_mod_field "$1" Dir; }

k8s_wrapper=""
k8s_module() { # k8s_module: the wrapper module (once per script run), importing each cmd/<k8s_binaries>
  [ -n "$k8s_wrapper" ] && return 0
  k8s_wrapper="$(mktemp -d)"
  local gomod minor="${KUBERNETES_VERSION#1.}" b
  gomod="$(go_mod_field "k8s.io/kubernetes@v$KUBERNETES_VERSION" GoMod)"
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
    for b in "${k8s_binaries[@]}"; do echo "	_ \"k8s.io/kubernetes/cmd/$b\""; done
    echo ")"
  } >"$k8s_wrapper/tools.go"
  log "wrapper module for k8s.io/kubernetes v$KUBERNETES_VERSION ($(grep -c ' => k8s.io/' "$k8s_wrapper/go.mod") staging replaces)"
  (cd "$k8s_wrapper" && go mod tidy >&2)
}

build_k8s() { # build_k8s NAME: k8s.io/kubernetes/cmd/NAME into bin/NAME
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

gobuild_cleanup() {
  [ -n "$k8s_wrapper" ] && rm -rf "$k8s_wrapper"
  k8s_wrapper=""
  [ -n "$gobuild_cpu_file" ] && rm -f "$gobuild_cpu_file"
  gobuild_cpu_file=""
}
