/* Kernels as people write them, on the real PoCL device: 2-D and 3-D
 * launches (.work_dim, .global, .local), kernels declaring
 * reqd_work_group_size, message shapes (maestro_buf_set_shape,
 * MAESTRO_KARG_DIM) kept through CPU and device agents, the per-firing
 * .prepare hook, and by-value arguments of any type (MAESTRO_KARG_BYTES). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/opencl/ocl.h"
#include "maestro.h"
#include "testmain.h"
#include "testutil.h"

static maestro_runtime_t *rt;

static int suite_init(void) {
  return testutil_device_suite_init(&rt);
}

static int suite_fini(void) {
  maestro_runtime_destroy(rt);
  rt = NULL;
  return 0;
}

static const maestro_port_t f32_in[] = {{"in", MAESTRO_F32, 0}};
static const maestro_port_t f32_out[] = {{"out", MAESTRO_F32, 0}};

#define MAXMSG  8
#define MAXELEM 4096

typedef struct {
  int nout;
  size_t out_bytes[MAXMSG];
  float out[MAXMSG][MAXELEM];
  int out_ndim[MAXMSG];
  size_t out_dims[MAXMSG][3];
  int nletters;
  int letter_status[MAXMSG];
  char reason[MAXMSG][512];
  int wait_st;
} run_t;

/* A w x h image of floats, shaped {w, h} (no shape when w == 0: h floats). */
static maestro_buf_t *image(size_t w, size_t h, int seed) {
  size_t n = w ? w * h : h;
  maestro_buf_t *b;
  CU_ASSERT_FATAL(maestro_buf_create(rt, n * sizeof(float), &b) == MAESTRO_OK);
  float *x = maestro_buf_data(b);
  for (size_t i = 0; i < n; i++)
    x[i] = (float)((i * 7 + (size_t)seed * 13) % 101) - 50.0f;
  if (w) {
    size_t dims[2] = {w, h};
    CU_ASSERT_FATAL(maestro_buf_set_shape(b, 2, dims) == MAESTRO_OK);
  }
  return b;
}

/* A chain of agents d[0] -> d[1] ... fed msgs from the host, its last
 * agent's output 0 and the dead letters drained. Returns the start status
 * (the run is skipped when it is not MAESTRO_OK; *start_msg says why). */
