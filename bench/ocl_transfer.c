/* transfer: (1) a three-kernel chain on one device moves exactly input +
 * output bytes across the boundary (asserted from the counters; exit 1 if
 * not), timed against the same chain in raw OpenCL; (2) the runtime's
 * host->device and device->host bandwidth against raw
 * clEnqueueWriteBuffer / clEnqueueReadBuffer of the same size; (3) the
 * zero-copy path moves no bytes at all. Usage: transfer [--tiny] */
#include "ocl_common.h"

static const char *touch_src =
    "__kernel void touch(__global const float *x, __global const float *r, __global float *y)"
    "{ if (get_global_id(0) == 0) y[0] = x[0] + r[0]; }"
    "__kernel void fill(__global const float *r, __global float *y)"
    "{ if (get_global_id(0) == 0) y[0] = r[0]; }";

static int failures;
#define CHECK(c, ...)                                                                              \
  do {                                                                                             \
    if (!(c)) {                                                                                    \
      fprintf(stderr, "transfer: FAILED: " __VA_ARGS__);                                           \
      fprintf(stderr, "\n");                                                                       \
      failures++;                                                                                  \
    }                                                                                              \
  } while (0)

static maestro_buf_t *run_one(ocl_kagent_t *ka, maestro_buf_t **in) {
  done_q_t q;
  done_q_init(&q);
  if (ocl_launch(ka, 0, in, done_q_cb, &q)) {
    fprintf(stderr, "launch: %s\n", maestro_last_error());
    exit(1);
  }
  return done_q_pop(&q, NULL);
}

/* Seconds for in -> x2 -> x2 -> x2 -> host, and the bytes it moved. */
static double chain(maestro_runtime_t *rt, ocl_kagent_t *ka, size_t n, int reps,
                    ocl_dev_stats_t *moved) {
  maestro_buf_t *in;
  maestro_buf_create(rt, n * sizeof(float), &in);
  float *x = maestro_buf_data(in);
  for (size_t j = 0; j < n; j++)
    x[j] = 1.0f;
  double best = 1e9;
  ocl_dev_stats_t s0, s1;
  for (int r = 0; r < reps; r++) {
    x = maestro_buf_data(in); /* a new message each time */
    x[0] = (float)r;
    ocl_dev_stats(rt, 0, &s0);
    double t0 = now_s();
    maestro_buf_t *a = run_one(ka, &in);
    maestro_buf_t *b = run_one(ka, &a);
    maestro_buf_t *c = run_one(ka, &b);
    const float *y = maestro_buf_cdata(c);
    double t = now_s() - t0;
    ocl_dev_stats(rt, 0, &s1);
    CHECK(y && y[0] == 8.0f * (float)r && y[n - 1] == 8.0f, "chain result wrong");
    if (t < best) best = t;
    moved->bytes_h2d = s1.bytes_h2d - s0.bytes_h2d;
    moved->bytes_d2h = s1.bytes_d2h - s0.bytes_d2h;
    moved->bytes_d2d = s1.bytes_d2d - s0.bytes_d2d;
    maestro_buf_release(a);
    maestro_buf_release(b);
    maestro_buf_release(c);
  }
  maestro_buf_release(in);
  return best;
}

static double raw_chain(raw_cl_t *r, size_t n, int reps) {
  cl_int e;
  size_t bytes = n * sizeof(float);
  float *x = malloc(bytes), *y = malloc(bytes);
  for (size_t j = 0; j < n; j++)
    x[j] = 1.0f;
  cl_mem m[2] = {clCreateBuffer(r->ctx, CL_MEM_READ_WRITE, bytes, NULL, &e),
                 clCreateBuffer(r->ctx, CL_MEM_READ_WRITE, bytes, NULL, &e)};
  cl_uint cn = (cl_uint)n;
  float a = 2.0f;
  size_t local = 256, global = (n + local - 1) / local * local;
  double best = 1e9;
  for (int rep = 0; rep < reps; rep++) {
    double t0 = now_s();
    clEnqueueWriteBuffer(r->q, m[0], CL_FALSE, 0, bytes, x, 0, NULL, NULL);
    for (int k = 0; k < 3; k++) {
      clSetKernelArg(r->k, 0, sizeof(cl_mem), &m[k % 2]);
      clSetKernelArg(r->k, 1, sizeof(cl_mem), &m[(k + 1) % 2]);
      clSetKernelArg(r->k, 2, sizeof cn, &cn);
      clSetKernelArg(r->k, 3, sizeof a, &a);
      clEnqueueNDRangeKernel(r->q, r->k, 1, NULL, &global, &local, 0, NULL, NULL);
    }
    clEnqueueReadBuffer(r->q, m[1], CL_TRUE, 0, bytes, y, 0, NULL, NULL);
    double t = now_s() - t0;
    if (t < best) best = t;
    CHECK(y[0] == 8.0f && y[n - 1] == 8.0f, "raw chain result wrong (%g, %g; expected 8)",
          (double)y[0], (double)y[n - 1]);
  }
  clReleaseMemObject(m[0]);
  clReleaseMemObject(m[1]);
  free(x);
  free(y);
  return best;
}

