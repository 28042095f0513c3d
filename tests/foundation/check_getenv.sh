#!/bin/sh
# Configuration in one place (issue 8): the runtime reads its environment
# only in maestro_config_defaults (runtime/core/config.c), so that every
# subsystem takes its settings from rt->cfg and two runtimes in one process
# can be configured differently. Fails, listing them, on getenv calls
# elsewhere in runtime/ and on MAESTRO_* variables read by the tools.
# Usage: check_getenv.sh <source dir>
src=${1:?usage: check_getenv.sh <source dir>}
cd "$src" || exit 2
[ -f runtime/core/config.c ] || { echo "no runtime/core/config.c under $src"; exit 2; }
bad=$(grep -rnE '\b(secure_)?getenv[[:space:]]*\(|\benviron\b' runtime \
        --include='*.c' --include='*.h' | grep -v '^runtime/core/config\.c:')
tools=$(grep -rnE '\b(secure_)?getenv[[:space:]]*\([[:space:]]*"MAESTRO_' tools \
          --include='*.c' --include='*.h' 2>/dev/null)
if [ -n "$bad$tools" ]; then
  echo "environment read outside maestro_config_defaults (runtime/core/config.c);"
  echo "add a field to maestro_config_t and read rt->cfg instead:"
  [ -n "$bad" ] && echo "$bad"
  [ -n "$tools" ] && echo "$tools"
  exit 1
fi
echo "getenv only in runtime/core/config.c"
