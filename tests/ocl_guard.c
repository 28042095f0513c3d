/* Kernel agents refusing what would crash or corrupt, on the real PoCL
 * device: a damaged on-disk program cache entry (rebuilt, never handed to
 * the driver), work sizes that wrap around size_t, and argument bindings
 * that do not fit the kernel's parameters. */
#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/runtime.h"
#include "maestro.h"
#include "backend/opencl/ocl.h"
#include "testmain.h"
#include "testutil.h"

static const maestro_port_t f32_in[] = {{"in", MAESTRO_F32, 0}};
static const maestro_port_t f32_out[] = {{"out", MAESTRO_F32, 0}};

static const char *scale_src =
    "__kernel void scale(__global const float *x, __global float *y, uint n, float a)"
    "{ size_t i = get_global_id(0); if (i < n) y[i] = a * x[i]; }";
static const maestro_karg_t scale_args[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0),
                                            MAESTRO_KARG_COUNT(0), MAESTRO_KARG_F32(2.0f)};

/* A fresh cache directory, MAESTRO_KERNEL_CACHE_DIR pointing at it. */
static void cache_on(char *dir) {
  strcpy(dir, "/tmp/maestro-guard-XXXXXX");
  CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
  setenv("MAESTRO_KERNEL_CACHE_DIR", dir, 1);
  unsetenv("MAESTRO_KERNEL_CACHE");
}

static void cache_off(const char *dir) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CU_ASSERT(system(cmd) == 0);
  unsetenv("MAESTRO_KERNEL_CACHE_DIR");
}

/* The one cache entry in `dir` (fails the test when there is not exactly one). */
static void the_entry(const char *dir, char *path, size_t len) {
  DIR *d = opendir(dir);
  CU_ASSERT_FATAL(d != NULL);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t l = strlen(e->d_name);
    if (l > 4 && !strcmp(e->d_name + l - 4, ".bin")) {
      snprintf(path, len, "%s/%s", dir, e->d_name);
      n++;
    }
  }
  closedir(d);
  CU_ASSERT_FATAL(n == 1);
}

static long file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Builds the scale agent in a fresh runtime, runs one launch and checks
 * it; returns what the program cache did. */
