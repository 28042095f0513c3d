# runtime/ocl on the real PoCL device: build errors, program cache, kernel
# chains (zero bytes between kernels, from the counters), two devices,
# device memory pressure, host read-back, zero-copy.
maestro_add_test(ocl_kagent SOURCES ocl_kagent.c TIMEOUT 180 LABELS ocl)
# LSAN_OPTIONS=use_tls=0: under the debug preset LeakSanitizer's exit scan
# crashed reading a stale dynamic-TLS entry left by PoCL's dlclose of kernel
# libraries ("Tracer caught signal 11", DTLS at garbage addresses); heap
# leaks are still checked.
maestro_add_test(ocl_kagent_two_devices SOURCES ocl_kagent.c TIMEOUT 180 LABELS ocl
                 ENV "POCL_DEVICES=pthread pthread" "LSAN_OPTIONS=use_tls=0")
# The same through graphs (engine device workers): chains, two devices,
# memory pressure, hybrid fallback, build errors at maestro_graph_start.
maestro_add_test(ocl_graph SOURCES ocl_graph.c TIMEOUT 180 LABELS ocl)
maestro_add_test(ocl_graph_two_devices SOURCES ocl_graph.c TIMEOUT 180 LABELS ocl
                 ENV "POCL_DEVICES=pthread pthread")
# maestro_agent_add copies the whole kernel description: one kernel variable
# reused in a loop, source and names freed right after the add.
maestro_add_test(ocl_agent_copy SOURCES ocl_agent_copy.c TIMEOUT 120 LABELS ocl)
# Refusals instead of crashes: a damaged on-disk program cache entry,
# work sizes that wrap, argument bindings that do not fit the kernel.
maestro_add_test(ocl_guard SOURCES ocl_guard.c TIMEOUT 180 LABELS ocl)
# Kernels as people write them: 2-D and 3-D launches, reqd_work_group_size,
# message shapes through CPU and device agents (and across two devices),
# the per-firing .prepare hook, by-value arguments of any type.
maestro_add_test(ocl_geom SOURCES ocl_geom.c TIMEOUT 180 LABELS ocl)
maestro_add_test(ocl_geom_two_devices SOURCES ocl_geom.c TIMEOUT 180 LABELS ocl
                 ENV "POCL_DEVICES=pthread pthread" "LSAN_OPTIONS=use_tls=0")
# .cl implementations (maestro/opencl.h): an agent's own OpenCL code with
# two kernels per firing between CPU agents, the clfire refusals, failures
# (dead letters, CPU fallback), maestro_runtime_cl_device, a separable blur.
maestro_add_test(ocl_clfire SOURCES ocl_clfire.c TIMEOUT 180 LABELS ocl)
maestro_add_test(ocl_clfire_two_devices SOURCES ocl_clfire.c TIMEOUT 180 LABELS ocl
                 ENV "POCL_DEVICES=pthread pthread" "LSAN_OPTIONS=use_tls=0")
# The cache entry's checks and argument descriptions as bytes (no device).
maestro_add_test(ocl_cache_entry SOURCES ocl_cache_entry.c TIMEOUT 60 LABELS ocl)
# Issue 13: injected launch and transfer failures (Debug builds) fall back
# to the CPU implementation.
maestro_add_test(ocl_faults SOURCES ocl_faults.c TIMEOUT 120 LABELS ocl)
