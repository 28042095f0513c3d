/* Helpers shared by the foundation suites (header-only, static). */
#ifndef MAESTRO_TESTS_FOUNDATION_COMMON_H
#define MAESTRO_TESTS_FOUNDATION_COMMON_H

#include <stdlib.h>
#include <string.h>

#include "maestro.h"

/* The MAESTRO_* variables a suite's own settings must not inherit from the
 * shell that runs ctest. */
static inline void clear_maestro_env(void) {
  static const char *vars[] = {"MAESTRO_NCPU",
                               "MAESTRO_DEVICES",
                               "MAESTRO_SCHED",
                               "MAESTRO_TRACE",
                               "MAESTRO_STATS",
                               "MAESTRO_DEVICE_MEM",
                               "MAESTRO_ZERO_COPY",
                               "MAESTRO_KERNEL_CACHE",
                               "MAESTRO_KERNEL_CACHE_DIR",
                               "MAESTRO_STATS_INTERVAL_MS",
                               "MAESTRO_PERF_DIR",
                               "MAESTRO_DIST",
                               "MAESTRO_OCL_CONTEXTS",
                               "MAESTRO_TRACE_BUFFER_MB",
                               "MAESTRO_TRACE_PREFAULT_MB"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
    unsetenv(vars[i]);
}

/* A runtime with the defaults except `devices` (NULL = default) and `ncpu`.
 * Returns the status; *rt is NULL on failure. */
static inline int make_runtime(const char *devices, int ncpu, maestro_runtime_t **rt) {
  maestro_config_t cfg;
  int rc = maestro_config_defaults(&cfg);
  if (rc != MAESTRO_OK) return rc;
  if (devices) cfg.devices = devices;
  cfg.ncpu = ncpu;
  cfg.stats = 0;
  return maestro_runtime_create(&cfg, rt);
}

/* 1 when maestro_last_error() contains `needle`. */
static inline int last_error_has(const char *needle) {
  return strstr(maestro_last_error(), needle) != NULL;
}

#endif
