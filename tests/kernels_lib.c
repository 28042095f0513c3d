/* Library agents (MAESTRO_BUNDLED_LIB_*): CLBlast / OpenBLAS GEMM and clFFT /
 * FFTW FFT as bundled hybrid agents, through real graphs on the PoCL device
 * and the CPU. Each message carries its own shape, different from the one
 * before: SGEMM and DGEMM on small-integer matrices must be exact on both
 * sides (every sum is exact whatever the order), the FFT within 1e-4 of the
 * largest coefficient of a direct DFT computed in double. Pinned to the CPU,
 * pinned to a device (every device when there are two), and placed by the
 * scheduler; shapes that do not fit are refused naming agent and port.
 *
 * MAESTRO_TEST_LIB=gemm or fft picks the operations; the program exits 77
 * (skipped) when this build lacks their libraries (maestro_bundled_missing).
 * One runtime for the whole program: CLBlast's kernels are compiled once per
 * runtime and device, at the first graph's start (seconds on PoCL). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/opencl/ocl.h"
#include "kern/kern.h"
#include "maestro.h"
#include "testmain.h"
#include "testutil.h"

static maestro_runtime_t *rt;
static int ndev;

static int suite_init(void) {
  if (testutil_device_suite_init(&rt)) return 1;
  ndev = maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE);
  return 0;
}
static int suite_fini(void) {
  maestro_runtime_destroy(rt);
  return 0;
}

static int has(const char *msg, const char *part) {
  if (strstr(msg, part)) return 1;
  fprintf(stderr, "expected \"%s\" in: %s\n", part, msg);
  return 0;
}

/* ---- messages ---- */

/* A message of `bytes` filled by `fill`, with a shape (ndim 0: none). */
static maestro_buf_t *msg(size_t bytes, int ndim, const size_t *dims,
                          void (*fill)(void *, size_t, int), size_t seq, int port) {
  maestro_buf_t *b;
  CU_ASSERT_FATAL(maestro_buf_create(rt, bytes, &b) == MAESTRO_OK);
  fill(maestro_buf_data(b), seq, port);
  if (ndim) CU_ASSERT_FATAL(maestro_buf_set_shape(b, ndim, dims) == MAESTRO_OK);
  return b;
}

/* ---- GEMM ---- */

/* m, n, k of each message: a different shape every time. */
static const size_t mnk[][3] = {{5, 7, 3},   {16, 16, 16}, {1, 9, 4},   {33, 17, 20},
                                {8, 1, 8},   {64, 32, 48}, {3, 3, 1},   {20, 40, 10},
                                {2, 50, 30}, {31, 1, 7},   {12, 12, 5}, {40, 8, 64}};
enum { NSHAPES = sizeof mnk / sizeof mnk[0] };

static double a_at(size_t seq, size_t i, size_t l) {
  return (double)((int)((i * 7 + l * 3 + seq) % 11) - 5);
}
static double b_at(size_t seq, size_t l, size_t j) {
  return (double)((int)((l * 5 + j + 2 * seq) % 9) - 4);
}

static int dgemm_fill; /* fills doubles, not floats */
static void fill_mat(void *p, size_t seq, int port) {
  const size_t *s = mnk[seq % NSHAPES];
  size_t rows = port ? s[2] : s[0], cols = port ? s[1] : s[2];
  for (size_t r = 0; r < rows; r++)
    for (size_t c = 0; c < cols; c++) {
      double v = port ? b_at(seq, r, c) : a_at(seq, r, c);
      if (dgemm_fill)
        ((double *)p)[r * cols + c] = v;
      else
        ((float *)p)[r * cols + c] = (float)v;
    }
}

/* Entries of message seq's C that differ from A x B, or SIZE_MAX when C
 * has the wrong size or shape. */
static size_t gemm_wrong(maestro_buf_t *c, size_t seq, int dbl) {
  const size_t *s = mnk[seq % NSHAPES];
  size_t m = s[0], n = s[1], k = s[2], es = dbl ? sizeof(double) : sizeof(float), d[3];
  if (maestro_buf_size(c) != m * n * es || maestro_buf_shape(c, d) != 2 || d[0] != n || d[1] != m)
    return SIZE_MAX;
  const void *p = maestro_buf_cdata(c);
  size_t wrong = 0;
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) {
      double r = 0;
      for (size_t l = 0; l < k; l++)
        r += a_at(seq, i, l) * b_at(seq, l, j);
      double got = dbl ? ((const double *)p)[i * n + j] : (double)((const float *)p)[i * n + j];
      wrong += got != r;
    }
  return wrong;
}

