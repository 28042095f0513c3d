#!/usr/bin/env python3
"""maestro-info: its --json parses and agrees with the runtime's own counts
(count_places) under several environments; the text form says CPU-only once
when there is no device; bad options and bad config fail with a message."""
import json
import os
import subprocess
import sys

info, count, empty_icd = sys.argv[1], sys.argv[2], sys.argv[3]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(cmd, env=None, prefix=()):
    e = {k: v for k, v in os.environ.items() if not k.startswith("MAESTRO_")}
    e.pop("POCL_DEVICES", None)
    e.update(env or {})
    return subprocess.run(list(prefix) + cmd, env=e, capture_output=True, text=True, timeout=120)


cases = [
    ("default", {}, ()),
    ("two devices", {"POCL_DEVICES": "pthread pthread"}, ()),
    ("MAESTRO_DEVICES=none", {"MAESTRO_DEVICES": "none"}, ()),
    ("no OpenCL platform", {"OCL_ICD_VENDORS": empty_icd}, ()),
    ("taskset -c 0", {}, ("taskset", "-c", "0")),
    ("MAESTRO_NCPU=1", {"MAESTRO_NCPU": "1"}, ()),
]
for name, env, prefix in cases:
    r = run([info, "--json"], env, prefix)
    check(r.returncode == 0, f"{name}: maestro-info --json exit {r.returncode}: {r.stderr}")
    try:
        d = json.loads(r.stdout)
    except ValueError as e:
        check(False, f"{name}: --json does not parse: {e}")
        continue
    for key in ("version", "cpus", "devices", "cpu_only_reason", "topology"):
        check(key in d, f"{name}: key {key} missing")
    c = run([count], env, prefix)
    check(c.returncode == 0, f"{name}: count_places failed: {c.stderr}")
    want = json.loads(c.stdout)
    check(len(d["cpus"]) == want["cpus"], f"{name}: {len(d['cpus'])} cpus, runtime has {want['cpus']}")
    check(len(d["devices"]) == want["devices"],
          f"{name}: {len(d['devices'])} devices, runtime has {want['devices']}")
    check((d["cpu_only_reason"] is None) == (len(d["devices"]) > 0),
          f"{name}: cpu_only_reason {d['cpu_only_reason']!r} with {len(d['devices'])} devices")
    check([p["index"] for p in d["cpus"]] == list(range(len(d["cpus"]))), f"{name}: cpu indices")
    topo = d["topology"]
    check(topo["usable_cores"] >= len(d["cpus"]), f"{name}: usable_cores < cpu places")
    check(len(topo["numa_nodes"]) >= 1 and len(topo["packages"]) >= 1, f"{name}: topology empty")

    t = run([info], env, prefix)
    check(t.returncode == 0, f"{name}: maestro-info exit {t.returncode}")
    check(f"CPU places: {want['cpus']}\n" in t.stdout, f"{name}: text CPU place count")
    check(t.stdout.count("CPU-only:") == (0 if want["devices"] else 1),
          f"{name}: 'CPU-only:' appears {t.stdout.count('CPU-only:')} times")

check(len(json.loads(run([info, "--json"], {}, ("taskset", "-c", "0")).stdout)["cpus"]) == 1,
      "taskset -c 0 gives one CPU place")
nd = json.loads(run([info, "--json"], {"OCL_ICD_VENDORS": empty_icd}).stdout)
check("platform" in (nd["cpu_only_reason"] or ""), f"no-platform reason: {nd['cpu_only_reason']!r}")

b = run([info, "--json", "--bench"], {"POCL_DEVICES": "pthread pthread"})
check(b.returncode == 0, f"--bench exit {b.returncode}: {b.stderr}")
bd = json.loads(b.stdout)
check(len(bd.get("bench", [])) == len(bd["devices"]) == 2, "--bench: one result per device")
for r in bd.get("bench", []):
    check(r.get("h2d_gbs", 0) > 0 and r.get("d2h_gbs", 0) > 0, f"--bench figures: {r}")

bad = run([info], {"MAESTRO_DEVICES": "banana"})
check(bad.returncode != 0 and "MAESTRO_DEVICES" in bad.stderr, f"bad config: {bad.stderr!r}")
bad = run([info], {"MAESTRO_NCPU": "-3"})
check(bad.returncode != 0 and "MAESTRO_NCPU" in bad.stderr, f"bad ncpu: {bad.stderr!r}")
bad = run([info, "--frobnicate"])
check(bad.returncode == 2 and "--frobnicate" in bad.stderr, "unknown option")
check(run([info, "--help"]).returncode == 0, "--help")

print("check_info:", "FAILED" if failures else "ok", f"({len(failures)} failures)")
sys.exit(1 if failures else 0)
