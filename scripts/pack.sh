#!/usr/bin/env bash
# Packs every public (not "private") workspace package into <dir>, one .tgz
# each, as a user installs them: `npm install <dir>/*.tgz`. `pnpm pack` turns
# `workspace:*` into the version, applies publishConfig (exports point at
# dist only) and copies the root LICENSE into each tarball.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: bash scripts/pack.sh <dir>" >&2
  exit 2
fi
mkdir -p "$1"
dest="$(cd "$1" && pwd)"
cd "$(dirname "$0")/.."

public=()
for manifest in packages/*/package.json; do
  if ! node -e 'process.exit(JSON.parse(require("fs").readFileSync(process.argv[1])).private ? 0 : 1)' "$manifest"; then
    public+=("$(dirname "$manifest")")
  fi
done
# tsc -b builds what is stale (and what it references), a no-op when dist is up to date;
# the console is a Vite app, built on its own.
compiled=()
for dir in "${public[@]}"; do
  [ "$dir" = packages/console ] || compiled+=("$dir")
done
pnpm exec tsc -b "${compiled[@]}"
pnpm --filter @drover/console build >/dev/null

for dir in "${public[@]}"; do
  (cd "$dir" && pnpm pack --pack-destination "$dest" >/dev/null)
  echo "packed $dir"
done
