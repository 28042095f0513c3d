/* A CPU-heavy MAESTRO_RANK_ANY agent on several ranks against the same
 * agent kept on rank 0, in the same run (issue 11):
 *
 *   mpiexec -n 2 bench/mpi_any [N [WORK_US [REPEATS]]]
 *
 * N messages of 64 bytes from a host input on rank 0 go through a stateless
 * agent that works WORK_US of CPU time (its thread's clock) each, to a host
 * output on rank 0. "rank 0": the agent has affinity rank 0; "any": it is
 * MAESTRO_RANK_ANY, so firings may run on every rank. Each rank has one CPU
 * place (cfg.ncpu = 1), so on rank 0 alone the agent fires one at a time.
 * The two alternate REPEATS times; printed: each run's time, the firings
 * per rank of "any", and the speed-up (rank 0's time / any's time) per
 * pair, with their median.
 *
 *   mpiexec -n 2 bench/mpi_any --device [N [REPEATS]]
 *
 * The same with a hybrid agent that is fast on a device: N messages of
 * DEV_ELEMS 32-bit integers, each element mixed DEV_ROUNDS times (exact
 * integers), by an OpenCL kernel on every device of each rank or by the
 * same loop in C on its CPU place (several times slower on PoCL's CPU
 * device); every rank places the firings it gets among its own CPU place
 * and devices. Printed as above, with the device firings per rank. */
#include <mpi.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "maestro.h"

static maestro_runtime_t *rt;
static int me, nr;
static uint64_t work_ns;
static int device_mode; /* --device */

#define DEV_ELEMS  4096
#define DEV_ROUNDS 1024
#define STR(x)     #x
#define XSTR(x)    STR(x)

/* Element i of a message: the first two carry its number (kept as they
 * are), the others are mixed DEV_ROUNDS times, by the kernel or by mix_cpu. */
static const maestro_karg_t mix_args[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0),
                                          MAESTRO_KARG_COUNT(0)};
static const maestro_kernel_t mix_kernel = {
    .source = "__kernel void mixn(__global const uint *x, __global uint *y, uint n)"
              "{ size_t i = get_global_id(0); if (i >= n) return; uint v = x[i];"
              "  if (i >= 2) for (int k = 0; k < " XSTR(DEV_ROUNDS) "; k++)"
                                                                    "    v = v * 2654435761u + 7u;"
                                                                    "  y[i] = v; }",
    .name = "mixn",
    .args = mix_args,
    .n_args = 3,
    .range_port = 0};

static uint32_t mix_one(uint32_t v) {
  for (int k = 0; k < DEV_ROUNDS; k++)
    v = v * 2654435761u + 7u;
  return v;
}