/* Messages per bandwidth measurement: 8 of 4 MiB, 4 of 64 MiB (the buffer
 * pools keep 4 buffers per large size class; more would measure page faults
 * of fresh memory, and 1 GiB of messages on a shared machine). */
enum { KMAX = 8 };
static int K = KMAX;

/* Raw blocking writes / reads of K distinct messages of `bytes` (distinct
 * host and device memory, as the runtime's messages are): best seconds. */
static void raw_bw(raw_cl_t *r, size_t bytes, int reps, double *w, double *rd) {
  cl_int e;
  const int nk = K; /* read once: the loops below fill and read this many */
  void *h[KMAX] = {0};
  cl_mem m[KMAX] = {0};
  for (int k = 0; k < nk; k++) {
    h[k] = malloc(bytes);
    if (!h[k]) {
      fprintf(stderr, "transfer: out of memory for %zu bytes\n", bytes);
      exit(1);
    }
    memset(h[k], 1, bytes);
    m[k] = clCreateBuffer(r->ctx, CL_MEM_READ_WRITE, bytes, NULL, &e);
  }
  *w = *rd = 1e9;
  for (int i = 0; i < reps + 1; i++) {
    double t0 = now_s();
    for (int k = 0; k < nk; k++)
      clEnqueueWriteBuffer(r->q, m[k], CL_TRUE, 0, bytes, h[k], 0, NULL, NULL);
    double t1 = now_s();
    for (int k = 0; k < nk; k++)
      clEnqueueReadBuffer(r->q, m[k], CL_TRUE, 0, bytes, h[k], 0, NULL, NULL);
    double t2 = now_s();
    for (int k = 0; k < nk; k++)
      CHECK(((unsigned char *)h[k])[0] == 1 && ((unsigned char *)h[k])[bytes - 1] == 1,
            "raw read back other bytes than written");
    if (i && t1 - t0 < *w) *w = t1 - t0;
    if (i && t2 - t1 < *rd) *rd = t2 - t1;
  }
  for (int k = 0; k < nk; k++) {
    clReleaseMemObject(m[k]);
    free(h[k]);
  }
}

/* The runtime's own transfers of K messages: K launches in flight whose
 * kernel does nothing but needs its big input (h2d), then reading back K big
 * outputs that only the device holds (d2h). */
static void agent_bw(maestro_runtime_t *rt, size_t n, int reps, double *w, double *rd) {
  static const maestro_port_t in2[] = {{"x", MAESTRO_F32, 0}, {"r", MAESTRO_F32, 0}};
  static const maestro_port_t in1[] = {{"r", MAESTRO_F32, 0}};
  static const maestro_port_t out[] = {{"y", MAESTRO_F32, 0}};
  static const maestro_karg_t targs[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_IN(1),
                                         MAESTRO_KARG_OUT(0)};
  static const maestro_karg_t fargs[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0)};
  static const size_t one[] = {1};
  size_t big[] = {n};
  maestro_kernel_t tk = {.source = touch_src,
                         .name = "touch",
                         .args = targs,
                         .n_args = 3,
                         .range_port = 1,
                         .out_count = one};
  maestro_kernel_t fk = {.source = touch_src,
                         .name = "fill",
                         .args = fargs,
                         .n_args = 2,
                         .range_port = 0,
                         .out_count = big};
  ocl_kagent_t *touch, *fill;
  if (ocl_kagent_create(rt, "touch", &tk, in2, 2, out, 1, &touch) ||
      ocl_kagent_create(rt, "fill", &fk, in1, 1, out, 1, &fill)) {
    fprintf(stderr, "agents: %s\n", maestro_last_error());
    exit(1);
  }
  maestro_buf_t *x[KMAX], *r;
  for (int k = 0; k < K; k++) {
    maestro_buf_create(rt, n * sizeof(float), &x[k]);
    memset(maestro_buf_data(x[k]), 1, n * sizeof(float));
  }
  float one_f = 1.0f;
  maestro_buf_from(rt, &one_f, sizeof one_f, &r);
  *w = *rd = 1e9;
  done_q_t q;
  done_q_init(&q);
  for (int i = 0; i < reps + 1; i++) {
    for (int k = 0; k < K; k++)
      maestro_buf_data(x[k]); /* the host wrote them: they must travel again */
    ocl_dev_stats_t s0, s1;
    ocl_dev_stats(rt, 0, &s0);
    double t0 = now_s();
    for (int k = 0; k < K; k++) {
      maestro_buf_t *ins[2] = {x[k], r};
      if (ocl_launch(touch, 0, ins, done_q_cb, &q)) exit(1);
    }
    maestro_buf_t *touched[KMAX];
    for (int k = 0; k < K; k++)
      touched[k] = done_q_pop(&q, NULL);
    double t1 = now_s();
    /* x (bytes 0x01: a tiny float) + r (1.0) */
    for (int k = 0; k < K; k++) {
      const float *y = maestro_buf_cdata(touched[k]);
      CHECK(y && y[0] == 1.0f, "touch result wrong");
      maestro_buf_release(touched[k]);
    }
    ocl_dev_stats(rt, 0, &s1);
    /* The messages, plus the 4-byte range message the first time. */
    CHECK(s1.bytes_h2d - s0.bytes_h2d == (size_t)K * n * sizeof(float) + (i ? 0 : sizeof(float)),
          "h2d moved %llu bytes", (unsigned long long)(s1.bytes_h2d - s0.bytes_h2d));
    maestro_buf_t *outs[KMAX];
    for (int k = 0; k < K; k++)
      if (ocl_launch(fill, 0, &r, done_q_cb, &q)) exit(1);
    for (int k = 0; k < K; k++)
      outs[k] = done_q_pop(&q, NULL);
    double t2 = now_s();
    const float *ys[KMAX] = {0};
    for (int k = 0; k < K; k++)
      ys[k] = maestro_buf_cdata(outs[k]);
    double t3 = now_s();
    for (int k = 0; k < K; k++)
      CHECK(ys[k] && ys[k][0] == 1.0f, "fill result %d wrong or not read back", k);
    for (int k = 0; k < K; k++)
      maestro_buf_release(outs[k]);
    if (i && t1 - t0 < *w) *w = t1 - t0;
    if (i && t3 - t2 < *rd) *rd = t3 - t2;
  }
  for (int k = 0; k < K; k++)
    maestro_buf_release(x[k]);
  maestro_buf_release(r);
  ocl_kagent_destroy(touch);
  ocl_kagent_destroy(fill);
}

