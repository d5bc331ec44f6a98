#!/usr/bin/env bash
# Installs what Drover needs on a fresh Debian machine, then the workspace.
# Idempotent: what is already there is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

packages=()
command -v nats-server >/dev/null 2>&1 || packages+=(nats-server)
# libfaketime: the clock-fault tests step a Drover process's wall clock with it.
command -v faketime >/dev/null 2>&1 || packages+=(faketime)
# openssl: the NATS TLS test makes its own certificate authority and server certificate.
command -v openssl >/dev/null 2>&1 || packages+=(openssl)
# script (bsdutils, essential on Debian): the `drover up` log test gives it a terminal.
command -v script >/dev/null 2>&1 || packages+=(bsdutils)
# chromium: the console's browser tests drive Debian's build with playwright-core
# (Playwright's own browser download does not work on a closed network).
[ -x /usr/bin/chromium ] || packages+=(chromium)
if ! command -v pg_config >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  packages+=(postgresql)
fi
if [ ${#packages[@]} -gt 0 ]; then
  echo "setup: installing ${packages[*]} from Debian's packages"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${packages[@]}" >/dev/null
fi
# The test Postgres runs as the `postgres` user when we are root (initdb refuses root).
if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --user-group --no-create-home postgres
fi

if ! command -v pnpm >/dev/null 2>&1; then
  echo "setup: installing pnpm 10"
  npm install -g pnpm@10 >/dev/null
fi

pnpm install --frozen-lockfile --reporter=silent
pnpm run --silent build
