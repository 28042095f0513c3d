/**
 * @file maestro/runtime.h
 * The runtime: one per process. It owns the machine's topology, the places
 * (CPU workers and OpenCL devices), the memory nodes and the live stats.
 */
#ifndef MAESTRO_RUNTIME_H
#define MAESTRO_RUNTIME_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque runtime handle. */
typedef struct maestro_runtime maestro_runtime_t;

/** The two kinds of place an agent can run on. */
typedef enum maestro_place_kind {
  MAESTRO_PLACE_CPU = 0,    /**< a worker thread pinned to one core */
  MAESTRO_PLACE_DEVICE = 1, /**< an OpenCL device driven by the runtime */
} maestro_place_kind_t;

/** OpenCL device types, as reported by the device. */
typedef enum maestro_device_type {
  MAESTRO_DEVICE_NONE = 0, /**< a CPU place */
  MAESTRO_DEVICE_CPU = 1,
  MAESTRO_DEVICE_GPU = 2,
  MAESTRO_DEVICE_ACCELERATOR = 3,
  MAESTRO_DEVICE_OTHER = 4,
} maestro_device_type_t;

/** What a place is. */
typedef struct maestro_place_info {
  maestro_place_kind_t kind;
  int index;                         /**< index among places of this kind */
  char name[128];                    /**< "cpu 3" core name, or the OpenCL device name */
  char vendor[64];                   /**< device vendor; the CPU model for CPU places */
  char platform[64];                 /**< OpenCL platform name; empty for CPU places */
  int os_index;                      /**< OS index of the core (CPU) / -1 (device) */
  int numa_node;                     /**< NUMA node of the core or device, -1 if unknown */
  uint64_t mem_bytes;                /**< NUMA node memory (CPU) / global memory (device) */
  int unified;                       /**< 1 when the place shares host memory */
  maestro_device_type_t device_type; /**< MAESTRO_DEVICE_NONE for CPU places */
  int compute_units;                 /**< 1 for a core; CL_DEVICE_MAX_COMPUTE_UNITS */
  uint64_t max_alloc;                /**< largest single allocation (device), 0 for CPU */
} maestro_place_info_t;

/**
 * Creates the runtime: discovers the topology (hwloc) and the OpenCL devices,
 * starts one pinned worker per CPU place and one per device place. `cfg` may
 * be NULL for maestro_config_defaults(). A machine without any OpenCL
 * platform is not an error: the runtime is CPU-only.
 * @return MAESTRO_OK, MAESTRO_EINVAL (bad config), MAESTRO_ENODEV (asked for a
 *         device or more cores than exist), MAESTRO_ENOMEM, MAESTRO_ESYS.
 */
int maestro_runtime_create(const maestro_config_t *cfg, maestro_runtime_t **rt);

/**
 * Stops and joins every worker and frees the runtime. Graphs still alive are
 * cancelled and destroyed first. NULL is ignored. Refused from inside a
 * firing (a CPU function): the runtime is left running and
 * maestro_last_error() says why.
 */
void maestro_runtime_destroy(maestro_runtime_t *rt);

/**
 * This process's MPI rank in the graphs it runs (every rank declares the same
 * graph: SPMD), 0 when the runtime does not span ranks (cfg.dist "none", or a
 * build without MPI). 0 for a NULL rt.
 */
int maestro_runtime_rank(const maestro_runtime_t *rt);

/** The number of MPI ranks the runtime spans; 1 without MPI. 1 for a NULL rt. */
int maestro_runtime_nranks(const maestro_runtime_t *rt);

/** Number of places of `kind`, or a negative status for a bad argument. */
int maestro_runtime_nplaces(const maestro_runtime_t *rt, maestro_place_kind_t kind);

/**
 * Describes place `index` of `kind`.
 * @return MAESTRO_OK, MAESTRO_EINVAL, or MAESTRO_ENODEV for an index out of range.
 */
int maestro_runtime_place_info(const maestro_runtime_t *rt, maestro_place_kind_t kind, int index,
                               maestro_place_info_t *info);

/**
 * A one-line reason why the runtime has no device places ("no OpenCL
 * platform found", "MAESTRO_DEVICES=none"), or NULL when it has some.
 */
