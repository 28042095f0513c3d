/* libFuzzer target: the MAESTRO_* configuration parser. The input is lines
 * of NAME=value (names outside the list below are skipped; a value ends at
 * the line's end or a NUL). Each value goes to every parse function
 * directly, then the set is put in the environment for
 * maestro_config_defaults. Beyond not crashing, the parser promises that
 * what maestro_config_defaults hands back passes config_validate whatever
 * the environment held (a malformed variable leaves its field at the
 * default), and that every refusal comes with a message. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "maestro.h"
#include "core/config_parse.h"

static const char *const vars[] = {
    "MAESTRO_NCPU",
    "MAESTRO_DEVICES",
    "MAESTRO_SCHED",
    "MAESTRO_TRACE",
    "MAESTRO_STATS",
    "MAESTRO_DEVICE_MEM",
    "MAESTRO_ZERO_COPY",
    "MAESTRO_KERNEL_CACHE_DIR",
    "MAESTRO_KERNEL_CACHE",
    "MAESTRO_STATS_INTERVAL_MS",
    "MAESTRO_PERF_DIR",
    "MAESTRO_DIST",
    "MAESTRO_OCL_CONTEXTS",
    "MAESTRO_TRACE_BUFFER_MB",
    "MAESTRO_TRACE_PREFAULT_MB",
    "MAESTRO_FAULTS",
    "XDG_CACHE_HOME",
    "HOME",
};
enum { NVARS = sizeof vars / sizeof vars[0] };

static void expect(int rc) {
  if (rc != MAESTRO_OK && rc != MAESTRO_EINVAL) abort();
  const char *m = maestro_last_error();
  if (rc == MAESTRO_EINVAL && (!m || !*m)) abort();
}

static void parse_directly(const char *v) {
  long n = -1;
  int flag = -1;
  size_t sz = 0;
  expect(config_parse_int("X", v, 0, 4096, &n));
  expect(config_parse_int("X", v, CONFIG_INTERVAL_MIN, CONFIG_INTERVAL_MAX, &n));
  if (config_parse_int("X", v, -5, 5, &n) == MAESTRO_OK && (n < -5 || n > 5)) abort();
  expect(config_parse_flag("X", v, &flag));
  expect(config_parse_size("X", v, &sz));
  expect(config_check_devices("X", v));
  expect(config_check_sched("X", v));
  expect(config_check_dist("X", v));
  expect(config_check_ocl_contexts("X", v));
  expect(config_check_dir("X", v));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int saved;
  static char *home0;
  if (!saved) {
    const char *h = getenv("HOME");
    home0 = h ? strdup(h) : NULL;
    saved = 1;
  }
  for (int i = 0; i < NVARS; i++)
    unsetenv(vars[i]);
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  for (char *line = text; line < text + size;) {
    char *nl = memchr(line, '\n', (size_t)(text + size - line));
    char *end = nl ? nl : text + size;
    *end = '\0';
    char *eq = strchr(line, '=');
    if (eq) {
      *eq = '\0';
      const char *value = eq + 1;
      parse_directly(value);
      for (int i = 0; i < NVARS; i++)
        if (!strcmp(line, vars[i])) setenv(vars[i], value, 1);
    }
    line = end + 1;
  }
  free(text);

  maestro_config_t cfg;
  int rc = maestro_config_defaults(&cfg);
  expect(rc);
  if (!cfg.devices || !cfg.sched || !cfg.kernel_cache || !cfg.perf_dir || !cfg.dist ||
      !cfg.ocl_contexts)
    abort();
  if (config_validate(&cfg) != MAESTRO_OK) abort();

  for (int i = 0; i < NVARS; i++)
    unsetenv(vars[i]);
  if (home0) setenv("HOME", home0, 1);
  return 0;
}
