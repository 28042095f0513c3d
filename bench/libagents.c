/* libagents: the bundled library SGEMM agent (MAESTRO_BUNDLED_LIB_SGEMM)
 * (and with `fft`, the FFT agent MAESTRO_BUNDLED_LIB_FFT)
 * against the same library called by hand, in the same run, interleaved,
 * best of `rounds`:
 *  - device side: the agent pinned to device 0 (CLBlastSgemm on the
 *    firing's queue) vs a raw loop on device 0 (write A and B, CLBlastSgemm,
 *    blocking read of C);
 *  - CPU side: the agent pinned to the CPU (cblas_sgemm) vs a raw loop of
 *    cblas_sgemm on the calling thread.
 * Both graphs: a CPU source agent filling shaped A and B -> the agent -> the
 * host popping C (channels of 4, several messages in flight); the raw loops
 * fill the same matrices. Every C's corners are checked (small integers: exact).
 *
 * With `fft` first: n-point forward FFTs, the same four ways (clFFT plan
 * baked once, write, clfftEnqueueTransform, blocking read / FFTW plan made
 * once, fftwf_execute_dft); spectra checked at bin 0 (within 1e-3).
 *
 * Usage: libagents [fft] [n] [messages] [rounds] (default 256 40 3). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maestro.h"
#include "maestro/opencl.h"
#include "raw_clblast.h" /* examples/: now_s, raw_ocl_queue, the raw CLBlast loop */
#include <cblas.h>
#include <clFFT.h>
#include <clblast_c.h>
#include <fftw3.h>

static int fft_mode; /* `fft`: the FFT agent instead of SGEMM */

static float a_at(size_t seq, size_t i, size_t l) {
  return (float)((int)((i * 7 + l * 3 + seq) % 11) - 5);
}
static float b_at(size_t seq, size_t l, size_t j) {
  return (float)((int)((l * 5 + j + 2 * seq) % 9) - 4);
}

static void fill(float *a, float *b, size_t n, size_t seq) {
  for (size_t r = 0; r < n; r++)
    for (size_t c = 0; c < n; c++) {
      a[r * n + c] = a_at(seq, r, c);
      b[r * n + c] = b_at(seq, r, c);
    }
}

/* 1 when C's first and last entries are right. */
static int corners_ok(const float *c, size_t n, size_t seq) {
  float r0 = 0, r1 = 0;
  for (size_t l = 0; l < n; l++) {
    r0 += a_at(seq, 0, l) * b_at(seq, l, 0);
    r1 += a_at(seq, n - 1, l) * b_at(seq, l, n - 1);
  }
  return c[0] == r0 && c[n * n - 1] == r1;
}

typedef struct {
  size_t n;
  int msgs;
} src_t;

/* Signal seq (n complex values) and the sum of its values (its bin 0). */
static void fill_sig(float *x, size_t n, size_t seq) {
  for (size_t t = 0; t < n; t++) {
    x[2 * t] = (float)((int)((t * 5 + seq) % 7) - 3);
    x[2 * t + 1] = (float)((int)((t * 3 + seq) % 5) - 2);
  }
}
static int bin0_ok(const float *y, size_t n, size_t seq) {
  double re = 0, im = 0;
  for (size_t t = 0; t < n; t++) {
    re += (double)((int)((t * 5 + seq) % 7) - 3);
    im += (double)((int)((t * 3 + seq) % 5) - 2);
  }
  return fabs(y[0] - re) <= 1e-3 * (double)n && fabs(y[1] - im) <= 1e-3 * (double)n;
}

