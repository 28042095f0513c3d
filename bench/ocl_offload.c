/* offload: per-firing cost of a kernel agent (transfer in, kernel, result
 * readable on the host) against the same kernel enqueued by hand with raw
 * OpenCL (write, kernel, blocking read), for a small and a large message,
 * one firing in flight and pipelined. Ratios are agent / raw, same run.
 * Besides the wall time, each line gives the process's CPU time per firing
 * (user + system, every thread: the caller's, the completion thread's and
 * the OpenCL implementation's) and the minor page faults taken in the last
 * round's timed loop (getrusage), the raw loop's in the same run.
 * Usage: offload [--tiny] [--small] [--iters N] (--small: the 4 KiB size
 * only, --iters: its firings per round; for callgrind) */
#include <math.h>
#include <sys/resource.h>

#include "ocl_common.h"

enum { MAXD = 8 };

/* One timed loop: wall and CPU seconds per firing, minor faults in all. */
typedef struct {
  double wall, cpu;
  long flt;
} cost_t;

static void usage_now(double *cpu, long *flt) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  *cpu = (double)u.ru_utime.tv_sec + (double)u.ru_utime.tv_usec * 1e-6 + (double)u.ru_stime.tv_sec +
         (double)u.ru_stime.tv_usec * 1e-6;
  *flt = u.ru_minflt;
}

static double cpu0;
static long flt0;
static void cost_start(void) {
  usage_now(&cpu0, &flt0);
}

static cost_t cost_end(double t0, int iters) {
  double cpu;
  long flt;
  usage_now(&cpu, &flt);
  return (cost_t){(now_s() - t0) / iters, (cpu - cpu0) / iters, flt - flt0};
}

/* The best (lowest) time over the rounds, and the last round's faults
 * (the first rounds fill the pools: the last shows the steady state). */
static void cost_min(cost_t *best, cost_t c) {
  best->wall = fmin(best->wall, c.wall);
  best->cpu = fmin(best->cpu, c.cpu);
  best->flt = c.flt;
}

/* Cost per firing with `depth` firings in flight. */
static cost_t agent_run(maestro_runtime_t *rt, ocl_kagent_t *ka, size_t n, int iters, int depth,
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
    if (i == warm) {
      t0 = now_s();
      cost_start();
    }
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
  cost_t per = cost_end(t0, iters);
  for (int k = 0; k < K; k++)
    maestro_buf_release(ins[k]);
  return per;
}

static cost_t raw_run(raw_cl_t *r, size_t n, int iters, int *bad) {
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
    if (i == 3) {
      t0 = now_s();
      cost_start();
    }
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
  cost_t per = cost_end(t0, iters);
  clReleaseMemObject(bx);
  clReleaseMemObject(by);
  free(x);
  free(y);
  return per;
}

static void line(const char *size, const char *what, cost_t c, cost_t raw) {
  printf("%-15s %-38s %9.1f us/firing  ratio %.2fx of raw  cpu %7.1f us/firing (%.2fx of raw)  "
         "faults %ld\n",
         size, what, c.wall * 1e6, c.wall / raw.wall, c.cpu * 1e6, c.cpu / raw.cpu, c.flt);
}

int main(int argc, char **argv) {
  int tiny = 0, small_only = 0, iters = 0;
  for (int a = 1; a < argc; a++) {
    if (!strcmp(argv[a], "--tiny"))
      tiny = 1;
    else if (!strcmp(argv[a], "--small"))
      small_only = 1;
    else if (!strcmp(argv[a], "--iters") && a + 1 < argc && atoi(argv[a + 1]) > 0)
      iters = atoi(argv[++a]);
    else {
      fprintf(stderr, "usage: offload [--tiny] [--small] [--iters N]\n");
      return 2;
    }
  }
  struct {
    const char *what;
    size_t n;
    int iters;
  } sizes[] = {{"small (4 KiB)", 1024,
                iters  ? iters
                : tiny ? 20
                       : 1000},
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
         "%s; best of 5 interleaved rounds; cpu: the process's user + system time; faults: minor "
         "page faults in the last round's timed loop)\n",
         rt_zc->dev_info[0].name);
  for (int s = 0; s < (small_only ? 1 : 2); s++) {
    size_t n = sizes[s].n;
    int it = sizes[s].iters;
    /* Rounds interleaved, best of each: the machine is shared and noisy. */
    const cost_t none = {1e9, 1e9, 0};
    cost_t r1 = none, z1 = none, c1 = none, z4 = none, c4 = none;
    for (int round = 0; round < (tiny ? 1 : 5); round++) {
      cost_min(&r1, raw_run(&raw, n, it, &bad));
      cost_min(&z1, agent_run(rt_zc, ka_zc, n, it, 1, &bad));
      cost_min(&c1, agent_run(rt_cp, ka_cp, n, it, 1, &bad));
      cost_min(&z4, agent_run(rt_zc, ka_zc, n, it, 4, &bad));
      cost_min(&c4, agent_run(rt_cp, ka_cp, n, it, 4, &bad));
    }
    printf("%-15s %-38s %9.1f us/firing                    cpu %7.1f us/firing               "
           "faults %ld\n",
           sizes[s].what, "raw write+kernel+read, one in flight:", r1.wall * 1e6, r1.cpu * 1e6,
           r1.flt);
    line("", "agent zero-copy, one in flight:", z1, r1);
    line("", "agent copies, one in flight:", c1, r1);
    line("", "agent zero-copy, 4 in flight:", z4, r1);
    line("", "agent copies, 4 in flight:", c4, r1);
  }
  ocl_kagent_destroy(ka_zc);
  ocl_kagent_destroy(ka_cp);
  maestro_runtime_destroy(rt_zc);
  maestro_runtime_destroy(rt_cp);
  raw_fini(&raw);
  if (bad) fprintf(stderr, "offload: %d wrong results\n", bad);
  return bad ? 1 : 0;
}
