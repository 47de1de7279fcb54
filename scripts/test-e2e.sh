#!/usr/bin/env bash
# The real-engine tests: installs what is missing, builds the toolchain (cached: minutes cold, seconds warm), runs
# every operator workflow through the Automation API against the reference workloads and local SSH nodes, and the
# Kubernetes half under its real provider against the test control plane.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
# The project's one Node version (.node-version) for everything below, the engine's plugins included.
source scripts/node.sh
bash scripts/setup.sh
bin="$(bash scripts/build-toolchain.sh | tail -1)"
# The Kubernetes provider plugin and the control plane for test/e2e/kubernetes.e2e.ts (cold: about 12 and 9 min of
# CPU; warm: under a second), when that file runs: every file by default, or named.
wants_k8s=1
for a in "$@"; do case "$a" in *.e2e.ts) wants_k8s=0 ;; esac; done
for a in "$@"; do case "$a" in *kubernetes.e2e.ts) wants_k8s=1 ;; esac; done
if [ "$wants_k8s" = 1 ]; then
  bash scripts/build-k8s.sh >/dev/null
  bash scripts/build-k8s-provider.sh "$bin" >/dev/null
fi
# crane and cosign (scripts/build-signing.sh, cached) for the suites that sign and verify a release: signing.e2e, and
# kubernetes.e2e (production requires signed images).
wants_signing=1
for a in "$@"; do case "$a" in *.e2e.ts) wants_signing=0 ;; esac; done
for a in "$@"; do case "$a" in *signing.e2e.ts|*kubernetes.e2e.ts) wants_signing=1 ;; esac; done
if [ "$wants_signing" = 1 ]; then bash scripts/build-signing.sh >/dev/null; fi
npx mocha --config .mocharc.e2e.js "$@"
