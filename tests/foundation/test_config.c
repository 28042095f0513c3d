/* Configuration: defaults, every MAESTRO_* variable, good and bad values,
 * and the checks maestro_runtime_create makes on a filled-in struct. */
#include <stdio.h>

#include "base/runtime.h"
#include "common.h"
#include "testmain.h"

/* Sets or (value NULL) unsets a variable, for HOME and XDG_CACHE_HOME. */
static void set_or_unset(const char *var, const char *value) {
  if (value)
    setenv(var, value, 1);
  else
    unsetenv(var);
}

/* Every field of `cfg` equals the same field of `ref`. */
static int same_config(const maestro_config_t *cfg, const maestro_config_t *ref) {
#define SAME_STR(a, b) ((a) == (b) || ((a) && (b) && !strcmp((a), (b))))
  return cfg->ncpu == ref->ncpu && SAME_STR(cfg->devices, ref->devices) &&
         SAME_STR(cfg->sched, ref->sched) && SAME_STR(cfg->trace, ref->trace) &&
         cfg->stats == ref->stats && cfg->device_mem == ref->device_mem &&
         cfg->zero_copy == ref->zero_copy && SAME_STR(cfg->kernel_cache, ref->kernel_cache) &&
         cfg->stats_interval_ms == ref->stats_interval_ms &&
         SAME_STR(cfg->perf_dir, ref->perf_dir) && SAME_STR(cfg->dist, ref->dist) &&
         SAME_STR(cfg->ocl_contexts, ref->ocl_contexts) &&
         cfg->trace_buffer_mb == ref->trace_buffer_mb &&
         cfg->trace_prefault_mb == ref->trace_prefault_mb;
#undef SAME_STR
}

static int setup(void) {
  clear_maestro_env();
  return 0;
}

static void test_defaults(void) {
  clear_maestro_env();
  maestro_config_t cfg;
  CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
  CU_ASSERT_EQUAL(cfg.ncpu, 0);
  CU_ASSERT_STRING_EQUAL(cfg.devices, "all");
  CU_ASSERT_STRING_EQUAL(cfg.sched, "dmda");
  CU_ASSERT_PTR_NULL(cfg.trace);
  CU_ASSERT_EQUAL(cfg.stats, 1);
  CU_ASSERT_EQUAL(cfg.device_mem, 0);
  CU_ASSERT_EQUAL(cfg.zero_copy, -1);
  CU_ASSERT_EQUAL(cfg.stats_interval_ms, 100);
  CU_ASSERT_STRING_EQUAL(cfg.dist, "none");
  CU_ASSERT_STRING_EQUAL(cfg.ocl_contexts, "platform");
  CU_ASSERT_EQUAL(cfg.trace_buffer_mb, 256);
  CU_ASSERT_EQUAL(cfg.trace_prefault_mb, 64);
}

/* The cache directories: under $XDG_CACHE_HOME when it is absolute, else
 * under ~/.cache, else none. */
static void test_default_dirs(void) {
  clear_maestro_env();
  char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
  char *xdg = getenv("XDG_CACHE_HOME") ? strdup(getenv("XDG_CACHE_HOME")) : NULL;
  maestro_config_t cfg;
  setenv("XDG_CACHE_HOME", "/x/cache", 1);
  setenv("HOME", "/home/h", 1);
  CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
  CU_ASSERT_STRING_EQUAL(cfg.kernel_cache, "/x/cache/maestro");
  CU_ASSERT_STRING_EQUAL(cfg.perf_dir, "/x/cache/maestro/perf");
  unsetenv("XDG_CACHE_HOME");
  CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
  CU_ASSERT_STRING_EQUAL(cfg.kernel_cache, "/home/h/.cache/maestro");
  CU_ASSERT_STRING_EQUAL(cfg.perf_dir, "/home/h/.cache/maestro/perf");
  setenv("XDG_CACHE_HOME", "relative", 1); /* the XDG spec: ignored */
  CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
  CU_ASSERT_STRING_EQUAL(cfg.kernel_cache, "/home/h/.cache/maestro");
  unsetenv("XDG_CACHE_HOME");
  unsetenv("HOME");
  CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
  CU_ASSERT_STRING_EQUAL(cfg.kernel_cache, "");
  CU_ASSERT_STRING_EQUAL(cfg.perf_dir, "");
  set_or_unset("HOME", home);
  set_or_unset("XDG_CACHE_HOME", xdg);
  free(home);
  free(xdg);
}

