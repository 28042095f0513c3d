/* chains: K independent chains source -> pass -> sink of 8-byte messages in
 * one graph, against one chain alone (the baseline, measured in the same
 * run). Each chain carries the same number of messages, so with K cores the
 * K chains should take about the time of one: the goal (issue 9) is a
 * ratio <= 1.25 with K chains on K cores.
 *
 *   chains [MESSAGES per chain=1000000] [K=number of CPU workers, at most 8]
 *
 * Exits non-zero when a sink sees a message lost, duplicated or out of order. */

#include "bench_util.h"

enum { MAX_CHAINS = 8, MAX_THREADS = 256 };

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

/* Runs k chains of n messages each in one graph; returns seconds, and the
 * busiest CPU worker's CPU time in `crit_s`. */
static double run_chains(maestro_runtime_t *rt, long n, int k, double *crit_s) {
  maestro_graph_t *g;
  BENCH_CHECK(maestro_graph_create(rt, "chains", &g));
  struct sink_state st[MAX_CHAINS];
  for (int c = 0; c < k; c++) {
    char name[32];
    maestro_agent_t *src, *pass, *snk;
    snprintf(name, sizeof name, "source%d", c);
    BENCH_CHECK(maestro_agent_add(
        g,
        &(maestro_agent_desc_t){
            .name = name, .out = msg_out, .n_out = 1, .cpu = bench_seq_source, .state = &n},
        &src));
    snprintf(name, sizeof name, "pass%d", c);
    BENCH_CHECK(maestro_agent_add(
        g,
        &(maestro_agent_desc_t){
            .name = name, .in = msg_in, .n_in = 1, .out = msg_out, .n_out = 1, .cpu = bench_pass},
        &pass));
    st[c] = (struct sink_state){0, 0};
    snprintf(name, sizeof name, "sink%d", c);
    BENCH_CHECK(
        maestro_agent_add(g,
                          &(maestro_agent_desc_t){
                              .name = name, .in = msg_in, .n_in = 1, .cpu = sink, .state = &st[c]},
                          &snk));
    BENCH_CHECK(maestro_connect(g, src, "out", pass, "in", 0));
    BENCH_CHECK(maestro_connect(g, pass, "out", snk, "in", 0));
  }
  uint64_t c0[MAX_THREADS], c1[MAX_THREADS];
  int nw = maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU);
  if (nw > MAX_THREADS) nw = MAX_THREADS;
  bench_worker_cpu_ns(c0, nw);
  uint64_t t0 = bench_now_ns();
  BENCH_CHECK(maestro_graph_run(g));
  uint64_t t = bench_now_ns() - t0;
  bench_worker_cpu_ns(c1, nw);
  uint64_t crit = 0;
  for (int i = 0; i < nw; i++)
    if (c1[i] - c0[i] > crit) crit = c1[i] - c0[i];
  if (crit_s) *crit_s = (double)crit / 1e9;
  for (int c = 0; c < k; c++)
    if (st[c].errors || st[c].next != (uint64_t)n)
      bench_fail("chains", "sink%d saw %llu messages of %ld, %llu not the one expected next", c,
                 (unsigned long long)st[c].next, n, (unsigned long long)st[c].errors);
  maestro_graph_destroy(g);
  return (double)t / 1e9;
}

int main(int argc, char **argv) {
  long n = bench_arg(argc, argv, 1, 1000000);
  maestro_runtime_t *rt = bench_runtime(0);
  int ncpu = maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU);
  int k = (int)bench_arg(argc, argv, 2, ncpu < MAX_CHAINS ? ncpu : MAX_CHAINS);
  if (k > MAX_CHAINS) k = MAX_CHAINS;
  bench_print_config(rt);
  run_chains(rt, n / 10 + 1, k, NULL); /* warm the pools */
  /* Interleaved, best of three each: the load on a shared machine drifts. */
  double one = 1e30, many = 1e30, one_cpu = 1e30, many_cpu = 1e30, c;
  /* Also the busiest worker's CPU time (the critical path when every
   * worker has a core to itself), best of three each. */
  for (int rep = 0; rep < 3; rep++) {
    double s = run_chains(rt, n, 1, &c);
    if (s < one) one = s;
    if (c < one_cpu) one_cpu = c;
    s = run_chains(rt, n, k, &c);
    if (s < many) many = s;
    if (c < many_cpu) many_cpu = c;
  }
  printf("one chain source -> pass -> sink, %ld msgs of 8 B: %.3f s, %.2f M msg/s; busiest "
         "worker's CPU %.3f s\n",
         n, one, (double)n / one / 1e6, one_cpu);
  printf("%d independent chains in one graph (%d CPU workers), %ld msgs each: %.3f s, %.2f M msg/s "
         "in all; busiest worker's CPU %.3f s; ratio to one chain: %.3f (goal with %d chains on as "
         "many cores: <= 1.25), of the busiest worker's CPU: %.3f\n",
         k, ncpu, n, many, (double)n * k / many / 1e6, many_cpu, many / one, k, many_cpu / one_cpu);
  maestro_runtime_destroy(rt);
  return 0;
}