static int source(maestro_fire_t *f) {
  src_t *s = maestro_fire_state(f);
  uint64_t seq = maestro_fire_seq(f);
  if (seq >= (uint64_t)s->msgs) return MAESTRO_DONE;
  if (fft_mode) {
    maestro_buf_t *x;
    int rc = maestro_fire_alloc(f, s->n * 2 * sizeof(float), &x);
    if (rc) return rc;
    fill_sig(maestro_buf_data(x), s->n, (size_t)seq);
    maestro_buf_set_shape(x, 2, (size_t[]){2, s->n});
    return maestro_fire_out(f, 0, x);
  }
  size_t n = s->n, bytes = n * n * sizeof(float);
  maestro_buf_t *a, *b;
  int rc = maestro_fire_alloc(f, bytes, &a);
  if (rc) return rc;
  if ((rc = maestro_fire_alloc(f, bytes, &b))) {
    maestro_buf_release(a);
    return rc;
  }
  fill(maestro_buf_data(a), maestro_buf_data(b), n, (size_t)seq);
  maestro_buf_set_shape(a, 2, (size_t[]){n, n});
  maestro_buf_set_shape(b, 2, (size_t[]){n, n});
  if ((rc = maestro_fire_out(f, 0, a))) {
    maestro_buf_release(b);
    return rc;
  }
  return maestro_fire_out(f, 1, b);
}

/* msgs products through source -> agent (pinned by `aff`) -> host; the
 * exact ones, the seconds in *secs (graph set-up and start included). */
static int run_graph(maestro_runtime_t *rt, maestro_affinity_t aff, size_t n, int msgs,
                     double *secs) {
  static const maestro_port_t mats[] = {{"a", MAESTRO_F32, 0}, {"b", MAESTRO_F32, 0}};
  static const maestro_port_t sig[] = {{"x", MAESTRO_F32, 0}};
  maestro_bundled_agent_t ba;
  src_t src = {n, msgs};
  maestro_graph_t *g = NULL;
  maestro_agent_t *s = NULL, *mm = NULL;
  maestro_output_t *out = NULL;
  double t0 = now_s();
  if (maestro_bundled_agent(fft_mode ? MAESTRO_BUNDLED_LIB_FFT : MAESTRO_BUNDLED_LIB_SGEMM, "mm",
                            NULL, &ba))
    goto fail;
  ba.desc.affinity = aff;
  if (maestro_graph_create(rt, "libagents", &g) ||
      maestro_agent_add(g,
                        &(maestro_agent_desc_t){.name = "matrices",
                                                .out = fft_mode ? sig : mats,
                                                .n_out = fft_mode ? 1 : 2,
                                                .cpu = source,
                                                .state = &src,
                                                .affinity = {MAESTRO_ON_CPU, -1, 0}},
                        &s) ||
      maestro_agent_add(g, &ba.desc, &mm) ||
      (fft_mode
           ? maestro_connect(g, s, "x", mm, "x", 4)
           : maestro_connect(g, s, "a", mm, "a", 4) || maestro_connect(g, s, "b", mm, "b", 4)) ||
      maestro_graph_output(g, mm, fft_mode ? "y" : "c", &out) || maestro_graph_start(g))
    goto fail;
  int ok = 0;
  maestro_buf_t *c;
  for (size_t seq = 0; maestro_output_pop(out, &c, -1) == MAESTRO_OK; seq++) {
    ok +=
        fft_mode ? bin0_ok(maestro_buf_cdata(c), n, seq) : corners_ok(maestro_buf_cdata(c), n, seq);
    maestro_buf_release(c);
  }
  int rc = maestro_graph_wait(g);
  *secs = now_s() - t0;
  maestro_graph_destroy(g);
  return rc ? -1 : ok;
fail:
  fprintf(stderr, "graph: %s\n", maestro_last_error());
  maestro_graph_destroy(g);
  return -1;
}

/* The CPU side by hand, on this thread. */
static int run_raw_cpu(size_t n, int msgs, double *secs) {
  size_t bytes = n * n * sizeof(float);
  float *a = malloc(bytes), *b = malloc(bytes), *c = malloc(bytes);
  int ok = 0;
  double t0 = now_s();
  for (int i = 0; a && b && c && i < msgs; i++) {
    fill(a, b, n, (size_t)i);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1.0f, a, (int)n,
                b, (int)n, 0.0f, c, (int)n);
    ok += corners_ok(c, n, (size_t)i);
  }
  *secs = now_s() - t0;
  free(a);
  free(b);
  free(c);
  return ok;
}

