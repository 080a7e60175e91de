#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for a bounded time each.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET ...]      (default: 20 s, every target)
#
# Seeds come from fixtures/ (read-only) and fuzz/dict/<target>.dict; new inputs go to
# fuzz/corpus/<target>/, crashes to fuzz/artifacts/<target>/, output to fuzz/logs/ (all
# git-ignored). Exits 1 when any target crashed or hung,
# after printing each crashing input and how to reproduce it. Exits 0 with a message when
# cargo-fuzz cannot be installed here (a skip, not a pass of the fuzzing).
set -uo pipefail
cd "$(dirname "$0")/.."

secs=${1:-20}
shift || true

if ! command -v cargo-fuzz >/dev/null 2>&1 && ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  if ! cargo install cargo-fuzz --locked >/dev/null 2>&1; then
    echo "fuzz: SKIPPED: cargo-fuzz cannot be installed here"
    exit 0
  fi
fi

cd fuzz
# cargo-fuzz with `-s none` (no sanitizer) builds on the stable toolchain: libFuzzer and
# SanitizerCoverage need only stable codegen flags. RUSTC_BOOTSTRAP is the fallback for a
# cargo-fuzz that passes a -Z flag.
# `-a`: debug assertions and overflow checks, so arithmetic that would silently wrap in a
# release build is a crash here (SPEC §10: hostile input never yields a wrong number).
flags=(-s none -a)
# FUZZ_TARGET_DIR: a build directory kept between runs (CI points it outside the clone, so a
# second run on the same machine rebuilds only poolguard itself).
if [ -n "${FUZZ_TARGET_DIR:-}" ]; then
  mkdir -p "$FUZZ_TARGET_DIR"
  flags+=(--target-dir "$FUZZ_TARGET_DIR")
fi
build() { cargo fuzz build "${flags[@]}" "$@"; }
if ! build; then
  echo "fuzz: stable build failed; retrying with RUSTC_BOOTSTRAP=1"
  export RUSTC_BOOTSTRAP=1
  build || { echo "fuzz: the fuzz targets do not build" >&2; exit 1; }
fi

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

failed=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t" logs
  start=$(date +%s)
  log="logs/$t.log"
  dict=()
  [ -f "dict/$t.dict" ] && dict=(-dict="dict/$t.dict")
  cargo fuzz run "${flags[@]}" "$t" "corpus/$t" ../fixtures -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" \
    >"$log" 2>&1
  rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  echo "fuzz: $t: ${runs:-?} runs in $(( $(date +%s) - start )) s, exit $rc"
  if [ $rc -ne 0 ]; then
    failed+=("$t")
    grep -E 'panicked at|ERROR: libFuzzer|SUMMARY|Test unit written to|^Base64' "$log" | head -20
    for a in "artifacts/$t"/crash-* "artifacts/$t"/timeout-* "artifacts/$t"/oom-*; do
      [ -f "$a" ] || continue
      echo "  input $a:"
      od -c "$a" | head -20
      echo "  reproduce: (cd fuzz && cargo fuzz run ${flags[*]} $t $a)"
    done
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, $secs s each, no crash"
