/* The end of a traced program under mpiexec (tests/mpi/trace_end.sh): each
 * rank writes its own trace (MAESTRO_TRACE=DIR/t.json: DIR/t.rankN.json);
 * the program ends without destroying its runtime, in one of two ways:
 *   exit: every rank calls exit(0) once the graph has run;
 *   term: the graph runs until rank 1 is sent SIGTERM (by the script, which
 *         reads the pid rank 1 writes into DIR/pid1 once its relay fired
 *         100 times);
 *   midrun: rank 0 calls exit(0) while the graph runs (once DIR/pid1 is
 *         there), with its workers and MPI progress thread busy; mpiexec
 *         then ends rank 1.
 * The script then checks every rank's trace file for complete JSON with
 * that rank's firings. Usage: mpi_trace_end exit|term DIR */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "maestro.h"

static const maestro_port_t in_p[] = {{"in", MAESTRO_BYTES, 0}};
static const maestro_port_t out_p[] = {{"out", MAESTRO_BYTES, 0}};

static const char *dir;
static int endless;

static int src(maestro_fire_t *f) {
  uint64_t *n = maestro_fire_state(f);
  if (!endless && *n == 500) return MAESTRO_DONE;
  if (endless) { /* no need to flood: the signal comes within seconds */
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
  }
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, sizeof *n, &b);
  if (rc) return rc;
  memcpy(maestro_buf_data(b), n, sizeof *n);
  ++*n;
  return maestro_fire_out(f, 0, b);
}

static int relay(maestro_fire_t *f) {
  if (endless && maestro_fire_seq(f) == 100) {
    char path[4096];
    snprintf(path, sizeof path, "%s/pid1.tmp", dir);
    FILE *p = fopen(path, "w");
    if (p) {
      fprintf(p, "%d\n", (int)getpid());
      fclose(p);
      char done[4096];
      snprintf(done, sizeof done, "%s/pid1", dir);
      rename(path, done);
    }
  }
  return maestro_fire_out(f, 0, maestro_buf_retain(maestro_fire_in(f, 0)));
}

static int sink(maestro_fire_t *f) {
  (void)f;
  return MAESTRO_OK;
}

int main(int argc, char **argv) {
  if (argc != 3 || (strcmp(argv[1], "exit") != 0 && strcmp(argv[1], "term") != 0 &&
                    strcmp(argv[1], "midrun") != 0)) {
    fprintf(stderr, "usage: mpi_trace_end exit|term|midrun DIR\n");
    return 2;
  }
  endless = strcmp(argv[1], "exit") != 0;
  int midrun = !strcmp(argv[1], "midrun");
  dir = argv[2];
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
  maestro_graph_create(rt, "trace_end", &g);
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
  if (midrun && maestro_runtime_rank(rt) == 0) {
    if (maestro_graph_start(g)) return 1;
    char path[4096];
    snprintf(path, sizeof path, "%s/pid1", dir);
    for (int i = 0; i < 60000 && access(path, F_OK) != 0; i++) {
      struct timespec ts = {0, 1000000};
      nanosleep(&ts, NULL);
    }
    fprintf(stderr, "rank 0: exit while the graph runs\n");
    exit(0);
  }
  int rc = maestro_graph_run(g);
  fprintf(stderr, "rank %d: maestro_graph_run returned %d %s\n", maestro_runtime_rank(rt), rc,
          rc ? maestro_last_error() : "");
  /* Neither the graph nor the runtime is destroyed: the trace must be
   * completed by exit() itself. */
  exit(rc ? 1 : 0);
}
