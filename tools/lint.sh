#!/usr/bin/env bash
# Static checks, quiet on a clean tree, non-zero on any finding:
#   clang-format (the .clang-format style), cppcheck, clang-tidy (.clang-tidy).
# Uses build/default/compile_commands.json (configured here if missing).
# usage: tools/lint.sh [files...]   (default: every C file under the tree)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

if [ $# -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(git ls-files '*.c' '*.h' | grep -v '^build/')
fi
cfiles=()
for f in "${files[@]}"; do [[ $f == *.c ]] && cfiles+=("$f"); done

[ -f build/default/compile_commands.json ] || cmake --preset default >/dev/null

status=0
echo "== clang-format"
clang-format --dry-run -Werror "${files[@]}" || status=1

echo "== cppcheck"
# The project's own files, with the include paths the build uses.
cppcheck --quiet --error-exitcode=1 --inline-suppr --std=c11 -j "$jobs" \
  --enable=warning,performance,portability --suppress=missingIncludeSystem \
  -D__GNUC__ -D_GNU_SOURCE -DCL_TARGET_OPENCL_VERSION=120 \
  -I include -I runtime -I tests -I tools "${cfiles[@]}" || status=1

echo "== clang-tidy"
# Only files the build compiles are in compile_commands.json.
mapfile -t built < <(python3 - "${cfiles[@]}" <<'PY'
import json, os, sys
db = json.load(open("build/default/compile_commands.json"))
known = {os.path.realpath(e["file"]) for e in db}
for f in sys.argv[1:]:
    if os.path.realpath(f) in known:
        print(f)
PY
)
if [ "${#built[@]}" -gt 0 ]; then
  printf '%s\n' "${built[@]}" | xargs -P "$jobs" -n 4 clang-tidy -p build/default --quiet \
    2> >(grep -v -E '^[0-9]+ warnings? generated|^Suppressed|^Use -header-filter' >&2) || status=1
fi

[ $status -eq 0 ] && echo "lint: clean"
exit $status
