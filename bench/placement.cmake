# Placement benchmark (issue 9): dynamic placement against every static
# placement of graphs of hybrid agents; see docs/performance.md.
maestro_add_bench(placement SOURCES placement.c TINY_ARGS --tiny TIMEOUT 180
                  ENV "POCL_DEVICES=pthread pthread")

# StarPU's dmda on the same tasks, where StarPU (with OpenCL) is installed
# (tools/install-deps.sh installs it when it can; nothing requires it).
# Not under tsan: Debian's StarPU is not instrumented, and tsan reports
# races inside StarPU and PoCL that are not ours.
pkg_check_modules(STARPU QUIET IMPORTED_TARGET starpu-1.3)
if(STARPU_FOUND AND NOT MAESTRO_SANITIZE STREQUAL "thread")
  maestro_add_bench(placement_starpu SOURCES placement_starpu.c TINY_ARGS --tiny TIMEOUT 180
                    LIBS PkgConfig::STARPU ENV "POCL_DEVICES=pthread pthread")
endif()