static int run_chain(const maestro_agent_desc_t *d, int nagents, maestro_buf_t **msgs, int nmsg,
                     run_t *r, char *start_msg, size_t start_len) {
  memset(r, 0, sizeof *r);
  maestro_graph_t *g;
  maestro_agent_t *a[4];
  CU_ASSERT_FATAL(maestro_graph_create(rt, "geom", &g) == MAESTRO_OK);
  for (int i = 0; i < nagents; i++) {
    int rc = maestro_agent_add(g, &d[i], &a[i]);
    if (rc) fprintf(stderr, "agent_add: %s\n", maestro_last_error());
    CU_ASSERT_FATAL(rc == MAESTRO_OK);
    if (i) CU_ASSERT_FATAL(maestro_connect(g, a[i - 1], "out", a[i], "in", 4) == MAESTRO_OK);
  }
  maestro_input_t *in;
  maestro_output_t *out, *dl;
  CU_ASSERT_FATAL(maestro_graph_input(g, a[0], "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a[nagents - 1], "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_dead_letters(g, &dl) == MAESTRO_OK);
  int st = maestro_graph_start(g);
  if (start_msg) snprintf(start_msg, start_len, "%s", st ? maestro_last_error() : "");
  if (st) {
    for (int m = 0; m < nmsg; m++)
      maestro_buf_release(msgs[m]);
    maestro_graph_destroy(g);
    return st;
  }
  for (int m = 0; m < nmsg; m++)
    maestro_input_push(in, msgs[m]);
  maestro_input_close(in);
  maestro_buf_t *b;
  while (maestro_output_pop(out, &b, 20000) == MAESTRO_OK) {
    if (r->nout < MAXMSG) {
      size_t n = maestro_buf_size(b);
      r->out_bytes[r->nout] = n;
      r->out_ndim[r->nout] = maestro_buf_shape(b, r->out_dims[r->nout]);
      const float *y = maestro_buf_cdata(b);
      if (y) memcpy(r->out[r->nout], y, n < sizeof r->out[0] ? n : sizeof r->out[0]);
    }
    r->nout++;
    maestro_buf_release(b);
  }
  maestro_letter_t why;
  while (maestro_output_pop_letter(dl, &b, &why, 20000) == MAESTRO_OK) {
    if (r->nletters < MAXMSG) {
      r->letter_status[r->nletters] = why.status;
      snprintf(r->reason[r->nletters], sizeof r->reason[0], "%s", why.reason ? why.reason : "");
    }
    r->nletters++;
    maestro_buf_release(b);
  }
  r->wait_st = maestro_graph_wait(g);
  maestro_graph_destroy(g);
  return MAESTRO_OK;
}

/* Host ends on the agent's ports, so that only its kernel can fail the start. */
static void connect_host(maestro_graph_t *g, maestro_agent_t *a) {
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
}

static maestro_agent_desc_t device_agent(const char *name, const maestro_kernel_t *k) {
  return (maestro_agent_desc_t){.name = name,
                                .in = f32_in,
                                .n_in = 1,
                                .out = f32_out,
                                .n_out = 1,
                                .kernel = k,
                                .affinity = {MAESTRO_ON_DEVICE, 0, 0}};
}

/* ---- shapes on their own ---- */

static void test_shape_api(void) {
  maestro_buf_t *b;
  CU_ASSERT_FATAL(maestro_buf_create(rt, 24, &b) == MAESTRO_OK);
  size_t dims[3] = {9, 9, 9};
  CU_ASSERT_EQUAL(maestro_buf_shape(b, dims), 0);
  CU_ASSERT_EQUAL(dims[0], 0);
  size_t d2[2] = {3, 2};
  CU_ASSERT_EQUAL(maestro_buf_set_shape(b, 2, d2), MAESTRO_OK); /* 6 elements of 4 bytes */
  CU_ASSERT_EQUAL(maestro_buf_shape(b, dims), 2);
  CU_ASSERT_EQUAL(dims[0], 3);
  CU_ASSERT_EQUAL(dims[1], 2);
  CU_ASSERT_EQUAL(dims[2], 1);
  size_t bad[3] = {5, 1, 1}; /* 24 bytes are not whole elements of 5 */
  CU_ASSERT_EQUAL(maestro_buf_set_shape(b, 1, bad), MAESTRO_EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(maestro_last_error(), "does not fit a buffer of 24 bytes"));
  size_t big[3] = {5, 5, 5}; /* more elements than bytes */
  CU_ASSERT_EQUAL(maestro_buf_set_shape(b, 3, big), MAESTRO_EINVAL);
  size_t huge[2] = {SIZE_MAX / 2, 4}; /* a product that wraps */
  CU_ASSERT_EQUAL(maestro_buf_set_shape(b, 2, huge), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_buf_set_shape(b, 4, big), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_buf_set_shape(b, 0, big), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_buf_set_shape(b, 1, NULL), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_buf_set_shape(NULL, 1, big), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_buf_shape(b, dims), 2); /* refusals changed nothing */
  CU_ASSERT_EQUAL(dims[0], 3);
  /* A private copy keeps it. */
  maestro_buf_t *other = maestro_buf_retain(b);
  CU_ASSERT_EQUAL(maestro_buf_writable(&b), MAESTRO_OK);
  CU_ASSERT_PTR_NOT_EQUAL(b, other);
  CU_ASSERT_EQUAL(maestro_buf_shape(b, dims), 2);
  CU_ASSERT_EQUAL(dims[0], 3);
  CU_ASSERT_EQUAL(dims[1], 2);
  maestro_buf_release(other);
  maestro_buf_release(b);
  /* A recycled buffer comes back without the shape it had. */
  for (int i = 0; i < 4; i++) {
    CU_ASSERT_FATAL(maestro_buf_create(rt, 24, &b) == MAESTRO_OK);
    CU_ASSERT_EQUAL(maestro_buf_shape(b, NULL), 0);
    maestro_buf_release(b);
  }
  /* An empty buffer takes a shape with a 0 in it, and only that. */
  CU_ASSERT_FATAL(maestro_buf_create(rt, 0, &b) == MAESTRO_OK);
  size_t empty[2] = {0, 7};
  CU_ASSERT_EQUAL(maestro_buf_set_shape(b, 2, empty), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_buf_set_shape(b, 1, d2), MAESTRO_EINVAL);
  maestro_buf_release(b);
}

/* ---- a 2-D kernel over messages of two shapes ---- */

/* 3x3 box blur, edges clamped; sizes from the message's shape. */
static const maestro_karg_t blur_args[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0),
                                           MAESTRO_KARG_DIM(0, 0), MAESTRO_KARG_DIM(0, 1)};
static const char blur_src[] =
    "__kernel void blur(__global const float *x, __global float *y, uint w, uint h) {\n"
    "  int c = get_global_id(0), r = get_global_id(1);\n"
    "  if (c >= (int)w || r >= (int)h) return;\n"
    "  float s = 0;\n"
    "  for (int dr = -1; dr <= 1; dr++)\n"
    "    for (int dc = -1; dc <= 1; dc++) {\n"
    "      int rr = clamp(r + dr, 0, (int)h - 1), cc = clamp(c + dc, 0, (int)w - 1);\n"
    "      s += x[rr * (int)w + cc];\n"
    "    }\n"
    "  y[r * (int)w + c] = s / 9.0f;\n"
    "}\n";

static void blur_ref(const float *x, float *y, int w, int h) {
  for (int r = 0; r < h; r++)
    for (int c = 0; c < w; c++) {
      float s = 0;
      for (int dr = -1; dr <= 1; dr++)
        for (int dc = -1; dc <= 1; dc++) {
          int rr = r + dr < 0 ? 0 : r + dr >= h ? h - 1 : r + dr;
          int cc = c + dc < 0 ? 0 : c + dc >= w ? w - 1 : c + dc;
          s += x[rr * w + cc];
        }
      y[r * w + c] = s / 9.0f;
    }
}

