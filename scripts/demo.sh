#!/usr/bin/env bash
# Runs Drover end to end on this machine: installs what is missing, then the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
pnpm run --silent demo