static void build_and_run(ocl_prog_stats_t *did) {
  maestro_runtime_t *rt = testutil_device_runtime(0, 0);
  maestro_kernel_t k = {
      .source = scale_src, .name = "scale", .args = scale_args, .n_args = 4, .range_port = 0};
  ocl_prog_stats_t s0, s1;
  ocl_prog_stats(rt, &s0);
  ocl_kagent_t *ka = NULL;
  int rc = ocl_kagent_create_on(rt, "x2", &k, f32_in, 1, f32_out, 1, 1, &ka);
  if (rc) fprintf(stderr, "create: %s\n", maestro_last_error());
  CU_ASSERT_FATAL(rc == MAESTRO_OK);
  ocl_prog_stats(rt, &s1);
  did->builds = s1.builds - s0.builds;
  did->disk_hits = s1.disk_hits - s0.disk_hits;
  did->cache_hits = s1.cache_hits - s0.cache_hits;
  /* The program works: one launch through the graph-free interface. */
  maestro_graph_t *g;
  maestro_agent_t *a;
  maestro_input_t *in;
  maestro_output_t *out;
  ocl_kagent_destroy(ka);
  CU_ASSERT_FATAL(maestro_graph_create(rt, "g", &g) == MAESTRO_OK);
  maestro_agent_desc_t d = {.name = "x2",
                            .in = f32_in,
                            .n_in = 1,
                            .out = f32_out,
                            .n_out = 1,
                            .kernel = &k,
                            .affinity = {MAESTRO_ON_DEVICE, 0, 0}};
  CU_ASSERT_FATAL(maestro_agent_add(g, &d, &a) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  float x[100];
  for (int i = 0; i < 100; i++)
    x[i] = (float)i;
  maestro_buf_t *b;
  CU_ASSERT_FATAL(maestro_buf_from(rt, x, sizeof x, &b) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_input_push(in, b) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_output_pop(out, &b, -1) == MAESTRO_OK);
  const float *y = maestro_buf_cdata(b);
  CU_ASSERT_FATAL(y != NULL && maestro_buf_size(b) == sizeof x);
  int bad = 0;
  for (int i = 0; i < 100; i++)
    bad += y[i] != 2.0f * (float)i;
  CU_ASSERT_EQUAL(bad, 0);
  maestro_buf_release(b);
  maestro_input_close(in);
  CU_ASSERT(maestro_graph_wait(g) == MAESTRO_OK);
  maestro_graph_destroy(g);
  maestro_runtime_destroy(rt);
}

enum damage { TRUNCATE_HALF, TRUNCATE_HEADER, EMPTY, FLIP_BYTE, RAW_BINARY, NDAMAGE };
static const char *const damage_name[NDAMAGE] = {"cut to half", "cut to 12 bytes", "emptied",
                                                 "one byte changed", "a bare device binary"};

static void damage(const char *path, enum damage how) {
  long n = file_size(path);
  CU_ASSERT_FATAL(n > 64);
  FILE *f;
  switch (how) {
  case TRUNCATE_HALF: CU_ASSERT_FATAL(truncate(path, n / 2) == 0); break;
  case TRUNCATE_HEADER: CU_ASSERT_FATAL(truncate(path, 12) == 0); break;
  case EMPTY: CU_ASSERT_FATAL(truncate(path, 0) == 0); break;
  case FLIP_BYTE: {
    f = fopen(path, "r+b");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_FATAL(fseek(f, n / 2, SEEK_SET) == 0);
    int c = fgetc(f);
    CU_ASSERT_FATAL(fseek(f, n / 2, SEEK_SET) == 0);
    fputc(c ^ 0x5a, f);
    fclose(f);
    break;
  }
  case RAW_BINARY: {
    /* What an entry looked like without a header: the bytes of a real
     * device binary, here whatever follows the first 48 bytes, cut short. */
    char *buf = malloc((size_t)n);
    f = fopen(path, "rb");
    CU_ASSERT_FATAL(f && buf && fread(buf, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    fwrite(buf + 48, 1, (size_t)(n - 48) / 3, f);
    fclose(f);
    free(buf);
    break;
  }
  case NDAMAGE: break;
  }
}

/* A damaged entry is a miss: rebuilt from source, written over, and the
 * program works; before the entries were checked, a cut binary crashed the
 * process inside the driver (SIGSEGV). */
static void test_damaged_cache(void) {
  char dir[64], path[512];
  cache_on(dir);
  ocl_prog_stats_t did;
  build_and_run(&did);
  CU_ASSERT_EQUAL(did.builds, 1);
  CU_ASSERT_EQUAL(did.disk_hits, 0);
  the_entry(dir, path, sizeof path);
  long good = file_size(path);
  build_and_run(&did); /* a sound entry is used */
  CU_ASSERT_EQUAL(did.builds, 0);
  CU_ASSERT_EQUAL(did.disk_hits, 1);
  for (int how = 0; how < NDAMAGE; how++) {
    damage(path, (enum damage)how);
    build_and_run(&did);
    if (did.builds != 1 || did.disk_hits != 0)
      fprintf(stderr, "entry %s: builds %llu, disk hits %llu\n", damage_name[how],
              (unsigned long long)did.builds, (unsigned long long)did.disk_hits);
    CU_ASSERT_EQUAL(did.builds, 1);
    CU_ASSERT_EQUAL(did.disk_hits, 0);
    /* Written over: whole again, and the next runtime loads it. */
    the_entry(dir, path, sizeof path);
    CU_ASSERT_EQUAL(file_size(path), good);
    build_and_run(&did);
    CU_ASSERT_EQUAL(did.builds, 0);
    CU_ASSERT_EQUAL(did.disk_hits, 1);
  }
  cache_off(dir);
}

/* maestro_graph_start of one kernel agent; its status. */
static int start_one(maestro_runtime_t *rt, const maestro_kernel_t *k, int n_in) {
  maestro_graph_t *g;
  maestro_agent_t *a;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "g", &g) == MAESTRO_OK);
  maestro_agent_desc_t d = {.name = "agentk",
                            .in = f32_in,
                            .n_in = n_in,
                            .out = f32_out,
                            .n_out = 1,
                            .kernel = k,
                            .affinity = {MAESTRO_ON_DEVICE, 0, 0}};
  int rc = maestro_agent_add(g, &d, &a);
  if (rc) fprintf(stderr, "add: %s\n", maestro_last_error());
  CU_ASSERT_FATAL(rc == MAESTRO_OK);
  maestro_input_t *in = NULL;
  maestro_output_t *out;
  if (n_in) CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
  rc = maestro_graph_start(g);
  if (rc == MAESTRO_OK) {
    CU_ASSERT_FATAL(in != NULL); /* a source kernel agent would never end: tests give it none */
    maestro_input_close(in);
    CU_ASSERT(maestro_graph_wait(g) == MAESTRO_OK);
  }
  maestro_graph_destroy(g);
  return rc;
}

/* 1 when maestro_last_error() holds every one of the NULL-terminated words. */
static int error_says(const char *first, ...) {
  const char *msg = maestro_last_error();
  va_list ap;
  va_start(ap, first);
  int ok = 1;
  for (const char *w = first; w; w = va_arg(ap, const char *))
    if (!strstr(msg, w)) {
      fprintf(stderr, "error message lacks '%s': %s\n", w, msg);
      ok = 0;
    }
  va_end(ap);
  return ok;
}

/* A work size that wraps around size_t (or that PoCL cannot split into
 * work-groups) is refused when the graph starts, naming agent, kernel and
 * the number; before, PoCL aborted the process ("max_wgs > 0") or the
 * rounding wrapped to one work-group. */
static void test_sizes(void) {
  maestro_runtime_t *rt = testutil_device_runtime(0, 0);
  maestro_kernel_t k = {
      .source = scale_src, .name = "scale", .args = scale_args, .n_args = 4, .range_port = 0};
  CU_ASSERT_EQUAL(start_one(rt, &k, 1), MAESTRO_OK);
  char num[32];
  size_t huge[] = {SIZE_MAX, SIZE_MAX - 3, (size_t)1 << 48};
  for (int i = 0; i < 3; i++) {
    k.global_count = huge[i];
    snprintf(num, sizeof num, "%zu", huge[i]);
    CU_ASSERT_EQUAL(start_one(rt, &k, 1), MAESTRO_EINVAL);
    CU_ASSERT(error_says("agentk", "'scale'", ".global_count", num, NULL));
  }
  k.global_count = 0;
  /* out_count * 4 bytes wraps to a 4-byte output. */
  size_t wrap[1] = {SIZE_MAX / 4 + 2};
  k.out_count = wrap;
  snprintf(num, sizeof num, "%zu", wrap[0]);
  CU_ASSERT_EQUAL(start_one(rt, &k, 1), MAESTRO_EINVAL);
  CU_ASSERT(error_says("agentk", "'scale'", ".out_count[0]", num, NULL));
  /* Without inputs .out_count[0] is also the range. */
  static const maestro_karg_t fill_args[] = {MAESTRO_KARG_OUT(0), MAESTRO_KARG_U32(7)};
  maestro_kernel_t fill = {
      .source = "__kernel void fill(__global uint *y, uint v) { y[get_global_id(0)] = v; }",
      .name = "fill",
      .args = fill_args,
      .n_args = 2};
  size_t range[1] = {SIZE_MAX / 4 - 10};
  fill.out_count = range;
  snprintf(num, sizeof num, "%zu", range[0]);
  /* (A graph needs a CPU source: the kernel agent alone.) */
  ocl_kagent_t *ka = NULL;
  CU_ASSERT_EQUAL(ocl_kagent_create(rt, "filler", &fill, NULL, 0, f32_out, 1, &ka), MAESTRO_EINVAL);
  CU_ASSERT(ka == NULL);
  CU_ASSERT(error_says("filler", "'fill'", ".out_count[0]", num, NULL));
  range[0] = 64;
  CU_ASSERT_EQUAL(ocl_kagent_create(rt, "fill", &fill, NULL, 0, f32_out, 1, &ka), MAESTRO_OK);
  ocl_kagent_destroy(ka);
  maestro_runtime_destroy(rt);
}

/* One kernel with a parameter of every sort, and bindings to try on it. */
static const char *sig_src =
    "__kernel void sig(__global const float *x, __global float *y, uint n, float a, int b,"
    " __local float *tmp, __constant float *c)"
    "{ size_t i = get_global_id(0); tmp[get_local_id(0)] = x[i % n] + c[0];"
    "  barrier(CLK_LOCAL_MEM_FENCE); if (i < n) y[i] = a * tmp[get_local_id(0)] + (float)b; }";

static int start_sig(maestro_runtime_t *rt, const maestro_karg_t *args, int n_args) {
  maestro_kernel_t k = {
      .source = sig_src, .name = "sig", .args = args, .n_args = n_args, .range_port = 0};
  return start_one(rt, &k, 1);
}

#define ARGS(...)                                                                                  \
  (const maestro_karg_t[]){__VA_ARGS__},                                                           \
      (int)(sizeof((const maestro_karg_t[]){__VA_ARGS__}) / sizeof(maestro_karg_t))

static void signature_checks(maestro_runtime_t *rt) {
  /* Fits: every parameter bound as it is declared. */
  CU_ASSERT_EQUAL(start_sig(rt, ARGS(MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0), MAESTRO_KARG_COUNT(0),
                                     MAESTRO_KARG_F32(2), MAESTRO_KARG_I32(1),
                                     MAESTRO_KARG_LOCAL(1024), MAESTRO_KARG_IN(0))),
                  MAESTRO_OK);
  /* A float on the uint parameter. */
  CU_ASSERT_EQUAL(start_sig(rt, ARGS(MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0), MAESTRO_KARG_F32(1),
                                     MAESTRO_KARG_F32(2), MAESTRO_KARG_I32(1),
                                     MAESTRO_KARG_LOCAL(1024), MAESTRO_KARG_IN(0))),
                  MAESTRO_EINVAL);
  CU_ASSERT(error_says("agentk", "'sig'", "argument 2", "MAESTRO_KARG_F32", "'uint'", NULL));
  /* A uint on the int parameter: same width, another type. */
  CU_ASSERT_EQUAL(start_sig(rt, ARGS(MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0), MAESTRO_KARG_COUNT(0),
                                     MAESTRO_KARG_F32(2), MAESTRO_KARG_U32(1),
                                     MAESTRO_KARG_LOCAL(1024), MAESTRO_KARG_IN(0))),
                  MAESTRO_EINVAL);
  CU_ASSERT(error_says("agentk", "'sig'", "argument 4", "MAESTRO_KARG_U32", "'int'", NULL));
  /* A buffer on the float parameter. */
  CU_ASSERT_EQUAL(start_sig(rt, ARGS(MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0), MAESTRO_KARG_COUNT(0),
                                     MAESTRO_KARG_IN(0), MAESTRO_KARG_I32(1),
                                     MAESTRO_KARG_LOCAL(1024), MAESTRO_KARG_IN(0))),
                  MAESTRO_EINVAL);
  CU_ASSERT(error_says("agentk", "'sig'", "argument 3", "MAESTRO_KARG_IN", "'float'", NULL));
  /* A scalar on a buffer parameter. */
  CU_ASSERT_EQUAL(
      start_sig(rt, ARGS(MAESTRO_KARG_U32(5), MAESTRO_KARG_OUT(0), MAESTRO_KARG_COUNT(0),
                         MAESTRO_KARG_F32(2), MAESTRO_KARG_I32(1), MAESTRO_KARG_LOCAL(1024),
                         MAESTRO_KARG_IN(0))),
      MAESTRO_EINVAL);
  CU_ASSERT(
      error_says("agentk", "'sig'", "argument 0", "MAESTRO_KARG_U32", "__global float*", NULL));
  /* LOCAL on the __constant pointer, a buffer on the __local one. */
  CU_ASSERT_EQUAL(start_sig(rt, ARGS(MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0), MAESTRO_KARG_COUNT(0),
                                     MAESTRO_KARG_F32(2), MAESTRO_KARG_I32(1),
                                     MAESTRO_KARG_LOCAL(1024), MAESTRO_KARG_LOCAL(64))),
                  MAESTRO_EINVAL);
  CU_ASSERT(
      error_says("agentk", "'sig'", "argument 6", "MAESTRO_KARG_LOCAL", "__constant float*", NULL));
  CU_ASSERT_EQUAL(start_sig(rt, ARGS(MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0), MAESTRO_KARG_COUNT(0),
                                     MAESTRO_KARG_F32(2), MAESTRO_KARG_I32(1), MAESTRO_KARG_IN(0),
                                     MAESTRO_KARG_IN(0))),
                  MAESTRO_EINVAL);
  CU_ASSERT(error_says("agentk", "'sig'", "argument 5", "MAESTRO_KARG_IN", "__local float*", NULL));
  /* An output on the __constant pointer: the kernel cannot write it. */
  CU_ASSERT_EQUAL(start_sig(rt, ARGS(MAESTRO_KARG_IN(0), MAESTRO_KARG_IN(0), MAESTRO_KARG_COUNT(0),
                                     MAESTRO_KARG_F32(2), MAESTRO_KARG_I32(1),
                                     MAESTRO_KARG_LOCAL(1024), MAESTRO_KARG_OUT(0))),
                  MAESTRO_EINVAL);
  CU_ASSERT(error_says("agentk", "'sig'", "argument 6", "MAESTRO_KARG_OUT", NULL));
  /* One argument too few. */
  CU_ASSERT_EQUAL(
      start_sig(rt, ARGS(MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0), MAESTRO_KARG_COUNT(0),
                         MAESTRO_KARG_F32(2), MAESTRO_KARG_I32(1), MAESTRO_KARG_LOCAL(1024))),
      MAESTRO_EINVAL);
  CU_ASSERT(error_says("agentk", "'sig'", "7 arguments", NULL));
}