/* ---- FFT ---- */

static const size_t lengths[] = {8, 60, 1000, 63, 1, 105};
enum { NLEN = sizeof lengths / sizeof lengths[0] };

static void sample(size_t seq, size_t n, size_t t, double *re, double *im) {
  double w = 2.0 * M_PI * (double)t / (double)n;
  *re = cos(w * (double)(1 + seq % 5)) + 0.5 * sin(w * 3.0 + (double)seq) + 0.125;
  *im = 0.25 * cos(w * 2.0) - 0.1 * (double)(t % 3);
}

static void fill_signal(void *p, size_t seq, int port) {
  (void)port;
  size_t n = lengths[seq % NLEN];
  for (size_t t = 0; t < n; t++) {
    double re, im;
    sample(seq, n, t, &re, &im);
    ((float *)p)[2 * t] = (float)re;
    ((float *)p)[2 * t + 1] = (float)im;
  }
}

/* 0 when message seq's spectrum is within 1e-4 of the largest coefficient
 * of the direct DFT (and has its size and shape), 1 otherwise. */
static int fft_wrong(maestro_buf_t *y, size_t seq) {
  size_t n = lengths[seq % NLEN], d[3];
  if (maestro_buf_size(y) != n * 2 * sizeof(float) || maestro_buf_shape(y, d) != 2 || d[0] != 2 ||
      d[1] != n)
    return 1;
  const float *p = maestro_buf_cdata(y);
  double *re = malloc(n * sizeof *re), *im = malloc(n * sizeof *im), big = 0, err = 0;
  for (size_t f = 0; f < n; f++) {
    re[f] = im[f] = 0;
    for (size_t t = 0; t < n; t++) {
      double xr, xi, a = -2.0 * M_PI * (double)((f * t) % n) / (double)n;
      sample(seq, n, t, &xr, &xi);
      xr = (double)(float)xr, xi = (double)(float)xi; /* what was sent */
      re[f] += xr * cos(a) - xi * sin(a);
      im[f] += xr * sin(a) + xi * cos(a);
    }
    big = fmax(big, hypot(re[f], im[f]));
  }
  for (size_t f = 0; f < n; f++)
    err = fmax(err, hypot(p[2 * f] - re[f], p[2 * f + 1] - im[f]));
  free(re);
  free(im);
  if (err > 1e-4 * fmax(big, 1.0))
    fprintf(stderr, "fft: message %zu (n %zu): error %g of %g\n", seq, n, err, big);
  return err > 1e-4 * fmax(big, 1.0);
}

/* ---- one stream through one library agent ---- */

typedef struct stream {
  maestro_bundled_t which;
  maestro_affinity_t aff;
  int msgs;
  int shaped; /* 1: every message shaped; 2: every other one (FFT) */
  /* results */
  int right;
  maestro_agent_stats_t st;
  int wait;
  char err[512];
} stream_t;

static maestro_buf_t *make_in(const stream_t *s, size_t seq, int port) {
  if (s->which == MAESTRO_BUNDLED_LIB_FFT) {
    size_t n = lengths[seq % NLEN];
    int shaped = s->shaped == 1 || (s->shaped == 2 && seq % 2);
    return msg(n * 2 * sizeof(float), shaped ? 2 : 0, (const size_t[]){2, n}, fill_signal, seq,
               port);
  }
  const size_t *d = mnk[seq % NSHAPES];
  size_t es = s->which == MAESTRO_BUNDLED_LIB_DGEMM ? sizeof(double) : sizeof(float);
  dgemm_fill = es == sizeof(double);
  if (port == 0) return msg(d[0] * d[2] * es, 2, (const size_t[]){d[2], d[0]}, fill_mat, seq, 0);
  return msg(d[2] * d[1] * es, 2, (const size_t[]){d[1], d[2]}, fill_mat, seq, 1);
}

