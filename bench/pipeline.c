/* pipeline: a source -> K pass-through agents -> a sink, 8-byte messages.
 * Figure: messages per second per hop; baseline, measured in the same run: a
 * raw single-producer/single-consumer ring between two pinned threads (the
 * floor no runtime beats).
 *
 *   pipeline [MESSAGES=2000000] [K=2]
 *
 * The runtime reads MAESTRO_NCPU, MAESTRO_STATS and MAESTRO_TRACE through
 * maestro_config_defaults(), so the cost of stats and tracing is measured by
 * running it again with MAESTRO_STATS=0 or MAESTRO_TRACE=file.json. */
#include "raw_ring.h"

/* ---- Maestro ---- */
static const maestro_port_t msg_in[] = {{"in", MAESTRO_BYTES, 0}};
static const maestro_port_t msg_out[] = {{"out", MAESTRO_BYTES, 0}};

struct sink_state {
  uint64_t next, errors;
};

static int sink(maestro_fire_t *f) {
  struct sink_state *s = maestro_fire_state(f);
  uint64_t v;
  memcpy(&v, maestro_buf_cdata(maestro_fire_in(f, 0)), sizeof v);
  s->errors += v != s->next++;
  return MAESTRO_OK;
}

/* Runs source -> k pass -> sink with n messages; returns seconds. */
static double run_pipeline(maestro_runtime_t *rt, long n, int k) {
  maestro_graph_t *g;
  BENCH_CHECK(maestro_graph_create(rt, "pipeline", &g));
  maestro_agent_t *prev, *a;
  BENCH_CHECK(maestro_agent_add(
      g,
      &(maestro_agent_desc_t){
          .name = "source", .out = msg_out, .n_out = 1, .cpu = bench_seq_source, .state = &n},
      &prev));
  for (int i = 0; i < k; i++) {
    char name[32];
    snprintf(name, sizeof name, "pass%d", i);
    BENCH_CHECK(maestro_agent_add(
        g,
        &(maestro_agent_desc_t){
            .name = name, .in = msg_in, .n_in = 1, .out = msg_out, .n_out = 1, .cpu = bench_pass},
        &a));
    BENCH_CHECK(maestro_connect(g, prev, "out", a, "in", 0));
    prev = a;
  }
  struct sink_state st = {0, 0};
  BENCH_CHECK(maestro_agent_add(
      g,
      &(maestro_agent_desc_t){.name = "sink", .in = msg_in, .n_in = 1, .cpu = sink, .state = &st},
      &a));
  BENCH_CHECK(maestro_connect(g, prev, "out", a, "in", 0));
  uint64_t t0 = bench_now_ns();
  BENCH_CHECK(maestro_graph_run(g));
  uint64_t t = bench_now_ns() - t0;
  if (st.errors || st.next != (uint64_t)n)
    bench_fail("pipeline", "sink saw %llu messages of %ld, %llu not the one expected next",
               (unsigned long long)st.next, n, (unsigned long long)st.errors);
  maestro_graph_destroy(g);
  return (double)t / 1e9;
}

int main(int argc, char **argv) {
  long n = bench_arg(argc, argv, 1, 2000000);
  int k = (int)bench_arg(argc, argv, 2, 2);
  if (argc > 2 && strcmp(argv[2], "0") == 0) k = 0;

  maestro_runtime_t *rt = bench_runtime(0);
  bench_print_config(rt);
  run_pipeline(rt, n / 10 + 1, k); /* warm the pools */
  int ks[2] = {0, k};
  for (int i = k == 0 ? 1 : 0; i < 2; i++) {
    /* The baseline right before each measurement: the load on a shared
     * machine drifts within seconds. The runtime's workers are parked. */
    double raw = bench_raw_ring_rate("pipeline", n, 1),
           raw32 = bench_raw_ring_rate("pipeline", n, 32);
    printf("raw SPSC ring, 2 pinned threads: %.2f M msg/s (the floor); batched by 32: %.2f M "
           "msg/s\n",
           raw / 1e6, raw32 / 1e6);
    double best = 1e30;
    for (int rep = 0; rep < 2; rep++) {
      double s = run_pipeline(rt, n, ks[i]);
      if (s < best) best = s;
    }
    int hops = ks[i] + 1;
    double per_hop = (double)n * hops / best;
    printf("pipeline source -> %d pass -> sink, %ld msgs of 8 B: %.3f s, %.2f M msg/s end to end, "
           "%.2f M msg/s per hop (%d hops); ratio to raw ring: %.3f (to the batched ring: %.3f)\n",
           ks[i], n, best, (double)n / best / 1e6, per_hop / 1e6, hops, per_hop / raw,
           per_hop / raw32);
  }
  /* With MAESTRO_TRACE, destroy writes the trace (not in the figures above). */
  uint64_t td = bench_now_ns();
  maestro_runtime_destroy(rt);
  printf("runtime destroy (writes the trace file when MAESTRO_TRACE is set): %.3f s\n",
         (double)(bench_now_ns() - td) / 1e9);
  return 0;
}
