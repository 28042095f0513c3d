#!/bin/sh
# Runs `"$@"` (mpiexec ... mpi_kill) and checks that the job whose rank 1
# was killed ends by itself within seconds (no hang), not successfully,
# with a message that names rank 1.
start=$(date +%s)
out=$(timeout 60 "$@" 2>&1)
rc=$?
took=$(($(date +%s) - start))
printf '%s\n' "$out" | tail -n 25
if [ "$rc" -eq 124 ]; then echo "FAIL: hung (stopped by timeout after 60 s)"; exit 1; fi
if [ "$rc" -eq 0 ]; then echo "FAIL: the job succeeded although rank 1 was killed"; exit 1; fi
if ! printf '%s\n' "$out" | grep -q "rank 1"; then echo "FAIL: nothing names rank 1"; exit 1; fi
if [ "$took" -gt 20 ]; then echo "FAIL: took $took s to end"; exit 1; fi
echo "ok: the job ended in $took s with status $rc, naming rank 1"