static int mix_cpu(maestro_fire_t *f) {
  maestro_buf_t *in = maestro_fire_in(f, 0), *o;
  size_t n = maestro_buf_size(in) / 4;
  int rc = maestro_fire_alloc(f, n * 4, &o);
  if (rc) return rc;
  const uint32_t *x = maestro_buf_cdata(in);
  uint32_t *y = maestro_buf_data(o);
  for (size_t i = 0; i < n; i++)
    y[i] = i >= 2 ? mix_one(x[i]) : x[i];
  return maestro_fire_out(f, 0, o);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int heavy(maestro_fire_t *f) {
  maestro_buf_t *in = maestro_fire_in(f, 0);
  uint64_t t0 = cpu_ns(), x = 0;
  const unsigned char *p = maestro_buf_cdata(in);
  while (cpu_ns() - t0 < work_ns)
    for (int i = 0; i < 64; i++)
      x = x * 31 + p[i % maestro_buf_size(in)];
  /* The message's number (its first 8 bytes) goes on, so that rank 0 can
   * check every output arrives once and in input order; x keeps the work. */
  uint64_t r[2] = {0, x};
  memcpy(&r[0], p, sizeof r[0]);
  maestro_buf_t *o;
  int rc = maestro_fire_alloc(f, sizeof r, &o);
  if (rc) return rc;
  memcpy(maestro_buf_data(o), r, sizeof r);
  return maestro_fire_out(f, 0, o);
}

struct push {
  maestro_input_t *in;
  int n;
};

static void *push_all(void *arg) {
  struct push *p = arg;
  for (int i = 0; device_mode && i < p->n; i++) {
    maestro_buf_t *b;
    if (maestro_buf_create(rt, DEV_ELEMS * 4, &b)) break;
    uint32_t *x = maestro_buf_data(b);
    uint64_t k = (uint64_t)i;
    memcpy(x, &k, sizeof k);
    for (int e = 2; e < DEV_ELEMS; e++)
      x[e] = (uint32_t)(i * 7 + e);
    if (maestro_input_push(p->in, b)) break;
  }
  for (int i = 0; !device_mode && i < p->n; i++) {
    unsigned char v[64];
    memset(v, i & 0xff, sizeof v);
    uint64_t k = (uint64_t)i;
    memcpy(v, &k, sizeof k);
    maestro_buf_t *b;
    if (maestro_buf_from(rt, v, sizeof v, &b) || maestro_input_push(p->in, b)) break;
  }
  maestro_input_close(p->in);
  return NULL;
}

/* One run of n messages: seconds (rank 0's), and the firings per rank
 * (and of those, on devices). */
static double run(int n, int rank, unsigned long long *per_rank, unsigned long long *dev_rank) {
  static const maestro_port_t in_p[] = {{"in", MAESTRO_BYTES, 0}};
  static const maestro_port_t out_p[] = {{"out", MAESTRO_BYTES, 0}};
  static const maestro_port_t u32_in[] = {{"in", MAESTRO_U32, 0}};
  static const maestro_port_t u32_out[] = {{"out", MAESTRO_U32, 0}};
  maestro_graph_t *g = NULL;
  if (maestro_graph_create(rt, "any", &g) != MAESTRO_OK) {
    fprintf(stderr, "rank %d: %s\n", me, maestro_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  maestro_agent_desc_t d = {.name = "heavy",
                            .in = in_p,
                            .n_in = 1,
                            .out = out_p,
                            .n_out = 1,
                            .cpu = heavy,
                            .flags = MAESTRO_STATELESS,
                            .affinity = {.pref = MAESTRO_ON_CPU, .index = -1, .rank = rank}};
  if (device_mode) {
    d.name = "mix";
    d.in = u32_in;
    d.out = u32_out;
    d.cpu = mix_cpu;
    d.kernel = &mix_kernel;
    d.affinity.pref = MAESTRO_ANYWHERE;
  }
  maestro_agent_t *a = NULL;
  maestro_input_t *in = NULL;
  maestro_output_t *out = NULL;
  if (maestro_agent_add(g, &d, &a) || maestro_graph_input(g, a, "in", &in) ||
      maestro_graph_output(g, a, "out", &out) || maestro_graph_start(g)) {
    fprintf(stderr, "rank %d: %s\n", me, maestro_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  uint64_t t0 = now_ns();
  if (me == 0) {
    struct push p = {in, n};
    pthread_t t;
    if (pthread_create(&t, NULL, push_all, &p) != 0) {
      fprintf(stderr, "rank 0: cannot start the pushing thread\n");
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    maestro_buf_t *b;
    uint64_t next = 0, wrong = 0;
    while (maestro_output_pop(out, &b, -1) == MAESTRO_OK) {
      uint64_t k;
      memcpy(&k, maestro_buf_cdata(b), sizeof k);
      if (device_mode) {
        const uint32_t *y = maestro_buf_cdata(b);
        wrong += maestro_buf_size(b) != DEV_ELEMS * 4 || k != next++ ||
                 y[DEV_ELEMS - 1] != mix_one((uint32_t)(k * 7 + DEV_ELEMS - 1));
      } else {
        wrong += maestro_buf_size(b) != 2 * sizeof k || k != next++;
      }
      maestro_buf_release(b);
    }
    pthread_join(t, NULL);
    if (wrong || next != (uint64_t)n) {
      fprintf(stderr, "mpi_any: FAILED: %llu outputs of %d, %llu not the one expected next\n",
              (unsigned long long)next, n, (unsigned long long)wrong);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
  }
  maestro_input_close(in);
  if (maestro_graph_wait(g) != MAESTRO_OK) {
    fprintf(stderr, "mpi_any: FAILED: rank %d: %s\n", me, maestro_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  double s = (double)(now_ns() - t0) / 1e9;
  maestro_agent_stats_t st;
  maestro_agent_stats(a, &st);
  unsigned long long mine = st.fires, mine_dev = st.device_fires;
  MPI_Gather(&mine, 1, MPI_UNSIGNED_LONG_LONG, per_rank, 1, MPI_UNSIGNED_LONG_LONG, 0,
             MPI_COMM_WORLD);
  MPI_Gather(&mine_dev, 1, MPI_UNSIGNED_LONG_LONG, dev_rank, 1, MPI_UNSIGNED_LONG_LONG, 0,
             MPI_COMM_WORLD);
  maestro_graph_destroy(g);
  MPI_Bcast(&s, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  return s;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--device")) {
    device_mode = 1;
    argv++;
    argc--;
  }
  int n = argc > 1 ? atoi(argv[1]) : device_mode ? 1000 : 2000;
  work_ns = device_mode ? 0 : (uint64_t)(argc > 2 ? atof(argv[2]) : 1000.0) * 1000u;
  int reps = argc > (device_mode ? 2 : 3) ? atoi(argv[device_mode ? 2 : 3]) : 3;
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = device_mode ? NULL : "none";
  cfg.stats = 0;
  cfg.ncpu = 1;
  cfg.dist = "mpi";
  if (maestro_runtime_create(&cfg, &rt) != MAESTRO_OK) {
    fprintf(stderr, "runtime: %s\n", maestro_last_error());
    return 1;
  }
  me = maestro_runtime_rank(rt);
  nr = maestro_runtime_nranks(rt);
  if (me == 0 && device_mode)
    printf("mpi_any --device: %d ranks, %d firings of %d integers mixed %d times, one CPU place "
           "and %d device(s) per rank\n",
           nr, n, DEV_ELEMS, DEV_ROUNDS, maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE));
  else if (me == 0)
    printf("mpi_any: %d ranks, %d firings of %.0f us CPU each, one CPU place per rank\n", nr, n,
           (double)work_ns / 1000);
  double ratio[64] = {0};
  unsigned long long per[64], dev[64];
  if (reps > 64) reps = 64;
  for (int r = 0; r < reps; r++) {
    double t_one = run(n, 0, per, dev);
    double t_any = run(n, MAESTRO_RANK_ANY, per, dev);
    ratio[r] = t_one / t_any;
    if (me == 0) {
      printf("  run %d: rank 0 %.3f s (%.0f firings/s), any %.3f s (%.0f firings/s), speed-up %.2f;"
             " firings per rank",
             r, t_one, n / t_one, t_any, n / t_any, ratio[r]);
      for (int k = 0; k < nr; k++)
        printf(" %llu", per[k]);
      if (device_mode) {
        printf(" (on devices:");
        for (int k = 0; k < nr; k++)
          printf(" %llu", dev[k]);
        printf(")");
      }
      printf("\n");
    }
  }
  qsort(ratio, (size_t)reps, sizeof *ratio, cmp);
  if (me == 0)
    printf("speed-up of RANK_ANY on %d ranks over rank 0 alone: median %.2f (range %.2f-%.2f)\n",
           nr, ratio[reps / 2], ratio[0], ratio[reps - 1]);
  maestro_runtime_destroy(rt);
  return 0;
}
