#!/usr/bin/env bash
# Runs a command with the project's one Node version (.node-version) first on PATH (see scripts/node.sh); the npm
# scripts that run the program or the engine go through it.
set -euo pipefail
source "$(cd "$(dirname "$0")" && pwd)/node.sh"
exec "$@"
