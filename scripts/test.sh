#!/usr/bin/env bash
# The whole test suite: installs what the tests need (Azurite from npm), builds, runs every test
# project (fixtures start Azurite, the broker and the function app themselves), prints a summary.
# Usage: scripts/test.sh [extra `dotnet test` arguments, e.g. --filter FullyQualifiedName~Broker]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
need dotnet
need node
need npm

install_azurite
echo "==> building"
dotnet build IoTServerless.sln -c Release -nologo -v q -clp:ErrorsOnly

echo "==> testing"
log=$(mktemp)
set +e
dotnet test IoTServerless.sln -c Release --no-build -nologo \
  --blame-hang-timeout 5m --logger "console;verbosity=minimal" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# One plain closing line summed over all test assemblies.
awk '/^(Passed|Failed)!/ {
    for (i = 1; i <= NF; i++) {
      if ($i == "Failed:")  { gsub(",", "", $(i+1)); f += $(i+1) }
      if ($i == "Passed:")  { gsub(",", "", $(i+1)); p += $(i+1) }
      if ($i == "Skipped:") { gsub(",", "", $(i+1)); s += $(i+1) }
    }
  }
  END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
rm -f "$log"
exit "$status"