static void test_null_cfg(void) {
  CU_ASSERT_EQUAL(maestro_config_defaults(NULL), MAESTRO_EINVAL);
  CU_ASSERT_TRUE(last_error_has("cfg"));
}

static void test_env_good_values(void) {
  clear_maestro_env();
  setenv("MAESTRO_NCPU", "1", 1);
  setenv("MAESTRO_DEVICES", "0,2", 1);
  setenv("MAESTRO_SCHED", "eager", 1);
  setenv("MAESTRO_TRACE", "/tmp/t.json", 1);
  setenv("MAESTRO_STATS", "0", 1);
  setenv("MAESTRO_DEVICE_MEM", "64M", 1);
  setenv("MAESTRO_ZERO_COPY", "0", 1);
  setenv("MAESTRO_KERNEL_CACHE", "/tmp/kc", 1);
  setenv("MAESTRO_STATS_INTERVAL_MS", "250", 1);
  setenv("MAESTRO_PERF_DIR", "/tmp/perf", 1);
  setenv("MAESTRO_DIST", "none", 1);
  setenv("MAESTRO_OCL_CONTEXTS", "device", 1);
  setenv("MAESTRO_TRACE_BUFFER_MB", "16", 1);
  setenv("MAESTRO_TRACE_PREFAULT_MB", "0", 1);
  maestro_config_t cfg;
  CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
  CU_ASSERT_EQUAL(cfg.zero_copy, 0);
  CU_ASSERT_STRING_EQUAL(cfg.kernel_cache, "/tmp/kc");
  CU_ASSERT_EQUAL(cfg.stats_interval_ms, 250);
  CU_ASSERT_STRING_EQUAL(cfg.perf_dir, "/tmp/perf");
  CU_ASSERT_STRING_EQUAL(cfg.dist, "none");
  CU_ASSERT_STRING_EQUAL(cfg.ocl_contexts, "device");
  CU_ASSERT_EQUAL(cfg.trace_buffer_mb, 16);
  CU_ASSERT_EQUAL(cfg.trace_prefault_mb, 0);
  CU_ASSERT_EQUAL(cfg.ncpu, 1);
  CU_ASSERT_STRING_EQUAL(cfg.devices, "0,2");
  CU_ASSERT_STRING_EQUAL(cfg.sched, "eager");
  CU_ASSERT_STRING_EQUAL(cfg.trace, "/tmp/t.json");
  CU_ASSERT_EQUAL(cfg.stats, 0);
  CU_ASSERT_EQUAL(cfg.device_mem, (size_t)64 << 20);
  clear_maestro_env();
}

static void test_env_devices_forms(void) {
  static const char *good[] = {"all", "none", "0", "1", "0,1", "0,2,5"};
  maestro_config_t cfg;
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    setenv("MAESTRO_DEVICES", good[i], 1);
    CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
    CU_ASSERT_STRING_EQUAL(cfg.devices, good[i]);
  }
  clear_maestro_env();
}

static void test_env_sizes(void) {
  static const struct {
    const char *s;
    size_t v;
  } good[] = {{"0", 0},         {"4096", 4096},          {"4K", 4096},           {"4KiB", 4096},
              {"2MB", 2 << 20}, {"1G", (size_t)1 << 30}, {"3g", (size_t)3 << 30}};
  maestro_config_t cfg;
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    setenv("MAESTRO_DEVICE_MEM", good[i].s, 1);
    CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
    CU_ASSERT_EQUAL(cfg.device_mem, good[i].v);
  }
  clear_maestro_env();
}