const char *maestro_runtime_cpu_only_reason(const maestro_runtime_t *rt);

/**
 * Writes the OS processor numbers of CPU place `cpu` as a list ("3", or
 * "3,67" for a core with two hardware threads, "0-3" for a range) into `buf`,
 * truncated to `len` bytes, NUL included.
 * @return MAESTRO_OK, MAESTRO_EINVAL (NULL argument, len 0) or MAESTRO_ENODEV
 *         (no such CPU place).
 */
int maestro_runtime_place_pus(const maestro_runtime_t *rt, int cpu, char *buf, size_t len);

/** The two forms of maestro_runtime_describe_topology. */
typedef enum maestro_describe_format {
  MAESTRO_DESCRIBE_TEXT = 0, /**< lines for people, ending in a newline */
  MAESTRO_DESCRIBE_JSON = 1, /**< one JSON object, no newline */
} maestro_describe_format_t;

/**
 * Writes the machine topology the runtime found (packages with their CPU
 * model, NUMA nodes with their memory, cores and hardware threads usable by
 * this process, caches) to `f`. The JSON object has the keys
 * "hwloc_version", "packages" [{"os_index", "model", "pus"}], "numa_nodes"
 * [{"os_index", "mem_bytes", "pus"}], "cores", "usable_cores", "pus",
 * "usable_pus" (a list string such as "0-7") and "caches" [{"name", "level", "size", "line",
 * "count"}]; keys may be added. This is what maestro-info prints.
 * @return MAESTRO_OK or MAESTRO_EINVAL (NULL argument, unknown format).
 */
int maestro_runtime_describe_topology(const maestro_runtime_t *rt, FILE *f,
                                      maestro_describe_format_t format);

/** The measured link between the host and one device place. */
typedef struct maestro_link_info {
  size_t bytes;        /**< transfer size used for the bandwidth figures */
  double h2d_gbps;     /**< host -> device copy bandwidth, best of 5, GB/s (1e9 bytes/s) */
  double d2h_gbps;     /**< device -> host copy bandwidth, best of 5, GB/s */
  uint64_t h2d_lat_ns; /**< latency of a blocking 4-byte host -> device write, ns */
  uint64_t d2h_lat_ns; /**< latency of a blocking 4-byte device -> host read, ns */
  uint64_t map_ns;     /**< map + unmap of a `bytes` host-memory buffer, ns */
  int zero_copy;       /**< 1 when the runtime maps host memory there instead of copying */
} maestro_link_info_t;

/**
 * Measures the link between the host and device place `dev`: bandwidth
 * with copies of `bytes` (0 for 64 MiB; at least 4 KiB, at most the
 * device's largest allocation) and the latency of small transfers. Blocks
 * for a few tens of milliseconds while the device is otherwise idle, and
 * feeds the figures to the runtime's transfer cost model. This is what
 * `maestro-info --bench` prints.
 * @return MAESTRO_OK, MAESTRO_EINVAL (NULL argument), MAESTRO_ENODEV (no
 *         such device place), MAESTRO_ENOMEM, or MAESTRO_ECL (the device
 *         failed; maestro_last_error() has the OpenCL error).
 */
int maestro_runtime_measure_link(maestro_runtime_t *rt, int dev, size_t bytes,
                                 maestro_link_info_t *out);

/**
 * Writes what the trace (`.trace`, MAESTRO_TRACE) has recorded so far to
 * its file now, rather than at the writer's next period (every
 * `.stats_interval_ms`, 100 ms by default): the file is then complete JSON
 * holding every firing recorded before the call (short firings of a batch
 * still running excepted). The trace is also completed at exit() and on
 * SIGTERM / SIGINT (docs/profiling.md). A no-op when the runtime does not
 * trace.
 * @return MAESTRO_OK, MAESTRO_EINVAL (`rt` is NULL) or MAESTRO_ESYS (writing
 *         the file failed, now or before: the trace is incomplete).
 */
int maestro_trace_flush(maestro_runtime_t *rt);

#ifdef __cplusplus
}
#endif
#endif
