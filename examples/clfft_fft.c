/* clfft_fft: clFFT called from an agent through OpenCL interop
 * (<maestro/opencl.h>, docs/opencl.md). A CPU source agent sends complex
 * signals (interleaved re, im floats) of a different length in every
 * message; a device agent whose .cl implementation runs clFFT's 1-D forward
 * transform on the firing's queue, from the firing's input cl_mem into an
 * output allocated by the runtime, sends their spectra; the host pops every
 * spectrum and checks it against a direct DFT computed in double.
 *
 *   signals (CPU) --x--> fft (device: clfftEnqueueTransform) --y--> host
 *
 * clFFT needs a plan per length (and per context), baked ahead: the
 * example makes one per device for each length it will send before the
 * graph starts, and runs it once (PoCL compiles the kernels on the first
 * transform), so that no firing blocks its device's worker.
 *
 * Usage: clfft_fft [messages] (default 12). Exits 0 when every spectrum is
 * within 1e-4 of the largest coefficient, 1 otherwise; 77 (skipped) when
 * the runtime has no device. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_util.h" /* example_device_runtime */
#include "maestro.h"
#include "maestro/opencl.h" /* first: it sets the OpenCL version the headers target */
#include "raw_ocl.h"        /* raw_ocl_queue */
#include <clFFT.h>

static const size_t lengths[] = {1024, 768, 4096, 1000, 64, 2048};
enum { NLEN = sizeof lengths / sizeof lengths[0], MAXDEV = 8 };

/* Sample t of message seq (length n): two tones and an offset, complex. */
static void sample(uint64_t seq, size_t n, size_t t, double *re, double *im) {
  double w = 2.0 * M_PI * (double)t / (double)n;
  *re = cos(w * (double)(3 + seq % 5)) + 0.5 * sin(w * 17.0 + (double)seq) + 0.125;
  *im = 0.25 * cos(w * 40.0);
}

/* ---- the source ---- */

typedef struct {
  int msgs;
} source_t;

static int source(maestro_fire_t *f) {
  source_t *s = maestro_fire_state(f);
  uint64_t seq = maestro_fire_seq(f);
  if (seq >= (uint64_t)s->msgs) return MAESTRO_DONE;
  size_t n = lengths[seq % NLEN];
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, 2 * n * sizeof(float), &b);
  if (rc) return rc;
  float *x = maestro_buf_data(b);
  for (size_t t = 0; t < n; t++) {
    double re, im;
    sample(seq, n, t, &re, &im);
    x[2 * t] = (float)re;
    x[2 * t + 1] = (float)im;
  }
  return maestro_fire_out(f, 0, b);
}

/* ---- the device agent: plans per device and length, made ahead ---- */

typedef struct {
  int ndev;
  cl_device_id dev[MAXDEV];
  clfftPlanHandle plan[MAXDEV][NLEN];
  int made[MAXDEV][NLEN]; /* plan[d][l] exists */
} fft_t;

static int fft_cl(maestro_clfire_t *f) {
  fft_t *s = maestro_clfire_state(f);
  size_t bytes = maestro_buf_size(maestro_clfire_in_buf(f, 0)), n = bytes / (2 * sizeof(float));
  int d = 0, l = 0;
  while (d < s->ndev && s->dev[d] != maestro_clfire_device(f))
    d++;
  while (l < NLEN && lengths[l] != n)
    l++;
  if (d == s->ndev || l == NLEN) return MAESTRO_EINVAL; /* no plan made for it */
  cl_mem in = maestro_clfire_in(f, 0), out;
  int rc = maestro_clfire_out(f, 0, bytes, &out);
  if (rc) return rc;
  cl_command_queue q = maestro_clfire_queue(f);
  cl_event ev = NULL;
  /* Enqueued on q behind the input's transfer; returns at once. */
  clfftStatus st =
      clfftEnqueueTransform(s->plan[d][l], CLFFT_FORWARD, 1, &q, 0, NULL, &ev, &in, &out, NULL);
  if (st != CLFFT_SUCCESS) {
    fprintf(stderr, "clfftEnqueueTransform (length %zu) failed: %d\n", n, (int)st);
    return MAESTRO_ECL;
  }
  rc = maestro_clfire_done_after(f, ev);
  clReleaseEvent(ev);
  return rc;
}

/* Makes, bakes and runs once a plan per device and length. */
static int plans_make(maestro_runtime_t *rt, fft_t *s) {
  for (int d = 0; d < s->ndev; d++) {
    cl_context ctx;
    cl_command_queue q = raw_ocl_queue(rt, d, &ctx, &s->dev[d]);
    if (!q) return 1;
    cl_int e;
    int bad = 0;
    for (int l = 0; l < NLEN && !bad; l++) {
      size_t n = lengths[l];
      clfftPlanHandle *p = &s->plan[d][l];
      bad = clfftCreateDefaultPlan(p, ctx, CLFFT_1D, &n) != CLFFT_SUCCESS;
      s->made[d][l] = !bad;
      bad = bad || clfftSetPlanPrecision(*p, CLFFT_SINGLE) != CLFFT_SUCCESS ||
            clfftSetLayout(*p, CLFFT_COMPLEX_INTERLEAVED, CLFFT_COMPLEX_INTERLEAVED) !=
                CLFFT_SUCCESS ||
            clfftSetResultLocation(*p, CLFFT_OUTOFPLACE) != CLFFT_SUCCESS ||
            clfftBakePlan(*p, 1, &q, NULL, NULL) != CLFFT_SUCCESS;
      cl_mem a = clCreateBuffer(ctx, CL_MEM_READ_WRITE, 2 * n * sizeof(float), NULL, &e);
      cl_mem b = clCreateBuffer(ctx, CL_MEM_READ_WRITE, 2 * n * sizeof(float), NULL, &e);
      if (!bad && a && b)
        bad = clfftEnqueueTransform(*p, CLFFT_FORWARD, 1, &q, 0, NULL, NULL, &a, &b, NULL) !=
              CLFFT_SUCCESS;
      clFinish(q);
      if (a) clReleaseMemObject(a);
      if (b) clReleaseMemObject(b);
      if (bad) fprintf(stderr, "clFFT plan of length %zu on device %d failed\n", n, d);
    }
    clReleaseCommandQueue(q);
    if (bad) return 1;
  }
  return 0;
}