/* On/off variables take the usual words, in any case. */
static void test_env_flags(void) {
  static const struct {
    const char *s;
    int v;
  } good[] = {{"1", 1}, {"on", 1},  {"yes", 1}, {"true", 1},  {"ON", 1},
              {"0", 0}, {"off", 0}, {"no", 0},  {"false", 0}, {"Off", 0}};
  maestro_config_t cfg;
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    clear_maestro_env();
    setenv("MAESTRO_STATS", good[i].s, 1);
    setenv("MAESTRO_ZERO_COPY", good[i].s, 1);
    CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
    CU_ASSERT_EQUAL(cfg.stats, good[i].v);
    CU_ASSERT_EQUAL(cfg.zero_copy, good[i].v);
  }
  setenv("MAESTRO_ZERO_COPY", "auto", 1);
  CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
  CU_ASSERT_EQUAL(cfg.zero_copy, -1);
  clear_maestro_env();
}

/* MAESTRO_KERNEL_CACHE is the directory; 0/off (the older way to turn the
 * cache off) still does, 1/on keeps the default directory, and the older
 * MAESTRO_KERNEL_CACHE_DIR still names the directory. */
static void test_env_kernel_cache(void) {
  clear_maestro_env();
  maestro_config_t ref, cfg;
  CU_ASSERT_EQUAL(maestro_config_defaults(&ref), MAESTRO_OK);
  static const char *off[] = {"0", "off", "no", "false"};
  for (size_t i = 0; i < sizeof off / sizeof off[0]; i++) {
    setenv("MAESTRO_KERNEL_CACHE", off[i], 1);
    CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
    CU_ASSERT_STRING_EQUAL(cfg.kernel_cache, "");
  }
  setenv("MAESTRO_KERNEL_CACHE", "1", 1);
  CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
  CU_ASSERT_STRING_EQUAL(cfg.kernel_cache, ref.kernel_cache);
  setenv("MAESTRO_KERNEL_CACHE", "rel/dir", 1);
  CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
  CU_ASSERT_STRING_EQUAL(cfg.kernel_cache, "rel/dir");
  unsetenv("MAESTRO_KERNEL_CACHE");
  setenv("MAESTRO_KERNEL_CACHE_DIR", "/tmp/old", 1);
  CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
  CU_ASSERT_STRING_EQUAL(cfg.kernel_cache, "/tmp/old");
  setenv("MAESTRO_KERNEL_CACHE", "on", 1);
  CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
  CU_ASSERT_STRING_EQUAL(cfg.kernel_cache, "/tmp/old");
  setenv("MAESTRO_KERNEL_CACHE", "0", 1);
  CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
  CU_ASSERT_STRING_EQUAL(cfg.kernel_cache, "");
  setenv("MAESTRO_KERNEL_CACHE", "/tmp/new", 1);
  CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
  CU_ASSERT_STRING_EQUAL(cfg.kernel_cache, "/tmp/new");
  /* MAESTRO_PERF_DIR: the same forms. */
  clear_maestro_env();
  setenv("MAESTRO_PERF_DIR", "off", 1);
  CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
  CU_ASSERT_STRING_EQUAL(cfg.perf_dir, "");
  setenv("MAESTRO_PERF_DIR", "on", 1);
  CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
  CU_ASSERT_STRING_EQUAL(cfg.perf_dir, ref.perf_dir);
  clear_maestro_env();
}

/* The strings maestro_config_defaults hands out do not change when the
 * environment does: two configurations taken in turn stay different. */
