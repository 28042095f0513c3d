#!/bin/sh
# usage: any_trace.sh BENCH MPIEXEC ARGS...
# Runs bench/mpi_any (one run of 1 ms firings) on 2 ranks with
# MAESTRO_TRACE set: rank 0's trace must name a track for rank 1's
# MAESTRO_RANK_ANY firings and hold one firing of "heavy" on it for each
# firing rank 1 ran (the count the bench prints), and rank 1's trace its
# own firings on its CPU track.
set -e
prog=$1
shift
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
MAESTRO_TRACE="$dir/t.json" "$@" "$prog" 60 1000 1 >"$dir/out.txt"
cat "$dir/out.txt"
python3 - "$dir" <<'PY'
import json, re, sys
d = sys.argv[1]
out = open(d + "/out.txt").read()
per = [int(x) for x in re.search(r"firings per rank ([0-9 ]+)", out).group(1).split()]
assert len(per) == 2 and sum(per) == 60, per
def events(rank):
    return json.load(open("%s/t.rank%d.json" % (d, rank)))["traceEvents"]
ev0 = events(0)
tracks = {e["tid"]: e["args"]["name"] for e in ev0 if e.get("ph") == "M" and e["name"] == "thread_name"}
rank1 = [t for t, n in tracks.items() if n.startswith("rank 1 ")]
assert len(rank1) == 1, tracks
remote = [e for e in ev0 if e.get("ph") == "X" and e.get("cat") == "firing" and e["tid"] == rank1[0]]
assert all(e["name"] == "heavy" for e in remote), remote[:3]
print("rank 0's trace: %d firings on %r, rank 1 ran %d" % (len(remote), tracks[rank1[0]], per[1]))
assert len(remote) == per[1], (len(remote), per)
mine1 = [e for e in events(1) if e.get("ph") == "X" and e.get("cat") == "firing" and e["name"] == "heavy"]
assert per[1] == 0 or mine1, "rank 1's own trace has no firing of heavy"
PY
echo "ok: rank 0's trace shows rank 1's firings"
