#!/usr/bin/env bash
# The soak test (tests/engine_soak.c) for a while, outside CI: random graphs
# under injected faults in the Debug (ASan+UBSan) build.
#   tools/soak.sh [minutes] [seed]     default 10 minutes, a seed from the clock
# A failure prints its seed: tools/soak.sh 1 <seed> replays it.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
seed=${2:-$(date +%s)}
cmake --preset debug >/dev/null
cmake --build --preset debug -j"$(nproc)" --target engine_soak >/dev/null
echo "soak: ${minutes} min, MAESTRO_SOAK_SEED=${seed}"
MAESTRO_SOAK_SECONDS=$((minutes * 60)) MAESTRO_SOAK_SEED=${seed} LSAN_OPTIONS=use_tls=0 \
  MAESTRO_PERF_DIR=off build/debug/tests/engine_soak