/* Compares run output m against the blur of a fresh image(w, h, seed). */
static int blur_matches(const run_t *r, int m, size_t w, size_t h, int seed) {
  static float x[MAXELEM], y[MAXELEM];
  maestro_buf_t *b = image(w, h, seed);
  memcpy(x, maestro_buf_cdata(b), w * h * sizeof(float));
  maestro_buf_release(b);
  blur_ref(x, y, (int)w, (int)h);
  if (r->out_bytes[m] != w * h * sizeof(float)) return 0;
  for (size_t i = 0; i < w * h; i++)
    if (fabsf(r->out[m][i] - y[i]) > 1e-4f) return 0;
  return r->out_ndim[m] == 2 && r->out_dims[m][0] == w && r->out_dims[m][1] == h;
}

static void test_2d_two_shapes(void) {
  maestro_kernel_t k = {
      .source = blur_src, .name = "blur", .args = blur_args, .n_args = 4, .work_dim = 2};
  maestro_agent_desc_t d = device_agent("blur", &k);
  maestro_buf_t *msgs[3] = {image(37, 11, 1), image(8, 50, 2), image(37, 11, 3)};
  run_t *r = calloc(1, sizeof *r);
  char why[512];
  CU_ASSERT_FATAL(run_chain(&d, 1, msgs, 3, r, why, sizeof why) == MAESTRO_OK);
  CU_ASSERT_EQUAL(r->wait_st, MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(r->nout, 3);
  CU_ASSERT_EQUAL(r->nletters, 0);
  CU_ASSERT(blur_matches(r, 0, 37, 11, 1));
  CU_ASSERT(blur_matches(r, 1, 8, 50, 2));
  CU_ASSERT(blur_matches(r, 2, 37, 11, 3));
  /* A message without a shape is refused, never blurred as garbage. */
  d.supervisor.on_fail = MAESTRO_FAIL_SKIP;
  maestro_buf_t *m2[2] = {image(0, 64, 4), image(4, 4, 5)};
  CU_ASSERT_FATAL(run_chain(&d, 1, m2, 2, r, why, sizeof why) == MAESTRO_OK);
  CU_ASSERT_EQUAL(r->nout, 1);
  CU_ASSERT(blur_matches(r, 0, 4, 4, 5));
  CU_ASSERT_EQUAL_FATAL(r->nletters, 1);
  CU_ASSERT_EQUAL(r->letter_status[0], MAESTRO_EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(r->reason[0], "agent 'blur': kernel 'blur': a 2-D launch takes its "
                                              "size from input 0 'in''s shape, but that message "
                                              "has no shape"));
  free(r);
}

/* ---- reqd_work_group_size ---- */

static const char blur16_src[] =
    "__kernel __attribute__((reqd_work_group_size(16, 4, 1)))\n"
    "void blur16(__global const float *x, __global float *y, uint w, uint h) {\n"
    "  if (get_local_size(0) != 16 || get_local_size(1) != 4) return;\n"
    "  int c = get_global_id(0), r = get_global_id(1);\n"
    "  if (c >= (int)w || r >= (int)h) return;\n"
    "  float s = 0;\n"
    "  for (int dr = -1; dr <= 1; dr++)\n"
    "    for (int dc = -1; dc <= 1; dc++) {\n"
    "      int rr = clamp(r + dr, 0, (int)h - 1), cc = clamp(c + dc, 0, (int)w - 1);\n"
    "      s += x[rr * (int)w + cc];\n"
    "    }\n"
    "  y[r * (int)w + c] = s / 9.0f;\n"
    "}\n";

static void test_reqd_work_group_size(void) {
  maestro_kernel_t k = {
      .source = blur16_src, .name = "blur16", .args = blur_args, .n_args = 4, .work_dim = 2};
  maestro_agent_desc_t d = device_agent("b16", &k);
  run_t *r = calloc(1, sizeof *r);
  char why[512];
  maestro_buf_t *msgs[2] = {image(37, 11, 6), image(16, 4, 7)};
  int st = run_chain(&d, 1, msgs, 2, r, why, sizeof why);
  if (st) fprintf(stderr, "start: %s\n", why);
  CU_ASSERT_FATAL(st == MAESTRO_OK);
  CU_ASSERT_EQUAL(r->wait_st, MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(r->nout, 2);
  CU_ASSERT(blur_matches(r, 0, 37, 11, 6));
  CU_ASSERT(blur_matches(r, 1, 16, 4, 7));
  /* The same .local as the kernel declares is accepted. */
  k.local[0] = 16;
  k.local[1] = 4;
  maestro_buf_t *m1[1] = {image(20, 5, 8)};
  CU_ASSERT_EQUAL(run_chain(&d, 1, m1, 1, r, why, sizeof why), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(r->nout, 1);
  CU_ASSERT(blur_matches(r, 0, 20, 5, 8));
  /* A conflicting .local: refused at start, naming agent and kernel. */
  k.local[0] = 8;
  k.local[1] = 8;
  maestro_buf_t *m2[1] = {image(16, 4, 9)};
  CU_ASSERT_EQUAL(run_chain(&d, 1, m2, 1, r, why, sizeof why), MAESTRO_EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(why, "agent 'b16': kernel 'blur16': .local = {8, 8, 1} conflicts "
                                     "with the kernel's reqd_work_group_size(16, 4, 1)"));
  /* A 1-D launch of a kernel declaring a 2-D work-group: refused at start
   * (launched, it would run on garbage or fail at its first firing). */
  k.local[0] = k.local[1] = 0;
  k.work_dim = 0;
  maestro_buf_t *m3[1] = {image(16, 4, 10)};
  CU_ASSERT_EQUAL(run_chain(&d, 1, m3, 1, r, why, sizeof why), MAESTRO_EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(why, "agent 'b16': kernel 'blur16' declares "
                                     "reqd_work_group_size(16, 4, 1), a 2-D work-group, but the "
                                     "agent launches it 1-D"));
  /* .local set in some dimensions only: refused at start. */
  maestro_graph_t *g;
  maestro_agent_t *a;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "partial", &g) == MAESTRO_OK);
  k.work_dim = 2;
  k.local[0] = 16;
  CU_ASSERT_EQUAL(maestro_agent_add(g, &d, &a), MAESTRO_OK);
  connect_host(g, a);
  st = maestro_graph_start(g);
  CU_ASSERT_EQUAL(st, MAESTRO_EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(maestro_last_error(), "set all of them, or none"));
  maestro_graph_destroy(g);
  free(r);
}

/* A 3-D launch: each work-item writes its own linear index. */
static void test_3d(void) {
  static const maestro_karg_t args[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0),
                                        MAESTRO_KARG_DIM(0, 0), MAESTRO_KARG_DIM(0, 1),
                                        MAESTRO_KARG_DIM(0, 2)};
  maestro_kernel_t k = {
      .source = "__kernel void idx(__global const float *x, __global float *y, uint a, uint b, "
                "uint c) { size_t i = get_global_id(0), j = get_global_id(1), l = "
                "get_global_id(2); if (i < a && j < b && l < c) { size_t o = (l * b + j) * a + i; "
                "y[o] = x[o] + (float)o; } }",
      .name = "idx",
      .args = args,
      .n_args = 5,
      .work_dim = 3};
  maestro_agent_desc_t d = device_agent("idx", &k);
  maestro_buf_t *b;
  CU_ASSERT_FATAL(maestro_buf_create(rt, 5 * 3 * 7 * sizeof(float), &b) == MAESTRO_OK);
  memset(maestro_buf_data(b), 0, 5 * 3 * 7 * sizeof(float));
  size_t dims[3] = {5, 3, 7};
  CU_ASSERT_FATAL(maestro_buf_set_shape(b, 3, dims) == MAESTRO_OK);
  run_t *r = calloc(1, sizeof *r);
  CU_ASSERT_FATAL(run_chain(&d, 1, &b, 1, r, NULL, 0) == MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(r->nout, 1);
  int ok = 1;
  for (int i = 0; i < 5 * 3 * 7; i++)
    ok &= r->out[0][i] == (float)i;
  CU_ASSERT(ok);
  CU_ASSERT_EQUAL(r->out_ndim[0], 3);
  CU_ASSERT_EQUAL(r->out_dims[0][2], 7);
  free(r);
}

/* ---- .prepare ---- */

/* y[r] = k * sum of row r of a w x h image: a 1-D launch over rows (not
 * over elements), an output of h floats shaped {h}, and w and k set per
 * message by .prepare. */
static const maestro_karg_t rows_args[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0),
                                           MAESTRO_KARG_U32(0), MAESTRO_KARG_F32(0.0f)};
