#!/usr/bin/env bash
# The project's test command: installs what is missing (idempotent), type-checks, runs every mocha suite.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
# The project's one Node version (.node-version) for everything below, the engine's plugins included.
source scripts/node.sh
bash scripts/setup.sh
npx tsc --noEmit -p .
npx mocha "$@"
