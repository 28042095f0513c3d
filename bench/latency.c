/* latency: the host pushes one 8-byte message into a graph, one agent
 * forwards it, the host pops it: the round trip, median and 99th percentile.
 * Baseline, measured in the same run: the same round trip between two raw
 * threads handing the value over with a mutex and condition variables.
 *
 *   latency [ROUND_TRIPS=20000]
 */
#include "bench_util.h"

/* ---- the baseline: a condvar ping-pong ---- */
struct pingpong {
  pthread_mutex_t m;
  pthread_cond_t to_echo, to_main;
  uint64_t value;
  int full; /* 1: a ping waits for the echo thread, 2: a pong waits for main */
  long n;
};

static void *echo(void *arg) {
  struct pingpong *p = arg;
  for (long i = 0; i < p->n; i++) {
    pthread_mutex_lock(&p->m);
    while (p->full != 1)
      pthread_cond_wait(&p->to_echo, &p->m);
    p->value++;
    p->full = 2;
    pthread_cond_signal(&p->to_main);
    pthread_mutex_unlock(&p->m);
  }
  return NULL;
}

static void raw_condvar(long n, uint64_t *rt) {
  struct pingpong p = {.m = PTHREAD_MUTEX_INITIALIZER,
                       .to_echo = PTHREAD_COND_INITIALIZER,
                       .to_main = PTHREAD_COND_INITIALIZER,
                       .n = n};
  pthread_t th;
  pthread_create(&th, NULL, echo, &p);
  for (long i = 0; i < n; i++) {
    uint64_t t0 = bench_now_ns();
    pthread_mutex_lock(&p.m);
    p.value = (uint64_t)i;
    p.full = 1;
    pthread_cond_signal(&p.to_echo);
    while (p.full != 2)
      pthread_cond_wait(&p.to_main, &p.m);
    p.full = 0;
    uint64_t back = p.value;
    pthread_mutex_unlock(&p.m);
    if (back != (uint64_t)i + 1)
      bench_fail("latency", "raw echo of ping %ld came back as %llu, expected %ld", i,
                 (unsigned long long)back, i + 1);
    rt[i] = bench_now_ns() - t0;
  }
  pthread_join(th, NULL);
  /* The echo thread added one to every value it was handed. */
  if (p.value != (uint64_t)n)
    bench_fail("latency", "raw echo thread returned %llu for the last ping, expected %ld",
               (unsigned long long)p.value, n);
}

/* ---- Maestro ---- */
static void maestro_roundtrips(maestro_runtime_t *rt, long n, uint64_t *lat) {
  maestro_input_t *in;
  maestro_output_t *out;
  maestro_graph_t *g = bench_echo_graph(rt, "latency", "echo", &in, &out);
  for (long i = 0; i < n; i++) {
    uint64_t v = (uint64_t)i;
    maestro_buf_t *b;
    uint64_t t0 = bench_now_ns();
    BENCH_CHECK(maestro_buf_from(rt, &v, sizeof v, &b));
    BENCH_CHECK(maestro_input_push(in, b));
    BENCH_CHECK(maestro_output_pop(out, &b, -1));
    lat[i] = bench_now_ns() - t0;
    /* The value that comes back is the value sent: nothing lost, duplicated
     * or reordered (outside the timed span). */
    uint64_t back = 0;
    size_t size = maestro_buf_size(b);
    const void *data = maestro_buf_cdata(b);
    if (size == sizeof back && data) memcpy(&back, data, sizeof back);
    maestro_buf_release(b);
    if (size != sizeof back || !data || back != v)
      bench_fail("latency", "round trip %ld: sent %llu, got %zu bytes holding %llu", i,
                 (unsigned long long)v, size, (unsigned long long)back);
  }
  maestro_input_close(in);
  BENCH_CHECK(maestro_graph_wait(g));
  bench_no_more(out, "latency");
  maestro_graph_destroy(g);
}

int main(int argc, char **argv) {
  long n = bench_arg(argc, argv, 1, 20000);
  uint64_t *raw = calloc((size_t)n, sizeof *raw), *lat = calloc((size_t)n, sizeof *lat);
  raw_condvar(n, raw);
  maestro_runtime_t *rt = bench_runtime(0);
  bench_print_config(rt);
  maestro_roundtrips(rt, n / 10 + 1, lat); /* warm up */
  maestro_roundtrips(rt, n, lat);
  double raw_med = (double)bench_percentile(raw, (size_t)n, 50) / 1e3;
  double raw_p99 = (double)bench_percentile(raw, (size_t)n, 99) / 1e3;
  double med = (double)bench_percentile(lat, (size_t)n, 50) / 1e3;
  double p99 = (double)bench_percentile(lat, (size_t)n, 99) / 1e3;
  printf("raw condvar round trip between 2 threads: median %.2f us, p99 %.2f us (the baseline)\n",
         raw_med, raw_p99);
  printf("maestro push -> agent -> pop round trip (%ld): median %.2f us, p99 %.2f us; "
         "ratio to raw: %.2f (median), %.2f (p99)\n",
         n, med, p99, med / raw_med, p99 / raw_p99);
  maestro_runtime_destroy(rt);
  free(raw);
  free(lat);
  return 0;
}
