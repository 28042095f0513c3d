# Observability overhead (issue 5): live stats and tracing against a
# baseline with both off, alternating in one run.
maestro_add_bench(prof_overhead SOURCES prof_overhead.c TINY_ARGS 2000 4096 1)