static void test_env_strings_kept(void) {
  clear_maestro_env();
  maestro_config_t a, b;
  setenv("MAESTRO_DEVICES", "0", 1);
  setenv("MAESTRO_KERNEL_CACHE", "/tmp/a", 1);
  CU_ASSERT_EQUAL(maestro_config_defaults(&a), MAESTRO_OK);
  setenv("MAESTRO_DEVICES", "1", 1);
  setenv("MAESTRO_KERNEL_CACHE", "/tmp/b", 1);
  CU_ASSERT_EQUAL(maestro_config_defaults(&b), MAESTRO_OK);
  clear_maestro_env();
  CU_ASSERT_STRING_EQUAL(a.devices, "0");
  CU_ASSERT_STRING_EQUAL(a.kernel_cache, "/tmp/a");
  CU_ASSERT_STRING_EQUAL(b.devices, "1");
  CU_ASSERT_STRING_EQUAL(b.kernel_cache, "/tmp/b");
}

/* Every bad value: MAESTRO_EINVAL, a message naming the variable and the
 * value, and the field keeps its default. */
static void test_env_bad_values(void) {
  static const struct {
    const char *var, *value;
  } bad[] = {
      {"MAESTRO_DEVICES", "banana"},
      {"MAESTRO_DEVICES", "0,"},
      {"MAESTRO_DEVICES", ",1"},
      {"MAESTRO_DEVICES", "0,,1"},
      {"MAESTRO_DEVICES", "-1"},
      {"MAESTRO_DEVICES", "1 2"},
      {"MAESTRO_DEVICES", "ALL!"},
      {"MAESTRO_NCPU", "-3"},
      {"MAESTRO_NCPU", "abc"},
      {"MAESTRO_NCPU", "2x"},
      {"MAESTRO_NCPU", "99999"},
      {"MAESTRO_NCPU", "1.5"},
      {"MAESTRO_SCHED", "fastest"},
      {"MAESTRO_NCPU", " "},
      {"MAESTRO_NCPU", " 2"},
      {"MAESTRO_STATS", "2"},
      {"MAESTRO_STATS", " "},
      {"MAESTRO_STATS", "  \t"},
      {"MAESTRO_STATS", "maybe"},
      {"MAESTRO_STATS", "0x"},
      {"MAESTRO_DEVICE_MEM", "-1"},
      {"MAESTRO_DEVICE_MEM", " -1"},
      {"MAESTRO_DEVICE_MEM", "1.5G"},
      {"MAESTRO_DEVICE_MEM", "12T"},
      {"MAESTRO_DEVICE_MEM", "lots"},
      {"MAESTRO_DEVICE_MEM", "99999999999999999999"},
      {"MAESTRO_ZERO_COPY", "2"},
      {"MAESTRO_ZERO_COPY", "maybe"},
      {"MAESTRO_ZERO_COPY", " "},
      {"MAESTRO_KERNEL_CACHE", " "},
      {"MAESTRO_KERNEL_CACHE", " /tmp/kc"},
      {"MAESTRO_KERNEL_CACHE_DIR", "/tmp/kc "},
      {"MAESTRO_STATS_INTERVAL_MS", "5"},
      {"MAESTRO_STATS_INTERVAL_MS", "60001"},
      {"MAESTRO_STATS_INTERVAL_MS", "abc"},
      {"MAESTRO_STATS_INTERVAL_MS", "100ms"},
      {"MAESTRO_STATS_INTERVAL_MS", " "},
      {"MAESTRO_PERF_DIR", " "},
#ifndef MAESTRO_HAVE_MPI /* a build with the MPI backend takes it (tests/mpi.cmake) */
      {"MAESTRO_DIST", "mpi"},
#endif
      {"MAESTRO_DIST", "tcp"},
      {"MAESTRO_OCL_CONTEXTS", "devices"},
      {"MAESTRO_OCL_CONTEXTS", " "},
      {"MAESTRO_TRACE_BUFFER_MB", "garbage"},
      {"MAESTRO_TRACE_BUFFER_MB", "3"},
      {"MAESTRO_TRACE_BUFFER_MB", "1048577"},
      {"MAESTRO_TRACE_BUFFER_MB", "16MB"},
      {"MAESTRO_TRACE_BUFFER_MB", " "},
      {"MAESTRO_TRACE_PREFAULT_MB", "-1"},
      {"MAESTRO_TRACE_PREFAULT_MB", "lots"},
  };
  clear_maestro_env();
  maestro_config_t ref;
  CU_ASSERT_EQUAL_FATAL(maestro_config_defaults(&ref), MAESTRO_OK);
  maestro_config_t cfg;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    clear_maestro_env();
    setenv(bad[i].var, bad[i].value, 1);
    int rc = maestro_config_defaults(&cfg);
    if (rc != MAESTRO_EINVAL || !last_error_has(bad[i].var) || !last_error_has(bad[i].value))
      fprintf(stderr, "  %s='%s' gave %d: %s\n", bad[i].var, bad[i].value, rc,
              maestro_last_error());
    CU_ASSERT_EQUAL(rc, MAESTRO_EINVAL);
    CU_ASSERT_TRUE(last_error_has(bad[i].var));
    CU_ASSERT_TRUE(last_error_has(bad[i].value));
    /* The bad field keeps its default. */
    CU_ASSERT_TRUE(same_config(&cfg, &ref));
  }
  clear_maestro_env();
}

