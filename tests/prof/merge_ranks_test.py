#!/usr/bin/env python3
"""tools/maestro-merge-ranks top on MAESTRO_RANK_ANY agents: the merged
snapshots carry rank 0's count per rank beside what each rank served, and
each rank's last snapshot listing the agent is checked (exit 1, naming the
rank, when a final served count differs from rank 0's).
usage: merge_ranks_test.py TOOL"""
import json
import os
import subprocess
import sys
import tempfile

tool = sys.argv[1]
failed = 0


def check(ok, what):
    global failed
    print(("ok: " if ok else "FAILED: ") + what)
    if not ok:
        failed += 1


def snap(pid, agents):
    return {"pid": pid, "time": 1.0, "agents": agents, "places": [], "channels": []}


def owner(counts, final=True, rest=None):
    a = {"name": "any", "graph": "g", "state": "finished" if final else "running",
         "fires": counts[0], "nranks": len(counts) if rest is None else 19,
         "rank_fires": counts, "counts_final": final}
    if rest is not None:
        a["rank_fires_rest"] = rest
    return a


def served(n, final=True):
    return {"name": "any", "graph": "g", "state": "remote", "fires": n, "served_for": 0,
            "served": n, "counts_final": final}


def run(dirname, ranks):
    """ranks[r]: the snapshots of rank r (one JSON object per line)."""
    paths = []
    for r, snaps in enumerate(ranks):
        p = os.path.join(dirname, "r%d.jsonl" % r)
        with open(p, "w") as f:
            for s in snaps:
                f.write(json.dumps(s) + "\n")
        paths.append(p)
    res = subprocess.run([sys.executable, tool, "top"] + paths, capture_output=True, text=True)
    lines = [json.loads(x) for x in res.stdout.splitlines() if x.strip()]
    return res.returncode, lines, res.stderr


AGREE = "graph 'g' agent 'any': every rank's served count agrees with rank 0's counts"

with tempfile.TemporaryDirectory() as d:
    # Three ranks: mid-run (in flight: rank 1 served one more than rank 0
    # has seen), then ended, agreeing.
    rc, lines, err = run(d, [
        [snap(10, [owner([400, 380, 190], False)]), snap(10, [owner([812, 790, 398])])],
        [snap(11, [served(381, False)]), snap(11, [served(790)])],
        [snap(12, [served(190, False)]), snap(12, [served(398)])],
    ])
    check(rc == 0, "agreeing counts: exit 0 (got %d, %s)" % (rc, err.strip()))
    check(len(lines) == 2, "one merged object per snapshot")
    ra = lines[0]["rank_any"]
    check(ra == [{"graph": "g", "agent": "any", "owner": 0, "state": "running", "nranks": 3,
                  "rank_fires": [400, 380, 190], "served": [None, 381, 190], "agree": False}],
          "mid-run: counts side by side, not agreeing: %s" % ra)
    check(lines[1]["rank_any"][0]["served"] == [None, 790, 398]
          and lines[1]["rank_any"][0]["agree"] is True, "ended: agree")
    check(AGREE + " (r0 812, r1 790, r2 398)" in err, "says so: %s" % err.strip())
    check(sum(1 for a in lines[1]["agents"] if a["rank"] == 2) == 1, "agents carry their rank")

    # The graphs destroyed before the last snapshots: the last ones listing
    # the agent are checked.
    rc, lines, err = run(d, [
        [snap(10, [owner([812, 790, 398])]), snap(10, [])],
        [snap(11, [served(790)]), snap(11, [])],
        [snap(12, [served(398)]), snap(12, [])],
    ])
    check(rc == 0 and AGREE in err, "last snapshots without the graph: %s" % err.strip())

    # A final count that differs: exit 1, naming rank and counts.
    rc, lines, err = run(d, [[snap(10, [owner([812, 790, 398])])], [snap(11, [served(790)])],
                             [snap(12, [served(397)])]])
    check(rc == 1, "differing counts: exit 1 (got %d)" % rc)
    check("graph 'g' agent 'any': rank 2 served 397, rank 0 counts 398 answered by it" in err,
          "names rank 2: %s" % err.strip())

    # A rank that lists no served count.
    rc, lines, err = run(d, [[snap(10, [owner([5, 7])])], [snap(11, [])]])
    check(rc == 1 and "rank 1 served none, rank 0 counts 7" in err, "rank 1 lists none: %s"
          % err.strip())

    # Rank 0's last snapshot before the end: not checked.
    rc, lines, err = run(d, [[snap(10, [owner([5, 7], False)])], [snap(11, [served(8)])]])
    check(rc == 0 and "rank 0's last snapshot of it was taken before the graph ended: counts "
          "not checked" in err, "rank 0 not final: not checked (%d, %s)" % (rc, err.strip()))

    # A serving rank's last snapshot before the end there: fewer is not
    # checked, more is wrong.
    rc, lines, err = run(d, [[snap(10, [owner([5, 7, 9])])], [snap(11, [served(6, False)])],
                             [snap(12, [served(9)])]])
    check(rc == 0 and "rank 1: last snapshot taken before the graph ended there, not checked; "
          "the others agree with rank 0's counts (r0 5, r1 7, r2 9)" in err,
          "rank 1 early, fewer: %s" % err.strip())
    rc, lines, err = run(d, [[snap(10, [owner([5, 7, 9])])], [snap(11, [served(8, False)])],
                             [snap(12, [served(9)])]])
    check(rc == 1 and "rank 1 served 8, rank 0 counts 7 answered by it" in err,
          "rank 1 early, more: %s" % err.strip())

    # 19 ranks: ranks 16 to 18 summed against rank_fires_rest.
    counts = [10] * 16
    ranks = [[snap(10, [owner(counts, rest=33)])]]
    ranks += [[snap(10 + r, [served(10)])] for r in range(1, 16)]
    ranks += [[snap(26, [served(11)])], [snap(27, [served(11)])], [snap(28, [served(11)])]]
    rc, lines, err = run(d, ranks)
    check(rc == 0 and lines[0]["rank_any"][0]["rank_fires_rest"] == 33 and AGREE in err,
          "19 ranks agree")
    ranks[18] = [snap(28, [served(12)])]
    rc, lines, err = run(d, ranks)
    check(rc == 1 and "ranks 16 and above served 34, rank 0 counts 33 answered by them" in err,
          "19 ranks, the rest differs: %s" % err.strip())

    # Programs without MAESTRO_RANK_ANY agents: as before.
    rc, lines, err = run(d, [[snap(10, [{"name": "a", "graph": "g"}])], [snap(11, [])]])
    check(rc == 0 and lines[0]["rank_any"] == [] and err == "", "no RANK_ANY agent: nothing said")

sys.exit(1 if failed else 0)