static void run_stream(stream_t *s) {
  static maestro_bundled_agent_t ba; /* outlives the graph */
  int rc = maestro_bundled_agent(s->which, "lib", NULL, &ba);
  if (rc) fprintf(stderr, "bundled: %s\n", maestro_last_error());
  CU_ASSERT_FATAL(rc == MAESTRO_OK);
  ba.desc.affinity = s->aff;
  maestro_graph_t *g;
  maestro_agent_t *a;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "lib", &g) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_agent_add(g, &ba.desc, &a) == MAESTRO_OK);
  maestro_input_t *in[2] = {NULL, NULL};
  for (int i = 0; i < ba.desc.n_in; i++)
    CU_ASSERT_FATAL(maestro_graph_input(g, a, ba.desc.in[i].name, &in[i]) == MAESTRO_OK);
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_output(g, a, ba.desc.out[0].name, &out) == MAESTRO_OK);
  rc = maestro_graph_start(g);
  if (rc) fprintf(stderr, "start: %s\n", maestro_last_error());
  CU_ASSERT_FATAL(rc == MAESTRO_OK);
  for (int m = 0; m < s->msgs; m++)
    for (int i = 0; i < ba.desc.n_in; i++)
      CU_ASSERT(maestro_input_push(in[i], make_in(s, (size_t)m, i)) == MAESTRO_OK);
  for (int i = 0; i < ba.desc.n_in; i++)
    maestro_input_close(in[i]);
  s->right = 0;
  maestro_buf_t *r;
  for (size_t seq = 0; maestro_output_pop(out, &r, 60000) == MAESTRO_OK; seq++) {
    if (s->which == MAESTRO_BUNDLED_LIB_FFT)
      s->right += !fft_wrong(r, seq);
    else
      s->right += gemm_wrong(r, seq, s->which == MAESTRO_BUNDLED_LIB_DGEMM) == 0;
    maestro_buf_release(r);
  }
  s->wait = maestro_graph_wait(g);
  snprintf(s->err, sizeof s->err, "%s", maestro_last_error());
  CU_ASSERT_EQUAL(maestro_agent_stats(a, &s->st), MAESTRO_OK);
  maestro_graph_destroy(g);
}

static const maestro_affinity_t on_cpu = {MAESTRO_ON_CPU, -1, 0};
static const maestro_affinity_t anywhere = {MAESTRO_ANYWHERE, -1, 0};

static void expect_all_right(const stream_t *s, int on_device) {
  CU_ASSERT_EQUAL(s->wait, MAESTRO_OK);
  if (s->wait) fprintf(stderr, "wait: %s\n", s->err);
  CU_ASSERT_EQUAL(s->right, s->msgs);
  CU_ASSERT_EQUAL(s->st.fires, (uint64_t)s->msgs);
  CU_ASSERT_EQUAL(s->st.fallbacks, 0);
  CU_ASSERT_EQUAL(s->st.device_fires + s->st.cpu_fires, (uint64_t)s->msgs);
  if (on_device == 1) CU_ASSERT_EQUAL(s->st.device_fires, (uint64_t)s->msgs);
  if (on_device == 0) CU_ASSERT_EQUAL(s->st.cpu_fires, (uint64_t)s->msgs);
}

/* Pinned to the CPU, to each device, then placed by the scheduler. */
static void stream_everywhere(maestro_bundled_t which, int shaped) {
  stream_t s = {which, on_cpu, NSHAPES, shaped, 0, {0}, 0, ""};
  run_stream(&s);
  expect_all_right(&s, 0);
  for (int d = 0; d < ndev; d++) {
    s = (stream_t){which, {MAESTRO_ON_DEVICE, d, 0}, NSHAPES, shaped, 0, {0}, 0, ""};
    run_stream(&s);
    expect_all_right(&s, 1);
    CU_ASSERT_EQUAL(s.st.place_index, d);
  }
  s = (stream_t){which, anywhere, 2 * NSHAPES, shaped, 0, {0}, 0, ""};
  run_stream(&s);
  expect_all_right(&s, -1);
}

static void test_sgemm(void) {
  stream_everywhere(MAESTRO_BUNDLED_LIB_SGEMM, 1);
}

/* CLBlast set up once per routine and device, at the first graph's start. */
static void test_dgemm(void) {
  stream_everywhere(MAESTRO_BUNDLED_LIB_DGEMM, 1);
  int plans, setups;
  ocl_lib_counts(rt, &plans, &setups);
  CU_ASSERT_EQUAL(setups, 2 * ndev); /* Sgemm and Dgemm on each device */
  CU_ASSERT_EQUAL(plans, 0);
}

