#!/usr/bin/env bash
# The project's test command: installs what is missing (idempotent), builds the test control plane, the real node
# and the signing tools (cached),
# type-checks, runs every mocha suite — the unit tier (*.test.ts) and the integration suites (*.int.test.ts).
#   npm test                          everything, as two streams at once (below)
#   npm test -- test/a.int.test.ts    only the named files (mocha arguments), in one stream
#   MOCHA_JOBS=n                      workers of the parallel stream (default: the cores, at least 2)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
# The project's one Node version (.node-version) for everything below, the engine's plugins included.
source scripts/node.sh
bash scripts/setup.sh
# The Kubernetes control plane of test/k8s (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl,
# kwok, prometheus-operator's CRDs), built from Go modules into a cache keyed by version: cold about 15 min on 2
# cores, warm under a second.
bash scripts/build-k8s.sh >/dev/null
# The real node of test/node (kubelet, kube-proxy and CoreDNS from Go modules, reusing the control plane's Go build
# cache; containerd, runc and the CNI plugins from Debian): cold about 6 min of CPU after the control plane, warm a
# file check.  docs/development.md#the-real-node
bash scripts/build-node.sh >/dev/null
# The signing tools of the signature suites (crane and cosign from Go modules, cached by version: cold about
# docs/measurements.md#the-signing-tools, warm a version check); the registry is Debian's, from setup.sh.
bash scripts/build-signing.sh >/dev/null
npx tsc --noEmit -p .
mocha="$here/node_modules/.bin/mocha"
if [ $# -gt 0 ]; then exec "$mocha" "$@"; fi

# Two streams at once:
#  - test/k8s: one mocha process, in series, on the one shared control plane (reference/controlPlane.ts, stopped
#    by the root hook of test/helpers/rootHooks.ts when the run ends).  Not in mocha's parallel mode: there a root
#    hook's afterAll runs once per file, so each k8s file would start and stop a control plane of its own.
#    Its lines are prefixed [k8s].  It runs in a process group of its own, stopped as a whole on Ctrl-C.
#  - every other suite in mocha's parallel mode, one file per worker: the suites share no ports (each server takes
#    a free one, seed 000's fixed ports are in a network namespace of their own) and no state on disk (temporary
#    folders), and most of their time is spent waiting on the servers and processes they start.
jobs="${MOCHA_JOBS:-$(node -p 'Math.max(2, require("os").availableParallelism())')}"
setsid "$mocha" 'test/k8s/**/*.test.ts' > >(sed -u 's/^/[k8s] /') 2>&1 &
k8s=$!
trap 'kill -TERM -- "-$k8s" 2>/dev/null || true' INT TERM
rc=0
"$mocha" --parallel --jobs "$jobs" 'test/**/*.test.ts' --ignore 'test/k8s/**' || rc=$?
k8s_rc=0
wait "$k8s" || k8s_rc=$?
trap - INT TERM
if [ "$k8s_rc" -ne 0 ]; then echo "[k8s] the test/k8s suites failed (exit $k8s_rc): their report is in the [k8s] lines above" >&2; fi
if [ "$rc" -ne 0 ]; then exit "$rc"; fi
exit "$k8s_rc"
