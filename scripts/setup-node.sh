#!/usr/bin/env bash
# Makes sure every Hindsight process can run on the supported Node.js LTS and prints the path of
# the node binary to use. When the machine's node is older than the LTS, the official binary is
# brought from the npm registry (the node-<os>-<arch> package ships it unchanged) into .node/, the
# only network this needs. npm checks the tarball against the registry's sha512. A second run costs
# two `node --version` calls.
set -euo pipefail
cd "$(dirname "$0")/.."
NODE_LTS_MAJOR=24
NODE_LTS_VERSION=24.22.3
project_node=$PWD/.node/bin/node

say() { printf '[setup] %s\n' "$*" >&2; }
fail() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }
major_of() { local v; v=$("$1" --version 2>/dev/null) || return 1; v=${v#v}; echo "${v%%.*}"; }

# The machine's node when it is already on the LTS line or newer (PATH may hold .node/bin first).
machine_node=$(command -v node || true)
if [ -n "$machine_node" ] && [ "$machine_node" != "$project_node" ] && [ "$(major_of "$machine_node" || echo 0)" -ge "$NODE_LTS_MAJOR" ]; then
  echo "$machine_node"
  exit 0
fi
if [ -x "$project_node" ] && [ "$("$project_node" --version 2>/dev/null)" = "v$NODE_LTS_VERSION" ]; then
  echo "$project_node"
  exit 0
fi

case "$(uname -s)" in Linux) os=linux ;; Darwin) os=darwin ;; *) fail "no Node.js package for $(uname -s): install Node.js $NODE_LTS_MAJOR from nodejs.org" ;; esac
case "$(uname -m)" in x86_64) arch=x64 ;; aarch64 | arm64) arch=arm64 ;; *) fail "no Node.js package for $(uname -m): install Node.js $NODE_LTS_MAJOR from nodejs.org" ;; esac
command -v npm >/dev/null || fail "npm is needed once to fetch Node.js $NODE_LTS_VERSION: install npm, or Node.js $NODE_LTS_MAJOR itself"
say "fetching Node.js $NODE_LTS_VERSION (node-$os-$arch from the npm registry) into .node/"
mkdir -p .node
tmp=$(mktemp -d .node/fetch.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
npm pack --silent --pack-destination "$tmp" "node-$os-$arch@$NODE_LTS_VERSION" >/dev/null \
  || fail "cannot fetch node-$os-$arch@$NODE_LTS_VERSION from the npm registry: check the network or npm's registry setting"
tar -xzf "$tmp"/node-*.tgz -C "$tmp" package/bin/node package/LICENSE
# World-readable and executable: PostgreSQL runs restore_command (bin/hindsight-wal-fetch.mjs) with
# this node as its own OS user.
chmod 755 .node "$tmp/package/bin/node"
mkdir -p -m 755 .node/bin
mv "$tmp/package/LICENSE" .node/LICENSE
mv -f "$tmp/package/bin/node" "$project_node"
[ "$("$project_node" --version)" = "v$NODE_LTS_VERSION" ] || fail "$project_node does not run: remove .node/ and run npm run setup again"
echo "$project_node"