/* Bindings that do not fit the kernel's parameters are refused at
 * maestro_graph_start, built from source and again from the disk cache
 * (whose programs the driver no longer describes). Before, they ran. */
static void test_signature(void) {
  char dir[64];
  cache_on(dir);
  maestro_runtime_t *rt = testutil_device_runtime(0, 0);
  ocl_prog_stats_t s0, s1;
  ocl_prog_stats(rt, &s0);
  signature_checks(rt);
  ocl_prog_stats(rt, &s1);
  CU_ASSERT_EQUAL(s1.builds - s0.builds, 1);
  maestro_runtime_destroy(rt);
  rt = testutil_device_runtime(0, 0);
  ocl_prog_stats(rt, &s0);
  signature_checks(rt);
  ocl_prog_stats(rt, &s1);
  CU_ASSERT_EQUAL(s1.builds - s0.builds, 0);
  CU_ASSERT_EQUAL(s1.disk_hits - s0.disk_hits, 1);
  maestro_runtime_destroy(rt);
  cache_off(dir);
}

/* The bundled kernels bind their own arguments: they all fit. */
static void test_bundled_fit(void) {
  maestro_runtime_t *rt = testutil_device_runtime(0, 0);
  for (int w = 0; w < MAESTRO_BUNDLED_COUNT; w++) {
    maestro_bundled_params_t p = {.a = 2, .m = 4, .n = 4, .k = 4, .width = 4, .height = 4, .hi = 1};
    maestro_bundled_agent_t ba;
    int brc = maestro_bundled_agent((maestro_bundled_t)w, "b", &p, &ba);
    if (brc) fprintf(stderr, "bundled %d: %s\n", w, maestro_last_error());
    CU_ASSERT_FATAL(brc == MAESTRO_OK);
    ocl_kagent_t *ka = NULL;
    int rc = ocl_kagent_create(rt, "b", &ba.kernel, ba.desc.in, ba.desc.n_in, ba.desc.out,
                               ba.desc.n_out, &ka);
    if (rc) fprintf(stderr, "bundled %d: %s\n", w, maestro_last_error());
    CU_ASSERT_EQUAL(rc, MAESTRO_OK);
    ocl_kagent_destroy(ka);
  }
  maestro_runtime_destroy(rt);
}

void register_suites(void) {
  ADD_SUITE("ocl guard", NULL, NULL, {"damaged cache entry", test_damaged_cache},
            {"work sizes", test_sizes}, {"argument kinds", test_signature},
            {"bundled kernels fit", test_bundled_fit});
}
