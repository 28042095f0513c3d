#!/usr/bin/env python3
"""Fails on a call (or data reference) by linkage that points up or sideways against the layers.

An #include that points the right way is not enough: a lower layer may declare a function itself
and call it, and the linker finds it in an upper layer (sched calling core_* by name). This check
reads the symbols of the library's object files with `nm`: a symbol that an object of folder A
uses (undefined there) and that an object of folder B defines must not come from a layer above A,
nor from another folder on top (a backend, prof, kern) when A is one of those. The layers are those
of check_includes.py. Two kinds of definers are no layer and are left out: the composition root
(runtime/backends.c, runtime/modules.c: the lists of backends and modules, which the engine reads
through its own headers so that it names none of them) and generated sources (the embedded
kernels).

Usage: check_links.py NM OBJECT_LIST   (OBJECT_LIST: one object path a line, as CMake's
       $<TARGET_OBJECTS:maestro_obj> gives them; prints every violation; exit 1 if any)
       check_links.py --selftest      (the checker finds a planted violation)
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_includes import RANK, TOP, folder_of, rank  # noqa: E402


def source_of(obj):
    """runtime-relative source of an object path: '.../maestro_obj.dir/sched/worker.c.o' -> 'sched/worker.c'."""
    rel = obj.replace(os.sep, "/").rsplit(".dir/", 1)[-1]
    return rel[:-2] if rel.endswith(".o") else rel


def layer_of(src):
    """The layer folder of a source, or None for the composition root and generated sources."""
    if src.startswith("__/") or "/" not in src:
        return None
    f = folder_of(src)
    if f is None or (f not in RANK and f.split("/")[0] not in ("backend", "prof", "kern")):
        return None
    return f


def violations(objs):
    """objs: [(source, defined symbols, undefined symbols)] -> list of messages."""
    definer = {}
    for src, defined, _ in objs:
        for s in defined:
            definer.setdefault(s, src)
    bad = []
    for src, _, undefined in objs:
        me = layer_of(src)
        if me is None:
            continue
        for s in sorted(undefined):
            d = definer.get(s)
            other = layer_of(d) if d else None
            if other is None or other == me:
                continue
            r_me, r_other = rank(me), rank(other)
            if r_other > r_me or (r_other == TOP and r_me == TOP):
                way = "sideways" if r_other == r_me else "up"
                bad.append(f"{src}: uses {s}, defined in {d} ({way}: {me} -> {other})")
    return bad


def read_symbols(nm, obj):
    out = subprocess.run([nm, "-P", obj], capture_output=True, text=True, check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind == "U":
            undefined.add(name)
        elif kind.isupper():  # global: text, data, bss, read-only, common, weak
            defined.add(name)
    return defined, undefined


def selftest():
    planted = [
        ("core/stats.c", {"core_agents_on_place"}, set()),
        ("sched/worker.c", {"sched_init"}, {"core_agents_on_place"}),
        ("backend/cpu/node.c", {"cpu_node_ops"}, {"ocl_strerror"}),
        ("backend/opencl/clerror.c", {"ocl_strerror"}, set()),
        ("backends.c", {"place_builtin_backends"}, set()),
        ("sched/place.c", {"place_init"}, {"place_builtin_backends", "sched_init"}),
        ("core/runtime.c", set(), {"sched_init"}),
    ]
    got = violations(planted)
    want = 2  # sched -> core (up), backend/cpu -> backend/opencl (sideways)
    for g in got:
        print("selftest:", g)
    ok = (len(got) == want and any("core_agents_on_place" in g for g in got)
          and any("ocl_strerror" in g for g in got))
    print(f"selftest: {len(got)} planted violation(s) found, {want} expected: {'ok' if ok else 'FAILED'}")
    return 0 if ok else 1


def check(nm, listfile):
    with open(listfile, encoding="utf-8") as f:
        paths = [p.strip() for p in f.read().replace(";", "\n").splitlines() if p.strip()]
    objs = []
    for p in paths:
        if not os.path.exists(p):
            print(f"{p}: no such object (build the library first)")
            return 1
        defined, undefined = read_symbols(nm, p)
        objs.append((source_of(p), defined, undefined))
    bad = violations(objs)
    for b in bad:
        print(b)
    print(f"{len(objs)} objects checked, {len(bad)} reference(s) by linkage against the layers")
    return 1 if bad else 0


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "--selftest":
        return selftest()
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    return check(sys.argv[1], sys.argv[2])


if __name__ == "__main__":
    sys.exit(main())
