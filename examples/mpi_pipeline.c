/* mpi_pipeline: one graph over several processes (MPI ranks).
 *
 *   rank 0                 last rank                rank 0
 *   blocks ---------------> norm2 -----------------> total --> the host
 *   (64 Ki floats each)     (a partial sum per        (adds them up; sends
 *                           block: 8 bytes back)       the total at the end)
 *
 * Every rank runs this same program and declares the same graph (SPMD);
 * `.affinity.rank` says which rank owns each agent. The blocks cross from
 * rank 0 to the last rank over MPI, the partial sums come back: the program
 * never calls MPI itself. Run it with
 *     mpiexec -n 2 ./mpi_pipeline
 * (alone, with one rank, the whole graph runs in one process). */
#include <stdio.h>
#include <string.h>

#include "maestro.h"

#define NBLOCKS 200
#define NFLOATS (64 * 1024)

static const maestro_port_t f32_in[] = {{"in", MAESTRO_F32, 0}};
static const maestro_port_t f32_out[] = {{"out", MAESTRO_F32, 0}};
static const maestro_port_t f64_in[] = {{"in", MAESTRO_F64, 0}};
static const maestro_port_t f64_out[] = {{"out", MAESTRO_F64, 0}};

/* Block b holds b, b, ..., b (small integers: the sums are exact). */
static int blocks(maestro_fire_t *f) {
  uint64_t b = maestro_fire_seq(f);
  if (b == NBLOCKS) return MAESTRO_DONE;
  maestro_buf_t *out;
  int rc = maestro_fire_alloc(f, NFLOATS * sizeof(float), &out);
  if (rc) return rc;
  float *x = maestro_buf_data(out);
  for (int i = 0; i < NFLOATS; i++)
    x[i] = (float)(b % 16);
  return maestro_fire_out(f, 0, out);
}

/* The squared norm of one block. */
static int norm2(maestro_fire_t *f) {
  maestro_buf_t *in = maestro_fire_in(f, 0);
  const float *x = maestro_buf_cdata(in);
  size_t n = maestro_buf_size(in) / sizeof(float);
  double s = 0;
  for (size_t i = 0; i < n; i++)
    s += (double)x[i] * x[i];
  maestro_buf_t *out;
  int rc = maestro_fire_alloc(f, sizeof s, &out);
  if (rc) return rc;
  memcpy(maestro_buf_data(out), &s, sizeof s);
  return maestro_fire_out(f, 0, out);
}

/* Adds the partial sums up; sends the total once every input has ended. */
static int total_add(maestro_fire_t *f) {
  double *t = maestro_fire_state(f), s;
  memcpy(&s, maestro_buf_cdata(maestro_fire_in(f, 0)), sizeof s);
  *t += s;
  return MAESTRO_OK;
}

static int total_end(maestro_fire_t *f) {
  double *t = maestro_fire_state(f);
  maestro_buf_t *out;
  int rc = maestro_fire_alloc(f, sizeof *t, &out);
  if (rc) return rc;
  memcpy(maestro_buf_data(out), t, sizeof *t);
  return maestro_fire_out(f, 0, out);
}

int main(void) {
  maestro_runtime_t *rt;
  if (maestro_runtime_create(NULL, &rt) != MAESTRO_OK) { /* under mpiexec: across ranks */
    fprintf(stderr, "mpi_pipeline: %s\n", maestro_last_error());
    return 1;
  }
  int me = maestro_runtime_rank(rt), last = maestro_runtime_nranks(rt) - 1;
  maestro_graph_t *g;
  maestro_graph_create(rt, "mpi_pipeline", &g);
  double total = 0;
  maestro_agent_t *src, *nrm, *tot;
  maestro_agent_add(
      g,
      &(maestro_agent_desc_t){
          .name = "blocks", .out = f32_out, .n_out = 1, .cpu = blocks, .affinity = {.rank = 0}},
      &src);
  maestro_agent_add(g,
                    &(maestro_agent_desc_t){.name = "norm2",
                                            .in = f32_in,
                                            .n_in = 1,
                                            .out = f64_out,
                                            .n_out = 1,
                                            .cpu = norm2,
                                            .affinity = {.rank = last}},
                    &nrm);
  maestro_agent_add(g,
                    &(maestro_agent_desc_t){.name = "total",
                                            .in = f64_in,
                                            .n_in = 1,
                                            .out = f64_out,
                                            .n_out = 1,
                                            .cpu = total_add,
                                            .on_end = total_end,
                                            .state = &total,
                                            .affinity = {.rank = 0}},
                    &tot);
  maestro_connect(g, src, "out", nrm, "in", 8); /* rank 0 -> last: 8 blocks in flight */
  maestro_connect(g, nrm, "out", tot, "in", 0); /* last -> rank 0 */
  maestro_output_t *out;
  maestro_graph_output(g, tot, "out", &out);
  if (maestro_graph_start(g) != MAESTRO_OK) {
    fprintf(stderr, "mpi_pipeline: %s\n", maestro_last_error());
    return 1;
  }
  int ok = 1;
  if (me == 0) { /* the host output is rank 0's: "total" lives there */
    maestro_buf_t *b;
    while (maestro_output_pop(out, &b, -1) == MAESTRO_OK) {
      double t;
      memcpy(&t, maestro_buf_cdata(b), sizeof t);
      double want = 0;
      for (int i = 0; i < NBLOCKS; i++)
        want += (double)NFLOATS * (i % 16) * (i % 16);
      printf("mpi_pipeline: %d blocks from rank 0 via rank %d: sum of squares %.0f (%s)\n", NBLOCKS,
             last, t, t == want ? "exact" : "WRONG");
      ok = t == want;
      maestro_buf_release(b);
    }
  }
  int rc = maestro_graph_wait(g); /* the same status on every rank */
  if (rc) fprintf(stderr, "mpi_pipeline: rank %d: %s\n", me, maestro_last_error());
  maestro_graph_destroy(g);
  maestro_runtime_destroy(rt);
  return rc == MAESTRO_OK && ok ? 0 : 1;
}
