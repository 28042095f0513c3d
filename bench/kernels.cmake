# Bundled kernel library: SGEMM agent vs the same kernel raw, and the CPU
# implementation.
maestro_add_bench(sgemm SOURCES sgemm.c TINY_ARGS 33 1 TIMEOUT 120)
