/* fanout: a source sending 8-byte messages to 4 sinks through one output
 * port (every sink gets the same buffer) against the same source sending to
 * 1 sink, measured in the same run.
 *
 *   fanout [MESSAGES=1000000] [FANOUT=4]
 */
#include "bench_util.h"

static const maestro_port_t msg_in[] = {{"in", MAESTRO_BYTES, 0}};
static const maestro_port_t msg_out[] = {{"out", MAESTRO_BYTES, 0}};

struct sink_state {
  uint64_t next, errors; /* messages seen; those not the sequence number expected */
};

/* Every sink gets every message, in order: 0, 1, 2, ... */
static int sink(maestro_fire_t *f) {
  struct sink_state *s = maestro_fire_state(f);
  uint64_t v;
  memcpy(&v, maestro_buf_cdata(maestro_fire_in(f, 0)), sizeof v);
  s->errors += v != s->next++;
  return MAESTRO_OK;
}

/* source -> `width` sinks; returns seconds. */
static double run_fanout(maestro_runtime_t *rt, long n, int width) {
  maestro_graph_t *g;
  BENCH_CHECK(maestro_graph_create(rt, "fanout", &g));
  maestro_agent_t *src, *a;
  BENCH_CHECK(maestro_agent_add(
      g,
      &(maestro_agent_desc_t){
          .name = "source", .out = msg_out, .n_out = 1, .cpu = bench_seq_source, .state = &n},
      &src));
  struct sink_state counts[64] = {{0, 0}};
  for (int i = 0; i < width; i++) {
    char name[32];
    snprintf(name, sizeof name, "sink%d", i);
    BENCH_CHECK(maestro_agent_add(
        g,
        &(maestro_agent_desc_t){
            .name = name, .in = msg_in, .n_in = 1, .cpu = sink, .state = &counts[i]},
        &a));
    BENCH_CHECK(maestro_connect(g, src, "out", a, "in", 0));
  }
  uint64_t t0 = bench_now_ns();
  BENCH_CHECK(maestro_graph_run(g));
  uint64_t t = bench_now_ns() - t0;
  for (int i = 0; i < width; i++)
    if (counts[i].next != (uint64_t)n || counts[i].errors)
      bench_fail("fanout", "sink %d got %llu messages of %ld, %llu not the one expected next", i,
                 (unsigned long long)counts[i].next, n, (unsigned long long)counts[i].errors);
  maestro_graph_destroy(g);
  return (double)t / 1e9;
}

int main(int argc, char **argv) {
  long n = bench_arg(argc, argv, 1, 1000000);
  int width = (int)bench_arg(argc, argv, 2, 4);
  if (width > 64) width = 64;
  maestro_runtime_t *rt = bench_runtime(0);
  bench_print_config(rt);
  run_fanout(rt, n / 10 + 1, width); /* warm up */
  double one = 1e30, many = 1e30;
  for (int rep = 0; rep < 2; rep++) {
    double s = run_fanout(rt, n, 1);
    if (s < one) one = s;
    s = run_fanout(rt, n, width);
    if (s < many) many = s;
  }
  printf("fan-out 1 -> 1: %.2f M msg/s (the baseline)\n", (double)n / one / 1e6);
  printf("fan-out 1 -> %d: %.2f M msg/s sent, %.2f M deliveries/s; ratio to 1 -> 1: %.3f "
         "(messages), %.3f (deliveries)\n",
         width, (double)n / many / 1e6, (double)n * width / many / 1e6, one / many,
         one * width / many);
  maestro_runtime_destroy(rt);
  return 0;
}
