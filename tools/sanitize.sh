#!/usr/bin/env bash
# Builds and tests under the sanitizer presets: debug (AddressSanitizer +
# UndefinedBehaviorSanitizer) and tsan (ThreadSanitizer). .ci/run runs it
# after the default suite (a few minutes more); run it before landing
# concurrency or memory work. usage: tools/sanitize.sh [debug|tsan]...
set -uo pipefail
cd "$(dirname "$0")/.."
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(debug tsan)
status=0
for p in "${presets[@]}"; do
  echo "== $p"
  if cmake --preset "$p" >/dev/null && cmake --build --preset "$p" -j"$(nproc)"; then
    ctest --preset "$p" || status=1  # serial, as tools/test.sh
  else
    echo "sanitize: preset $p does not build" >&2
    status=1
  fi
done
exit $status
