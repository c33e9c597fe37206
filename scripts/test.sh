#!/usr/bin/env bash
# The one command that runs every test: installs what it needs, makes sure a Redis answers,
# builds, typechecks, runs all jest projects once and prints "N passed, N failed".
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_deps
ensure_redis ephemeral
ensure_chromium
ensure_deployment_tools
say "build + typecheck"
pnpm turbo run build typecheck --output-logs=errors-only
# bench/ and chaos/ are scripts, not workspace packages: typecheck them here so they cannot rot
pnpm exec tsc -p bench/tsconfig.json
say "jest (all projects)"
rm -f .test-results.json
set +e
timeout 900 node --experimental-vm-modules --disable-warning=ExperimentalWarning node_modules/jest/bin/jest.js \
  --maxWorkers=2 --json --outputFile=.test-results.json "$@"
status=$?
set -e
node -e '
  const fs = require("fs");
  if (!fs.existsSync(".test-results.json")) { console.log("0 passed, 1 failed"); process.exit(0); }
  const r = JSON.parse(fs.readFileSync(".test-results.json", "utf8"));
  const failedSuites = r.numRuntimeErrorTestSuites || 0;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests + failedSuites} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""));
'
exit $status
