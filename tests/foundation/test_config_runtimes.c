/* Two runtimes alive in one process, created from different configurations,
 * behave differently: every subsystem reads its runtime's rt->cfg, never the
 * environment (issue 8). Runs on the real PoCL device. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend/opencl/ocl.h"
#include "base/runtime.h"
#include "common.h"
#include "prof/prof.h"
#include "testmain.h"

static const maestro_port_t f32_in[] = {{"in", MAESTRO_F32, 0}};
static const maestro_port_t f32_out[] = {{"out", MAESTRO_F32, 0}};
static const maestro_karg_t scale_args[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0),
                                            MAESTRO_KARG_COUNT(0), MAESTRO_KARG_F32(2.0f)};
static const maestro_kernel_t scale = {
    .source = "__kernel void scale_cfg(__global const float *x, __global float *y, uint n,"
              " float a) { size_t i = get_global_id(0); if (i < n) y[i] = a * x[i]; }",
    .name = "scale_cfg",
    .args = scale_args,
    .n_args = 4,
    .range_port = 0};

/* Entries in `dir` other than . and .. (-1 when it cannot be read). */
static int count_entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  return n;
}

static void remove_tree(const char *dir) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CU_ASSERT_EQUAL(system(cmd), 0);
}

/* The defaults with one device (so that one kernel is one cache file). */
static maestro_config_t one_device(void) {
  maestro_config_t cfg;
  CU_ASSERT_EQUAL(maestro_config_defaults(&cfg), MAESTRO_OK);
  cfg.devices = "0";
  cfg.stats = 0;
  return cfg;
}

static maestro_runtime_t *create(const maestro_config_t *cfg) {
  maestro_runtime_t *rt = NULL;
  int rc = maestro_runtime_create(cfg, &rt);
  if (rc) fprintf(stderr, "runtime: %s\n", maestro_last_error());
  CU_ASSERT_FATAL(rc == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE) == 1);
  return rt;
}

/* Builds the kernel on the runtime's device; returns its program stats. */
static ocl_prog_stats_t build(maestro_runtime_t *rt) {
  ocl_kagent_t *ka = NULL;
  CU_ASSERT_FATAL(ocl_kagent_create(rt, "scale", &scale, f32_in, 1, f32_out, 1, &ka) == MAESTRO_OK);
  ocl_kagent_destroy(ka);
  ocl_prog_stats_t s;
  ocl_prog_stats(rt, &s);
  return s;
}

/* One runtime caches built programs in a directory, the other (alive at
 * the same time, whose default directory would be another one) keeps none;
 * a third, pointed at the first one's directory, finds the binary there. */
static void test_kernel_cache(void) {
  clear_maestro_env();
  char cache[] = "/tmp/maestro-cfg-cache-XXXXXX", xdg[] = "/tmp/maestro-cfg-xdg-XXXXXX";
  CU_ASSERT_FATAL(mkdtemp(cache) != NULL);
  CU_ASSERT_FATAL(mkdtemp(xdg) != NULL);
  char *old_xdg = getenv("XDG_CACHE_HOME") ? strdup(getenv("XDG_CACHE_HOME")) : NULL;
  setenv("XDG_CACHE_HOME", xdg, 1);
  maestro_config_t with = one_device(), without = one_device();
  if (old_xdg)
    setenv("XDG_CACHE_HOME", old_xdg, 1);
  else
    unsetenv("XDG_CACHE_HOME");
  free(old_xdg);
  with.kernel_cache = cache;
  without.kernel_cache = "";

  maestro_runtime_t *a = create(&with), *b = create(&without);
  ocl_prog_stats_t sa = build(a), sb = build(b);
  CU_ASSERT_EQUAL(sa.builds, 1);
  CU_ASSERT_EQUAL(sa.disk_hits, 0);
  CU_ASSERT_EQUAL(sb.builds, 1);
  CU_ASSERT_EQUAL(sb.disk_hits, 0);
  CU_ASSERT_EQUAL(count_entries(cache), 1); /* one kernel, one device */
  CU_ASSERT_EQUAL(count_entries(xdg), 0);   /* b wrote nothing */

  /* A third runtime on a's directory loads the binary instead of building. */
  maestro_runtime_t *c = create(&with);
  ocl_prog_stats_t sc = build(c);
  CU_ASSERT_EQUAL(sc.builds, 0);
  CU_ASSERT_EQUAL(sc.disk_hits, 1);
  maestro_runtime_destroy(c);
  maestro_runtime_destroy(b);
  maestro_runtime_destroy(a);
  CU_ASSERT_EQUAL(count_entries(cache), 1);
  CU_ASSERT_EQUAL(count_entries(xdg), 0);
  remove_tree(cache);
  remove_tree(xdg);
}

