/* idle: CPU time a started runtime uses while it has nothing to do (a graph
 * is started and waits on a host input that never comes), read with
 * getrusage over the whole process. Baseline, measured in the same run: the
 * same process over the same span before the runtime exists. Goal: under 1%
 * of one core.
 *
 *   idle [MILLISECONDS=2000]
 */
#include <unistd.h>

#include "bench_util.h"

/* Percent of one core used by the process while the caller sleeps `ms`. */
static double idle_percent(long ms) {
  uint64_t c0 = bench_cpu_ns(), t0 = bench_now_ns();
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0) {
  }
  uint64_t c = bench_cpu_ns() - c0, t = bench_now_ns() - t0;
  return 100.0 * (double)c / (double)t;
}

int main(int argc, char **argv) {
  long ms = bench_arg(argc, argv, 1, 2000);
  double base = idle_percent(ms);

  maestro_runtime_t *rt = bench_runtime(0);
  bench_print_config(rt);
  maestro_input_t *in;
  maestro_output_t *out;
  maestro_graph_t *g = bench_echo_graph(rt, "idle", "waiting", &in, &out);
  /* One message first, so the workers have run and gone idle again. */
  uint64_t v = 1;
  maestro_buf_t *b;
  BENCH_CHECK(maestro_buf_from(rt, &v, sizeof v, &b));
  BENCH_CHECK(maestro_input_push(in, b));
  BENCH_CHECK(maestro_output_pop(out, &b, -1));
  uint64_t back = 0;
  if (maestro_buf_size(b) == sizeof back && maestro_buf_cdata(b))
    memcpy(&back, maestro_buf_cdata(b), sizeof back);
  maestro_buf_release(b);
  if (back != v)
    bench_fail("idle", "the echo returned %llu, sent %llu", (unsigned long long)back,
               (unsigned long long)v);
  usleep(50000);
  double used = idle_percent(ms);
  printf("idle process without a runtime: %.3f%% of a core (the baseline)\n", base);
  printf("idle runtime with %d workers and a started graph, %ld ms: %.3f%% of a core "
         "(%+.3f points over the baseline); ratio to the 1%% goal: %.3f\n",
         maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU), ms, used, used - base, used / 1.0);
  maestro_input_close(in);
  BENCH_CHECK(maestro_graph_wait(g));
  bench_no_more(out, "idle");
  maestro_graph_destroy(g);
  maestro_runtime_destroy(rt);
  return 0;
}
