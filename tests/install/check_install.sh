#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, then builds and runs a
# project outside the tree against it in the two supported ways:
# pkg-config (maestro.pc) and CMake find_package(Maestro).
# usage: check_install.sh BUILD_DIR WORK_DIR LIBDIR CC [EXTRA_FLAGS]
set -euo pipefail
build=$1 work=$2 libdir=$3 cc=$4 flags=${5:-}
here=$(cd "$(dirname "$0")" && pwd)
prefix=$work/prefix

rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$prefix" >"$work/install.log"

fail() { echo "check_install: $*" >&2; exit 1; }

# Public headers only.
[ -f "$prefix/include/maestro.h" ] || fail "include/maestro.h not installed"
for h in "$here"/../../include/maestro/*.h; do
  [ -f "$prefix/include/maestro/$(basename "$h")" ] || fail "include/maestro/$(basename "$h") not installed"
done
extra=$(cd "$prefix/include" && find . -type f ! -path './maestro.h' ! -path './maestro/*.h')
[ -z "$extra" ] || fail "unexpected files under include/: $extra"

# Both libraries, the shared one with its SONAME.
lib=$prefix/$libdir
[ -f "$lib/libmaestro.a" ] || fail "libmaestro.a not installed"
[ -L "$lib/libmaestro.so" ] || fail "libmaestro.so (link) not installed"
soname=$(objdump -p "$lib/libmaestro.so" | awk '/SONAME/ {print $2}')
[ -n "$soname" ] && [ -e "$lib/$soname" ] || fail "SONAME '$soname' missing or not installed"
[ -x "$prefix/bin/maestro-info" ] || fail "bin/maestro-info not installed"
if [ -x "$build/tools/maestro-top" ]; then
  [ -x "$prefix/bin/maestro-top" ] || fail "bin/maestro-top not installed"
fi
"$prefix/bin/maestro-info" --version >/dev/null || fail "installed maestro-info does not run"

# 1. pkg-config.
export PKG_CONFIG_PATH=$lib/pkgconfig
pcflags=$(pkg-config --cflags --libs maestro) || fail "pkg-config cannot read maestro.pc"
# shellcheck disable=SC2086
"$cc" $flags -o "$work/consumer_pc" "$here/consumer/consumer.c" $pcflags -Wl,-rpath,"$lib" \
  || fail "build with pkg-config failed"
"$work/consumer_pc" || fail "consumer built with pkg-config failed to run"
# Without an rpath: found through LD_LIBRARY_PATH (README, another prefix).
# shellcheck disable=SC2086
"$cc" $flags -o "$work/consumer_ld" "$here/consumer/consumer.c" $pcflags \
  || fail "build with pkg-config (no rpath) failed"
LD_LIBRARY_PATH=$lib "$work/consumer_ld" || fail "consumer run with LD_LIBRARY_PATH failed"
# The rpath from pkg-config's libdir (README).
# shellcheck disable=SC2086
"$cc" $flags -o "$work/consumer_rp" "$here/consumer/consumer.c" $pcflags \
  -Wl,-rpath,"$(pkg-config --variable=libdir maestro)" || fail "build with the libdir rpath failed"
"$work/consumer_rp" || fail "consumer built with the libdir rpath failed to run"
# --static: the flags link libmaestro.a (hwloc and OpenCL stay shared).
pcstatic=$(pkg-config --static --libs maestro) || fail "pkg-config --static cannot read maestro.pc"
case " $pcstatic " in *" -ludev "*) fail "pkg-config --static lists -ludev: $pcstatic" ;; esac
# shellcheck disable=SC2086
"$cc" $flags -o "$work/consumer_static_pc" "$here/consumer/consumer.c" \
  $(pkg-config --cflags maestro) "$lib/libmaestro.a" ${pcstatic//-lmaestro/} \
  || fail "build with pkg-config --static failed: $pcstatic"
if objdump -p "$work/consumer_static_pc" | grep -q 'NEEDED.*libmaestro'; then
  fail "the --static build needs libmaestro.so"
fi
"$work/consumer_static_pc" || fail "consumer built with pkg-config --static failed to run"
# shellcheck disable=SC2086
"$cc" $flags -o "$work/consumer_static_pc2" "$here/consumer/consumer.c" \
  $(pkg-config --cflags --static --libs maestro) -Wl,-rpath,"$lib" \
  || fail "build with pkg-config --cflags --static --libs failed"

# 2. find_package(Maestro).
cmake -S "$here/consumer" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" \
  -DCMAKE_BUILD_TYPE=Release >"$work/cmake-configure.log" \
  || { cat "$work/cmake-configure.log"; fail "configure with find_package failed"; }
cmake --build "$work/cmake" >"$work/cmake-build.log" \
  || { cat "$work/cmake-build.log"; fail "build with find_package failed"; }
"$work/cmake/consumer_shared" || fail "consumer (Maestro::maestro) failed to run"
"$work/cmake/consumer_static" || fail "consumer (Maestro::maestro_static) failed to run"
"$work/cmake/own_names_shared" || fail "own_names (Maestro::maestro) failed to run"
"$work/cmake/own_names_static" || fail "own_names (Maestro::maestro_static) failed to run"
echo "check_install: pkg-config and find_package builds of an outside project work"
