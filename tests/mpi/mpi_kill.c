/* A rank dies mid-run (tests/mpi/killed_rank.sh runs it under mpiexec -n 2):
 * the relay on rank 1 kills its own process at its 200th message while
 * rank 0 streams through it. Open MPI 4 then ends the whole job; what must
 * hold is that it ends promptly, naming the lost rank, and nothing hangs. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "maestro.h"

static const maestro_port_t in_p[] = {{"in", MAESTRO_BYTES, 0}};
static const maestro_port_t out_p[] = {{"out", MAESTRO_BYTES, 0}};

static int src(maestro_fire_t *f) {
  uint64_t *n = maestro_fire_state(f);
  if (*n == 1000000) return MAESTRO_DONE;
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, 64, &b);
  if (rc) return rc;
  memcpy(maestro_buf_data(b), n, sizeof *n);
  ++*n;
  return maestro_fire_out(f, 0, b);
}

static int relay(maestro_fire_t *f) {
  if (maestro_fire_seq(f) == 200) raise(SIGKILL);
  return maestro_fire_out(f, 0, maestro_buf_retain(maestro_fire_in(f, 0)));
}

static int sink(maestro_fire_t *f) {
  (void)f;
  return MAESTRO_OK;
}

int main(void) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "none";
  cfg.ncpu = 1;
  cfg.stats = 0;
  cfg.dist = "mpi";
  maestro_runtime_t *rt;
  if (maestro_runtime_create(&cfg, &rt)) {
    fprintf(stderr, "%s\n", maestro_last_error());
    return 2;
  }
  maestro_graph_t *g;
  maestro_graph_create(rt, "killed", &g);
  uint64_t n = 0;
  maestro_agent_t *a, *b, *c;
  maestro_agent_add(
      g, &(maestro_agent_desc_t){.name = "src", .out = out_p, .n_out = 1, .cpu = src, .state = &n},
      &a);
  maestro_agent_add(g,
                    &(maestro_agent_desc_t){.name = "relay",
                                            .in = in_p,
                                            .n_in = 1,
                                            .out = out_p,
                                            .n_out = 1,
                                            .cpu = relay,
                                            .affinity = {.rank = 1}},
                    &b);
  maestro_agent_add(g, &(maestro_agent_desc_t){.name = "sink", .in = in_p, .n_in = 1, .cpu = sink},
                    &c);
  maestro_connect(g, a, "out", b, "in", 8);
  maestro_connect(g, b, "out", c, "in", 8);
  int rc = maestro_graph_run(g);
  fprintf(stderr, "rank %d: maestro_graph_run returned %d: %s\n", maestro_runtime_rank(rt), rc,
          rc ? maestro_last_error() : "");
  maestro_graph_destroy(g);
  maestro_runtime_destroy(rt);
  return rc ? 1 : 0;
}