static const char rows_src[] =
    "__kernel void rowmean(__global const float *x, __global float *y, uint w, float k) {\n"
    "  size_t r = get_global_id(0); /* the launch is exactly one per row */\n"
    "  float s = 0;\n"
    "  for (uint c = 0; c < w; c++) s += x[r * w + c];\n"
    "  y[r] = k * s;\n"
    "}\n";

typedef struct {
  int calls;
  int preset_ok; /* every call saw the presets it should */
} rows_state_t;

static int rows_prepare(maestro_klaunch_t *l) {
  rows_state_t *st = l->arg;
  __atomic_add_fetch(&st->calls, 1, __ATOMIC_RELAXED);
  int ok = l->n_in == 1 && l->n_out == 1 && l->n_args == 4 && l->work_dim == 1 &&
           l->out_bytes[0] == l->bytes[0] && l->global[0] == l->bytes[0] / sizeof(float) &&
           l->local[0] > 0 && !strcmp(l->agent, "rows") && !strcmp(l->kernel, "rowmean");
  if (!ok) __atomic_store_n(&st->preset_ok, 0, __ATOMIC_RELAXED);
  if (l->ndim[0] != 2) {
    snprintf(l->why, l->why_len, "input 'in' needs a 2-D shape, it has %d dimensions", l->ndim[0]);
    return MAESTRO_EINVAL;
  }
  size_t w = l->shape[0][0], h = l->shape[0][1];
  l->global[0] = h;
  l->local[0] = 1; /* rows are few: one work-item per group */
  l->out_bytes[0] = h * sizeof(float);
  l->out_ndim[0] = 1;
  l->out_shape[0][0] = h;
  l->args[2].v.u32 = (uint32_t)w;
  l->args[3].v.f32 = 1.0f / (float)w;
  return MAESTRO_OK;
}

