# White-box tests of the engine's internals: rings, pools, and a smoke run
# of the scheduler, the input take (runtime/chan, runtime/mem, runtime/sched,
# runtime/core/take.h).
maestro_add_test(test_engine_internal
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/engine_internal/test_ring.c
          ${CMAKE_CURRENT_LIST_DIR}/engine_internal/test_pool.c
          ${CMAKE_CURRENT_LIST_DIR}/engine_internal/test_smoke.c
          ${CMAKE_CURRENT_LIST_DIR}/engine_internal/test_take.c
          ${CMAKE_CURRENT_LIST_DIR}/engine_internal/main.c
  ENV MAESTRO_DEVICES=none MAESTRO_STATS=0
  TIMEOUT 120)

# The device path through a graph on the real PoCL device: kernel-only and
# hybrid agents, order kept with launches in flight, CPU-only runtimes.
maestro_add_test(engine_device
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/engine_internal/test_device.c
  ENV MAESTRO_STATS=0
  TIMEOUT 180)

# Buffer pools per NUMA node, on a synthetic two-node topology (as in
# foundation_numa): buffers land on the node asked for and come back to it.
maestro_add_test(engine_numa_pools
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/engine_internal/test_numa.c
  ENV "HWLOC_SYNTHETIC=pack:2 numa:1 core:2 pu:1" HWLOC_THISSYSTEM=1 MAESTRO_DEVICES=none
      MAESTRO_STATS=0
  TIMEOUT 60)

# A stateful hybrid agent whose launch is refused at enqueue falls back on
# its own CPU lane: one firing at a time (TSan checks it in the tsan preset).
maestro_add_test(engine_hybrid_fallback
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/engine_internal/test_hybrid_fallback.c
  ENV MAESTRO_STATS=0
  TIMEOUT 120)

# Channels count bytes across the host/device boundary (maestro-top's
# channels view): copy path (MAESTRO_ZERO_COPY=0 set by the test) and zero-copy;
# a kernel agent with 9 outputs delivers all of them.
maestro_add_test(engine_chan_bytes
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/engine_internal/test_chan_bytes.c
  ENV MAESTRO_STATS=0
  TIMEOUT 120)

# Performance models (runtime/sched/perf.c): figures, calibration,
# exploration, files in temporary directories, and places' architectures
# (the real PoCL device).
maestro_add_test(engine_perf
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/engine_internal/test_perf.c
  ENV MAESTRO_STATS=0
  TIMEOUT 120)

# Memory bounded by the pools' capacities for every size from 1 B to 24 MiB
# (issue 13): a run three times as long allocates no new buffer.
maestro_add_test(engine_memory
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/engine_internal/test_memory.c
  ENV MAESTRO_DEVICES=none MAESTRO_STATS=0
  TIMEOUT 120)

# placefix (issue 9): a hybrid agent whose device is full sleeps until a
# launch completes; its lanes do not wake each other without end.
maestro_add_test(engine_window_wake
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/engine_internal/test_window_wake.c
  ENV MAESTRO_STATS=0
  TIMEOUT 120)