/* The largest error of spectrum y (message seq) against a direct DFT,
 * relative to its largest coefficient. */
static double rel_error(uint64_t seq, const float *y) {
  size_t n = lengths[seq % NLEN];
  double *re = malloc(2 * n * sizeof *re), *im = re + n, err = 0.0, top = 0.0;
  for (size_t t = 0; t < n; t++)
    sample(seq, n, t, &re[t], &im[t]);
  for (size_t k = 0; k < n; k++) {
    double sr = 0.0, si = 0.0;
    for (size_t t = 0; t < n; t++) {
      double w = -2.0 * M_PI * (double)((k * t) % n) / (double)n, c = cos(w), sn = sin(w);
      sr += re[t] * c - im[t] * sn;
      si += re[t] * sn + im[t] * c;
    }
    double dr = y[2 * k] - sr, di = y[2 * k + 1] - si;
    err = fmax(err, sqrt(dr * dr + di * di));
    top = fmax(top, sqrt(sr * sr + si * si));
  }
  free(re);
  return err / top;
}

int main(int argc, char **argv) {
  int msgs = argc > 1 ? atoi(argv[1]) : 12;
  if (msgs < 1) {
    fprintf(stderr, "usage: clfft_fft [messages]\n");
    return 2;
  }
  maestro_runtime_t *rt;
  fft_t fs = {0};
  int st = example_device_runtime("clfft_fft", &rt, &fs.ndev);
  if (st) return st;
  if (fs.ndev > MAXDEV) fs.ndev = MAXDEV;
  /* What clfftInitSetupData does: the header defines it as a C99 inline
   * function, with no external definition for an unoptimised build to call. */
  clfftSetupData setup = {clfftVersionMajor, clfftVersionMinor, clfftVersionPatch, 0};
  if (clfftSetup(&setup) != CLFFT_SUCCESS || plans_make(rt, &fs)) {
    for (int d = 0; d < fs.ndev; d++)
      for (int l = 0; l < NLEN; l++)
        if (fs.made[d][l]) clfftDestroyPlan(&fs.plan[d][l]);
    clfftTeardown();
    maestro_runtime_destroy(rt);
    return 1;
  }
  static const maestro_port_t sig[] = {{"x", MAESTRO_F32, 0}};
  static const maestro_port_t spec[] = {{"y", MAESTRO_F32, 0}};
  source_t src = {msgs};
  maestro_graph_t *g = NULL;
  maestro_agent_t *s, *ft;
  maestro_output_t *out = NULL;
  int ok = 0;
  if (maestro_graph_create(rt, "clfft_fft", &g) ||
      maestro_agent_add(g,
                        &(maestro_agent_desc_t){.name = "signals",
                                                .out = sig,
                                                .n_out = 1,
                                                .cpu = source,
                                                .state = &src,
                                                .affinity = {.pref = MAESTRO_ON_CPU, .index = -1}},
                        &s) ||
      maestro_agent_add(
          g,
          &(maestro_agent_desc_t){.name = "fft",
                                  .in = sig,
                                  .n_in = 1,
                                  .out = spec,
                                  .n_out = 1,
                                  .cl = fft_cl,
                                  .state = &fs,
                                  .affinity = {.pref = MAESTRO_ON_DEVICE, .index = -1}},
          &ft) ||
      maestro_connect(g, s, "x", ft, "x", 4) || maestro_graph_output(g, ft, "y", &out) ||
      maestro_graph_start(g)) {
    fprintf(stderr, "graph: %s\n", maestro_last_error());
  } else {
    int good = 0;
    uint64_t seq = 0;
    maestro_buf_t *y;
    double worst = 0.0;
    while (maestro_output_pop(out, &y, -1) == MAESTRO_OK) {
      size_t n = lengths[seq % NLEN];
      double e = maestro_buf_size(y) == 2 * n * sizeof(float) ? rel_error(seq, maestro_buf_cdata(y))
                                                              : INFINITY;
      worst = fmax(worst, e);
      if (e > 1e-4)
        printf("message %llu (length %zu): error %.3g of the largest coefficient\n",
               (unsigned long long)seq, n, e);
      good += e <= 1e-4;
      maestro_buf_release(y);
      seq++;
    }
    int rc = maestro_graph_wait(g);
    if (rc) fprintf(stderr, "graph: %s\n", maestro_last_error());
    maestro_agent_stats_t st;
    maestro_agent_stats(ft, &st);
    printf("clfft_fft: %d of %d spectra right (largest error %.2g; %llu firings on a device)\n",
           good, msgs, worst, (unsigned long long)st.device_fires);
    ok = rc == MAESTRO_OK && good == msgs && st.device_fires == (uint64_t)msgs;
  }
  maestro_graph_destroy(g);
  for (int d = 0; d < fs.ndev; d++)
    for (int l = 0; l < NLEN; l++)
      if (fs.made[d][l]) clfftDestroyPlan(&fs.plan[d][l]);
  clfftTeardown();
  maestro_runtime_destroy(rt);
  return ok ? 0 : 1;
}