static void test_prepare(void) {
  rows_state_t st = {0, 1};
  maestro_kernel_t k = {.source = rows_src,
                        .name = "rowmean",
                        .args = rows_args,
                        .n_args = 4,
                        .prepare = rows_prepare,
                        .prepare_arg = &st};
  maestro_agent_desc_t d = device_agent("rows", &k);
  d.supervisor.on_fail = MAESTRO_FAIL_SKIP;
  maestro_buf_t *msgs[3] = {image(10, 3, 1), image(0, 12, 2), image(4, 6, 3)};
  run_t *r = calloc(1, sizeof *r);
  CU_ASSERT_FATAL(run_chain(&d, 1, msgs, 3, r, NULL, 0) == MAESTRO_OK);
  CU_ASSERT_EQUAL(r->wait_st, MAESTRO_OK);
  CU_ASSERT_EQUAL(st.calls, 3);
  CU_ASSERT_EQUAL(st.preset_ok, 1);
  CU_ASSERT_EQUAL_FATAL(r->nout, 2);
  size_t wh[2][2] = {{10, 3}, {4, 6}};
  int seeds[2] = {1, 3};
  for (int m = 0; m < 2; m++) {
    size_t w = wh[m][0], h = wh[m][1];
    maestro_buf_t *b = image(w, h, seeds[m]);
    const float *x = maestro_buf_cdata(b);
    CU_ASSERT_EQUAL(r->out_bytes[m], h * sizeof(float));
    CU_ASSERT_EQUAL(r->out_ndim[m], 1);
    CU_ASSERT_EQUAL(r->out_dims[m][0], h);
    for (size_t row = 0; row < h; row++) {
      float s = 0;
      for (size_t c = 0; c < w; c++)
        s += x[row * w + c];
      CU_ASSERT(fabsf(r->out[m][row] - s / (float)w) < 1e-4f);
    }
    maestro_buf_release(b);
  }
  /* The refusal reached the dead letters with the hook's reason. */
  CU_ASSERT_EQUAL_FATAL(r->nletters, 1);
  CU_ASSERT_EQUAL(r->letter_status[0], MAESTRO_EINVAL);
  CU_ASSERT_STRING_EQUAL(r->reason[0], "agent 'rows': kernel 'rowmean': input 'in' needs a 2-D "
                                       "shape, it has 0 dimensions");
  free(r);
}

/* A .prepare that breaks the rules: changes a binding, sets a shape that
 * does not hold the output, asks for a work-group the kernel does not
 * declare. Each firing is refused with the rule named. */
static int bad_prepare(maestro_klaunch_t *l) {
  int which = *(int *)l->arg;
  if (which == 0) l->args[0].port = 0, l->args[2].kind = MAESTRO_KARG_KIND_I32;
  if (which == 1) {
    l->out_ndim[0] = 2;
    l->out_shape[0][0] = 3;
    l->out_shape[0][1] = 3;
  }
  if (which == 2) l->local[0] = 8, l->local[1] = 8;
  if (which == 3) l->work_dim = 4;
  return MAESTRO_OK;
}

static void test_prepare_refused(void) {
  static const char *const want[] = {
      "its .prepare changed argument 2's binding",
      "its .prepare gave output 0 the shape {3, 3, 1} (2 dimensions), which does not hold its 64 "
      "bytes",
      "a 2-D launch with work-groups of {8, 8, 1} conflicts with the kernel's "
      "reqd_work_group_size(16, 4, 1)",
      "its .prepare set work_dim 4"};
  for (int which = 0; which < 4; which++) {
    maestro_kernel_t k = {.source = blur16_src,
                          .name = "blur16",
                          .args = blur_args,
                          .n_args = 4,
                          .work_dim = 2,
                          .prepare = bad_prepare,
                          .prepare_arg = &which};
    maestro_agent_desc_t d = device_agent("bad", &k);
    d.supervisor.on_fail = MAESTRO_FAIL_SKIP;
    maestro_buf_t *m[1] = {image(4, 4, which)};
    run_t *r = calloc(1, sizeof *r);
    CU_ASSERT_FATAL(run_chain(&d, 1, m, 1, r, NULL, 0) == MAESTRO_OK);
    CU_ASSERT_EQUAL(r->nout, 0);
    CU_ASSERT_EQUAL_FATAL(r->nletters, 1);
    if (!strstr(r->reason[0], want[which])) fprintf(stderr, "got: %s\n", r->reason[0]);
    CU_ASSERT_PTR_NOT_NULL(strstr(r->reason[0], want[which]));
    free(r);
  }
}

/* ---- by-value arguments of any type ---- */

typedef struct {
  int32_t off;
  float b;
} affine_t;

static const char affine_src[] =
    "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n"
    "typedef struct { int off; float b; } affine_t;\n"
    "__kernel void affine(__global const float *x, __global float *y, uint w, uint h, double a,\n"
    "                     affine_t p) {\n"
    "  size_t i = get_global_id(0);\n"
    "  if (i < w * h) y[i] = (float)(a * x[i]) + p.b + (float)p.off + (float)(w * 1000 + h);\n"
    "}\n";