/* The FFT by hand on device 0, with a plan baked once (before the first
 * timing) and kept: clfftSetup / clfftTeardown are process-wide, and the
 * runtime's library agent uses clFFT too (it tears clFFT down when the
 * runtime goes, so this program never calls clfftTeardown itself). */
static clfftPlanHandle raw_plan;
static int raw_plan_made;

static int run_raw_clfft(maestro_runtime_t *rt, size_t n, int msgs, double *secs) {
  cl_context ctx;
  cl_device_id dev;
  cl_command_queue q = raw_ocl_queue(rt, 0, &ctx, &dev);
  if (!q) return -1;
  size_t bytes = n * 2 * sizeof(float);
  cl_int e;
  cl_mem x = clCreateBuffer(ctx, CL_MEM_READ_ONLY, bytes, NULL, &e);
  cl_mem y = clCreateBuffer(ctx, CL_MEM_READ_WRITE, bytes, NULL, &e);
  float *hx = malloc(bytes), *hy = malloc(bytes);
  int ok = -1;
  if (x && y && hx && hy && !raw_plan_made) {
    /* clfftSetup was called by the runtime (the untimed first graph ran the
     * agent on device 0): a second call would start clFFT over. */
    raw_plan_made = clfftCreateDefaultPlan(&raw_plan, ctx, CLFFT_1D, &n) == CLFFT_SUCCESS &&
                    clfftSetPlanPrecision(raw_plan, CLFFT_SINGLE) == CLFFT_SUCCESS &&
                    clfftSetLayout(raw_plan, CLFFT_COMPLEX_INTERLEAVED,
                                   CLFFT_COMPLEX_INTERLEAVED) == CLFFT_SUCCESS &&
                    clfftSetResultLocation(raw_plan, CLFFT_OUTOFPLACE) == CLFFT_SUCCESS &&
                    clfftBakePlan(raw_plan, 1, &q, NULL, NULL) == CLFFT_SUCCESS &&
                    clfftEnqueueTransform(raw_plan, CLFFT_FORWARD, 1, &q, 0, NULL, NULL, &x, &y,
                                          NULL) == CLFFT_SUCCESS &&
                    clFinish(q) == CL_SUCCESS; /* PoCL compiles at the first transform */
  }
  if (x && y && hx && hy && raw_plan_made) {
    ok = 0;
    double t0 = now_s();
    for (int i = 0; i < msgs; i++) {
      fill_sig(hx, n, (size_t)i);
      clEnqueueWriteBuffer(q, x, CL_FALSE, 0, bytes, hx, 0, NULL, NULL);
      if (clfftEnqueueTransform(raw_plan, CLFFT_FORWARD, 1, &q, 0, NULL, NULL, &x, &y, NULL) !=
          CLFFT_SUCCESS)
        break;
      clEnqueueReadBuffer(q, y, CL_TRUE, 0, bytes, hy, 0, NULL, NULL);
      ok += bin0_ok(hy, n, (size_t)i);
    }
    *secs = now_s() - t0;
  }
  free(hx);
  free(hy);
  if (x) clReleaseMemObject(x);
  if (y) clReleaseMemObject(y);
  clReleaseCommandQueue(q);
  return ok;
}

