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
 * maestro_runtime_create() returns.
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
} maestro_config_t;

/**
 * Fills `cfg` with the defaults, then applies the MAESTRO_* environment
 * variables named beside each field. A malformed variable
 * (MAESTRO_NCPU=-3, MAESTRO_DEVICES=banana) is reported here with
 * MAESTRO_EINVAL and a message naming the variable; `cfg` then holds the
 * defaults for that field.
 */
int maestro_config_defaults(maestro_config_t *cfg);

#ifdef __cplusplus
}
#endif
#endif