static void test_bytes_and_dim(void) {
  double a = 0.5;
  affine_t p = {3, 0.25f};
  maestro_karg_t args[6] = {MAESTRO_KARG_IN(0),
                            MAESTRO_KARG_OUT(0),
                            MAESTRO_KARG_DIM(0, 0),
                            MAESTRO_KARG_DIM(0, 1),
                            MAESTRO_KARG_BYTES(&a, sizeof a),
                            MAESTRO_KARG_BYTES(&p, sizeof p)};
  maestro_kernel_t k = {.source = affine_src, .name = "affine", .args = args, .n_args = 6};
  maestro_agent_desc_t d = device_agent("affine", &k);
  maestro_graph_t *g;
  maestro_agent_t *ag;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "affine", &g) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_agent_add(g, &d, &ag) == MAESTRO_OK);
  /* The values were copied at add: these changes are not seen. */
  a = 100.0;
  p.off = 1000;
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_input(g, ag, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, ag, "out", &out) == MAESTRO_OK);
  int st = maestro_graph_start(g);
  if (st) fprintf(stderr, "start: %s\n", maestro_last_error());
  CU_ASSERT_FATAL(st == MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_input_push(in, image(6, 5, 1)), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_input_push(in, image(0, 9, 2)), MAESTRO_OK); /* no shape: {9}, h = 1 */
  maestro_input_close(in);
  for (int m = 0; m < 2; m++) {
    maestro_buf_t *b;
    CU_ASSERT_FATAL(maestro_output_pop(out, &b, 20000) == MAESTRO_OK);
    size_t w = m ? 9 : 6, h = m ? 1 : 5;
    maestro_buf_t *xb = image(m ? 0 : w, m ? 9 : h, m + 1);
    const float *x = maestro_buf_cdata(xb), *y = maestro_buf_cdata(b);
    CU_ASSERT_EQUAL_FATAL(maestro_buf_size(b), w * h * sizeof(float));
    int ok = 1;
    for (size_t i = 0; i < w * h; i++)
      ok &= fabsf(y[i] - (0.5f * x[i] + 0.25f + 3.0f + (float)(w * 1000 + h))) < 1e-3f;
    CU_ASSERT(ok);
    maestro_buf_release(xb);
    maestro_buf_release(b);
  }
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_graph_destroy(g);

  /* A built-in parameter bound to bytes of another size: refused at start. */
  float f = 0.5f;
  args[4] = (maestro_karg_t)MAESTRO_KARG_BYTES(&f, sizeof f);
  CU_ASSERT_FATAL(maestro_graph_create(rt, "affine2", &g) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_agent_add(g, &d, &ag) == MAESTRO_OK);
  connect_host(g, ag);
  st = maestro_graph_start(g);
  CU_ASSERT_EQUAL(st, MAESTRO_EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(maestro_last_error(),
                                "argument 4 is bound to MAESTRO_KARG_BYTES of 4 bytes, but the "
                                "kernel declares it 'double' (8 bytes)"));
  maestro_graph_destroy(g);
  /* A NULL pointer: refused at add. */
  args[4] = (maestro_karg_t)MAESTRO_KARG_BYTES(NULL, 8);
  CU_ASSERT_FATAL(maestro_graph_create(rt, "affine3", &g) == MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_agent_add(g, &d, &ag), MAESTRO_EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(maestro_last_error(), "MAESTRO_KARG_BYTES of a NULL pointer"));
  maestro_graph_destroy(g);
}

/* .prepare changing a by-value argument in its copy: per message. */
static int affine_prepare(maestro_klaunch_t *l) {
  double a = (double)l->bytes[0] / sizeof(float); /* the element count */
  memcpy((void *)l->args[4].v.data.ptr, &a, sizeof a);
  affine_t p;
  memcpy(&p, l->args[5].v.data.ptr, sizeof p);
  p.off = -(int32_t)(l->bytes[0] / sizeof(float));
  memcpy((void *)l->args[5].v.data.ptr, &p, sizeof p);
  return MAESTRO_OK;
}

