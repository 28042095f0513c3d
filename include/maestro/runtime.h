/**
 * @file maestro/runtime.h
 * The runtime: one per process. It owns the machine's topology, the places
 * (CPU workers and OpenCL devices), the memory nodes and the live stats.
 */
#ifndef MAESTRO_RUNTIME_H
#define MAESTRO_RUNTIME_H

#include <stdint.h>

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

#ifdef __cplusplus
}
#endif
#endif
