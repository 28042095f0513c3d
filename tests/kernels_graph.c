/* Bundled agents through real graphs: every bundled operation as a hybrid
 * agent pinned to the OpenCL device (MAESTRO_ON_DEVICE, PoCL here) and
 * pinned to a CPU core (MAESTRO_ON_CPU), on the same random inputs, must
 * give the same result (bit for bit where the kernel is exact), and the
 * agent's stats must say where it ran. Also: a device chain feeding a CPU
 * agent, a stream of messages, and a wrongly sized message. */
#include <math.h>
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

static unsigned rng = 777u;
static float frand(float lo, float hi) {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return lo + (hi - lo) * (float)(rng >> 8) / (float)(1u << 24);
}

/* One message per input through one bundled agent pinned to `pref`;
 * returns the output's bytes (malloc'd) and its size, and the agent's stats. */
static void *run_one(maestro_bundled_t which, const maestro_bundled_params_t *p,
                     const void *const *in, const size_t *in_bytes, maestro_pref_t pref,
                     size_t *out_bytes, maestro_agent_stats_t *stats) {
  static maestro_bundled_agent_t ba;
  CU_ASSERT_FATAL(maestro_bundled_agent(which, "op", p, &ba) == MAESTRO_OK);
  ba.desc.affinity = (maestro_affinity_t){pref, 0, 0};
  maestro_graph_t *g;
  maestro_agent_t *a;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "bundled", &g) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_agent_add(g, &ba.desc, &a) == MAESTRO_OK);
  maestro_input_t *inp[2];
  for (int i = 0; i < ba.desc.n_in; i++)
    CU_ASSERT_FATAL(maestro_graph_input(g, a, ba.desc.in[i].name, &inp[i]) == MAESTRO_OK);
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_output(g, a, ba.desc.out[0].name, &out) == MAESTRO_OK);
  int st = maestro_graph_start(g);
  if (st != MAESTRO_OK) fprintf(stderr, "start: %s\n", maestro_last_error());
  CU_ASSERT_FATAL(st == MAESTRO_OK);
  for (int i = 0; i < ba.desc.n_in; i++) {
    maestro_buf_t *b;
    CU_ASSERT_FATAL(maestro_buf_from(rt, in[i], in_bytes[i], &b) == MAESTRO_OK);
    CU_ASSERT_FATAL(maestro_input_push(inp[i], b) == MAESTRO_OK);
    maestro_input_close(inp[i]);
  }
  maestro_buf_t *r;
  void *copy = NULL;
  *out_bytes = 0;
  st = maestro_output_pop(out, &r, 20000);
  CU_ASSERT_EQUAL(st, MAESTRO_OK);
  if (st == MAESTRO_OK) {
    *out_bytes = maestro_buf_size(r);
    copy = malloc(*out_bytes ? *out_bytes : 1);
    const void *d = maestro_buf_cdata(r); /* NULL for an empty buffer, by contract */
    if (*out_bytes) CU_ASSERT_PTR_NOT_NULL(d);
    if (d) memcpy(copy, d, *out_bytes);
    maestro_buf_release(r);
  }
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_agent_stats(a, stats), MAESTRO_OK);
  maestro_graph_destroy(g);
  return copy;
}

typedef struct op_case {
  maestro_bundled_t which;
  maestro_bundled_params_t p;
  size_t in_elems[2]; /* elements per input */
  int exact;          /* device bits == CPU bits */
} op_case_t;