/* An empty variable is the same as an unset one. */
static void test_env_empty(void) {
  clear_maestro_env();
  setenv("MAESTRO_DEVICES", "", 1);
  setenv("MAESTRO_NCPU", "", 1);
  maestro_config_t cfg;
  CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
  CU_ASSERT_STRING_EQUAL(cfg.devices, "all");
  CU_ASSERT_EQUAL(cfg.ncpu, 0);
  clear_maestro_env();
}

/* maestro_runtime_create(NULL, ...) uses the environment: a typo there
 * fails instead of silently running another configuration. */
static void test_create_null_cfg_bad_env(void) {
  clear_maestro_env();
  setenv("MAESTRO_DEVICES", "banana", 1);
  maestro_runtime_t *rt = (maestro_runtime_t *)1;
  CU_ASSERT_EQUAL(maestro_runtime_create(NULL, &rt), MAESTRO_EINVAL);
  CU_ASSERT_PTR_NULL(rt);
  CU_ASSERT_TRUE(last_error_has("MAESTRO_DEVICES"));
  clear_maestro_env();
  setenv("MAESTRO_NCPU", "-3", 1);
  CU_ASSERT_EQUAL(maestro_runtime_create(NULL, &rt), MAESTRO_EINVAL);
  CU_ASSERT_TRUE(last_error_has("MAESTRO_NCPU"));
  clear_maestro_env();
  /* Issue 13: a blank MAESTRO_STATS used to turn stats off silently. */
  setenv("MAESTRO_STATS", " ", 1);
  CU_ASSERT_EQUAL(maestro_runtime_create(NULL, &rt), MAESTRO_EINVAL);
  CU_ASSERT_PTR_NULL(rt);
  CU_ASSERT_TRUE(last_error_has("MAESTRO_STATS=' '"));
  clear_maestro_env();
#ifndef MAESTRO_HAVE_MPI
  setenv("MAESTRO_DIST", "mpi", 1);
  CU_ASSERT_EQUAL(maestro_runtime_create(NULL, &rt), MAESTRO_EINVAL);
  CU_ASSERT_TRUE(last_error_has("MAESTRO_DIST='mpi'"));
  CU_ASSERT_TRUE(last_error_has("no MPI backend"));
  clear_maestro_env();
#endif
}

