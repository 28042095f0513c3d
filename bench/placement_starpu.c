/* placement_starpu: StarPU's dmda on the tasks of bench/placement (the work
 * and the four graphs of bench/placement.h, the same sizes), to compare
 * with Maestro's dynamic placement. Built only where StarPU is found.
 *
 * Each graph: per message, three vectors x -> y1 -> y2 and two tasks (h1:
 * R x, W y1; h2: R y1, W y2), the codelets h1 and h2 with a CPU
 * implementation (pl_cpu_task, the graph's CPU work factor) and an OpenCL
 * one (the same kernel source and device work factor). Each codelet has a
 * STARPU_HISTORY_BASED model of its own. Scheduler: dmda (STARPU_SCHED, if
 * set, wins). StarPU's models live under STARPU_HOME, here a fresh
 * temporary directory: the first run of each graph calibrates (cold), the
 * next `reps` start from the saved history (warm; StarPU is shut down and
 * started again between runs, so models go through the disk as in
 * bench/placement's warm runs). Makespan: from the first task's submission
 * to starpu_task_wait_for_all; the source's fill and the sink's check are
 * outside it (in bench/placement they run on CPU agents inside it, a few %
 * of a task's cost). Every element is checked.
 * Usage: placement_starpu [--tiny] [msgs [elems [iters [reps]]]] */
#include <starpu.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "placement.h"

static int graph_kind;
static pl_size_t sz;
static struct starpu_opencl_program programs;
static atomic_ulong cpu_fires[2];
static atomic_ulong dev_fires;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void cpu_impl(void *buffers[], void *arg) {
  int agent = (int)(intptr_t)arg;
  unsigned n = STARPU_VECTOR_GET_NX(buffers[0]);
  const uint32_t *x = (const uint32_t *)STARPU_VECTOR_GET_PTR(buffers[0]);
  uint32_t *y = (uint32_t *)STARPU_VECTOR_GET_PTR(buffers[1]);
  unsigned w = pl_cpu_w(graph_kind, atomic_fetch_add(&cpu_fires[agent], 1));
  pl_cpu_task(x, y, n, sz.iters, pl_pad(w, sz.iters));
}

static void opencl_impl(void *buffers[], void *arg) {
  (void)arg;
  cl_mem x = (cl_mem)STARPU_VECTOR_GET_DEV_HANDLE(buffers[0]);
  cl_mem y = (cl_mem)STARPU_VECTOR_GET_DEV_HANDLE(buffers[1]);
  cl_uint n = STARPU_VECTOR_GET_NX(buffers[0]);
  cl_uint iters = sz.iters, pad = pl_pad(pl_dev_w(graph_kind), sz.iters);
  int devid = starpu_worker_get_devid(starpu_worker_get_id());
  cl_kernel k;
  cl_command_queue q;
  int err = starpu_opencl_load_kernel(&k, &q, &programs, "pl_work", devid);
  if (err != CL_SUCCESS) STARPU_OPENCL_REPORT_ERROR(err);
  clSetKernelArg(k, 0, sizeof x, &x);
  clSetKernelArg(k, 1, sizeof y, &y);
  clSetKernelArg(k, 2, sizeof n, &n);
  clSetKernelArg(k, 3, sizeof iters, &iters);
  clSetKernelArg(k, 4, sizeof pad, &pad);
  size_t global = n;
  err = clEnqueueNDRangeKernel(q, k, 1, NULL, &global, NULL, 0, NULL, NULL);
  if (err != CL_SUCCESS) STARPU_OPENCL_REPORT_ERROR(err);
  clFinish(q);
  starpu_opencl_release_kernel(k);
  atomic_fetch_add(&dev_fires, 1);
}

static struct starpu_perfmodel models[PL_NGRAPHS][2];
static struct starpu_codelet cls[PL_NGRAPHS][2];
static char symbols[PL_NGRAPHS][2][32];

static void init_codelets(void) {
  for (int g = 0; g < PL_NGRAPHS; g++)
    for (int i = 0; i < 2; i++) {
      snprintf(symbols[g][i], sizeof symbols[g][i], "pl_%s_h%d", pl_graph_names[g], i + 1);
      models[g][i].type = STARPU_HISTORY_BASED;
      models[g][i].symbol = symbols[g][i];
      cls[g][i].cpu_funcs[0] = cpu_impl;
      cls[g][i].opencl_funcs[0] = opencl_impl;
      cls[g][i].nbuffers = 2;
      cls[g][i].modes[0] = STARPU_R;
      cls[g][i].modes[1] = STARPU_W;
      cls[g][i].model = &models[g][i];
      cls[g][i].name = symbols[g][i];
    }
}

