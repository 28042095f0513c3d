/* Messages between two MPI ranks: Maestro's remote channels against raw MPI
 * in the same run (run it with `mpiexec -n 2`; docs/mpi.md). For 8-byte and
 * 1 MiB messages:
 *   one way:    rank 0 streams N messages to rank 1 (raw: MPI_Isend windows
 *               of 64 from one buffer, MPI_Irecv into one buffer; Maestro: a
 *               source agent on rank 0 allocating each message, a sink agent
 *               on rank 1), timed from a barrier to the end on both ranks;
 *   round trip: a message to rank 1 and back, one at a time (raw: MPI_Send
 *               and MPI_Recv; Maestro: a host push on rank 0 into an echo
 *               agent on rank 1, popped on rank 0).
 * Prints messages/s, MB/s and µs per round trip, and Maestro / raw.
 * Usage: mpi_pingpong [N_SMALL [N_LARGE [CREDITS_LARGE]]] (default 200000, 2000, 8). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

#define MIB    (1024 * 1024)
#define WINDOW 64

static int me;

static double elapsed(uint64_t t0) {
  return (double)(bench_now_ns() - t0) / 1e9;
}

/* ---- raw MPI ---- */

static double raw_one_way(size_t size, int n) {
  char *buf = malloc(size);
  memset(buf, 1, size);
  MPI_Request req[WINDOW];
  MPI_Barrier(MPI_COMM_WORLD);
  uint64_t t0 = bench_now_ns();
  for (int i = 0; i < n; i += WINDOW) {
    int k = n - i < WINDOW ? n - i : WINDOW;
    for (int j = 0; j < k; j++) {
      if (me == 0)
        MPI_Isend(buf, (int)size, MPI_BYTE, 1, 7, MPI_COMM_WORLD, &req[j]);
      else
        MPI_Irecv(buf, (int)size, MPI_BYTE, 0, 7, MPI_COMM_WORLD, &req[j]);
    }
    MPI_Waitall(k, req, MPI_STATUSES_IGNORE);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  double s = elapsed(t0);
  free(buf);
  return s;
}

static double raw_round_trip(size_t size, int n) {
  char *buf = malloc(size);
  memset(buf, 1, size);
  MPI_Barrier(MPI_COMM_WORLD);
  uint64_t t0 = bench_now_ns();
  for (int i = 0; i < n; i++) {
    if (me == 0) {
      MPI_Send(buf, (int)size, MPI_BYTE, 1, 8, MPI_COMM_WORLD);
      MPI_Recv(buf, (int)size, MPI_BYTE, 1, 8, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else {
      MPI_Recv(buf, (int)size, MPI_BYTE, 0, 8, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      MPI_Send(buf, (int)size, MPI_BYTE, 0, 8, MPI_COMM_WORLD);
    }
  }
  double s = elapsed(t0);
  free(buf);
  return s;
}

/* ---- Maestro ---- */

static const maestro_port_t in_p[] = {{"in", MAESTRO_BYTES, 0}};
static const maestro_port_t out_p[] = {{"out", MAESTRO_BYTES, 0}};

struct src {
  size_t size;
  int n, sent;
};

static int src_fire(maestro_fire_t *f) {
  struct src *s = maestro_fire_state(f);
  if (s->sent == s->n) return MAESTRO_DONE;
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, s->size, &b);
  if (rc) return rc;
  s->sent++;
  return maestro_fire_out(f, 0, b);
}

static int sink_fire(maestro_fire_t *f) {
  (void)f;
  return MAESTRO_OK;
}

static int echo_fire(maestro_fire_t *f) {
  return maestro_fire_out(f, 0, maestro_buf_retain(maestro_fire_in(f, 0)));
}

static double m_one_way(maestro_runtime_t *rt, size_t size, int n, int capacity) {
  maestro_graph_t *g;
  maestro_graph_create(rt, "one_way", &g);
  struct src s = {size, n, 0};
  maestro_agent_t *a, *b;
  maestro_agent_add(g,
                    &(maestro_agent_desc_t){
                        .name = "src", .out = out_p, .n_out = 1, .cpu = src_fire, .state = &s},
                    &a);
  maestro_agent_add(
      g,
      &(maestro_agent_desc_t){
          .name = "sink", .in = in_p, .n_in = 1, .cpu = sink_fire, .affinity = {.rank = 1}},
      &b);
  maestro_connect(g, a, "out", b, "in", capacity);
  MPI_Barrier(MPI_COMM_WORLD);
  uint64_t t0 = bench_now_ns();
  int rc = maestro_graph_run(g);
  double t = elapsed(t0);
  if (rc) fprintf(stderr, "rank %d: %s\n", me, maestro_last_error());
  maestro_graph_destroy(g);
  return rc ? -1 : t;
}

static double m_round_trip(maestro_runtime_t *rt, size_t size, int n) {
  maestro_graph_t *g;
  maestro_graph_create(rt, "round_trip", &g);
  maestro_agent_t *a;
  maestro_agent_add(g,
                    &(maestro_agent_desc_t){.name = "echo",
                                            .in = in_p,
                                            .n_in = 1,
                                            .out = out_p,
                                            .n_out = 1,
                                            .cpu = echo_fire,
                                            .affinity = {.rank = 1}},
                    &a);
  /* rank 0's host ends, through a relay agent on rank 0 */
  maestro_agent_t *rin, *rout;
  maestro_agent_add(
      g,
      &(maestro_agent_desc_t){
          .name = "to1", .in = in_p, .n_in = 1, .out = out_p, .n_out = 1, .cpu = echo_fire},
      &rin);
  maestro_agent_add(
      g,
      &(maestro_agent_desc_t){
          .name = "from1", .in = in_p, .n_in = 1, .out = out_p, .n_out = 1, .cpu = echo_fire},
      &rout);
  maestro_connect(g, rin, "out", a, "in", 0);
  maestro_connect(g, a, "out", rout, "in", 0);
  maestro_input_t *in;
  maestro_output_t *out;
  maestro_graph_input(g, rin, "in", &in);
  maestro_graph_output(g, rout, "out", &out);
  maestro_graph_start(g);
  double t = 0;
  if (me == 0) {
    maestro_buf_t *b;
    maestro_buf_create(rt, size, &b);
    memset(maestro_buf_data(b), 1, size);
    uint64_t t0 = 0;
    for (int i = -10; i < n; i++) { /* 10 to warm up */
      if (i == 0) t0 = bench_now_ns();
      maestro_input_push(in, b);
      if (maestro_output_pop(out, &b, -1) != MAESTRO_OK) {
        fprintf(stderr, "round trip: %s\n", maestro_last_error());
        break;
      }
    }
    t = elapsed(t0);
    maestro_buf_release(b);
  }
  maestro_input_close(in);
  maestro_graph_wait(g);
  maestro_graph_destroy(g);
  return t;
}

static void line(const char *what, size_t size, int n, double raw_s, double m_s) {
  if (me != 0) return;
  double rate_r = n / raw_s, rate_m = n / m_s;
  printf("  %-11s %8zu B  raw MPI %12.0f msg/s %9.1f MB/s   Maestro %12.0f msg/s %9.1f MB/s"
         "   Maestro/raw %.2f\n",
         what, size, rate_r, rate_r * (double)size / 1e6, rate_m, rate_m * (double)size / 1e6,
         rate_m / rate_r);
}

static void rt_line(size_t size, int n, double raw_s, double m_s) {
  if (me != 0) return;
  printf("  %-11s %8zu B  raw MPI %9.2f us per round trip      Maestro %9.2f us per round trip"
         "     raw/Maestro %.2f\n",
         "round trip", size, raw_s / n * 1e6, m_s / n * 1e6, raw_s / m_s);
}

int main(int argc, char **argv) {
  int n_small = argc > 1 ? atoi(argv[1]) : 200000;
  int n_large = argc > 2 ? atoi(argv[2]) : 2000;
  /* Credits of the 1 MiB channel: each message in flight is a buffer of its
   * own (raw MPI's window reuses one), so fewer keep them in cache. */
  int cap_large = argc > 3 ? atoi(argv[3]) : 8;
  int level;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &level);
  int nr;
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  MPI_Comm_size(MPI_COMM_WORLD, &nr);
  if (nr != 2) {
    if (me == 0) fprintf(stderr, "mpi_pingpong: run it with mpiexec -n 2\n");
    MPI_Finalize();
    return 2;
  }
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "none";
  cfg.stats = 0;
  cfg.ncpu = 1;
  cfg.dist = "mpi";
  maestro_runtime_t *rt;
  if (maestro_runtime_create(&cfg, &rt) != MAESTRO_OK) {
    fprintf(stderr, "%s\n", maestro_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  if (me == 0)
    printf("mpi_pingpong: 2 ranks, %d messages of 8 B, %d of 1 MiB (%d cores per rank); raw "
           "window %d, Maestro credits %d (8 B) and %d (1 MiB)\n",
           n_small, n_large, bench_ncores(), WINDOW, WINDOW, cap_large);
  int rt_small = n_small / 10 > 10 ? n_small / 10 : 10,
      rt_large = n_large / 4 > 4 ? n_large / 4 : 4;
  /* Raw MPI first: Maestro's progress thread sleeps while no graph runs. */
  double r1 = raw_one_way(8, n_small), r2 = raw_one_way(MIB, n_large);
  double r3 = raw_round_trip(8, rt_small), r4 = raw_round_trip(MIB, rt_large);
  double m1 = m_one_way(rt, 8, n_small, WINDOW), m2 = m_one_way(rt, MIB, n_large, cap_large);
  double m3 = m_round_trip(rt, 8, rt_small), m4 = m_round_trip(rt, MIB, rt_large);
  line("one way", 8, n_small, r1, m1);
  line("one way", MIB, n_large, r2, m2);
  rt_line(8, rt_small, r3, m3);
  rt_line(MIB, rt_large, r4, m4);
  int bad = m1 < 0 || m2 < 0;
  maestro_runtime_destroy(rt);
  MPI_Finalize();
  return bad;
}
