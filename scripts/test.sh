#!/usr/bin/env bash
# The project's test command: installs what is missing (idempotent), builds the test control plane (cached),
# type-checks, runs every mocha suite.
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
npx tsc --noEmit -p .
npx mocha "$@"
