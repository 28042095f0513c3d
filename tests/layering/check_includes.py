#!/usr/bin/env python3
"""Fails on an #include in runtime/ that points up or sideways against the layers.

Layers, lowest first (docs/architecture.md): base <- topo <- mem <- chan <- sched <- core, and on
top of the engine, side by side: the backends (backend/<name>), prof and kern. A file may include
headers of its own folder and of lower layers; the folders on top may not include each other.
runtime/backends.c, the one line per backend registry, sits above everything.
Also: OpenCL headers only in backend/opencl, hwloc only in topo, MPI only in backend/mpi.

Usage: check_includes.py RUNTIME_DIR [--links NM OBJECT_LIST]
       (prints every violation; exit 1 if any). With --links, also the references by linkage
       between the library's objects (check_links.py: a call to an upper layer's function that an
       include check cannot see), after a self-test of that check on a planted violation.
"""
import os
import re
import sys

RANK = {"base": 0, "topo": 1, "mem": 2, "chan": 3, "sched": 4, "core": 5}
TOP = 6  # backend/*, prof, kern: each only itself and below
ONLY_IN = {
    "CL/": "backend/opencl",
    "hwloc": "topo",
    "mpi.h": "backend/mpi",
}


def folder_of(rel):
    """The layer folder of a path relative to runtime/ ('backend/opencl', 'core', ...)."""
    parts = rel.split("/")
    if len(parts) == 1:
        return None  # runtime/backends.c and friends: the top
    if parts[0] == "backend":
        return "backend/" + parts[1] if len(parts) > 2 else None
    return parts[0]


def rank(folder):
    if folder is None:
        return TOP + 1
    return RANK.get(folder, TOP)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../runtime")
    links = None
    if len(sys.argv) == 5 and sys.argv[2] == "--links":
        links = (sys.argv[3], sys.argv[4])
    elif len(sys.argv) > 2:
        print(__doc__)
        return 2
    root = os.path.abspath(root)
    bad = []
    inc_re = re.compile(r'^\s*#\s*include\s+([<"])([^>"]+)[>"]')
    nfiles = 0
    for dirpath, _, files in os.walk(root):
        for name in sorted(files):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            me = folder_of(rel)
            nfiles += 1
            with open(path, encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    m = inc_re.match(line)
                    if not m:
                        continue
                    kind, target = m.groups()
                    for prefix, owner in ONLY_IN.items():
                        if target.startswith(prefix) and me != owner:
                            bad.append(f"{rel}:{lineno}: includes <{target}>, allowed only in runtime/{owner}")
                    if kind != '"' or target.startswith("maestro"):
                        continue  # system headers and the public API
                    other = folder_of(target)
                    if other is None or other == me:
                        continue
                    if not os.path.exists(os.path.join(root, target)):
                        bad.append(f"{rel}:{lineno}: includes \"{target}\", which is not in runtime/")
                        continue
                    r_me, r_other = rank(me), rank(other)
                    if r_other > r_me or (r_other == TOP and r_me == TOP):
                        way = "sideways" if r_other == r_me else "up"
                        bad.append(f"{rel}:{lineno}: {me or 'runtime'} includes \"{target}\" ({way}: {other})")
    for b in bad:
        print(b)
    print(f"{nfiles} files checked, {len(bad)} include(s) against the layers")
    rc = 1 if bad else 0
    if links:
        import check_links  # noqa: E402 (same folder)
        rc |= check_links.selftest()
        rc |= check_links.check(*links)
    return rc


if __name__ == "__main__":
    sys.exit(main())
