#!/usr/bin/env bash
# Runs Drover end to end on this machine: installs what is missing, starts a
# whole cluster with `drover up` (spawned nats-server, embedded Postgres, one
# server, two workers), runs a map-reduce job that sums 1..N with the drover
# CLI, follows its progress, checks the result, and stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

N="${DEMO_N:-10000000}"
DATA="$(mktemp -d -t drover-demo-XXXXXX)"
LOG="$DATA/up.log"
drover() { scripts/drover --data-dir "$DATA" "$@"; }
say() { printf '[demo] %s\n' "$*"; }

say "drover up --data-dir $DATA"
scripts/drover --data-dir "$DATA" up --port 0 >"$LOG" 2>&1 &
UP=$!
cleanup() {
  kill -INT "$UP" 2>/dev/null && wait "$UP" 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT
until grep -q 'Ctrl-C stops everything' "$LOG"; do
  kill -0 "$UP" 2>/dev/null || { cat "$LOG"; say "drover up failed"; exit 1; }
  sleep 0.2
done
sed 's/^/    /' "$LOG"

say "drover job create --name sum --processor sum-range --execute MAP_REDUCE --concurrency 4"
JOB=$(drover --json job create --name sum --processor sum-range --execute MAP_REDUCE --concurrency 4 |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).id))')
say "drover job run $JOB --params '{\"n\":$N,\"chunk\":50000}' --wait"
RESULT=$(drover --json job run "$JOB" --params "{\"n\":$N,\"chunk\":50000}" --wait |
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).result))')
EXPECTED=$(node -e "console.log(String(BigInt($N) * BigInt($N + 1) / 2n))")
say "drover worker list"
drover worker list | sed 's/^/    /'
if [ "$RESULT" = "$EXPECTED" ]; then
  say "sum of 1..$N = $RESULT: VERIFIED (expected $EXPECTED)"
else
  say "sum of 1..$N = $RESULT: WRONG (expected $EXPECTED)"
  exit 1
fi
say "stopping the cluster"
