/* Placement learns (issue 9), on the test-only backend's fake device: a
 * hybrid agent whose CPU side is slow only on its very first firing (a
 * 5 ms cold start) and whose device side costs 300 us. A placer that never
 * measures again keeps it on the device for ever; ours calibrates both
 * places, re-measures the CPU after a while, finds it far faster than its
 * model said, and moves there. Also: maestro_agent_estimate and the
 * per-place firing counts agree with what happened. */
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "backend_fake.h"
#include "maestro.h"
#include "testmain.h"

#define N 600

static maestro_runtime_t *rt;
static _Atomic int where[N]; /* 1 CPU, 2 device */
static atomic_int cpu_firings;

static void sleep_us(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  nanosleep(&ts, NULL);
}

static int work(maestro_fire_t *f) {
  maestro_place_kind_t kind;
  maestro_fire_place(f, &kind);
  uint64_t seq = maestro_fire_seq(f);
  if (kind == MAESTRO_PLACE_CPU) {
    if (atomic_fetch_add(&cpu_firings, 1) == 0) sleep_us(5000); /* cold start */
  } else {
    sleep_us(300);
  }
  if (seq < N) atomic_store(&where[seq], kind == MAESTRO_PLACE_CPU ? 1 : 2);
  return maestro_fire_out(f, 0, maestro_buf_retain(maestro_fire_in(f, 0)));
}

static int suite_init(void) {
  if (fake_backend_register() != MAESTRO_OK) return -1;
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "none"; /* OpenCL stays out: the fake device is the only one */
  cfg.stats = 0;
  cfg.perf_dir = "";
  return maestro_runtime_create(&cfg, &rt) == MAESTRO_OK ? 0 : -1;
}

static int suite_fini(void) {
  maestro_runtime_destroy(rt);
  return 0;
}

static void test_cold_start_is_forgotten(void) {
  static const maestro_port_t in[] = {{"in", MAESTRO_I64, 0}}, out[] = {{"out", MAESTRO_I64, 0}};
  maestro_graph_t *g;
  maestro_agent_t *a;
  maestro_input_t *src;
  maestro_output_t *dst;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "learn", &g) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_agent_add(
                      g,
                      &(maestro_agent_desc_t){
                          .name = "work", .in = in, .n_in = 1, .out = out, .n_out = 1, .cpu = work},
                      &a) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &src) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &dst) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE), 1);
  double ns;
  CU_ASSERT_EQUAL(maestro_agent_estimate(a, MAESTRO_PLACE_CPU, 0, 8, &ns), MAESTRO_OK);
  CU_ASSERT(ns < 0); /* nothing measured yet */
  long got = 0;
  for (uint64_t i = 0; i < N; i++) { /* one at a time: each placement sees the last result */
    maestro_buf_t *b;
    CU_ASSERT_FATAL(maestro_buf_from(rt, &i, sizeof i, &b) == MAESTRO_OK);
    CU_ASSERT_FATAL(maestro_input_push(src, b) == MAESTRO_OK);
    CU_ASSERT_FATAL(maestro_output_pop(dst, &b, 10000) == MAESTRO_OK);
    uint64_t v;
    memcpy(&v, maestro_buf_cdata(b), sizeof v);
    got += v == i;
    maestro_buf_release(b);
  }
  CU_ASSERT_EQUAL(maestro_input_close(src), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(got, N);
  int cpu_last = 0, dev_any = 0;
  for (int i = 0; i < N; i++) {
    dev_any += atomic_load(&where[i]) == 2;
    if (i >= N / 2) cpu_last += atomic_load(&where[i]) == 1;
  }
  printf("\n    %d of the last %d firings on the CPU, %d on the device in all\n", cpu_last, N / 2,
         dev_any);
  CU_ASSERT(dev_any >= 10);          /* the device was measured */
  CU_ASSERT(cpu_last >= N / 2 - 20); /* then the CPU won, bar re-measurements */
  /* cold9, the exact rule: firing 0 on the CPU (5 ms), 1 and 2 on the
   * device (fewest samples first; on a tie the faster-looking place), and
   * the CPU dismissed on its one sample once the device has two. Judged on
   * one sample, it is re-measured after 64 firings of the key (the gap, not
   * stretched by its ratio): firing 65 finds it fast, its entry restarts,
   * and every later firing runs on the CPU (the device, 10^4 times slower
   * now, is not explored again within N). So 535 of the 599 firings after
   * the cold start (89%, the issue asks >= 80%) run on the CPU. */
  CU_ASSERT_EQUAL(dev_any, 64);
  CU_ASSERT_EQUAL(atomic_load(&where[0]), 1);
  CU_ASSERT_EQUAL(atomic_load(&where[64]), 2);
  CU_ASSERT_EQUAL(atomic_load(&where[65]), 1);
  int cpu_after = 0;
  for (int i = 1; i < N; i++)
    cpu_after += atomic_load(&where[i]) == 1;
  CU_ASSERT(cpu_after * 10 >= (N - 1) * 8);
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(a, &st), MAESTRO_OK);
  CU_ASSERT_EQUAL(st.fires, (uint64_t)N);
  CU_ASSERT_EQUAL(st.cpu_fires + st.device_fires, (uint64_t)N);
  CU_ASSERT_EQUAL(st.device_fires, (uint64_t)dev_any);
  double cpu_ns, dev_ns;
  CU_ASSERT_EQUAL(maestro_agent_estimate(a, MAESTRO_PLACE_CPU, 0, 8, &cpu_ns), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_agent_estimate(a, MAESTRO_PLACE_DEVICE, 0, 8, &dev_ns), MAESTRO_OK);
  printf("    estimates: CPU %.0f ns, device %.0f ns\n", cpu_ns, dev_ns);
  CU_ASSERT(cpu_ns > 0 && dev_ns > 0 && cpu_ns < dev_ns);
  CU_ASSERT_EQUAL(maestro_agent_estimate(a, MAESTRO_PLACE_DEVICE, 1, 8, &ns), MAESTRO_ENODEV);
  CU_ASSERT_EQUAL(maestro_agent_estimate(a, MAESTRO_PLACE_CPU, 999, 8, &ns), MAESTRO_ENODEV);
  CU_ASSERT_EQUAL(maestro_agent_estimate(NULL, MAESTRO_PLACE_CPU, 0, 8, &ns), MAESTRO_EINVAL);
  maestro_graph_destroy(g);
}

