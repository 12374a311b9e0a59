#!/usr/bin/env bash
# Runs every vitest suite under Bun and ends with the plain line "N passed, N failed[, N skipped]".
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p build
rm -f build/test-results.json
node_modules/.bin/bun --bun node_modules/.bin/vitest run \
  --reporter=default --reporter=json --outputFile.json=build/test-results.json "$@"
status=$?
node scripts/test-summary.mjs build/test-results.json || status=1
exit $status