static void check_case(const op_case_t *c) {
  int u8 = c->which == MAESTRO_BUNDLED_HISTOGRAM_U8;
  int n_in = c->which == MAESTRO_BUNDLED_SAXPY || c->which == MAESTRO_BUNDLED_ADD ||
                     c->which == MAESTRO_BUNDLED_SGEMM
                 ? 2
                 : 1;
  void *in[2] = {0};
  size_t bytes[2] = {0};
  for (int i = 0; i < n_in; i++) {
    bytes[i] = c->in_elems[i] * (u8 ? 1 : sizeof(float));
    in[i] = malloc(bytes[i] ? bytes[i] : 1);
    for (size_t e = 0; e < c->in_elems[i]; e++) {
      if (u8)
        ((uint8_t *)in[i])[e] = (uint8_t)frand(0, 256);
      else
        ((float *)in[i])[e] = frand(-1, 1);
    }
  }
  maestro_agent_stats_t sd, sc;
  size_t bd, bc;
  float *dev =
      run_one(c->which, &c->p, (const void *const *)in, bytes, MAESTRO_ON_DEVICE, &bd, &sd);
  float *cpu = run_one(c->which, &c->p, (const void *const *)in, bytes, MAESTRO_ON_CPU, &bc, &sc);
  CU_ASSERT_EQUAL(sd.place_kind, MAESTRO_PLACE_DEVICE);
  CU_ASSERT_EQUAL(sd.device_fires, 1);
  CU_ASSERT_EQUAL(sd.fallbacks, 0);
  CU_ASSERT_EQUAL(sc.place_kind, MAESTRO_PLACE_CPU);
  CU_ASSERT_EQUAL(sc.device_fires, 0);
  CU_ASSERT_EQUAL(sc.fires, 1);
  CU_ASSERT_EQUAL(bd, bc);
  if (dev && cpu && bd == bc) {
    if (c->exact) {
      CU_ASSERT(memcmp(dev, cpu, bd) == 0);
    } else {
      size_t bad = 0;
      for (size_t i = 0; i < bd / 4; i++)
        if (fabsf(dev[i] - cpu[i]) > 1e-3f * (1.0f + fabsf(cpu[i]))) bad++;
      CU_ASSERT_EQUAL(bad, 0);
    }
  }
  free(dev), free(cpu), free(in[0]), free(in[1]);
}

static void test_every_op(void) {
  const op_case_t cases[] = {
      {MAESTRO_BUNDLED_SAXPY, {.a = 3.0f}, {1000, 1000}, 1},
      {MAESTRO_BUNDLED_SAXPY, {.a = -1.5f}, {1, 1}, 1},
      {MAESTRO_BUNDLED_SCALE, {.a = 0.5f}, {257}, 1},
      {MAESTRO_BUNDLED_ADD, {.a = 0}, {4097, 4097}, 1},
      {MAESTRO_BUNDLED_REDUCE_SUM, {.a = 0}, {10007}, 0},
      {MAESTRO_BUNDLED_REDUCE_MIN, {.a = 0}, {1}, 1},
      {MAESTRO_BUNDLED_REDUCE_MAX, {.a = 0}, {300}, 1},
      {MAESTRO_BUNDLED_SCAN_SUM, {.a = 0}, {3001}, 0},
      {MAESTRO_BUNDLED_HISTOGRAM_U8, {.a = 0}, {9999}, 1},
      {MAESTRO_BUNDLED_HISTOGRAM_F32, {.lo = -0.5f, .hi = 0.5f}, {777}, 1},
      {MAESTRO_BUNDLED_TRANSPOSE, {.width = 37, .height = 19}, {37 * 19}, 1},
      {MAESTRO_BUNDLED_SGEMM, {.m = 33, .n = 17, .k = 20}, {33 * 20, 20 * 17}, 0},
      {MAESTRO_BUNDLED_CONV3X3,
       {.width = 31, .height = 9, .weights = {1, 2, 3, 4, 5, 6, 7, 8, 9}},
       {31 * 9},
       1},
      {MAESTRO_BUNDLED_CONV5X5, {.width = 1, .height = 1, .weights = {1, -1, 0.5f}}, {1}, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    check_case(&cases[i]);
}

/* A message whose size does not match the parameters fails the CPU firing:
 * the graph stops with MAESTRO_EAGENT naming the agent. */
static void test_bad_size(void) {
  static maestro_bundled_agent_t ba;
  maestro_bundled_params_t p = {.width = 4, .height = 4};
  CU_ASSERT_FATAL(maestro_bundled_agent(MAESTRO_BUNDLED_TRANSPOSE, "tr", &p, &ba) == MAESTRO_OK);
  ba.desc.affinity = (maestro_affinity_t){MAESTRO_ON_CPU, 0, 0};
  maestro_graph_t *g;
  maestro_agent_t *a;
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "bad", &g) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_agent_add(g, &ba.desc, &a) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  float x[15] = {0};
  maestro_buf_t *b;
  CU_ASSERT_FATAL(maestro_buf_from(rt, x, sizeof x, &b) == MAESTRO_OK);
  maestro_input_push(in, b);
  maestro_input_close(in);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_EAGENT);
  CU_ASSERT_PTR_NOT_NULL(strstr(maestro_last_error(), "tr"));
  maestro_graph_destroy(g);
}

