/* offload: per-firing cost of a kernel agent (transfer in, kernel, result
 * readable on the host) against the same kernel enqueued by hand with raw
 * OpenCL (write, kernel, blocking read), for a small and a large message,
 * one firing in flight and pipelined. Ratios are agent / raw, same run.
 * Usage: offload [--tiny] */
#include <math.h>

#include "ocl_common.h"

enum { MAXD = 8 };

/* Seconds per firing with `depth` firings in flight. */
static double agent_run(maestro_runtime_t *rt, ocl_kagent_t *ka, size_t n, int iters, int depth,
                        int *bad) {
  maestro_buf_t *ins[MAXD + 1] = {0};
  int K = depth + 1;
  for (int k = 0; k < K; k++) {
    maestro_buf_create(rt, n * sizeof(float), &ins[k]);
    float *x = maestro_buf_data(ins[k]);
    for (size_t j = 0; j < n; j++)
      x[j] = 1.0f;
  }
  done_q_t q;
  done_q_init(&q);
  double t0 = 0;
  int warm = 3, total = iters + warm, popped = 0;
  for (int i = 0; i < total; i++) {
    if (i == warm) t0 = now_s();
    maestro_buf_t *in = ins[i % K];
    float *x = maestro_buf_data(in); /* the producer writes the message */
    x[0] = (float)i;
    /* The host reads every result: say so, its read rides behind the kernel. */
    if (ocl_launch_ex(ka, 0, &in, 1u, done_q_cb, &q)) {
      fprintf(stderr, "launch: %s\n", maestro_last_error());
      exit(1);
    }
    while (i + 1 - popped >= depth || (i == total - 1 && popped < total)) {
      maestro_buf_t *out = done_q_pop(&q, NULL);
      const float *y = maestro_buf_cdata(out);
      if (!y || y[0] != 2.0f * (float)popped || y[n - 1] != 2.0f) (*bad)++;
      maestro_buf_release(out);
      popped++;
    }
  }
  double per = (now_s() - t0) / iters;
  for (int k = 0; k < K; k++)
    maestro_buf_release(ins[k]);
  return per;
}

static double raw_run(raw_cl_t *r, size_t n, int iters, int *bad) {
  cl_int e;
  size_t bytes = n * sizeof(float);
  float *x = malloc(bytes), *y = malloc(bytes);
  for (size_t j = 0; j < n; j++)
    x[j] = 1.0f;
  cl_mem bx = clCreateBuffer(r->ctx, CL_MEM_READ_ONLY, bytes, NULL, &e);
  cl_mem by = clCreateBuffer(r->ctx, CL_MEM_WRITE_ONLY, bytes, NULL, &e);
  cl_uint cn = (cl_uint)n;
  float a = 2.0f;
  size_t local = 256, global = (n + local - 1) / local * local;
  double t0 = 0;
  for (int i = 0; i < iters + 3; i++) {
    if (i == 3) t0 = now_s();
    x[0] = (float)i;
    clEnqueueWriteBuffer(r->q, bx, CL_FALSE, 0, bytes, x, 0, NULL, NULL);
    clSetKernelArg(r->k, 0, sizeof bx, &bx);
    clSetKernelArg(r->k, 1, sizeof by, &by);
    clSetKernelArg(r->k, 2, sizeof cn, &cn);
    clSetKernelArg(r->k, 3, sizeof a, &a);
    clEnqueueNDRangeKernel(r->q, r->k, 1, NULL, &global, &local, 0, NULL, NULL);
    clEnqueueReadBuffer(r->q, by, CL_TRUE, 0, bytes, y, 0, NULL, NULL);
    if (y[0] != 2.0f * (float)i || y[n - 1] != 2.0f) (*bad)++;
  }
  double per = (now_s() - t0) / iters;
  clReleaseMemObject(bx);
  clReleaseMemObject(by);
  free(x);
  free(y);
  return per;
}

int main(int argc, char **argv) {
  int tiny = argc > 1 && !strcmp(argv[1], "--tiny");
  struct {
    const char *what;
    size_t n;
    int iters;
  } sizes[] = {{"small (4 KiB)", 1024, tiny ? 20 : 1000},
               {tiny ? "large (1 MiB)" : "large (16 MiB)", tiny ? (size_t)1 << 18 : (size_t)1 << 22,
                tiny ? 5 : 30}};
  int bad = 0;
  raw_cl_t raw;
  raw_init(&raw, SCALE_SRC, "scale");
  maestro_runtime_t *rt_zc = bench_rt(1);
  ocl_kagent_t *ka_zc = scale_agent(rt_zc, "scale");
  maestro_runtime_t *rt_cp = bench_rt(0);
  ocl_kagent_t *ka_cp = scale_agent(rt_cp, "scale");
  printf("offload: per-firing time of a kernel agent vs raw OpenCL enqueue + wait (device 0: "
         "%s; best of 5 interleaved rounds)\n",
         rt_zc->dev_info[0].name);
  for (int s = 0; s < 2; s++) {
    size_t n = sizes[s].n;
    int it = sizes[s].iters;
    /* Rounds interleaved, best of each: the machine is shared and noisy. */
    double r1 = 1e9, z1 = 1e9, c1 = 1e9, z4 = 1e9, c4 = 1e9;
    for (int round = 0; round < (tiny ? 1 : 5); round++) {
      r1 = fmin(r1, raw_run(&raw, n, it, &bad));
      z1 = fmin(z1, agent_run(rt_zc, ka_zc, n, it, 1, &bad));
      c1 = fmin(c1, agent_run(rt_cp, ka_cp, n, it, 1, &bad));
      z4 = fmin(z4, agent_run(rt_zc, ka_zc, n, it, 4, &bad));
      c4 = fmin(c4, agent_run(rt_cp, ka_cp, n, it, 4, &bad));
    }
    printf("%-15s raw write+kernel+read, one in flight: %9.1f us/firing\n", sizes[s].what,
           r1 * 1e6);
    printf("%-15s agent zero-copy, one in flight:       %9.1f us/firing  ratio %.2fx of raw\n", "",
           z1 * 1e6, z1 / r1);
    printf("%-15s agent copies, one in flight:          %9.1f us/firing  ratio %.2fx of raw\n", "",
           c1 * 1e6, c1 / r1);
    printf("%-15s agent zero-copy, 4 in flight:         %9.1f us/firing  ratio %.2fx of raw\n", "",
           z4 * 1e6, z4 / r1);
    printf("%-15s agent copies, 4 in flight:            %9.1f us/firing  ratio %.2fx of raw\n", "",
           c4 * 1e6, c4 / r1);
  }
  ocl_kagent_destroy(ka_zc);
  ocl_kagent_destroy(ka_cp);
  maestro_runtime_destroy(rt_zc);
  maestro_runtime_destroy(rt_cp);
  raw_fini(&raw);
  if (bad) fprintf(stderr, "offload: %d wrong results\n", bad);
  return bad ? 1 : 0;
}