/* One run of graph_kind between starpu_init and starpu_shutdown. */
static double run_once(double *dev_share) {
  struct starpu_conf conf;
  starpu_conf_init(&conf);
  if (!getenv("STARPU_SCHED")) conf.sched_policy_name = "dmda";
  /* One CPU worker per core, as Maestro has one CPU place per core
   * (StarPU would otherwise give the OpenCL drivers' cores away). */
  if (!getenv("STARPU_NCPU")) conf.ncpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (starpu_init(&conf) != 0) {
    fprintf(stderr, "placement_starpu: starpu_init failed\n");
    exit(1);
  }
  if (starpu_opencl_worker_get_count() < 1) {
    fprintf(stderr, "placement_starpu: StarPU found no OpenCL device\n");
    exit(1);
  }
  if (starpu_opencl_load_opencl_from_string(PL_KERNEL_SRC, &programs, NULL) != 0) {
    fprintf(stderr, "placement_starpu: OpenCL build failed\n");
    exit(1);
  }
  static int said;
  if (!said++)
    printf("(StarPU workers: %u CPU, %u OpenCL)\n", starpu_cpu_worker_get_count(),
           starpu_opencl_worker_get_count());
  int m = sz.msgs;
  uint32_t **bufs = calloc((size_t)m * 3, sizeof *bufs);
  starpu_data_handle_t *h = calloc((size_t)m * 3, sizeof *h);
  for (int s = 0; s < m; s++) {
    size_t n = pl_msg_elems(graph_kind, &sz, (uint64_t)s);
    for (int v = 0; v < 3; v++) {
      bufs[s * 3 + v] = malloc(n * sizeof(uint32_t));
      if (v == 0)
        for (size_t j = 0; j < n; j++)
          bufs[s * 3][j] = pl_input((uint64_t)s, j);
      starpu_vector_data_register(&h[s * 3 + v], STARPU_MAIN_RAM, (uintptr_t)bufs[s * 3 + v],
                                  (uint32_t)n, sizeof(uint32_t));
    }
  }
  atomic_store(&cpu_fires[0], 0);
  atomic_store(&cpu_fires[1], 0);
  atomic_store(&dev_fires, 0);
  double t0 = now_s();
  for (int s = 0; s < m; s++)
    for (int i = 0; i < 2; i++) {
      int rc = starpu_task_insert(&cls[graph_kind][i], STARPU_R, h[s * 3 + i], STARPU_W,
                                  h[s * 3 + i + 1], STARPU_CL_ARGS_NFREE, (void *)(intptr_t)i,
                                  (size_t)0, 0);
      if (rc) {
        fprintf(stderr, "placement_starpu: task_insert: %d\n", rc);
        exit(1);
      }
    }
  starpu_task_wait_for_all();
  double t = now_s() - t0;
  pl_affine_t mm = pl_power(2 * sz.iters);
  int bad = 0;
  for (int s = 0; s < m; s++) {
    for (int v = 0; v < 3; v++)
      starpu_data_unregister(h[s * 3 + v]);
    size_t n = pl_msg_elems(graph_kind, &sz, (uint64_t)s);
    for (size_t j = 0; j < n; j++)
      if (bufs[s * 3 + 2][j] != pl_expect(mm, pl_input((uint64_t)s, j))) {
        bad++;
        break;
      }
    for (int v = 0; v < 3; v++)
      free(bufs[s * 3 + v]);
  }
  free(bufs);
  free(h);
  unsigned long cf = atomic_load(&cpu_fires[0]) + atomic_load(&cpu_fires[1]);
  unsigned long df = atomic_load(&dev_fires);
  if (bad || cf + df != 2ul * (unsigned long)m) {
    fprintf(stderr, "placement_starpu: %s: %d wrong messages, %lu tasks of %d\n",
            pl_graph_names[graph_kind], bad, cf + df, 2 * m);
    exit(1);
  }
  *dev_share = (double)df / (double)(cf + df);
  starpu_opencl_unload_opencl(&programs);
  starpu_shutdown();
  return t;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0); /* each graph's line as soon as it is measured */
  int tiny = argc > 1 && !strcmp(argv[1], "--tiny");
  int a0 = tiny ? 2 : 1;
  sz = (pl_size_t){tiny ? 12 : 100, tiny ? 1024 : 16384, tiny ? 16 : 64};
  int reps = tiny ? 1 : 3;
  if (argc > a0) sz.msgs = atoi(argv[a0]);
  if (argc > a0 + 1) sz.n = (size_t)atol(argv[a0 + 1]);
  if (argc > a0 + 2) sz.iters = (unsigned)atoi(argv[a0 + 2]);
  if (argc > a0 + 3) reps = atoi(argv[a0 + 3]);
  if (sz.msgs < 1 || sz.n < 64 || sz.iters < 2 || reps < 1 || reps > 64) {
    fprintf(stderr, "usage: placement_starpu [--tiny] [msgs [elems >= 64 [iters >= 2 [reps]]]]\n");
    return 2;
  }
  char dir[] = "/tmp/maestro-starpu-XXXXXX";
  if (!mkdtemp(dir)) {
    perror("placement_starpu: mkdtemp");
    return 1;
  }
  setenv("STARPU_HOME", dir, 1); /* fresh models, kept between this process's runs */
  if (!getenv("STARPU_SILENT")) setenv("STARPU_SILENT", "1", 1);
  /* StarPU leaves OpenCL devices of type CPU (PoCL) alone unless told. */
  setenv("STARPU_OPENCL_ON_CPUS", "1", 1);
  init_codelets();
  printf("placement_starpu: %d msgs of %zu u32 (crossover: %zu / %zu), %u steps each, sched %s, "
         "median of %d\n",
         sz.msgs, sz.n, pl_msg_elems(PL_CROSSOVER, &sz, 0), pl_msg_elems(PL_CROSSOVER, &sz, 1),
         sz.iters, getenv("STARPU_SCHED") ? getenv("STARPU_SCHED") : "dmda", reps);
  printf("%-10s %8s %8s %6s\n", "graph", "cold ms", "warm ms", "dev%");
  for (graph_kind = 0; graph_kind < PL_NGRAPHS; graph_kind++) {
    double share, cold = run_once(&share), sv[64] = {0}, sh = 0;
    for (int r = 0; r < reps; r++) {
      sv[r] = run_once(&share);
      sh += share;
    }
    qsort(sv, (size_t)reps, sizeof *sv, cmp_d);
    double warm = reps % 2 ? sv[reps / 2] : 0.5 * (sv[reps / 2 - 1] + sv[reps / 2]);
    printf("%-10s %8.1f %8.1f %5.0f%%\n", pl_graph_names[graph_kind], cold * 1e3, warm * 1e3,
           100.0 * sh / reps);
  }
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "placement_starpu: could not remove %s\n", dir);
  return 0;
}