/* Live stats on one runtime and not the other; zero-copy on one runtime's
 * device and not the other's. */
static void test_stats_and_zero_copy(void) {
  clear_maestro_env();
  maestro_config_t on = one_device(), off = one_device();
  on.stats = 1;
  on.stats_interval_ms = 50;
  on.zero_copy = -1;
  off.stats = 0;
  off.zero_copy = 0;
  maestro_runtime_t *a = create(&on), *b = create(&off);
  const char *name = prof_stats_name(a);
  if (!name) {
    fprintf(stderr, "no stats segment: %s\n", prof_stats_error(a));
    maestro_runtime_destroy(a);
    maestro_runtime_destroy(b);
    CU_FAIL_FATAL("no stats segment");
    return;
  }
  char path[256];
  snprintf(path, sizeof path, "/dev/shm%s%s", name[0] == '/' ? "" : "/", name);
  struct stat st;
  CU_ASSERT_EQUAL(stat(path, &st), 0);
  CU_ASSERT_PTR_NULL(prof_stats_name(b));
  CU_ASSERT_EQUAL(a->cfg.stats_interval_ms, 50);
  CU_ASSERT_EQUAL(b->cfg.stats_interval_ms, 100);

  ocl_dev_stats_t da, db;
  CU_ASSERT_EQUAL(ocl_dev_stats(a, 0, &da), MAESTRO_OK);
  CU_ASSERT_EQUAL(ocl_dev_stats(b, 0, &db), MAESTRO_OK);
  /* PoCL's CPU device shares host memory: auto means zero-copy there. */
  CU_ASSERT_EQUAL(a->dev_info[0].device_type, MAESTRO_DEVICE_CPU);
  CU_ASSERT_EQUAL(da.zero_copy, 1);
  CU_ASSERT_EQUAL(db.zero_copy, 0);
  maestro_runtime_destroy(b);
  maestro_runtime_destroy(a);
  CU_ASSERT_NOT_EQUAL(stat(path, &st), 0); /* removed with its runtime */
}

/* The environment a runtime was not created from does not reach it: a
 * variable set after maestro_config_defaults changes nothing. */
static void test_env_after_defaults(void) {
  clear_maestro_env();
  maestro_config_t cfg = one_device();
  cfg.zero_copy = -1;
  setenv("MAESTRO_ZERO_COPY", "0", 1);
  setenv("MAESTRO_STATS_INTERVAL_MS", "5000", 1);
  maestro_runtime_t *rt = create(&cfg);
  clear_maestro_env();
  ocl_dev_stats_t d;
  CU_ASSERT_EQUAL(ocl_dev_stats(rt, 0, &d), MAESTRO_OK);
  CU_ASSERT_EQUAL(d.zero_copy, 1);
  CU_ASSERT_EQUAL(rt->cfg.stats_interval_ms, 100);
  maestro_runtime_destroy(rt);
}

void register_suites(void) {
  ADD_SUITE("config: two runtimes", NULL, NULL, {"kernel cache", test_kernel_cache},
            {"stats and zero-copy", test_stats_and_zero_copy},
            {"environment after defaults", test_env_after_defaults});
}
