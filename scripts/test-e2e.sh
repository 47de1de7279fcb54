#!/usr/bin/env bash
# The real-engine tests: installs what is missing, builds the toolchain (cached: minutes cold, seconds warm), runs
# every operator workflow through the Automation API against the reference workloads and local SSH nodes.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
# The project's one Node version (.node-version) for everything below, the engine's plugins included.
source scripts/node.sh
bash scripts/setup.sh
bash scripts/build-toolchain.sh >/dev/null
npx mocha --config .mocharc.e2e.js "$@"
