/* maestro_config_defaults: defaults, then the MAESTRO_* environment. The
 * only file of the runtime that reads the environment (tests/foundation/check_getenv.sh
 * keeps it so): every subsystem reads rt->cfg, so two runtimes in one process
 * can be configured differently. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "maestro.h"
#include "core/config_parse.h"
#include "core/dist.h"
#include "base/error.h"
#include "base/fault.h"

int config_parse_int(const char *var, const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  /* strtol skips leading blanks, and leaves `end` at `s` when it finds no
   * digit: a value of blanks alone must not pass for a number. */
  long v = (*s == ' ' || *s == '\t') ? 0 : strtol(s, &end, 10);
  if (*s == ' ' || *s == '\t' || errno || end == s)
    return err_set(MAESTRO_EINVAL, "%s='%s': expected an integer from %ld to %ld", var, s, lo, hi);
  while (*end == ' ' || *end == '\t')
    end++;
  if (*end != '\0' || v < lo || v > hi)
    return err_set(MAESTRO_EINVAL, "%s='%s': expected an integer from %ld to %ld", var, s, lo, hi);
  *out = v;
  return MAESTRO_OK;
}

int config_parse_flag(const char *var, const char *s, int *out) {
  static const char *const on[] = {"1", "on", "yes", "true"};
  static const char *const off[] = {"0", "off", "no", "false"};
  for (size_t i = 0; i < sizeof on / sizeof on[0]; i++) {
    if (!strcasecmp(s, on[i])) return *out = 1, MAESTRO_OK;
    if (!strcasecmp(s, off[i])) return *out = 0, MAESTRO_OK;
  }
  return err_set(MAESTRO_EINVAL, "%s='%s': expected 1/on/yes/true or 0/off/no/false", var, s);
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

int config_check_dist(const char *var, const char *s) {
  if (!strcmp(s, "none")) return MAESTRO_OK;
  if (!strcmp(s, "mpi") && dist_builtin) return MAESTRO_OK;
  if (!strcmp(s, "mpi"))
    return err_set(MAESTRO_EINVAL,
                   "%s='mpi': this build of Maestro has no MPI backend; only 'none' is available",
                   var);
  return err_set(MAESTRO_EINVAL, "%s='%s': expected none or mpi", var, s);
}

int config_check_ocl_contexts(const char *var, const char *s) {
  if (!strcmp(s, "platform") || !strcmp(s, "device")) return MAESTRO_OK;
  return err_set(MAESTRO_EINVAL, "%s='%s': expected platform or device", var, s);
}

int config_check_dir(const char *var, const char *s) {
  size_t n = strlen(s);
  if (n > CONFIG_DIR_MAX)
    return err_set(MAESTRO_EINVAL, "%s='%s': a directory name of %zu characters, at most %d", var,
                   s, n, CONFIG_DIR_MAX);
  if (n && (isspace((unsigned char)s[0]) || isspace((unsigned char)s[n - 1])))
    return err_set(MAESTRO_EINVAL, "%s='%s': a directory name that begins or ends with a blank",
                   var, s);
  return MAESTRO_OK;
}

static int check_range(const char *var, long v, long lo, long hi) {
  if (v >= lo && v <= hi) return MAESTRO_OK;
  return err_set(MAESTRO_EINVAL, "maestro_runtime_create: %s=%ld: expected %ld to %ld", var, v, lo,
                 hi);
}

int config_validate(const maestro_config_t *cfg) {
  int rc;
  if (cfg->ncpu < 0)
    return err_set(MAESTRO_EINVAL,
                   "maestro_runtime_create: ncpu=%d: expected 0 (one per core) or more", cfg->ncpu);
  if (cfg->devices && (rc = config_check_devices("cfg.devices", cfg->devices))) return rc;
  if (cfg->sched && (rc = config_check_sched("cfg.sched", cfg->sched))) return rc;
  if (cfg->stats != 0 && cfg->stats != 1)
    return err_set(MAESTRO_EINVAL, "maestro_runtime_create: stats=%d: expected 0 or 1", cfg->stats);
  if (cfg->zero_copy < -1 || cfg->zero_copy > 1)
    return err_set(MAESTRO_EINVAL,
                   "maestro_runtime_create: cfg.zero_copy=%d: expected -1 (auto), 0 or 1",
                   cfg->zero_copy);
  if (cfg->kernel_cache && (rc = config_check_dir("cfg.kernel_cache", cfg->kernel_cache)))
    return rc;
  if ((rc = check_range("cfg.stats_interval_ms", cfg->stats_interval_ms, CONFIG_INTERVAL_MIN,
                        CONFIG_INTERVAL_MAX)))
    return rc;
  if (cfg->perf_dir && (rc = config_check_dir("cfg.perf_dir", cfg->perf_dir))) return rc;
  if (cfg->dist && (rc = config_check_dist("cfg.dist", cfg->dist))) return rc;
  if (cfg->ocl_contexts && (rc = config_check_ocl_contexts("cfg.ocl_contexts", cfg->ocl_contexts)))
    return rc;
  if ((rc = check_range("cfg.trace_buffer_mb", cfg->trace_buffer_mb, CONFIG_TRACE_MB_MIN,
                        CONFIG_TRACE_MB_MAX)))
    return rc;
  if ((rc = check_range("cfg.trace_prefault_mb", cfg->trace_prefault_mb, 0, CONFIG_TRACE_MB_MAX)))
    return rc;
  struct fault f;
  return fault_parse("cfg.faults", cfg->faults, &f);
}

/* Strings maestro_config_defaults hands out (the environment's values and
 * the default directories) live as long as the process: a configuration
 * stays valid when the environment changes, and each distinct value is kept
 * once. */
struct interned {
  struct interned *next;
  char s[];
};
static pthread_mutex_t intern_lock = PTHREAD_MUTEX_INITIALIZER;
static struct interned *interned;

static const char *intern(const char *s) {
  pthread_mutex_lock(&intern_lock);
  struct interned *i = interned;
  while (i && strcmp(i->s, s) != 0)
    i = i->next;
  if (!i && (i = malloc(sizeof *i + strlen(s) + 1))) {
    strcpy(i->s, s);
    i->next = interned;
    interned = i;
  }
  pthread_mutex_unlock(&intern_lock);
  if (!i) err_set(MAESTRO_ENOMEM, "maestro_config_defaults: out of memory");
  return i ? i->s : NULL;
}

/* "<cache home>/maestro<sub>", the cache home being $XDG_CACHE_HOME (when
 * absolute, as the XDG spec asks) or ~/.cache; "" without either. */
static const char *cache_dir(const char *sub) {
  const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
  char path[CONFIG_DIR_MAX + 64];
  int n;
  if (xdg && xdg[0] == '/')
    n = snprintf(path, sizeof path, "%s/maestro%s", xdg, sub);
  else if (home && home[0] == '/')
    n = snprintf(path, sizeof path, "%s/.cache/maestro%s", home, sub);
  else
    return "";
  /* A home too deep to hold the cache: no cache rather than a cut path. */
  if (n < 0 || n > CONFIG_DIR_MAX) return "";
  return intern(path);
}

/* A directory variable: a flag word for off (or on = the default), else a
 * directory. */
static int env_dir(const char *var, const char *v, const char *dflt, const char **out) {
  int on;
  if (config_parse_flag(var, v, &on) == MAESTRO_OK) {
    *out = on ? dflt : "";
    return MAESTRO_OK;
  }
  int rc = config_check_dir(var, v);
  if (rc) return rc;
  const char *s = intern(v);
  if (!s) return MAESTRO_ENOMEM;
  *out = s;
  return MAESTRO_OK;
}

/* The value of `var`, or NULL when unset or empty (the same thing). */
static const char *env(const char *var) {
  const char *v = getenv(var);
  return v && *v ? v : NULL;
}

int maestro_config_defaults(maestro_config_t *cfg) {
  if (!cfg) return err_set(MAESTRO_EINVAL, "maestro_config_defaults: cfg is NULL");
  const char *kcache = cache_dir(""), *perf = cache_dir("/perf");
  *cfg = (maestro_config_t){.ncpu = 0,
                            .devices = "all",
                            .sched = "dmda",
                            .trace = NULL,
                            .stats = 1,
                            .device_mem = 0,
                            .zero_copy = -1,
                            .kernel_cache = kcache ? kcache : "",
                            .stats_interval_ms = CONFIG_INTERVAL_DEFAULT,
                            .perf_dir = perf ? perf : "",
                            .dist = "none",
                            .ocl_contexts = "platform",
                            .trace_buffer_mb = CONFIG_TRACE_BUFFER_DEFAULT,
                            .trace_prefault_mb = CONFIG_TRACE_PREFAULT_DEFAULT};
  /* Every variable is parsed; the status (and maestro_last_error) is the
   * last failure's. */
  int status = kcache && perf ? MAESTRO_OK : MAESTRO_ENOMEM, rc = MAESTRO_OK;
#define KEEP(call)                                                                                 \
  do {                                                                                             \
    if ((rc = (call)) != MAESTRO_OK) status = rc;                                                  \
  } while (0)
#define SET_STR(field, v)                                                                          \
  do {                                                                                             \
    if (rc) break;                                                                                 \
    if ((s = intern(v)))                                                                           \
      cfg->field = s;                                                                              \
    else                                                                                           \
      status = rc = MAESTRO_ENOMEM;                                                                \
  } while (0)
  const char *v, *s;
  long n = 0;
  int flag = 0;
  if ((v = env("MAESTRO_NCPU"))) {
    KEEP(config_parse_int("MAESTRO_NCPU", v, 0, 4096, &n));
    if (!rc) cfg->ncpu = (int)n;
  }
  if ((v = env("MAESTRO_DEVICES"))) {
    KEEP(config_check_devices("MAESTRO_DEVICES", v));
    SET_STR(devices, v);
  }
  if ((v = env("MAESTRO_SCHED"))) {
    KEEP(config_check_sched("MAESTRO_SCHED", v));
    SET_STR(sched, v);
  }
  if ((v = env("MAESTRO_TRACE"))) {
    rc = MAESTRO_OK;
    SET_STR(trace, v);
  }
  if ((v = env("MAESTRO_STATS"))) {
    KEEP(config_parse_flag("MAESTRO_STATS", v, &flag));
    if (!rc) cfg->stats = flag;
  }
  if ((v = env("MAESTRO_DEVICE_MEM"))) {
    size_t sz = 0;
    KEEP(config_parse_size("MAESTRO_DEVICE_MEM", v, &sz));
    if (!rc) cfg->device_mem = sz;
  }
  if ((v = env("MAESTRO_ZERO_COPY"))) {
    if (!strcasecmp(v, "auto")) {
      cfg->zero_copy = -1;
    } else {
      KEEP(config_parse_flag("MAESTRO_ZERO_COPY", v, &flag));
      if (!rc) cfg->zero_copy = flag;
    }
  }
  /* MAESTRO_KERNEL_CACHE_DIR, the older name of the directory, still counts
   * unless MAESTRO_KERNEL_CACHE says otherwise. */
  if ((v = env("MAESTRO_KERNEL_CACHE_DIR"))) {
    KEEP(config_check_dir("MAESTRO_KERNEL_CACHE_DIR", v));
    SET_STR(kernel_cache, v);
  }
  if ((v = env("MAESTRO_KERNEL_CACHE")))
    KEEP(env_dir("MAESTRO_KERNEL_CACHE", v, cfg->kernel_cache, &cfg->kernel_cache));
  if ((v = env("MAESTRO_STATS_INTERVAL_MS"))) {
    KEEP(config_parse_int("MAESTRO_STATS_INTERVAL_MS", v, CONFIG_INTERVAL_MIN, CONFIG_INTERVAL_MAX,
                          &n));
    if (!rc) cfg->stats_interval_ms = (int)n;
  }
  if ((v = env("MAESTRO_PERF_DIR")))
    KEEP(env_dir("MAESTRO_PERF_DIR", v, cfg->perf_dir, &cfg->perf_dir));
  /* Started by an MPI launcher (Open MPI, MPICH's Hydra, PMIx): the ranks
   * are meant to work together, when this build can. */
  if (dist_builtin &&
      (env("OMPI_COMM_WORLD_SIZE") || env("PMI_SIZE") || env("PMIX_RANK") || env("PMI_RANK")))
    cfg->dist = "mpi";
  if ((v = env("MAESTRO_DIST"))) {
    KEEP(config_check_dist("MAESTRO_DIST", v));
    SET_STR(dist, v);
  }
  if ((v = env("MAESTRO_OCL_CONTEXTS"))) {
    KEEP(config_check_ocl_contexts("MAESTRO_OCL_CONTEXTS", v));
    SET_STR(ocl_contexts, v);
  }
  if ((v = env("MAESTRO_TRACE_BUFFER_MB"))) {
    KEEP(config_parse_int("MAESTRO_TRACE_BUFFER_MB", v, CONFIG_TRACE_MB_MIN, CONFIG_TRACE_MB_MAX,
                          &n));
    if (!rc) cfg->trace_buffer_mb = (int)n;
  }
  if ((v = env("MAESTRO_TRACE_PREFAULT_MB"))) {
    KEEP(config_parse_int("MAESTRO_TRACE_PREFAULT_MB", v, 0, CONFIG_TRACE_MB_MAX, &n));
    if (!rc) cfg->trace_prefault_mb = (int)n;
  }
  if ((v = env("MAESTRO_FAULTS"))) {
    struct fault f;
    KEEP(fault_parse("MAESTRO_FAULTS", v, &f));
    SET_STR(faults, v);
  }
#undef KEEP
#undef SET_STR
  return status;
}
