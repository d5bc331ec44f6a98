#!/usr/bin/env bash
# The full test suite on a fresh machine: installs what is missing, then runs
# every test against real nats-server and Postgres processes it starts itself.
# Ends with the line `N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1

results=$(mktemp)
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@"
status=$?
node -e '
  const fs = require("node:fs");
  let passed = 0, failed = 1;
  try {
    const r = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    passed = r.numPassedTests;
    failed = r.numFailedTests + (r.success || r.numFailedTests > 0 ? 0 : 1);
  } catch {}
  console.log(`${passed} passed, ${failed} failed`);
' "$results"
rm -f "$results"
exit $status