static void test_bad_params(void) {
  static maestro_bundled_agent_t ba;
  maestro_bundled_params_t p = {0};
  CU_ASSERT_EQUAL(maestro_bundled_agent(MAESTRO_BUNDLED_CONV3X3, "c", &p, &ba), MAESTRO_EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(maestro_last_error(), "maestro_conv3x3"));
  CU_ASSERT_EQUAL(maestro_bundled_agent(MAESTRO_BUNDLED_ADD, NULL, NULL, &ba), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_bundled_agent(MAESTRO_BUNDLED_COUNT, "x", &p, &ba), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_bundled_agent(MAESTRO_BUNDLED_ADD, "x", NULL, NULL), MAESTRO_EINVAL);
  CU_ASSERT_PTR_NULL(maestro_bundled_cpu(MAESTRO_BUNDLED_COUNT));
}

/* Several messages through scale on the device then reduce-sum on the
 * device then nothing crosses but the sums: each sum matches the CPU's, in order. */
static void test_stream_chain(void) {
  enum { MSGS = 12, N = 5000 };
  static maestro_bundled_agent_t sc, sum;
  maestro_bundled_params_t p = {.a = 2.0f};
  CU_ASSERT_FATAL(maestro_bundled_agent(MAESTRO_BUNDLED_SCALE, "scale", &p, &sc) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_bundled_agent(MAESTRO_BUNDLED_REDUCE_SUM, "sum", NULL, &sum) ==
                  MAESTRO_OK);
  sc.desc.affinity = sum.desc.affinity = (maestro_affinity_t){MAESTRO_ON_DEVICE, 0, 0};
  maestro_graph_t *g;
  maestro_agent_t *a, *b;
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "chain", &g) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_agent_add(g, &sc.desc, &a) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_agent_add(g, &sum.desc, &b) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_connect(g, a, "out", b, "in", 4) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, b, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  static float x[N];
  for (int m = 0; m < MSGS; m++) {
    for (int i = 0; i < N; i++)
      x[i] = (float)((i + m) % 7); /* small integers: every sum is exact */
    maestro_buf_t *buf;
    CU_ASSERT_FATAL(maestro_buf_from(rt, x, sizeof x, &buf) == MAESTRO_OK);
    CU_ASSERT_FATAL(maestro_input_push(in, buf) == MAESTRO_OK);
  }
  maestro_input_close(in);
  for (int m = 0; m < MSGS; m++) {
    maestro_buf_t *r;
    CU_ASSERT_FATAL(maestro_output_pop(out, &r, 20000) == MAESTRO_OK);
    double want = 0;
    for (int i = 0; i < N; i++)
      want += 2.0 * ((i + m) % 7);
    const float *s = maestro_buf_cdata(r);
    CU_ASSERT_EQUAL(maestro_buf_size(r), sizeof(float));
    if (s) CU_ASSERT_DOUBLE_EQUAL(s[0], want, 0.0);
    maestro_buf_release(r);
  }
  maestro_buf_t *r;
  CU_ASSERT_EQUAL(maestro_output_pop(out, &r, 20000), MAESTRO_ECLOSED);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_agent_stats_t s;
  maestro_agent_stats(b, &s);
  CU_ASSERT_EQUAL(s.device_fires, MSGS);
  maestro_graph_destroy(g);
}

/* blur on one device, edges on another (or the same one when there is only
 * one), histogram on the CPU: the same bits as the whole chain on the CPU. */