static void test_prepare_bytes(void) {
  double a = 2.0;
  affine_t p = {0, 1.0f};
  maestro_karg_t args[6] = {MAESTRO_KARG_IN(0),
                            MAESTRO_KARG_OUT(0),
                            MAESTRO_KARG_DIM(0, 0),
                            MAESTRO_KARG_DIM(0, 1),
                            MAESTRO_KARG_BYTES(&a, sizeof a),
                            MAESTRO_KARG_BYTES(&p, sizeof p)};
  maestro_kernel_t k = {
      .source = affine_src, .name = "affine", .args = args, .n_args = 6, .prepare = affine_prepare};
  maestro_agent_desc_t d = device_agent("affine", &k);
  maestro_buf_t *msgs[2] = {image(0, 8, 1), image(0, 20, 2)};
  run_t *r = calloc(1, sizeof *r);
  CU_ASSERT_FATAL(run_chain(&d, 1, msgs, 2, r, NULL, 0) == MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(r->nout, 2);
  for (int m = 0; m < 2; m++) {
    size_t n = m ? 20 : 8;
    maestro_buf_t *xb = image(0, n, m + 1);
    const float *x = maestro_buf_cdata(xb);
    int ok = 1;
    for (size_t i = 0; i < n; i++)
      ok &=
          fabsf(r->out[m][i] - ((float)n * x[i] + 1.0f - (float)n + (float)(n * 1000 + 1))) < 1e-2f;
    CU_ASSERT(ok);
    CU_ASSERT_EQUAL(r->out_ndim[m], 0); /* no shape in, none out */
    maestro_buf_release(xb);
  }
  free(r);
}

/* ---- shapes kept through CPU and device agents ---- */

static int forward_cpu(maestro_fire_t *f) {
  /* The input itself, passed on: its shape goes with it. */
  return maestro_fire_out(f, 0, maestro_buf_retain(maestro_fire_in(f, 0)));
}

static void test_shape_through_agents(void) {
  static const maestro_karg_t x2_args[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0),
                                           MAESTRO_KARG_COUNT(0), MAESTRO_KARG_F32(2.0f)};
  static const maestro_kernel_t x2 = {
      .source = "__kernel void scale(__global const float *x, __global float *y, uint n, float a)"
                "{ size_t i = get_global_id(0); if (i < n) y[i] = a * x[i]; }",
      .name = "scale",
      .args = x2_args,
      .n_args = 4};
  int ndev = maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE);
  maestro_agent_desc_t d[4] = {
      {.name = "fwd", .in = f32_in, .n_in = 1, .out = f32_out, .n_out = 1, .cpu = forward_cpu},
      device_agent("x2a", &x2),
      {.name = "fwd2", .in = f32_in, .n_in = 1, .out = f32_out, .n_out = 1, .cpu = forward_cpu},
      device_agent("blur", NULL)};
  d[2].affinity = (maestro_affinity_t){MAESTRO_ON_CPU, -1, 0};
  /* The last agent on the last device: across devices when there are two. */
  maestro_kernel_t k = {
      .source = blur_src, .name = "blur", .args = blur_args, .n_args = 4, .work_dim = 2};
  d[3].kernel = &k;
  d[3].affinity.index = ndev - 1;
  maestro_buf_t *msgs[2] = {image(9, 7, 1), image(33, 2, 2)};
  run_t *r = calloc(1, sizeof *r);
  CU_ASSERT_FATAL(run_chain(d, 4, msgs, 2, r, NULL, 0) == MAESTRO_OK);
  CU_ASSERT_EQUAL(r->wait_st, MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(r->nout, 2);
  size_t wh[2][2] = {{9, 7}, {33, 2}};
  for (int m = 0; m < 2; m++) {
    size_t w = wh[m][0], h = wh[m][1];
    CU_ASSERT_EQUAL(r->out_ndim[m], 2);
    CU_ASSERT_EQUAL(r->out_dims[m][0], w);
    CU_ASSERT_EQUAL(r->out_dims[m][1], h);
    static float x[MAXELEM], y[MAXELEM];
    maestro_buf_t *b = image(w, h, m + 1);
    const float *src = maestro_buf_cdata(b);
    for (size_t i = 0; i < w * h; i++)
      x[i] = 2.0f * src[i];
    maestro_buf_release(b);
    blur_ref(x, y, (int)w, (int)h);
    int ok = 1;
    for (size_t i = 0; i < w * h; i++)
      ok &= fabsf(r->out[m][i] - y[i]) < 1e-4f;
    CU_ASSERT(ok);
  }
  free(r);
}

/* ---- a constant buffer bound once ---- */

static void test_karg_buf(void) {
  /* Copies, not zero-copy: the transfers are what is counted. */
  maestro_runtime_t *shared = rt;
  rt = testutil_device_runtime(0, 0);
  maestro_buf_t *table;
  float t[4] = {1.0f, -2.0f, 0.5f, 10.0f};
  CU_ASSERT_FATAL(maestro_buf_from(rt, t, sizeof t, &table) == MAESTRO_OK);
  maestro_karg_t args[4] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0), MAESTRO_KARG_COUNT(0),
                            MAESTRO_KARG_BUF(table)};
  maestro_kernel_t k = {
      .source = "__kernel void lut(__global const float *x, __global float *y, uint n, "
                "__constant float *t) { size_t i = get_global_id(0); if (i < n) y[i] = x[i] * "
                "t[i % 4]; }",
      .name = "lut",
      .args = args,
      .n_args = 4};
  maestro_agent_desc_t d = device_agent("lut", &k);
  maestro_graph_t *g;
  maestro_agent_t *a;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "lut", &g) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_agent_add(g, &d, &a) == MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_buf_refs(table), 2); /* ours and the agent's */
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
  int st = maestro_graph_start(g);
  if (st) fprintf(stderr, "start: %s\n", maestro_last_error());
  CU_ASSERT_FATAL(st == MAESTRO_OK);
  ocl_dev_stats_t s0, s1;
  CU_ASSERT_FATAL(ocl_dev_stats(rt, 0, &s0) == MAESTRO_OK);
  for (int m = 0; m < 5; m++)
    CU_ASSERT_EQUAL(maestro_input_push(in, image(0, 37, m)), MAESTRO_OK);
  maestro_input_close(in);
  for (int m = 0; m < 5; m++) {
    maestro_buf_t *b;
    CU_ASSERT_FATAL(maestro_output_pop(out, &b, 20000) == MAESTRO_OK);
    maestro_buf_t *xb = image(0, 37, m);
    const float *x = maestro_buf_cdata(xb), *y = maestro_buf_cdata(b);
    CU_ASSERT_EQUAL_FATAL(maestro_buf_size(b), 37 * sizeof(float));
    int ok = 1;
    for (int i = 0; i < 37; i++)
      ok &= y[i] == x[i] * t[i % 4];
    CU_ASSERT(ok);
    maestro_buf_release(xb);
    maestro_buf_release(b);
  }
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  /* The table went to the device once, the messages each time. */
  CU_ASSERT_FATAL(ocl_dev_stats(rt, 0, &s1) == MAESTRO_OK);
  CU_ASSERT_EQUAL(s1.bytes_h2d - s0.bytes_h2d,
                  s0.zero_copy ? 0 : 5 * 37 * sizeof(float) + sizeof t);
  maestro_graph_destroy(g);
  CU_ASSERT_EQUAL(maestro_buf_refs(table), 1); /* the agent's references are gone */
  maestro_buf_release(table);
  /* A NULL buffer: refused at add. */
  args[3] = (maestro_karg_t)MAESTRO_KARG_BUF(NULL);
  CU_ASSERT_FATAL(maestro_graph_create(rt, "lut2", &g) == MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_agent_add(g, &d, &a), MAESTRO_EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(maestro_last_error(), "MAESTRO_KARG_BUF of a NULL buffer"));
  maestro_graph_destroy(g);
  maestro_runtime_destroy(rt);
  rt = shared;
}