/* placefix, cold9: a CPU side 200 times slower than the device's (20 ms
 * against 100 us) is measured once, not 10 times (StarPU's rule) nor twice
 * (placefix): the places are calibrated in turn, one firing at a time, the
 * faster-looking one first on a tie (the device gets its second sample
 * before the CPU), and once the CPU's one sample took more than 4x the
 * device's mean over two, calibration stops (perf_settled). The CPU is not
 * explored again within N2 firings (its gap: 64 firings). */
#define N2 40
static int slow_cpu(maestro_fire_t *f) {
  maestro_place_kind_t kind;
  maestro_fire_place(f, &kind);
  sleep_us(kind == MAESTRO_PLACE_CPU ? 20000 : 100);
  return maestro_fire_out(f, 0, maestro_buf_retain(maestro_fire_in(f, 0)));
}

static void test_slow_place_measured_once(void) {
  static const maestro_port_t in[] = {{"in", MAESTRO_I64, 0}}, out[] = {{"out", MAESTRO_I64, 0}};
  maestro_graph_t *g;
  maestro_agent_t *a;
  maestro_input_t *src;
  maestro_output_t *dst;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "early", &g) == MAESTRO_OK);
  CU_ASSERT_FATAL(
      maestro_agent_add(
          g,
          &(maestro_agent_desc_t){
              .name = "slow_cpu", .in = in, .n_in = 1, .out = out, .n_out = 1, .cpu = slow_cpu},
          &a) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &src) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &dst) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  for (uint64_t i = 0; i < N2; i++) { /* one at a time: each placement sees the last result */
    maestro_buf_t *b;
    CU_ASSERT_FATAL(maestro_buf_from(rt, &i, sizeof i, &b) == MAESTRO_OK);
    CU_ASSERT_FATAL(maestro_input_push(src, b) == MAESTRO_OK);
    CU_ASSERT_FATAL(maestro_output_pop(dst, &b, 10000) == MAESTRO_OK);
    maestro_buf_release(b);
  }
  CU_ASSERT_EQUAL(maestro_input_close(src), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_agent_stats_t st;
  CU_ASSERT_EQUAL(maestro_agent_stats(a, &st), MAESTRO_OK);
  printf("\n    %llu CPU firings, %llu on the device\n", (unsigned long long)st.cpu_fires,
         (unsigned long long)st.device_fires);
  CU_ASSERT_EQUAL(st.cpu_fires, 1);
  CU_ASSERT_EQUAL(st.device_fires, N2 - 1);
  double cpu_ns;
  CU_ASSERT_EQUAL(maestro_agent_estimate(a, MAESTRO_PLACE_CPU, 0, 8, &cpu_ns), MAESTRO_OK);
  CU_ASSERT(cpu_ns >= 20e6); /* its sample slept 20 ms */
  maestro_graph_destroy(g);
}

void register_suites(void) {
  ADD_SUITE("sched_learn", suite_init, suite_fini,
            {"a cold start is forgotten", test_cold_start_is_forgotten},
            {"a far slower place is measured once", test_slow_place_measured_once});
}
