#!/usr/bin/env bash
# Installs what a clean machine lacks: Debian's Prometheus tools (promtool, amtool, a real Prometheus for the gate
# tests), the loopback registry and openssl for the signing tests, and the npm packages.  Idempotent: a second run only checks.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)   # real SSH test nodes on loopback for the node rollout
command -v prometheus-pushgateway >/dev/null 2>&1 || [ -x /usr/bin/prometheus-pushgateway ] || need+=(prometheus-pushgateway)   # deployment records
command -v jq >/dev/null 2>&1 || need+=(jq)        # seed 000's scripts, run as the seed gives them
command -v curl >/dev/null 2>&1 || need+=(curl)
# The OCI registry on loopback for the signing tests and the local default (Debian's distribution 2.8), and openssl,
# which verifies the node binary's signature on the SSH test nodes as on a Debian node (docs/signing.md).
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
if [ ${#need[@]} -gt 0 ]; then
  # Root here and in CI; a hosted runner's user is not root and has password-less sudo.
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "[setup] installing ${need[*]} needs root: run as root or install sudo" >&2; exit 1; }
    sudo="sudo"
  fi
  echo "[setup] apt-get install ${need[*]}${sudo:+ (with sudo)}" >&2
  # --no-install-recommends keeps the Node-based console assets and exporters off; policy-rc.d stops the packages'
  # services from starting (the tests start their own on loopback).
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null && $sudo chmod +x /usr/sbin/policy-rc.d
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  $sudo rm -f /usr/sbin/policy-rc.d
fi
# The project's one Node version (.node-version) first on PATH for npm below and for the caller's steps.
source "$here/scripts/node.sh"
cd "$here"
lock_hash="$(sha256sum package-lock.json | cut -c1-16)"
if [ ! -f node_modules/.lock-hash ] || [ "$(cat node_modules/.lock-hash)" != "$lock_hash" ]; then
  echo "[setup] npm ci" >&2
  npm ci --no-audit --no-fund --ignore-scripts >/dev/null
  echo "$lock_hash" > node_modules/.lock-hash
fi
# The policy pack's own packages (what the engine loads when it runs the pack with --policy-pack policy).
pol_hash="$(sha256sum policy/package-lock.json | cut -c1-16)"
if [ ! -f policy/node_modules/.lock-hash ] || [ "$(cat policy/node_modules/.lock-hash)" != "$pol_hash" ]; then
  echo "[setup] npm ci (policy)" >&2
  (cd policy && npm ci --no-audit --no-fund --ignore-scripts >/dev/null)
  echo "$pol_hash" > policy/node_modules/.lock-hash
fi
# actionlint for the workflow test (built from the Go module proxy, cached).
bash "$here/scripts/build-actionlint.sh" >/dev/null
# kube-score for the manifest lint test (built from the Go module proxy, cached).
bash "$here/scripts/build-kube-score.sh" >/dev/null