/* Fields a program sets itself are checked by maestro_runtime_create. */
static void test_create_bad_struct(void) {
  clear_maestro_env();
  maestro_config_t cfg;
  maestro_runtime_t *rt = NULL;
  maestro_config_defaults(&cfg);
  cfg.ncpu = -1;
  CU_ASSERT_EQUAL(maestro_runtime_create(&cfg, &rt), MAESTRO_EINVAL);
  CU_ASSERT_TRUE(last_error_has("ncpu"));
  CU_ASSERT_PTR_NULL(rt);

  maestro_config_defaults(&cfg);
  cfg.devices = "banana";
  CU_ASSERT_EQUAL(maestro_runtime_create(&cfg, &rt), MAESTRO_EINVAL);
  CU_ASSERT_TRUE(last_error_has("devices"));
  CU_ASSERT_TRUE(last_error_has("banana"));

  maestro_config_defaults(&cfg);
  cfg.sched = "random";
  CU_ASSERT_EQUAL(maestro_runtime_create(&cfg, &rt), MAESTRO_EINVAL);
  CU_ASSERT_TRUE(last_error_has("sched"));

  maestro_config_defaults(&cfg);
  cfg.stats = 7;
  CU_ASSERT_EQUAL(maestro_runtime_create(&cfg, &rt), MAESTRO_EINVAL);
  CU_ASSERT_TRUE(last_error_has("stats"));

  CU_ASSERT_EQUAL(maestro_runtime_create(&cfg, NULL), MAESTRO_EINVAL);
  CU_ASSERT_TRUE(last_error_has("rt"));

  /* The fields added with the second wave, each with the field and value
   * named. */
  static char long_dir[5000];
  memset(long_dir, 'd', sizeof long_dir - 1);
  long_dir[0] = '/';
  static const struct {
    const char *field, *value;
    int zero_copy, interval, buffer, prefault;
    const char *kernel_cache, *perf_dir, *dist, *ocl_contexts;
  } bad[] = {
      {"zero_copy", "=2", .zero_copy = 2},
      {"zero_copy", "=-2", .zero_copy = -2},
      {"stats_interval_ms", "=9", .interval = 9},
      {"stats_interval_ms", "=0", .interval = 0},
      {"stats_interval_ms", "=60001", .interval = 60001},
      {"trace_buffer_mb", "=0", .buffer = 0},
      {"trace_buffer_mb", "=1048577", .buffer = 1048577},
      {"trace_prefault_mb", "=-1", .prefault = -1},
      {"kernel_cache", "=' /tmp'", .kernel_cache = " /tmp"},
      {"kernel_cache", "='/dddd", .kernel_cache = long_dir},
      {"perf_dir", "='/tmp '", .perf_dir = "/tmp "},
#ifndef MAESTRO_HAVE_MPI
      {"dist", "='mpi'", .dist = "mpi"},
#endif
      {"dist", "='tcp'", .dist = "tcp"},
      {"ocl_contexts", "='devices'", .ocl_contexts = "devices"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    maestro_config_defaults(&cfg);
    cfg.zero_copy = bad[i].zero_copy ? bad[i].zero_copy : cfg.zero_copy;
    if (!strcmp(bad[i].field, "stats_interval_ms")) cfg.stats_interval_ms = bad[i].interval;
    if (!strcmp(bad[i].field, "trace_buffer_mb")) cfg.trace_buffer_mb = bad[i].buffer;
    if (!strcmp(bad[i].field, "trace_prefault_mb")) cfg.trace_prefault_mb = bad[i].prefault;
    if (bad[i].kernel_cache) cfg.kernel_cache = bad[i].kernel_cache;
    if (bad[i].perf_dir) cfg.perf_dir = bad[i].perf_dir;
    if (bad[i].dist) cfg.dist = bad[i].dist;
    if (bad[i].ocl_contexts) cfg.ocl_contexts = bad[i].ocl_contexts;
    rt = NULL;
    int rc = maestro_runtime_create(&cfg, &rt);
    char want[64];
    snprintf(want, sizeof want, "cfg.%s%s", bad[i].field, bad[i].value);
    if (rc != MAESTRO_EINVAL || !last_error_has(want))
      fprintf(stderr, "  cfg.%s: gave %d: %s\n", bad[i].field, rc, maestro_last_error());
    CU_ASSERT_EQUAL(rc, MAESTRO_EINVAL);
    CU_ASSERT_TRUE(last_error_has(want));
    CU_ASSERT_PTR_NULL(rt);
  }
#ifndef MAESTRO_HAVE_MPI
  maestro_config_defaults(&cfg);
  cfg.dist = "mpi";
  CU_ASSERT_EQUAL(maestro_runtime_create(&cfg, &rt), MAESTRO_EINVAL);
  CU_ASSERT_TRUE(last_error_has("no MPI backend"));
#endif
}

/* NULL string fields are their defaults, and the runtime keeps its own
 * copies: the caller's strings may change or go once it returns. */
static void test_create_copies(void) {
  clear_maestro_env();
  maestro_config_t cfg;
  CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
  char kc[] = "/tmp/maestro-kc", perf[] = "/tmp/maestro-perf", dist[] = "none", ctxs[] = "device";
  cfg.devices = "none";
  cfg.stats = 0;
  cfg.kernel_cache = kc;
  cfg.perf_dir = perf;
  cfg.dist = dist;
  cfg.ocl_contexts = ctxs;
  cfg.stats_interval_ms = 42;
  cfg.trace_buffer_mb = 8;
  cfg.trace_prefault_mb = 2;
  cfg.zero_copy = 0;
  maestro_runtime_t *rt = NULL;
  CU_ASSERT_EQUAL_FATAL(maestro_runtime_create(&cfg, &rt), MAESTRO_OK);
  memset(kc, 'x', sizeof kc - 1);
  memset(perf, 'x', sizeof perf - 1);
  memset(dist, 'x', sizeof dist - 1);
  memset(ctxs, 'x', sizeof ctxs - 1);
  CU_ASSERT_STRING_EQUAL(rt->cfg.kernel_cache, "/tmp/maestro-kc");
  CU_ASSERT_STRING_EQUAL(rt->cfg.perf_dir, "/tmp/maestro-perf");
  CU_ASSERT_STRING_EQUAL(rt->cfg.dist, "none");
  CU_ASSERT_STRING_EQUAL(rt->cfg.ocl_contexts, "device");
  CU_ASSERT_EQUAL(rt->cfg.stats_interval_ms, 42);
  CU_ASSERT_EQUAL(rt->cfg.trace_buffer_mb, 8);
  CU_ASSERT_EQUAL(rt->cfg.trace_prefault_mb, 2);
  CU_ASSERT_EQUAL(rt->cfg.zero_copy, 0);
  maestro_runtime_destroy(rt);

  cfg.kernel_cache = cfg.perf_dir = cfg.dist = cfg.ocl_contexts = NULL;
  CU_ASSERT_EQUAL_FATAL(maestro_runtime_create(&cfg, &rt), MAESTRO_OK);
  CU_ASSERT_STRING_EQUAL(rt->cfg.kernel_cache, "");
  CU_ASSERT_STRING_EQUAL(rt->cfg.perf_dir, "");
  CU_ASSERT_STRING_EQUAL(rt->cfg.dist, "none");
  CU_ASSERT_STRING_EQUAL(rt->cfg.ocl_contexts, "platform");
  maestro_runtime_destroy(rt);
}

void register_suites(void) {
  ADD_SUITE("config", setup, NULL, {"defaults", test_defaults},
            {"default directories", test_default_dirs}, {"null cfg", test_null_cfg},
            {"env good values", test_env_good_values},
            {"env device list forms", test_env_devices_forms}, {"env sizes", test_env_sizes},
            {"env on/off words", test_env_flags}, {"env kernel cache forms", test_env_kernel_cache},
            {"env strings outlive the environment", test_env_strings_kept},
            {"env bad values", test_env_bad_values}, {"env empty = unset", test_env_empty},
            {"create(NULL) with bad env", test_create_null_cfg_bad_env},
            {"create with bad struct", test_create_bad_struct},
            {"create copies the strings", test_create_copies});
}