static void run_chain(int dev_a, int dev_b, int on_cpu, uint32_t hist[256]) {
  enum { W = 67, H = 45 };
  static maestro_bundled_agent_t blur, edges, histo;
  maestro_bundled_params_t pb = {.width = W, .height = H, .weights = {1, 2, 1, 2, 4, 2, 1, 2, 1}};
  maestro_bundled_params_t pe = {.width = W, .height = H, .weights = {0, 1, 0, 1, -4, 1, 0, 1, 0}};
  maestro_bundled_params_t ph = {.lo = -2.0f, .hi = 2.0f};
  CU_ASSERT_FATAL(maestro_bundled_agent(MAESTRO_BUNDLED_CONV3X3, "blur", &pb, &blur) == 0);
  CU_ASSERT_FATAL(maestro_bundled_agent(MAESTRO_BUNDLED_CONV3X3, "edges", &pe, &edges) == 0);
  CU_ASSERT_FATAL(maestro_bundled_agent(MAESTRO_BUNDLED_HISTOGRAM_F32, "hist", &ph, &histo) == 0);
  blur.desc.affinity = (maestro_affinity_t){on_cpu ? MAESTRO_ON_CPU : MAESTRO_ON_DEVICE, dev_a, 0};
  edges.desc.affinity = (maestro_affinity_t){on_cpu ? MAESTRO_ON_CPU : MAESTRO_ON_DEVICE, dev_b, 0};
  histo.desc.affinity = (maestro_affinity_t){MAESTRO_ON_CPU, -1, 0};
  maestro_graph_t *g;
  maestro_agent_t *a, *b, *c;
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "chain2", &g) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_agent_add(g, &blur.desc, &a) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_agent_add(g, &edges.desc, &b) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_agent_add(g, &histo.desc, &c) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_connect(g, a, "out", b, "in", 2) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_connect(g, b, "out", c, "in", 2) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, c, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  static float img[W * H];
  rng = 4242u;
  for (int i = 0; i < W * H; i++)
    img[i] = frand(0, 1);
  maestro_buf_t *buf, *r;
  CU_ASSERT_FATAL(maestro_buf_from(rt, img, sizeof img, &buf) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_input_push(in, buf) == MAESTRO_OK);
  maestro_input_close(in);
  CU_ASSERT_FATAL(maestro_output_pop(out, &r, 20000) == MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_buf_size(r), 256 * sizeof(uint32_t));
  const uint32_t *h = maestro_buf_cdata(r);
  if (h) memcpy(hist, h, 256 * sizeof(uint32_t));
  maestro_buf_release(r);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_agent_stats_t sa, sb;
  maestro_agent_stats(a, &sa);
  maestro_agent_stats(b, &sb);
  CU_ASSERT_EQUAL(sa.device_fires, on_cpu ? 0 : 1);
  CU_ASSERT_EQUAL(sb.device_fires, on_cpu ? 0 : 1);
  if (!on_cpu) {
    CU_ASSERT_EQUAL(sa.place_index, dev_a);
    CU_ASSERT_EQUAL(sb.place_index, dev_b);
  }
  maestro_graph_destroy(g);
}

static void test_chain_devices(void) {
  int ndev = maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE);
  uint32_t dev[256] = {0}, cpu[256] = {0};
  run_chain(0, ndev > 1 ? 1 : 0, 0, dev);
  run_chain(0, 0, 1, cpu);
  CU_ASSERT(memcmp(dev, cpu, sizeof dev) == 0);
  uint64_t total = 0;
  for (int i = 0; i < 256; i++)
    total += cpu[i];
  CU_ASSERT_EQUAL(total, 67 * 45);
}

/* A bundled agent left MAESTRO_ANYWHERE (and MAESTRO_STATELESS): wherever
 * the scheduler fires each message, the results are the same bits and come
 * out in input order. */
