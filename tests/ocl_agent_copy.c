/* maestro_agent_add copies the whole description, kernel included: two
 * agents added in a loop from one maestro_kernel_t and one maestro_karg_t[]
 * whose values change between the calls each compute with their own; a
 * kernel whose source, name, options and port names were overwritten and
 * freed right after the add still builds and runs. On the real PoCL device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maestro.h"
#include "testmain.h"
#include "testutil.h"

static maestro_runtime_t *rt;

static int suite_init(void) {
  return testutil_device_suite_init(&rt);
}

static int suite_fini(void) {
  maestro_runtime_destroy(rt);
  return 0;
}

enum { N = 16 };

static const maestro_port_t f32_in[] = {{"in", MAESTRO_F32, 0}};
static const maestro_port_t f32_out[] = {{"out", MAESTRO_F32, 0}};

/* y[i] = a * x[i] for the first m of the n input elements. */
static const char scale_first_src[] =
    "__kernel void scale_first(__global const float *x, __global float *y, uint n, float a,"
    " uint m) { size_t i = get_global_id(0); if (i < n && i < m) y[i] = a * x[i]; }";

/* Pushes 0, 1, ... N-1 into `src`, closes it, pops one message from `dst`
 * and checks it holds `m` elements a * i. */
static void check_scaled(maestro_input_t *src, maestro_output_t *dst, float a, size_t m) {
  maestro_buf_t *b;
  CU_ASSERT_FATAL(maestro_buf_create(rt, N * sizeof(float), &b) == MAESTRO_OK);
  float *x = maestro_buf_data(b);
  for (int i = 0; i < N; i++)
    x[i] = (float)i;
  CU_ASSERT_FATAL(maestro_input_push(src, b) == MAESTRO_OK);
  CU_ASSERT(maestro_input_close(src) == MAESTRO_OK);
  maestro_buf_t *out = NULL;
  int rc = maestro_output_pop(dst, &out, 60000);
  if (rc) fprintf(stderr, "pop: %s: %s\n", maestro_strerror(rc), maestro_last_error());
  CU_ASSERT_FATAL(rc == MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_buf_size(out), m * sizeof(float));
  size_t got = maestro_buf_size(out) / sizeof(float);
  const float *y = maestro_buf_cdata(out);
  int wrong = 0;
  for (size_t i = 0; i < m && i < got; i++)
    wrong += y[i] != a * (float)i;
  if (wrong || got != m)
    fprintf(stderr, "a = %g, m = %zu: got %zu elements, y[1] = %g\n", a, m, got,
            got > 1 ? y[1] : 0.0f);
  CU_ASSERT_EQUAL(wrong, 0);
  maestro_buf_release(out);
  CU_ASSERT_EQUAL(maestro_output_pop(dst, &out, 60000), MAESTRO_ECLOSED);
}

/* Two agents from one kernel variable: scale 3 keeping 8 elements, scale 5
 * keeping 4 (an F32 and a U32 argument, and .out_count, change). */
static void test_kernel_in_a_loop(void) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "loop", &g) == MAESTRO_OK);
  static const char *names[] = {"scale3", "scale5"};
  const float scale[] = {3.0f, 5.0f};
  const size_t keep[] = {8, 4};
  maestro_agent_t *a[2];
  maestro_karg_t args[5];
  size_t out_count[1];
  maestro_kernel_t k;
  for (int i = 0; i < 2; i++) {
    args[0] = (maestro_karg_t)MAESTRO_KARG_IN(0);
    args[1] = (maestro_karg_t)MAESTRO_KARG_OUT(0);
    args[2] = (maestro_karg_t)MAESTRO_KARG_COUNT(0);
    args[3] = (maestro_karg_t)MAESTRO_KARG_F32(scale[i]);
    args[4] = (maestro_karg_t)MAESTRO_KARG_U32((uint32_t)keep[i]);
    out_count[0] = keep[i];
    k = (maestro_kernel_t){.source = scale_first_src,
                           .name = "scale_first",
                           .args = args,
                           .n_args = 5,
                           .range_port = 0,
                           .out_count = out_count};
    maestro_agent_desc_t d = {.name = names[i],
                              .in = f32_in,
                              .n_in = 1,
                              .out = f32_out,
                              .n_out = 1,
                              .kernel = &k,
                              .affinity = {MAESTRO_ON_DEVICE, 0, 0}};
    CU_ASSERT_FATAL(maestro_agent_add(g, &d, &a[i]) == MAESTRO_OK);
  }
  maestro_input_t *src[2];
  maestro_output_t *dst[2];
  for (int i = 0; i < 2; i++) {
    CU_ASSERT_FATAL(maestro_graph_input(g, a[i], "in", &src[i]) == MAESTRO_OK);
    CU_ASSERT_FATAL(maestro_graph_output(g, a[i], "out", &dst[i]) == MAESTRO_OK);
  }
  int rc = maestro_graph_start(g);
  if (rc) fprintf(stderr, "start: %s: %s\n", maestro_strerror(rc), maestro_last_error());
  CU_ASSERT_FATAL(rc == MAESTRO_OK);
  for (int i = 0; i < 2; i++)
    check_scaled(src[i], dst[i], scale[i], keep[i]);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_agent_stats_t st;
  for (int i = 0; i < 2; i++) {
    CU_ASSERT_EQUAL(maestro_agent_stats(a[i], &st), MAESTRO_OK);
    CU_ASSERT_EQUAL(st.device_fires, 1);
  }
  maestro_graph_destroy(g);
}

