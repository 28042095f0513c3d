#!/bin/sh
# usage: any_top.sh MAESTRO_TOP MERGE_TOOL PROGRAM MPIEXEC ARGS...
# Runs PROGRAM (tests/mpi/mpi_any_top.c) under MPIEXEC ARGS: each rank checks
# its own stats segment and runs MAESTRO_TOP on itself, its --json snapshot
# written to rN.jsonl. Then tools/maestro-merge-ranks merges them and must
# find every rank's served count equal to rank 0's count for it.
set -e
top=$1
merge=$2
prog=$3
shift 3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
MAESTRO_TOP="$top" ANY_TOP_DIR="$dir" "$@" "$prog"
files=""
r=0
while [ -f "$dir/r$r.jsonl" ]; do
  files="$files $dir/r$r.jsonl"
  r=$((r + 1))
done
echo "merging" $files
python3 "$merge" top $files >"$dir/merged.jsonl" 2>"$dir/check.txt" || {
  cat "$dir/check.txt"
  echo "FAILED: the merge found counts that differ"
  exit 1
}
cat "$dir/check.txt"
grep -q "graph 'anytop' agent 'work': every rank's served count agrees with rank 0's counts" \
  "$dir/check.txt"
python3 - "$dir/merged.jsonl" <<'PY'
import json, sys
last = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
ra = [e for e in last["rank_any"] if e["agent"] == "work"]
assert len(ra) == 1, last["rank_any"]
e = ra[0]
n = len(last["ranks"])
assert e["owner"] == 0 and e["nranks"] == n and len(e["rank_fires"]) == n, e
assert e["served"][0] is None and e["served"][1:] == e["rank_fires"][1:] and e["agree"], e
print("ok: rank 0 counts", e["rank_fires"], "served", e["served"][1:])
PY
