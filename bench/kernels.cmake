# Bundled kernel library: SGEMM agent vs the same kernel raw, and the CPU
# implementation. MAESTRO_BENCH_AGENT=1 once the graph engine is in the library.
maestro_add_bench(sgemm SOURCES sgemm.c TINY_ARGS 33 1 TIMEOUT 120)
target_compile_definitions(bench_sgemm PRIVATE MAESTRO_BENCH_AGENT=0)
