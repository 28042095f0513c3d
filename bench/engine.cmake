# Engine benchmarks (issue 3). Each prints its figure and its ratio to a
# baseline measured in the same run; see docs/performance.md.
maestro_add_bench(pipeline SOURCES pipeline.c TINY_ARGS 20000 2)
maestro_add_bench(fanout SOURCES fanout.c TINY_ARGS 20000 4)
maestro_add_bench(stateless SOURCES stateless.c TINY_ARGS 500 2000)
maestro_add_bench(latency SOURCES latency.c TINY_ARGS 500)
maestro_add_bench(idle SOURCES idle.c TINY_ARGS 200)
maestro_add_bench(startup SOURCES startup.c TINY_ARGS 1 TIMEOUT 120)
maestro_add_bench(chains SOURCES chains.c TINY_ARGS 20000 2)
maestro_add_bench(logpipe SOURCES logpipe.c TINY_ARGS 1 1)
# Issue 9 (batched ring publishing): a chain forced across two cores.
maestro_add_bench(cross SOURCES cross.c TINY_ARGS 5000 2)
