#!/usr/bin/env bash
# Builds the fuzz harness, instruments our assemblies with SharpFuzz and runs one target under AFL++ for a bounded
# time (it stops by itself). Crashes (and hangs that reproduce without AFL) are copied to fuzz/crashes/TARGET/,
# where the replay test (tests/NvmeMptls.Tests/Fuzz) keeps them as regression inputs; the exit status is then 1.
# Usage: fuzz/run.sh TARGET [SECONDS]      (FUZZ_NO_BUILD=1 reuses fuzz/out/bin from an earlier run)
# Needs: afl-fuzz (Debian package afl++) and the sharpfuzz tool (dotnet tool restore). Exit 3 = a tool is missing.
set -uo pipefail
cd "$(dirname "$0")/.."
TARGET=${1:?usage: fuzz/run.sh TARGET [SECONDS]}
SECONDS_TO_RUN=${2:-60}
BIN=fuzz/out/bin
OUT=fuzz/out/$TARGET
ASSEMBLIES=(NvmeMptls.Transport NvmeMptls.Crypto NvmeMptls.Target nvme-mptls-target NvmeMptls.Initiator NvmeMptls.Initiator.Nbd)

command -v afl-fuzz >/dev/null || { echo "fuzz/run.sh: afl-fuzz not found (apt-get install afl++)" >&2; exit 3; }
dotnet tool restore >/dev/null || { echo "fuzz/run.sh: dotnet tool restore failed (sharpfuzz)" >&2; exit 3; }
[ -d "fuzz/corpus/$TARGET" ] || { echo "fuzz/run.sh: no corpus fuzz/corpus/$TARGET" >&2; exit 2; }

if [ "${FUZZ_NO_BUILD:-0}" != 1 ] || [ ! -f "$BIN/.instrumented" ]; then
  # A fresh folder each time: instrumenting rewrites the DLLs in place, and must never touch the normal build output.
  rm -rf "$BIN"
  dotnet publish fuzz/NvmeMptls.Fuzz -c Release -o "$BIN" -nologo -clp:ErrorsOnly >/dev/null || { echo "fuzz/run.sh: build failed" >&2; exit 2; }
  for a in "${ASSEMBLIES[@]}"; do
    dotnet sharpfuzz "$BIN/$a.dll" >/dev/null || { echo "fuzz/run.sh: sharpfuzz could not instrument $a.dll" >&2; exit 3; }
  done
  touch "$BIN/.instrumented"
fi

rm -rf "$OUT"
mkdir -p "$OUT"
# AFL_SKIP_BIN_CHECK: the binary is dotnet, the instrumentation is in the DLLs; AFL_NO_AFFINITY: cores are shared.
AFL_SKIP_BIN_CHECK=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1 \
AFL_FAST_CAL=1 AFL_NO_WARN_INSTABILITY=1 \
  timeout $((SECONDS_TO_RUN + 120)) afl-fuzz -i "fuzz/corpus/$TARGET" -o "$OUT" -t 5000 -m none -V "$SECONDS_TO_RUN" \
  -- dotnet "$BIN/NvmeMptls.Fuzz.dll" "$TARGET" >"$OUT/afl.log" 2>&1
afl_rc=$?
stats=$OUT/default/fuzzer_stats
if [ ! -f "$stats" ]; then
  echo "fuzz $TARGET: afl-fuzz did not start (exit $afl_rc), see $OUT/afl.log:" >&2
  tail -n 15 "$OUT/afl.log" >&2
  exit 2
fi
stat() { sed -n "s/^$1 *: *//p" "$stats"; }

found=0
mkdir -p "fuzz/crashes/$TARGET"
for f in "$OUT"/default/crashes/id:*; do
  [ -f "$f" ] || continue
  dest="fuzz/crashes/$TARGET/crash-$(sha1sum "$f" | cut -c1-12)"
  cp "$f" "$dest"; echo "fuzz $TARGET: crash saved as $dest" >&2; found=$((found + 1))
done
for f in "$OUT"/default/hangs/id:*; do
  [ -f "$f" ] || continue
  # AFL's 5 s timeout can fire on a loaded machine; keep only hangs the harness's own deadline confirms.
  if ! dotnet "$BIN/NvmeMptls.Fuzz.dll" "$TARGET" replay "$f" >/dev/null 2>&1; then
    dest="fuzz/crashes/$TARGET/hang-$(sha1sum "$f" | cut -c1-12)"
    cp "$f" "$dest"; echo "fuzz $TARGET: hang saved as $dest" >&2; found=$((found + 1))
  fi
done
rmdir "fuzz/crashes/$TARGET" 2>/dev/null || true
echo "fuzz $TARGET: $(stat execs_done) executions in $(stat run_time) s, $(stat corpus_count) corpus entries, $(stat edges_found) edges, $found crash(es)/hang(s) saved"
[ "$found" = 0 ]
