/**
 * @file maestro/config.h
 * Runtime configuration.
 */
#ifndef MAESTRO_CONFIG_H
#define MAESTRO_CONFIG_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * How a runtime is set up. Fill it with maestro_config_defaults(), then change
 * fields. String fields are borrowed: they must stay valid until
 * maestro_runtime_create() returns, which copies them; two runtimes in one
 * process may be created from different configurations. The strings that
 * maestro_config_defaults() itself puts in `cfg` stay valid for the life of
 * the process. docs/configuration.md lists every field and variable.
 */
typedef struct maestro_config {
  /** CPU workers: 0 = one per core this process may use (MAESTRO_NCPU). */
  int ncpu;
  /** OpenCL devices: "all" (default), "none", or indices such as "0,2"
   *  in the order maestro-info lists them (MAESTRO_DEVICES). */
  const char *devices;
  /** Placement policy (MAESTRO_SCHED): "dmda" (default: affinity, then the
   *  earliest expected finish from measured cost and transfer cost) or
   *  "eager" (affinity, then the first free place). */
  const char *sched;
  /** Chrome Trace Event file written at graph end / runtime destroy, or
   *  NULL for none (MAESTRO_TRACE). */
  const char *trace;
  /** 1 (default) publishes live stats for maestro-top; 0 turns them off
   *  (MAESTRO_STATS). */
  int stats;
  /** Upper bound in bytes on the device memory the runtime uses per device;
   *  0 = the device's global memory (MAESTRO_DEVICE_MEM). */
  size_t device_mem;
  /** Zero-copy buffers on devices that share host memory (MAESTRO_ZERO_COPY):
   *  -1 (default) = auto, on wherever the device shares host memory; 1 = the
   *  same (a discrete device's memory cannot be mapped); 0 = always copy. */
  int zero_copy;
  /** Directory of the on-disk cache of built OpenCL programs, "" or NULL =
   *  no disk cache (MAESTRO_KERNEL_CACHE). Default
   *  $XDG_CACHE_HOME/maestro, else ~/.cache/maestro. */
  const char *kernel_cache;
  /** How often live stats are published, 10..60000 ms; default 100
   *  (MAESTRO_STATS_INTERVAL_MS). */
  int stats_interval_ms;
  /** Where performance models persist between runs, "" or NULL = not kept
   *  (MAESTRO_PERF_DIR). Default $XDG_CACHE_HOME/maestro/perf, else
   *  ~/.cache/maestro/perf. */
  const char *perf_dir;
  /** Distribution across processes (MAESTRO_DIST): "none" (NULL is the
   *  same) or "mpi", refused by a build without the MPI backend. Default
   *  "mpi" when the process was started by an MPI launcher (mpiexec) and
   *  the build has the MPI backend, else "none". See docs/mpi.md. */
  const char *dist;
  /** OpenCL contexts (MAESTRO_OCL_CONTEXTS): "platform" (default; NULL is
   *  the same: one per platform, its devices copy directly) or "device"
   *  (one per device: copies between devices go through the host). */
  const char *ocl_contexts;
  /** Memory for binary trace records, 4..1048576 MiB; default 256
   *  (MAESTRO_TRACE_BUFFER_MB). */
  int trace_buffer_mb;
  /** How much of that memory is faulted in at creation, 0..1048576 MiB;
   *  default 64 (MAESTRO_TRACE_PREFAULT_MB). */
  int trace_prefault_mb;
  /** Fault injection, for testing failure paths (MAESTRO_FAULTS): NULL or ""
   *  (default) = none; else fractions of operations made to fail and a seed,
   *  e.g. "alloc=0.01,launch=0.05,xfer=0.02,fire=0.01,seed=42" (buffer
   *  allocations, device launches, transfers to a device, CPU firings;
   *  "answer" and "serve": on a rank firing MAESTRO_RANK_ANY agents for
   *  rank 0, queueing a firing's outcome and taking a firing in).
   *  Only Debug builds have it: any other build refuses a non-empty value
   *  with MAESTRO_EINVAL. */
  const char *faults;
} maestro_config_t;

/**
 * Fills `cfg` with the defaults, then applies the MAESTRO_* environment
 * variables named beside each field. This is the only place the runtime
 * reads its environment: a runtime created from a filled-in struct does not
 * look at MAESTRO_* variables again. A malformed variable
 * (MAESTRO_NCPU=-3, MAESTRO_DEVICES=banana, MAESTRO_STATS=' ') is reported
 * here with MAESTRO_EINVAL and a message naming the variable and its value;
 * `cfg` then holds the default for that field and the parsed values of the
 * others.
 */
int maestro_config_defaults(maestro_config_t *cfg);

#ifdef __cplusplus
}
#endif
#endif
