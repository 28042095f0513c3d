/* A program that initialised MPI itself (tests/mpi.cmake runs it under
 * mpiexec -n 2): with MPI_THREAD_MULTIPLE the runtime uses that MPI, runs a
 * graph across the ranks, and leaves MPI initialised when destroyed (the
 * program still talks MPI afterwards, then finalises it); with a lower level
 * (argument "funneled") maestro_runtime_create refuses, naming the level. */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "maestro.h"

static const maestro_port_t in_p[] = {{"in", MAESTRO_BYTES, 0}};
static const maestro_port_t out_p[] = {{"out", MAESTRO_BYTES, 0}};

static int src(maestro_fire_t *f) {
  if (maestro_fire_seq(f) == 1000) return MAESTRO_DONE;
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, 8, &b);
  if (rc) return rc;
  uint64_t v = maestro_fire_seq(f);
  memcpy(maestro_buf_data(b), &v, 8);
  return maestro_fire_out(f, 0, b);
}

static uint64_t got, sum;

static int sink(maestro_fire_t *f) {
  uint64_t v;
  memcpy(&v, maestro_buf_cdata(maestro_fire_in(f, 0)), 8);
  got++;
  sum += v;
  return MAESTRO_OK;
}

#define CHECK(c)                                                                                   \
  do {                                                                                             \
    if (!(c)) {                                                                                    \
      fprintf(stderr, "rank %d: check failed: %s (%s)\n", me, #c, maestro_last_error());           \
      bad = 1;                                                                                     \
    }                                                                                              \
  } while (0)

int main(int argc, char **argv) {
  int funneled = argc > 1 && !strcmp(argv[1], "funneled"), level, me, bad = 0;
  MPI_Init_thread(&argc, &argv, funneled ? MPI_THREAD_FUNNELED : MPI_THREAD_MULTIPLE, &level);
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "none";
  cfg.ncpu = 1;
  cfg.stats = 0;
  cfg.dist = "mpi";
  maestro_runtime_t *rt = NULL;
  int rc = maestro_runtime_create(&cfg, &rt);
  if (funneled) {
    CHECK(rc == MAESTRO_EINVAL);
    CHECK(strstr(maestro_last_error(), "MPI gives MPI_THREAD_FUNNELED") != NULL);
    CHECK(rt == NULL);
  } else {
    CHECK(rc == MAESTRO_OK);
    if (rc == MAESTRO_OK) {
      CHECK(maestro_runtime_rank(rt) == me);
      maestro_graph_t *g;
      maestro_graph_create(rt, "own", &g);
      maestro_agent_t *a, *b;
      maestro_agent_add(
          g, &(maestro_agent_desc_t){.name = "src", .out = out_p, .n_out = 1, .cpu = src}, &a);
      maestro_agent_add(
          g,
          &(maestro_agent_desc_t){
              .name = "sink", .in = in_p, .n_in = 1, .cpu = sink, .affinity = {.rank = 1}},
          &b);
      maestro_connect(g, a, "out", b, "in", 4);
      CHECK(maestro_graph_run(g) == MAESTRO_OK);
      if (me == 1) CHECK(got == 1000 && sum == 999 * 1000 / 2);
      maestro_graph_destroy(g);
      maestro_runtime_destroy(rt);
    }
  }
  /* MPI is still the program's: initialised, usable. */
  int inited = 0, finalized = 0;
  MPI_Initialized(&inited);
  MPI_Finalized(&finalized);
  CHECK(inited && !finalized);
  int one = 1, total = 0;
  MPI_Allreduce(&one, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  CHECK(total == 2);
  MPI_Finalize();
  if (!bad) printf("rank %d: ok\n", me);
  return bad;
}
