#!/bin/sh
# usage: trace_merge.sh MERGE_TOOL PROGRAM MPIEXEC ARGS...
# Runs PROGRAM (examples/mpi_pipeline) on 2 ranks with MAESTRO_TRACE set:
# each rank must write its own file (t.rank0.json, t.rank1.json) with its
# rank as process id, and tools/maestro-merge-ranks must merge them into one
# trace where rank 0 fired "blocks" and rank 1 "norm2".
set -e
tool=$1
prog=$2
shift 2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
MAESTRO_TRACE="$dir/t.json" "$@" "$prog"
ls "$dir"
python3 "$tool" trace "$dir/all.json" "$dir/t.rank0.json" "$dir/t.rank1.json"
python3 - "$dir/all.json" <<'PY'
import json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
fired = {}
for e in ev:
    if e.get("ph") == "X" and e.get("cat") == "firing":
        fired.setdefault(e["pid"], set()).add(e["name"])
print("firings per rank:", {k: sorted(v) for k, v in fired.items()})
assert set(fired) == {0, 1}, fired
assert "blocks" in fired[0] and "total" in fired[0] and "norm2" not in fired[0], fired
assert fired[1] == {"norm2"}, fired
PY
echo "ok: one trace per rank, merged"