static char *dup_or_die(const char *s) {
  char *p = strdup(s);
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  return p;
}

/* Overwrites a string with something that is not OpenCL C, then frees it. */
static void scribble_free(char *s) {
  memset(s, '#', strlen(s));
  free(s);
}

/* Everything the description points to is the caller's heap memory,
 * overwritten and freed right after the add. */
static void test_source_freed_after_add(void) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "freed", &g) == MAESTRO_OK);
  char *source = dup_or_die("__kernel void scale_opt(__global const float *x, __global float *y,"
                            " uint n) { size_t i = get_global_id(0); if (i < n) y[i] = FACTOR *"
                            " x[i]; }");
  char *kname = dup_or_die("scale_opt");
  char *options = dup_or_die("-DFACTOR=7.0f");
  char *aname = dup_or_die("scale7");
  char *pin = dup_or_die("in"), *pout = dup_or_die("out");
  maestro_port_t *in = malloc(sizeof *in), *out = malloc(sizeof *out);
  maestro_karg_t *args = malloc(3 * sizeof *args);
  maestro_kernel_t *k = malloc(sizeof *k);
  CU_ASSERT_FATAL(in && out && args && k);
  *in = (maestro_port_t){pin, MAESTRO_F32, 0};
  *out = (maestro_port_t){pout, MAESTRO_F32, 0};
  args[0] = (maestro_karg_t)MAESTRO_KARG_IN(0);
  args[1] = (maestro_karg_t)MAESTRO_KARG_OUT(0);
  args[2] = (maestro_karg_t)MAESTRO_KARG_COUNT(0);
  *k = (maestro_kernel_t){
      .source = source, .name = kname, .options = options, .args = args, .n_args = 3};
  maestro_agent_desc_t d = {.name = aname,
                            .in = in,
                            .n_in = 1,
                            .out = out,
                            .n_out = 1,
                            .kernel = k,
                            .affinity = {MAESTRO_ON_DEVICE, 0, 0}};
  maestro_agent_t *a;
  CU_ASSERT_FATAL(maestro_agent_add(g, &d, &a) == MAESTRO_OK);
  scribble_free(source);
  scribble_free(kname);
  scribble_free(options);
  scribble_free(aname);
  scribble_free(pin);
  scribble_free(pout);
  memset(args, 0xff, 3 * sizeof *args);
  memset(k, 0xff, sizeof *k);
  free(in);
  free(out);
  free(args);
  free(k);

  CU_ASSERT_STRING_EQUAL(maestro_agent_name(a), "scale7");
  maestro_input_t *src;
  maestro_output_t *dst;
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &src) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &dst) == MAESTRO_OK);
  int rc = maestro_graph_start(g);
  if (rc) fprintf(stderr, "start: %s: %s\n", maestro_strerror(rc), maestro_last_error());
  CU_ASSERT_FATAL(rc == MAESTRO_OK);
  check_scaled(src, dst, 7.0f, N);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_graph_destroy(g);
}

/* What cannot be copied is refused at the add, naming agent and kernel. */
static void test_bad_args_refused_at_add(void) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "bad", &g) == MAESTRO_OK);
  maestro_kernel_t k = {.source = scale_first_src, .name = "scale_first", .n_args = 2};
  maestro_agent_desc_t d = {
      .name = "nullargs", .in = f32_in, .n_in = 1, .out = f32_out, .n_out = 1, .kernel = &k};
  maestro_agent_t *a = (maestro_agent_t *)&k;
  CU_ASSERT_EQUAL(maestro_agent_add(g, &d, &a), MAESTRO_EINVAL);
  CU_ASSERT_PTR_NULL(a);
  CU_ASSERT_PTR_NOT_NULL(strstr(maestro_last_error(), "agent 'nullargs': kernel 'scale_first'"));
  CU_ASSERT_PTR_NOT_NULL(strstr(maestro_last_error(), ".args is NULL"));
  k.n_args = -1;
  d.name = "negative";
  CU_ASSERT_EQUAL(maestro_agent_add(g, &d, &a), MAESTRO_EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(maestro_last_error(), ".n_args is -1"));
  CU_ASSERT_PTR_NULL(maestro_graph_agent(g, "nullargs"));
  CU_ASSERT_PTR_NULL(maestro_graph_agent(g, "negative"));
  maestro_graph_destroy(g);
}

void register_suites(void) {
  ADD_SUITE("maestro_agent_add copies the kernel", suite_init, suite_fini,
            {"one kernel variable, two agents", test_kernel_in_a_loop},
            {"source, names and options freed after the add", test_source_freed_after_add},
            {"bad .args refused at the add", test_bad_args_refused_at_add});
}