static void test_anywhere(void) {
  enum { MSGS = 40, N = 3000 };
  static maestro_bundled_agent_t sx;
  maestro_bundled_params_t p = {.a = 0.75f};
  CU_ASSERT_FATAL(maestro_bundled_agent(MAESTRO_BUNDLED_SAXPY, "saxpy", &p, &sx) == MAESTRO_OK);
  CU_ASSERT_EQUAL(sx.desc.affinity.pref, MAESTRO_ANYWHERE);
  CU_ASSERT(sx.desc.flags & MAESTRO_STATELESS);
  maestro_graph_t *g;
  maestro_agent_t *a;
  maestro_input_t *ix, *iy;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "anywhere", &g) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_agent_add(g, &sx.desc, &a) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "x", &ix) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "y", &iy) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  static float x[N], y[N];
  for (int m = 0; m < MSGS; m++) {
    for (int i = 0; i < N; i++) {
      x[i] = (float)(m * N + i);
      y[i] = (float)m;
    }
    maestro_buf_t *bx, *by;
    CU_ASSERT_FATAL(maestro_buf_from(rt, x, sizeof x, &bx) == MAESTRO_OK);
    CU_ASSERT_FATAL(maestro_buf_from(rt, y, sizeof y, &by) == MAESTRO_OK);
    CU_ASSERT_FATAL(maestro_input_push(ix, bx) == MAESTRO_OK);
    CU_ASSERT_FATAL(maestro_input_push(iy, by) == MAESTRO_OK);
  }
  maestro_input_close(ix);
  maestro_input_close(iy);
  size_t bad = 0;
  for (int m = 0; m < MSGS; m++) {
    maestro_buf_t *r;
    CU_ASSERT_FATAL(maestro_output_pop(out, &r, 20000) == MAESTRO_OK);
    CU_ASSERT_EQUAL(maestro_buf_size(r), sizeof x);
    const float *o = maestro_buf_cdata(r);
    for (int i = 0; o && i < N; i++) {
      float px = 0.75f * (float)(m * N + i);
      if (o[i] != px + (float)m) bad++;
    }
    maestro_buf_release(r);
  }
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_agent_stats_t s;
  CU_ASSERT_EQUAL(maestro_agent_stats(a, &s), MAESTRO_OK);
  CU_ASSERT_EQUAL(s.fires, MSGS);
  CU_ASSERT_EQUAL(s.failures, 0);
  maestro_graph_destroy(g);
}

/* Empty messages: reductions give their identity, histograms zeros, the
 * element-wise and scan outputs are empty, on the device as on the CPU. */
static void test_empty(void) {
  const op_case_t cases[] = {
      {MAESTRO_BUNDLED_REDUCE_SUM, {.a = 0}, {0}, 1},
      {MAESTRO_BUNDLED_REDUCE_MIN, {.a = 0}, {0}, 1},
      {MAESTRO_BUNDLED_REDUCE_MAX, {.a = 0}, {0}, 1},
      {MAESTRO_BUNDLED_HISTOGRAM_U8, {.a = 0}, {0}, 1},
      {MAESTRO_BUNDLED_SCAN_SUM, {.a = 0}, {0}, 1},
      {MAESTRO_BUNDLED_SCALE, {.a = 2.0f}, {0}, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    check_case(&cases[i]);
  /* and the identities themselves, from the CPU side */
  static const float ident[3] = {0.0f, INFINITY, -INFINITY};
  for (int w = 0; w < 3; w++) {
    maestro_agent_stats_t st;
    size_t bytes = 0, ob;
    const void *in[1] = {""};
    float *r = run_one((maestro_bundled_t)(MAESTRO_BUNDLED_REDUCE_SUM + w), NULL, in, &bytes,
                       MAESTRO_ON_DEVICE, &ob, &st);
    CU_ASSERT_EQUAL(ob, sizeof(float));
    if (r && ob == sizeof(float)) CU_ASSERT_EQUAL(r[0], ident[w]);
    free(r);
  }
}

void register_suites(void) {
  ADD_SUITE("kernels_graph", suite_init, suite_fini, {"every_op", test_every_op},
            {"bad_size", test_bad_size}, {"bad_params", test_bad_params},
            {"stream_chain", test_stream_chain}, {"chain_devices", test_chain_devices},
            {"anywhere", test_anywhere}, {"empty", test_empty});
}
