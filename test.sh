#!/usr/bin/env bash
# Runs every test of NvmeMptls and ends with one line "N passed, N failed, N skipped".
# Installs what the tests need (Debian packages) when run as root on a fresh machine.
# Usage: ./test.sh [--filter EXPR] [--unit-only] [--no-fuzz]
# Each fuzz target gets a short AFL++ smoke run (FUZZ_SECONDS each, default 10; fuzz/run.sh), counted as one test.
# The soak under faults (tests/NvmeMptls.IntegrationTests/Soak, an NUnit test of the integration suite) runs for
# NVMEMPTLS_SOAK_SECONDS (default 150 here); its one-line summary is repeated before the totals. The hour:
#   NVMEMPTLS_SOAK_SECONDS=3600 ./test.sh --no-fuzz --filter "FullyQualifiedName~Soak"
set -uo pipefail
cd "$(dirname "$0")"
FILTER=""; UNIT_ONLY=0; FUZZ=1
while [ $# -gt 0 ]; do
  case $1 in
    --filter) FILTER=$2; shift ;;
    --unit-only) UNIT_ONLY=1 ;;
    --no-fuzz) FUZZ=0 ;;
    *) echo "test.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

PKGS=(tshark fio nvme-cli libnbd-bin nbdkit qemu-utils gnutls-bin openssl iproute2 e2fsprogs fuse3
      cpio kmod zstd xz-utils qemu-system-x86 prometheus gcc libc6-dev afl++
      ceph-mon ceph-osd ceph-common uuid-runtime bc)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  missing=()
  for p in "${PKGS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "test.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
    apt-get update -q >/dev/null 2>&1 || true
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/nvmemptls-apt.log 2>&1 ||
      echo "test.sh: some packages did not install (see /tmp/nvmemptls-apt.log); tests that need them will skip"
  fi
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
export NVMEMPTLS_SOAK_SECONDS=${NVMEMPTLS_SOAK_SECONDS:-150}
dotnet build NvmeMptls.sln -c Release -nologo -clp:ErrorsOnly || { echo "0 passed, 1 failed"; exit 1; }
dotnet tool restore >/dev/null || echo "test.sh: dotnet tool restore failed; the fuzz smoke runs will report sharpfuzz missing"

results=$(mktemp -d)
rc=0
projects=(tests/NvmeMptls.Tests)
[ "$UNIT_ONLY" = 1 ] || projects+=(tests/NvmeMptls.IntegrationTests)
for p in "${projects[@]}"; do
  name=$(basename "$p")
  args=(test "$p" -c Release --no-build -nologo --logger "trx;LogFileName=$name.trx" --results-directory "$results"
        --logger "console;verbosity=normal")
  # A test that hangs (no test starts or ends for 15 min; the longest test takes ~3 min) ends the run with a failure
  # and the name of the test, instead of running into the CI's time limit.
  args+=(--blame-hang --blame-hang-dump-type none --blame-hang-timeout 15min)
  [ -n "$FILTER" ] && args+=(--filter "$FILTER")
  dotnet "${args[@]}" | tee -a "$results/console.log"
  [ "${PIPESTATUS[0]}" = 0 ] || rc=1
done

passed=0; failed=0; skipped=0

# Fuzz smoke runs: a crash (input saved under fuzz/crashes/TARGET) fails; a missing tool is a reported skip.
# With --filter only the selected dotnet tests run.
if [ "$FUZZ" = 1 ] && [ -z "$FILTER" ]; then
  fuzz_start=$SECONDS; build=0
  targets=$(dotnet fuzz/NvmeMptls.Fuzz/bin/Release/net10.0/NvmeMptls.Fuzz.dll list)
  [ -n "$targets" ] || { failed=$((failed + 1)); echo "  Failed fuzz smoke: the harness lists no targets"; }
  for t in $targets; do
    FUZZ_NO_BUILD=$build fuzz/run.sh "$t" "${FUZZ_SECONDS:-10}"
    case $? in
      0) passed=$((passed + 1)); echo "  Passed fuzz smoke $t" ;;
      3) skipped=$((skipped + 1)); echo "  Skipped fuzz smoke $t: afl-fuzz or sharpfuzz is not installed" ;;
      *) failed=$((failed + 1)); echo "  Failed fuzz smoke $t (inputs under fuzz/crashes/$t, AFL output in fuzz/out/$t)" | tee -a "$results/fuzz-failed.log" ;;
    esac
    build=1
  done
  echo "test.sh: fuzz smoke runs took $((SECONDS - fuzz_start)) s"
fi

for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  line=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  get() { echo "$line" | sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p"; }
  p=$(get passed); f=$(get failed); e=$(get error); t=$(get timeout); a=$(get aborted); all=$(get total); x=$(get executed)
  # The trx counters leave ignored tests out of every outcome (notExecuted stays 0): they are total - executed.
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0} + ${e:-0} + ${t:-0} + ${a:-0})); skipped=$((skipped + ${all:-0} - ${x:-0}))
done
if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi   # a crashed test host counts as a failure
grep -E '^ *soak: [0-9]+ s,' "$results/console.log" 2>/dev/null | head -n 1 | sed 's/^ *//'
# Repeat each failed test's name and error message last, so that the tail of a long log names what failed.
if [ "$failed" != 0 ]; then
  echo "failed tests:"
  awk '/^  Failed /{n=1; c=0} n&&/^  (Stack Trace|Standard Output Messages):/{n=0} n&&c<6{print "  " $0; c++}' \
    "$results/console.log" 2>/dev/null | head -n 80
  cat "$results/fuzz-failed.log" 2>/dev/null
fi
rm -rf "$results"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