/* Plans are made once per length (and device), kept across graphs. The
 * CPU side keeps one per length and alignment of the arrays (the runtime's
 * buffers are aligned: one per length here). */
static void test_fft(void) {
  stream_everywhere(MAESTRO_BUNDLED_LIB_FFT, 2);
  int plans, setups, cpu_plans = kern_lib_plans(rt);
  ocl_lib_counts(rt, &plans, &setups);
  CU_ASSERT_EQUAL(cpu_plans, NLEN);
  CU_ASSERT_EQUAL(plans, NLEN * ndev);
  CU_ASSERT_EQUAL(setups, 0);
  stream_t s = {MAESTRO_BUNDLED_LIB_FFT, {MAESTRO_ON_DEVICE, 0, 0}, NLEN, 1, 0, {0}, 0, ""};
  run_stream(&s);
  expect_all_right(&s, 1);
  s = (stream_t){MAESTRO_BUNDLED_LIB_FFT, on_cpu, NLEN, 1, 0, {0}, 0, ""};
  run_stream(&s);
  expect_all_right(&s, 0);
  ocl_lib_counts(rt, &plans, &setups);
  CU_ASSERT_EQUAL(plans, NLEN * ndev);
  CU_ASSERT_EQUAL(kern_lib_plans(rt), cpu_plans);
}

/* ---- refusals ---- */

/* One firing of `which` on hand-made inputs, pinned by `aff`: the graph's
 * status and message. */
static int run_bad(maestro_bundled_t which, const maestro_bundled_params_t *p,
                   maestro_affinity_t aff, maestro_buf_t *x, maestro_buf_t *y, char *err,
                   size_t len, maestro_buf_t **res) {
  static maestro_bundled_agent_t ba;
  CU_ASSERT_FATAL(maestro_bundled_agent(which, "mm", p, &ba) == MAESTRO_OK);
  ba.desc.affinity = aff;
  maestro_graph_t *g;
  maestro_agent_t *a;
  maestro_input_t *in[2] = {NULL, NULL};
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "bad", &g) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_agent_add(g, &ba.desc, &a) == MAESTRO_OK);
  for (int i = 0; i < ba.desc.n_in; i++)
    CU_ASSERT_FATAL(maestro_graph_input(g, a, ba.desc.in[i].name, &in[i]) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a, ba.desc.out[0].name, &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  CU_ASSERT(maestro_input_push(in[0], x) == MAESTRO_OK);
  if (ba.desc.n_in > 1) CU_ASSERT(maestro_input_push(in[1], y) == MAESTRO_OK);
  for (int i = 0; i < ba.desc.n_in; i++)
    maestro_input_close(in[i]);
  maestro_buf_t *r = NULL;
  if (maestro_output_pop(out, &r, 60000) != MAESTRO_OK) r = NULL;
  if (res)
    *res = r;
  else if (r)
    maestro_buf_release(r);
  int st = maestro_graph_wait(g);
  snprintf(err, len, "%s", maestro_last_error());
  maestro_graph_destroy(g);
  return st;
}

static maestro_buf_t *zeros(size_t bytes, int ndim, const size_t *dims) {
  maestro_buf_t *b;
  CU_ASSERT_FATAL(maestro_buf_create(rt, bytes, &b) == MAESTRO_OK);
  memset(maestro_buf_data(b), 0, bytes);
  if (ndim) CU_ASSERT_FATAL(maestro_buf_set_shape(b, ndim, dims) == MAESTRO_OK);
  return b;
}

