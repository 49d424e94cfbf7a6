#!/usr/bin/env bash
# Interop suite "our target, Linux kernel host": builds the solution (Release), then runs the NUnit tests of
# category Interop, which boot the Linux VM harness (../shared/interop/linux-vm/run-vm.sh, else
# /work/shared/interop/linux-vm/run-vm.sh) against our target. Needs root; the tests are ignored with a reason
# when root, qemu or the harness is missing. See docs/interop.md.
# Usage: scripts/interop.sh [--no-build] [--filter EXPR]   (EXPR is ANDed with TestCategory=Interop)
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=1 FILTER="TestCategory=Interop"
while [ $# -gt 0 ]; do
  case $1 in
    --no-build) BUILD=0 ;;
    --filter) FILTER="$FILTER&($2)"; shift ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "interop.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ $BUILD = 1 ]; then
  dotnet build NvmeMptls.sln -c Release -nologo -clp:ErrorsOnly || exit 1
fi
start=$(date +%s)
dotnet test tests/NvmeMptls.IntegrationTests -c Release --no-build --filter "$FILTER" \
  --logger "console;verbosity=normal" --results-directory "${TMPDIR:-/tmp}/nvme-interop-results"
rc=$?
echo "interop suite: $(( $(date +%s) - start )) s wall, dotnet test rc=$rc"
exit $rc
