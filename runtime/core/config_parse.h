/* Checks of configuration values, shared by maestro_config_defaults (the
 * environment) and maestro_runtime_create (the struct). Each returns
 * MAESTRO_OK or MAESTRO_EINVAL with a message naming `var`. */
#ifndef MAESTRO_CORE_CONFIG_PARSE_H
#define MAESTRO_CORE_CONFIG_PARSE_H

#include <stddef.h>

int config_parse_int(const char *var, const char *s, long lo, long hi, long *out);
int config_parse_size(const char *var, const char *s, size_t *out);
int config_check_devices(const char *var, const char *s);
int config_check_sched(const char *var, const char *s);

#endif