static void test_gemm_refusals(void) {
  char err[512];
  maestro_affinity_t where[] = {on_cpu, {MAESTRO_ON_DEVICE, 0, 0}};
  for (int w = 0; w < 2; w++) {
    /* a is 4 x 3 (k 3), b has 5 rows: they do not multiply */
    int st = run_bad(MAESTRO_BUNDLED_LIB_SGEMM, NULL, where[w],
                     zeros(12 * sizeof(float), 2, (const size_t[]){3, 4}),
                     zeros(10 * sizeof(float), 2, (const size_t[]){2, 5}), err, sizeof err, NULL);
    CU_ASSERT_NOT_EQUAL(st, MAESTRO_OK);
    CU_ASSERT(has(err, "agent 'mm'"));
    CU_ASSERT(has(err, "input 1 'b' has 5 rows and input 0 'a' 3 columns"));
    /* no shape and no m, n, k */
    st = run_bad(MAESTRO_BUNDLED_LIB_SGEMM, NULL, where[w], zeros(12 * sizeof(float), 0, NULL),
                 zeros(12 * sizeof(float), 0, NULL), err, sizeof err, NULL);
    CU_ASSERT_NOT_EQUAL(st, MAESTRO_OK);
    CU_ASSERT(has(err, "agent 'mm'"));
    CU_ASSERT(has(err, "input 0 'a' has no shape"));
    /* a shape whose element count fits floats, not doubles: 3 x 4 doubles
     * need 96 bytes, the message has 48 */
    st = run_bad(MAESTRO_BUNDLED_LIB_DGEMM, NULL, where[w],
                 zeros(12 * sizeof(float), 2, (const size_t[]){3, 4}),
                 zeros(6 * sizeof(double), 2, (const size_t[]){2, 3}), err, sizeof err, NULL);
    CU_ASSERT_NOT_EQUAL(st, MAESTRO_OK);
    CU_ASSERT(has(err, "input 0 'a' holds 48 bytes, its 4 x 3 shape needs 96"));
    /* unshaped messages with m, n, k given: a 2 x 3 product, exact */
    maestro_bundled_params_t p = {.m = 2, .n = 2, .k = 3};
    maestro_buf_t *a = zeros(6 * sizeof(float), 0, NULL), *b = zeros(6 * sizeof(float), 0, NULL);
    float *pa = maestro_buf_data(a), *pb = maestro_buf_data(b);
    for (int i = 0; i < 6; i++)
      pa[i] = (float)(i + 1), pb[i] = (float)(i % 2 ? -1 : 2);
    maestro_buf_t *c = NULL;
    st = run_bad(MAESTRO_BUNDLED_LIB_SGEMM, &p, where[w], a, b, err, sizeof err, &c);
    CU_ASSERT_EQUAL(st, MAESTRO_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(maestro_buf_size(c), 4 * sizeof(float));
    const float *pc = maestro_buf_cdata(c);
    /* [1 2 3; 4 5 6] x [2 -1; 2 -1; 2 -1] */
    CU_ASSERT(pc[0] == 12.0f && pc[1] == -6.0f && pc[2] == 30.0f && pc[3] == -15.0f);
    maestro_buf_release(c);
  }
}

static void test_fft_refusals(void) {
  char err[512];
  maestro_affinity_t where[] = {on_cpu, {MAESTRO_ON_DEVICE, 0, 0}};
  for (int w = 0; w < 2; w++) {
    int st = run_bad(MAESTRO_BUNDLED_LIB_FFT, NULL, where[w], zeros(22 * 8, 0, NULL), NULL, err,
                     sizeof err, NULL);
    CU_ASSERT_NOT_EQUAL(st, MAESTRO_OK);
    CU_ASSERT(has(err, "agent 'mm'"));
    CU_ASSERT(has(err, "input 0 'x': length 22 has a prime factor above 7 (11 left"));
    st = run_bad(MAESTRO_BUNDLED_LIB_FFT, NULL, where[w], zeros(24 * 4, 2, (const size_t[]){3, 8}),
                 NULL, err, sizeof err, NULL);
    CU_ASSERT_NOT_EQUAL(st, MAESTRO_OK);
    CU_ASSERT(has(err, "input 0 'x' has a shape of 2 dimensions {3, 8, 1}"));
    st = run_bad(MAESTRO_BUNDLED_LIB_FFT, NULL, where[w], zeros(0, 0, NULL), NULL, err, sizeof err,
                 NULL);
    CU_ASSERT_NOT_EQUAL(st, MAESTRO_OK);
    CU_ASSERT(has(err, "input 0 'x': a signal of 0 complex values"));
  }
}

/* The descriptions: ports, names, the separate range, what is missing. */
static void test_describe(void) {
  maestro_bundled_agent_t ba;
  CU_ASSERT_PTR_NULL(maestro_bundled_missing(MAESTRO_BUNDLED_SAXPY));
  CU_ASSERT_TRUE(MAESTRO_BUNDLED_LIB_FIRST > MAESTRO_BUNDLED_COUNT);
  CU_ASSERT_PTR_NULL(maestro_bundled_kernel_name(MAESTRO_BUNDLED_LIB_END));
  CU_ASSERT_PTR_NULL(maestro_bundled_cpu(MAESTRO_BUNDLED_LIB_END));
  CU_ASSERT_EQUAL(maestro_bundled_agent(MAESTRO_BUNDLED_LIB_END, "x", NULL, &ba), MAESTRO_EINVAL);
  if (!maestro_bundled_missing(MAESTRO_BUNDLED_LIB_SGEMM)) {
    CU_ASSERT_EQUAL(maestro_bundled_agent(MAESTRO_BUNDLED_LIB_SGEMM, "s", NULL, &ba), MAESTRO_OK);
    CU_ASSERT_EQUAL(ba.desc.n_in, 2);
    CU_ASSERT_EQUAL(ba.desc.in[1].type, MAESTRO_F32);
    CU_ASSERT_PTR_NOT_NULL(ba.desc.cpu);
    CU_ASSERT_PTR_NOT_NULL(ba.desc.cl);
    CU_ASSERT_PTR_NULL(ba.desc.kernel);
    CU_ASSERT_EQUAL(ba.desc.flags, MAESTRO_STATELESS);
    CU_ASSERT_EQUAL(maestro_bundled_agent(MAESTRO_BUNDLED_LIB_DGEMM, "d", NULL, &ba), MAESTRO_OK);
    CU_ASSERT_EQUAL(ba.desc.out[0].type, MAESTRO_F64);
    CU_ASSERT_STRING_EQUAL(ba.desc.out[0].name, "c");
    CU_ASSERT_STRING_EQUAL(maestro_bundled_kernel_name(MAESTRO_BUNDLED_LIB_SGEMM), "CLBlastSgemm");
    CU_ASSERT_STRING_EQUAL(maestro_bundled_kernel_name(MAESTRO_BUNDLED_LIB_DGEMM), "CLBlastDgemm");
  }
  if (!maestro_bundled_missing(MAESTRO_BUNDLED_LIB_FFT)) {
    CU_ASSERT_EQUAL(maestro_bundled_agent(MAESTRO_BUNDLED_LIB_FFT, "f", NULL, &ba), MAESTRO_OK);
    CU_ASSERT_EQUAL(ba.desc.n_in, 1);
    CU_ASSERT_STRING_EQUAL(ba.desc.in[0].name, "x");
    CU_ASSERT_PTR_NOT_NULL(maestro_bundled_cpu(MAESTRO_BUNDLED_LIB_FFT));
    CU_ASSERT_EQUAL(maestro_bundled_agent(MAESTRO_BUNDLED_LIB_FFT, "x", NULL, NULL),
                    MAESTRO_EINVAL);
  }
}

void register_suites(void) {
  const char *lib = getenv("MAESTRO_TEST_LIB");
  int fft = lib && !strcmp(lib, "fft");
  const char *missing = fft ? maestro_bundled_missing(MAESTRO_BUNDLED_LIB_FFT)
                            : maestro_bundled_missing(MAESTRO_BUNDLED_LIB_SGEMM);
  if (missing) {
    /* What a user of this build gets: MAESTRO_ENOTSUP naming the library. */
    maestro_bundled_agent_t ba;
    maestro_bundled_t w = fft ? MAESTRO_BUNDLED_LIB_FFT : MAESTRO_BUNDLED_LIB_SGEMM;
    int st = maestro_bundled_agent(w, "lib", NULL, &ba);
    int ok = st == MAESTRO_ENOTSUP && strstr(maestro_last_error(), missing) &&
             strstr(maestro_last_error(), "'lib'");
    printf("kernels_lib: this build has no %s: %s (%s)\n", missing,
           ok ? "skipped" : "WRONG refusal", maestro_last_error());
    CU_cleanup_registry();
    exit(ok ? 77 : 1);
  }
  if (fft)
    ADD_SUITE("lib_fft", suite_init, suite_fini, {"describe", test_describe},
              {"fft_cpu_device_anywhere", test_fft}, {"fft_refusals", test_fft_refusals});
  else
    ADD_SUITE("lib_gemm", suite_init, suite_fini, {"describe", test_describe},
              {"sgemm_cpu_device_anywhere", test_sgemm}, {"dgemm_cpu_device_anywhere", test_dgemm},
              {"gemm_refusals", test_gemm_refusals});
}