static void run_size(raw_cl_t *raw, size_t n, int reps) {
  size_t bytes = n * sizeof(float);
  K = bytes > ((size_t)16 << 20) ? 4 : KMAX;
  maestro_runtime_t *rt = bench_rt(0);
  ocl_kagent_t *ka = scale_agent(rt, "x2");
  ocl_dev_stats_t moved;
  double t_agent = chain(rt, ka, n, reps, &moved);
  double t_raw = raw_chain(raw, n, reps);
  printf("-- %zu-byte messages, device 0 (%s)\n", bytes, rt->dev_info[0].name);
  printf("three-kernel chain, copies: moved h2d %llu, d2h %llu, d2d %llu bytes (input + output = "
         "%zu)\n",
         (unsigned long long)moved.bytes_h2d, (unsigned long long)moved.bytes_d2h,
         (unsigned long long)moved.bytes_d2d, 2 * bytes);
  CHECK(moved.bytes_h2d == bytes && moved.bytes_d2h == bytes && moved.bytes_d2d == 0,
        "the chain moved other than input + output bytes");
  printf("three-kernel chain, copies: agents %.2f ms, raw OpenCL %.2f ms, ratio %.2fx of raw\n",
         t_agent * 1e3, t_raw * 1e3, t_agent / t_raw);
  double aw, ar, rw, rr;
  agent_bw(rt, n, reps, &aw, &ar);
  raw_bw(raw, bytes, reps, &rw, &rr);
  double kb = (double)K * (double)bytes * 1e-9;
  printf("host->device, %d messages: runtime (launches in flight) %.2f GB/s, raw "
         "clEnqueueWriteBuffer %.2f GB/s, ratio %.0f%%\n",
         K, kb / aw, kb / rw, 100.0 * rw / aw);
  printf("device->host, %d messages: runtime (maestro_buf_cdata) %.2f GB/s, raw "
         "clEnqueueReadBuffer %.2f GB/s, ratio %.0f%%\n",
         K, kb / ar, kb / rr, 100.0 * rr / ar);
  ocl_kagent_destroy(ka);
  maestro_runtime_destroy(rt);

  rt = bench_rt(1);
  ka = scale_agent(rt, "x2");
  double t_zc = chain(rt, ka, n, reps, &moved);
  printf("three-kernel chain, zero-copy: moved h2d %llu, d2h %llu, d2d %llu bytes; %.2f ms, ratio "
         "%.2fx of raw\n",
         (unsigned long long)moved.bytes_h2d, (unsigned long long)moved.bytes_d2h,
         (unsigned long long)moved.bytes_d2d, t_zc * 1e3, t_zc / t_raw);
  if (rt->dev_info[0].unified)
    CHECK(moved.bytes_h2d + moved.bytes_d2h + moved.bytes_d2d == 0,
          "the zero-copy path moved bytes");
  ocl_kagent_destroy(ka);
  maestro_runtime_destroy(rt);
}

int main(int argc, char **argv) {
  int tiny = argc > 1 && !strcmp(argv[1], "--tiny");
  raw_cl_t raw;
  raw_init(&raw, SCALE_SRC, "scale");
  printf("transfer: runtime transfers vs raw OpenCL, best of %d\n", tiny ? 2 : 5);
  if (tiny) {
    run_size(&raw, (size_t)1 << 18, 2); /* 1 MiB */
  } else {
    run_size(&raw, (size_t)1 << 20, 5); /* 4 MiB: host memory from the buffer pools */
    run_size(&raw, (size_t)1 << 24, 5); /* 64 MiB: fresh host memory each time */
  }
  raw_fini(&raw);
  return failures ? 1 : 0;
}
