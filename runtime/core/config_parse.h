/* Checks of configuration values, shared by maestro_config_defaults (the
 * environment) and maestro_runtime_create (the struct). Each returns
 * MAESTRO_OK or MAESTRO_EINVAL with a message naming `var` and the value. */
#ifndef MAESTRO_CORE_CONFIG_PARSE_H
#define MAESTRO_CORE_CONFIG_PARSE_H

#include <stddef.h>

#include "maestro/config.h"

/* Bounds and defaults of the numeric fields (docs/configuration.md). */
enum {
  CONFIG_INTERVAL_MIN = 10,
  CONFIG_INTERVAL_MAX = 60000,
  CONFIG_INTERVAL_DEFAULT = 100,
  CONFIG_TRACE_MB_MIN = 4,
  CONFIG_TRACE_MB_MAX = 1 << 20,
  CONFIG_TRACE_BUFFER_DEFAULT = 256,
  CONFIG_TRACE_PREFAULT_DEFAULT = 64,
  /* Longest directory name (kernel_cache, perf_dir): room is left under
   * PATH_MAX for the file names inside. */
  CONFIG_DIR_MAX = 3800,
};

int config_parse_int(const char *var, const char *s, long lo, long hi, long *out);
/* 1/on/yes/true or 0/off/no/false, any case. */
int config_parse_flag(const char *var, const char *s, int *out);
int config_parse_size(const char *var, const char *s, size_t *out);
int config_check_devices(const char *var, const char *s);
int config_check_sched(const char *var, const char *s);
int config_check_dist(const char *var, const char *s);
int config_check_ocl_contexts(const char *var, const char *s);
int config_check_dir(const char *var, const char *s);
/* Every field of a filled-in struct (maestro_runtime_create). */
int config_validate(const maestro_config_t *cfg);

#endif
