#!/bin/bash
# Every file the documentation names exists: README.md and docs/*.md.
#
# Checked:
# - paths from the repository root (runtime/..., include/..., tests/...,
#   tools/..., docs/..., bench/..., examples/..., kernels/..., cmake/...);
#   a program is named by its source without ".c" (bench/pipeline), and a
#   glob (include/maestro/*.h) must match something;
# - quoted paths relative to runtime/ (`core/window.c`, `mem/replica.h`);
# - Markdown links to local files, relative to the page: [x](engine.md).
#
# Usage: check_links.sh [REPO_ROOT]   (prints each missing reference; exit 1 if any)
set -u
root=${1:-$(dirname "$0")/../..}
cd "$root" || exit 2

missing=0
checked=0

exists() { # path [base dir]: a file, a folder, a program's source, or a glob match
  local p=$1
  [ -e "$p" ] || [ -e "$p.c" ] && return 0
  case $p in
  *'*'* | *'{'*) compgen -G "$p" >/dev/null && return 0 ;;
  esac
  return 1
}

report() {
  echo "$1: $2 does not exist"
  missing=$((missing + 1))
}

pages=(README.md docs/*.md)
for md in "${pages[@]}"; do
  dir=$(dirname "$md")
  # Paths from the root, not inside a longer path or a URL.
  while IFS= read -r ref; do
    checked=$((checked + 1))
    exists "$ref" || report "$md" "$ref"
  done < <(grep -oE '(^|[^A-Za-z0-9_./-])(runtime|include|tests|tools|docs|bench|examples|kernels|cmake)/[A-Za-z0-9_./*{},-]*[A-Za-z0-9_*}]' "$md" |
    sed -E 's/^[^A-Za-z]//' | sort -u)
  # `sub/dir/file.ext` in backquotes: from the root or from runtime/.
  while IFS= read -r ref; do
    case $ref in
    runtime/* | include/* | tests/* | tools/* | docs/* | bench/* | examples/* | kernels/* | cmake/*) continue ;;
    esac
    checked=$((checked + 1))
    exists "$ref" || exists "runtime/$ref" || report "$md" "$ref"
  done < <(grep -oE '`[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+\.(c|h|cl|py|sh|cmake|md|map)`' "$md" |
    tr -d '`' | sort -u)
  # Markdown links to local files.
  while IFS= read -r ref; do
    ref=${ref%%#*}
    [ -n "$ref" ] || continue
    checked=$((checked + 1))
    [ -e "$dir/$ref" ] || report "$md" "($ref)"
  done < <(grep -oE '\]\([^)#][^)]*\)' "$md" | sed -E 's/^\]\((.*)\)$/\1/' |
    grep -vE '^(https?|mailto):' | sort -u)
done

echo "${#pages[@]} pages, $checked references, $missing missing"
[ "$missing" -eq 0 ]
