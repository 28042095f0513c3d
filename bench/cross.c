/* cross: fine-grained chains forced across two cores. Agents pinned to CPU
 * places with affinity (maestro_affinity_t), 8-byte messages:
 *   - 1 crossing: source@0 -> sink@1
 *   - 3 crossings: source@0 -> pass@1 -> pass@0 -> sink@1
 *   - 0 crossings (for reference): source@0 -> sink@0
 * Figures: messages per second per hop, and the CPU time the workers spent
 * per message-hop (spinning included: less swayed by other load). Baseline, measured in the same
 * run right before: a raw single-producer/single-consumer ring between two pinned threads,
 * publishing its index every message, and every 32.
 *
 *   cross [MESSAGES=1000000] [CAPACITY=0 (the default, 64)]
 *
 * Exits non-zero when the sink sees a message lost, duplicated or out of
 * order. With one CPU place, every agent runs on it (the figures then say
 * nothing about crossing). */
#include "raw_ring.h"

enum { MAX_WORKERS = 256 };

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

static maestro_affinity_t on_cpu(int i, int ncpu) {
  return (maestro_affinity_t){.pref = MAESTRO_ON_CPU, .index = i % ncpu};
}

/* Runs a chain of `npass` pass agents between a source and a sink, agent j
 * on CPU place places[j], channels of `cap` messages; returns seconds, and
 * the CPU time all workers spent in `cpu_s` (may be NULL). */
static double run_chain(maestro_runtime_t *rt, long n, int npass, const int *places, int cap,
                        double *cpu_s) {
  int ncpu = maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU);
  maestro_graph_t *g;
  BENCH_CHECK(maestro_graph_create(rt, "cross", &g));
  maestro_agent_t *prev, *a;
  BENCH_CHECK(maestro_agent_add(g,
                                &(maestro_agent_desc_t){.name = "source",
                                                        .out = msg_out,
                                                        .n_out = 1,
                                                        .cpu = bench_seq_source,
                                                        .state = &n,
                                                        .affinity = on_cpu(places[0], ncpu)},
                                &prev));
  for (int i = 0; i < npass; i++) {
    char name[32];
    snprintf(name, sizeof name, "pass%d", i);
    BENCH_CHECK(maestro_agent_add(g,
                                  &(maestro_agent_desc_t){.name = name,
                                                          .in = msg_in,
                                                          .n_in = 1,
                                                          .out = msg_out,
                                                          .n_out = 1,
                                                          .cpu = bench_pass,
                                                          .affinity = on_cpu(places[1 + i], ncpu)},
                                  &a));
    BENCH_CHECK(maestro_connect(g, prev, "out", a, "in", cap));
    prev = a;
  }
  struct sink_state st = {0, 0};
  BENCH_CHECK(
      maestro_agent_add(g,
                        &(maestro_agent_desc_t){.name = "sink",
                                                .in = msg_in,
                                                .n_in = 1,
                                                .cpu = sink,
                                                .state = &st,
                                                .affinity = on_cpu(places[1 + npass], ncpu)},
                        &a));
  BENCH_CHECK(maestro_connect(g, prev, "out", a, "in", cap));
  uint64_t c0[MAX_WORKERS], c1[MAX_WORKERS];
  int nw = ncpu < MAX_WORKERS ? ncpu : MAX_WORKERS;
  bench_worker_cpu_ns(c0, nw);
  uint64_t t0 = bench_now_ns();
  BENCH_CHECK(maestro_graph_run(g));
  uint64_t t = bench_now_ns() - t0;
  bench_worker_cpu_ns(c1, nw);
  uint64_t cpu = 0;
  for (int i = 0; i < nw; i++)
    cpu += c1[i] - c0[i];
  if (cpu_s) *cpu_s = (double)cpu / 1e9;
  if (st.errors || st.next != (uint64_t)n)
    bench_fail("cross", "sink saw %llu messages of %ld, %llu not the one expected next",
               (unsigned long long)st.next, n, (unsigned long long)st.errors);
  maestro_graph_destroy(g);
  return (double)t / 1e9;
}

int main(int argc, char **argv) {
  long n = bench_arg(argc, argv, 1, 1000000);
  int cap = (int)bench_arg(argc, argv, 2, 0);
  if (argc > 2 && strcmp(argv[2], "0") == 0) cap = 0;
  maestro_runtime_t *rt = bench_runtime(0);
  bench_print_config(rt);
  if (maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU) < 2)
    printf("one CPU place: every agent runs on it (no crossing measured)\n");
  static const int one[] = {0, 1}, three[] = {0, 1, 0, 1}, none[] = {0, 0};
  struct {
    const char *what;
    int npass, hops;
    const int *places;
  } runs[] = {{"source@0 -> sink@1 (1 crossing)", 0, 1, one},
              {"source@0 -> pass@1 -> pass@0 -> sink@1 (3 crossings)", 2, 3, three},
              {"source@0 -> sink@0 (same core, for reference)", 0, 1, none}};
  run_chain(rt, n / 10 + 1, 0, one, cap, NULL); /* warm the pools */
  double raw = bench_raw_ring_rate("cross", n, 1), raw32 = bench_raw_ring_rate("cross", n, 32);
  printf("raw SPSC ring, 2 pinned threads: %.2f M msg/s; publishing every 32: %.2f M msg/s\n",
         raw / 1e6, raw32 / 1e6);
  for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
    double best = 1e30, best_cpu = 1e30;
    for (int rep = 0; rep < 3; rep++) {
      double c, s = run_chain(rt, n, runs[i].npass, runs[i].places, cap, &c);
      if (s < best) best = s;
      if (c < best_cpu) best_cpu = c;
    }
    double per_hop = (double)n * runs[i].hops / best;
    printf("%s, %ld msgs of 8 B, capacity %d: %.3f s, %.2f M msg/s per hop; ratio to raw ring: "
           "%.3f (to the ring publishing every 32: %.3f); workers' CPU %.0f ns per message-hop\n",
           runs[i].what, n, cap ? cap : 64, best, per_hop / 1e6, per_hop / raw, per_hop / raw32,
           best_cpu * 1e9 / ((double)n * runs[i].hops));
  }
  maestro_runtime_destroy(rt);
  return 0;
}
