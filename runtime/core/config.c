/* maestro_config_defaults: defaults, then the MAESTRO_* environment. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "maestro.h"
#include "core/config_parse.h"
#include "base/error.h"

int config_parse_int(const char *var, const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  while (*end == ' ' || *end == '\t')
    end++;
  if (errno || end == s || *end != '\0' || v < lo || v > hi)
    return err_set(MAESTRO_EINVAL, "%s='%s': expected an integer from %ld to %ld", var, s, lo, hi);
  *out = v;
  return MAESTRO_OK;
}

int config_parse_size(const char *var, const char *s, size_t *out) {
  char *end;
  errno = 0;
  /* strtoull accepts leading blanks and a minus sign (and wraps): refuse
   * anything but a plain number. */
  if (*s < '0' || *s > '9')
    return err_set(MAESTRO_EINVAL, "%s='%s': expected a size in bytes (suffix K, M or G allowed)",
                   var, s);
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s)
    return err_set(MAESTRO_EINVAL, "%s='%s': expected a size in bytes (suffix K, M or G allowed)",
                   var, s);
  unsigned long long mul = 1;
  switch (*end) {
  case 'k':
  case 'K':
    mul = 1ull << 10;
    end++;
    break;
  case 'm':
  case 'M':
    mul = 1ull << 20;
    end++;
    break;
  case 'g':
  case 'G':
    mul = 1ull << 30;
    end++;
    break;
  default: break;
  }
  if (mul > 1 && *end == 'i') end++;
  if (*end == 'B') end++;
  if (*end != '\0' || v > SIZE_MAX / mul)
    return err_set(MAESTRO_EINVAL, "%s='%s': expected a size in bytes (suffix K, M or G allowed)",
                   var, s);
  *out = (size_t)(v * mul);
  return MAESTRO_OK;
}

int config_check_devices(const char *var, const char *s) {
  if (!strcmp(s, "all") || !strcmp(s, "none")) return MAESTRO_OK;
  const char *p = s;
  if (!*p)
    return err_set(MAESTRO_EINVAL, "%s='': expected all, none or device indices like 0,2", var);
  while (*p) {
    if (*p < '0' || *p > '9')
      return err_set(MAESTRO_EINVAL, "%s='%s': expected all, none or device indices like 0,2", var,
                     s);
    while (*p >= '0' && *p <= '9')
      p++;
    if (*p == ',') {
      p++;
      if (!*p) return err_set(MAESTRO_EINVAL, "%s='%s': trailing comma in the device list", var, s);
    } else if (*p) {
      return err_set(MAESTRO_EINVAL, "%s='%s': expected all, none or device indices like 0,2", var,
                     s);
    }
  }
  return MAESTRO_OK;
}

int config_check_sched(const char *var, const char *s) {
  if (!strcmp(s, "dmda") || !strcmp(s, "eager")) return MAESTRO_OK;
  return err_set(MAESTRO_EINVAL, "%s='%s': expected dmda or eager", var, s);
}

int maestro_config_defaults(maestro_config_t *cfg) {
  if (!cfg) return err_set(MAESTRO_EINVAL, "maestro_config_defaults: cfg is NULL");
  *cfg = (maestro_config_t){
      .ncpu = 0, .devices = "all", .sched = "dmda", .trace = NULL, .stats = 1, .device_mem = 0};
  int status = MAESTRO_OK, rc;
  const char *v;
  long n = 0;
  if ((v = getenv("MAESTRO_NCPU")) && *v) {
    if ((rc = config_parse_int("MAESTRO_NCPU", v, 0, 4096, &n)) == MAESTRO_OK)
      cfg->ncpu = (int)n;
    else
      status = rc;
  }
  if ((v = getenv("MAESTRO_DEVICES")) && *v) {
    if ((rc = config_check_devices("MAESTRO_DEVICES", v)) == MAESTRO_OK)
      cfg->devices = v;
    else
      status = rc;
  }
  if ((v = getenv("MAESTRO_SCHED")) && *v) {
    if ((rc = config_check_sched("MAESTRO_SCHED", v)) == MAESTRO_OK)
      cfg->sched = v;
    else
      status = rc;
  }
  if ((v = getenv("MAESTRO_TRACE")) && *v) cfg->trace = v;
  if ((v = getenv("MAESTRO_STATS")) && *v) {
    if ((rc = config_parse_int("MAESTRO_STATS", v, 0, 1, &n)) == MAESTRO_OK)
      cfg->stats = (int)n;
    else
      status = rc;
  }
  if ((v = getenv("MAESTRO_DEVICE_MEM")) && *v) {
    size_t sz = 0;
    if ((rc = config_parse_size("MAESTRO_DEVICE_MEM", v, &sz)) == MAESTRO_OK)
      cfg->device_mem = sz;
    else
      status = rc;
  }
  return status;
}