/* The FFT by hand on the CPU: one FFTW plan made before the timing. */
static int run_raw_fftw(size_t n, int msgs, double *secs) {
  fftwf_complex *x = fftwf_malloc(n * sizeof *x), *y = fftwf_malloc(n * sizeof *y);
  fftwf_plan plan = fftwf_plan_dft_1d((int)n, x, y, FFTW_FORWARD, FFTW_ESTIMATE);
  int ok = 0;
  double t0 = now_s();
  for (int i = 0; plan && i < msgs; i++) {
    fill_sig((float *)x, n, (size_t)i);
    fftwf_execute(plan);
    ok += bin0_ok((const float *)y, n, (size_t)i);
  }
  *secs = now_s() - t0;
  if (plan) fftwf_destroy_plan(plan);
  fftwf_free(x);
  fftwf_free(y);
  return ok;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "fft")) {
    fft_mode = 1;
    argc--, argv++;
  }
  size_t n = argc > 1 ? (size_t)atoi(argv[1]) : 256;
  int msgs = argc > 2 ? atoi(argv[2]) : 40, rounds = argc > 3 ? atoi(argv[3]) : 3;
  if (n < 1 || msgs < 1 || rounds < 1) {
    fprintf(stderr, "usage: libagents [fft] [n] [messages] [rounds]\n");
    return 2;
  }
  const char *missing =
      maestro_bundled_missing(fft_mode ? MAESTRO_BUNDLED_LIB_FFT : MAESTRO_BUNDLED_LIB_SGEMM);
  if (missing) {
    printf("libagents: this build has no %s: nothing to measure\n", missing);
    return 0;
  }
  maestro_runtime_t *rt;
  if (maestro_runtime_create(NULL, &rt)) {
    fprintf(stderr, "runtime: %s\n", maestro_last_error());
    return 1;
  }
  int dev = maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE) > 0;
  double best[4] = {1e30, 1e30, 1e30, 1e30}, t = 1e30;
  int ok = 1;
  /* A first graph compiles CLBlast's kernels (graph start) or makes the
   * clFFT plan (first firing): not timed. */
  if (dev) ok &= run_graph(rt, (maestro_affinity_t){MAESTRO_ON_DEVICE, 0, 0}, n, 1, &t) == 1;
  for (int r = 0; r < rounds; r++) {
    if (dev) {
      /* The device side by hand on device 0, one message at a time. */
      ok &= (fft_mode ? run_raw_clfft(rt, n, msgs, &t)
                      : raw_clblast_sgemm(rt, n, msgs, fill, corners_ok, &t)) == msgs;
      best[0] = fmin(best[0], t);
      ok &= run_graph(rt, (maestro_affinity_t){MAESTRO_ON_DEVICE, 0, 0}, n, msgs, &t) == msgs;
      best[1] = fmin(best[1], t);
    }
    ok &= (fft_mode ? run_raw_fftw(n, msgs, &t) : run_raw_cpu(n, msgs, &t)) == msgs;
    best[2] = fmin(best[2], t);
    ok &= run_graph(rt, (maestro_affinity_t){MAESTRO_ON_CPU, -1, 0}, n, msgs, &t) == msgs;
    best[3] = fmin(best[3], t);
  }
  const char *op = fft_mode ? "FFT" : "SGEMM";
  if (fft_mode)
    printf("libagents: %zu-point FFT, %d messages, best of %d\n", n, msgs, rounds);
  else
    printf("libagents: %zu x %zu SGEMM, %d messages, best of %d\n", n, n, msgs, rounds);
  if (dev) {
    printf("device raw loop (write, %s, read): %8.1f msgs/s\n",
           fft_mode ? "clfftEnqueueTransform" : "CLBlastSgemm", msgs / best[0]);
    printf("device agent (LIB_%s on device 0): %8.1f msgs/s  %.2fx of raw\n", op, msgs / best[1],
           best[0] / best[1]);
  }
  printf("cpu raw loop (%s): %8.1f msgs/s\n", fft_mode ? "fftwf_execute" : "cblas_sgemm",
         msgs / best[2]);
  printf("cpu agent (LIB_%s on a CPU worker): %8.1f msgs/s  %.2fx of raw\n", op, msgs / best[3],
         best[2] / best[3]);
  printf("libagents: %s\n", ok ? "every product right" : "WRONG products");
  if (raw_plan_made) clfftDestroyPlan(&raw_plan); /* before the runtime's clfftTeardown */
  maestro_runtime_destroy(rt);
  return ok ? 0 : 1;
}
