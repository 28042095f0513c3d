#!/usr/bin/env bash
# Runs the libFuzzer targets (tests/fuzz) for longer than CI does: each for
# SECONDS (default 300), one after the other, over the generated seeds, the
# checked-in regression inputs (tests/fuzz/corpus/<target>/) and the corpus
# grown by earlier runs (build/clang/tests/fuzz/corpus/<target>/, kept
# between runs). Builds the clang preset (MAESTRO_FUZZ is on there when
# clang's libFuzzer is installed: tools/install-deps.sh installs it).
# A finding is left as build/clang/tests/fuzz/artifacts/<target>-crash-*
# (or leak-, timeout-, oom-); replay it with the target and the file, and
# add it to tests/fuzz/corpus/<target>/ with the fix.
# usage: tools/fuzz.sh [SECONDS] [TARGET...]   (exit 1 when any target finds something)
# fuzz_config grows by design (maestro_config_defaults keeps every distinct
# value for the life of the process): runs of hours may hit -rss_limit_mb.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-300}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_segment fuzz_top_model fuzz_config fuzz_kcache)
b=build/clang/tests/fuzz

cmake --preset clang >/dev/null || exit 1
if ! grep -q '^MAESTRO_FUZZ:BOOL=ON' build/clang/CMakeCache.txt; then
  echo "fuzz: MAESTRO_FUZZ is off in build/clang: clang's libFuzzer is missing" \
       "(tools/install-deps.sh installs it)" >&2
  exit 1
fi
cmake --build --preset clang -j"$(nproc)" --target fuzz_seeds "${targets[@]}" || exit 1
"$b/fuzz_seeds" "$b/seeds" || exit 1

status=0
for t in "${targets[@]}"; do
  dirs=("$b/corpus/$t" "$b/seeds/$t")
  [ -d "tests/fuzz/corpus/$t" ] && dirs+=("tests/fuzz/corpus/$t")
  mkdir -p "$b/corpus/$t" "$b/artifacts"
  log="$b/$t.log"
  echo "== $t: ${secs} s (log: $log)"
  if "$b/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$b/artifacts/$t-" "${dirs[@]}" >"$log" 2>&1; then
    grep -E '^Done|number_of_executed_units|average_exec_per_sec' "$log" | tr '\n' ' '
    echo
  else
    status=1
    echo "fuzz: $t found something:" >&2
    grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" >&2
  fi
done
exit $status
