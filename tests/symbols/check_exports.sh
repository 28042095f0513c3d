#!/usr/bin/env bash
# Fails, listing them, when libmaestro.a or libmaestro.so defines a global
# symbol whose name does not start with maestro_: internal names (ring_init,
# err_set, ...) must not clash with a user's own. Weak definitions count too.
# The shared library's version node (MAESTRO_0, an absolute symbol) is not code.
# usage: check_exports.sh NM LIB...
set -uo pipefail
nm=$1
shift
status=0
for lib in "$@"; do
  [ -f "$lib" ] || { echo "check_exports: $lib not found" >&2; status=1; continue; }
  out=$("$nm" -g --defined-only "$lib") || { echo "check_exports: $nm failed on $lib" >&2; status=1; continue; }
  total=$(printf '%s\n' "$out" | awk 'NF == 3 && $3 ~ /^maestro_/' | wc -l)
  bad=$(printf '%s\n' "$out" | awk 'NF == 3 && $3 !~ /^maestro_/ && !($2 == "A" && $3 ~ /^MAESTRO_[0-9]+$/) {print $2, $3}' | sort -u -k2)
  if [ "$total" -eq 0 ]; then
    echo "check_exports: $lib defines no maestro_* symbol (nm output not understood?)" >&2
    status=1
  fi
  if [ -n "$bad" ]; then
    echo "check_exports: $lib defines $(printf '%s\n' "$bad" | wc -l) global symbols outside maestro_*:" >&2
    printf '%s\n' "$bad" | sed 's/^/  /' >&2
    status=1
  else
    echo "check_exports: $lib: $total maestro_* symbols, nothing else global"
  fi
done
exit $status