/* ---- read-write arguments ---- */

static void karg_inout(void) {
  static const maestro_karg_t args[] = {MAESTRO_KARG_INOUT(0, 0), MAESTRO_KARG_COUNT(0)};
  static const maestro_kernel_t k = {
      .source = "__kernel void inc(__global float *x, uint n) { size_t i = get_global_id(0); "
                "if (i < n) x[i] += 1.0f; }",
      .name = "inc",
      .args = args,
      .n_args = 2};
  maestro_agent_desc_t d[2] = {device_agent("inc1", &k), device_agent("inc2", &k)};
  maestro_graph_t *g;
  maestro_agent_t *a[2];
  CU_ASSERT_FATAL(maestro_graph_create(rt, "inout", &g) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_agent_add(g, &d[0], &a[0]) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_agent_add(g, &d[1], &a[1]) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_connect(g, a[0], "out", a[1], "in", 4) == MAESTRO_OK);
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_input(g, a[0], "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a[1], "out", &out) == MAESTRO_OK);
  int st = maestro_graph_start(g);
  if (st) fprintf(stderr, "start: %s\n", maestro_last_error());
  CU_ASSERT_FATAL(st == MAESTRO_OK);
  /* Held alone: written in place, the same buffer comes out, shape kept. */
  maestro_buf_t *alone = image(5, 9, 1);
  CU_ASSERT_EQUAL(maestro_input_push(in, alone), MAESTRO_OK);
  /* Also held here: the kernels write a copy, ours keeps its bytes. */
  maestro_buf_t *shared = image(0, 30, 2);
  maestro_buf_retain(shared);
  CU_ASSERT_EQUAL(maestro_input_push(in, shared), MAESTRO_OK);
  maestro_input_close(in);
  maestro_buf_t *b;
  CU_ASSERT_FATAL(maestro_output_pop(out, &b, 20000) == MAESTRO_OK);
  CU_ASSERT_PTR_EQUAL(b, alone);
  size_t dims[3];
  CU_ASSERT_EQUAL(maestro_buf_shape(b, dims), 2);
  CU_ASSERT_EQUAL(dims[0], 5);
  CU_ASSERT_EQUAL(dims[1], 9);
  maestro_buf_t *ref = image(5, 9, 1);
  const float *x = maestro_buf_cdata(ref), *y = maestro_buf_cdata(b);
  CU_ASSERT_EQUAL_FATAL(maestro_buf_size(b), 45 * sizeof(float));
  int ok = 1;
  for (int i = 0; i < 45; i++)
    ok &= y[i] == x[i] + 2.0f;
  CU_ASSERT(ok);
  maestro_buf_release(ref);
  maestro_buf_release(b);
  CU_ASSERT_FATAL(maestro_output_pop(out, &b, 20000) == MAESTRO_OK);
  CU_ASSERT_PTR_NOT_EQUAL(b, shared);
  ref = image(0, 30, 2);
  x = maestro_buf_cdata(ref);
  y = maestro_buf_cdata(b);
  const float *mine = maestro_buf_cdata(shared);
  CU_ASSERT_EQUAL_FATAL(maestro_buf_size(b), 30 * sizeof(float));
  ok = 1;
  for (int i = 0; i < 30; i++)
    ok &= y[i] == x[i] + 2.0f && mine[i] == x[i];
  CU_ASSERT(ok);
  maestro_buf_release(ref);
  maestro_buf_release(b);
  maestro_buf_release(shared);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_graph_destroy(g);
}

/* With copies to the device and with zero-copy (the kernel then writes
 * the host bytes themselves). */
static void test_karg_inout(void) {
  maestro_runtime_t *shared = rt;
  for (int zc = 0; zc < 2; zc++) {
    rt = testutil_device_runtime(zc, 0);
    karg_inout();
    maestro_runtime_destroy(rt);
  }
  rt = shared;
}

void register_suites(void) {
  ADD_SUITE("ocl_geom", suite_init, suite_fini, {"shape_api", test_shape_api},
            {"2d_two_shapes", test_2d_two_shapes},
            {"reqd_work_group_size", test_reqd_work_group_size}, {"3d", test_3d},
            {"prepare", test_prepare}, {"prepare_refused", test_prepare_refused},
            {"bytes_and_dim", test_bytes_and_dim}, {"prepare_bytes", test_prepare_bytes},
            {"shape_through_agents", test_shape_through_agents}, {"karg_buf", test_karg_buf},
            {"karg_inout", test_karg_inout});
}
