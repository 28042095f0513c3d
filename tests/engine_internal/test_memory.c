/* Memory stays bounded by the pools' capacities, whatever the message size
 * (issue 13): messages pushed from the host, consumed on a worker, answered
 * through maestro_fire_alloc and popped by the host. A run three times as
 * long as a first one allocates no new buffer (the pool's own counter) and
 * does not grow the resident set (/proc/self/statm, a generous bound).
 *
 * The host thread pushes one message and pops its answer before the next,
 * so that at most three buffers are alive at once: the counts do not depend
 * on how far the host runs ahead. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "maestro.h"
#include "mem/buf.h"
#include "mem/pool.h"
#include "testmain.h"

/* Sanitizer allocators abort on a request above their limit (1 TiB) unless
 * told to return NULL as malloc does: the huge-size cases count on NULL. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TEST_SANITIZED 1
#endif
#endif
#ifdef TEST_SANITIZED
const char *__asan_default_options(void);
const char *__tsan_default_options(void);
const char *__asan_default_options(void) {
  return "allocator_may_return_null=1";
}
const char *__tsan_default_options(void) {
  return "allocator_may_return_null=1";
}
#endif

static maestro_runtime_t *rt;

static int memory_init(void) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.ncpu = 1; /* one worker: the same cache sees every firing */
  cfg.devices = "none";
  cfg.stats = 0;
  return maestro_runtime_create(&cfg, &rt) == MAESTRO_OK ? 0 : 1;
}

static int memory_fini(void) {
  maestro_runtime_destroy(rt);
  return 0;
}

static const maestro_port_t bytes_in[] = {{"in", MAESTRO_BYTES, 0}};
static const maestro_port_t bytes_out[] = {{"out", MAESTRO_BYTES, 0}};

/* Answers each message with an 8-byte message holding its size: the worker
 * releases every input buffer and never allocates one of its class. */
static int digest(maestro_fire_t *f) {
  maestro_buf_t *in = maestro_fire_in(f, 0);
  uint64_t size = maestro_buf_size(in);
  maestro_buf_t *out;
  int rc = maestro_fire_alloc(f, sizeof size, &out);
  if (rc != MAESTRO_OK) return rc;
  memcpy(maestro_buf_data(out), &size, sizeof size);
  return maestro_fire_out(f, 0, out);
}

/* Answers each message with a new message of the same size (its first and
 * last bytes copied): the worker allocates the class it releases. */
static int echo(maestro_fire_t *f) {
  maestro_buf_t *in = maestro_fire_in(f, 0);
  size_t size = maestro_buf_size(in);
  maestro_buf_t *out;
  int rc = maestro_fire_alloc(f, size, &out);
  if (rc != MAESTRO_OK) return rc;
  const unsigned char *src = maestro_buf_cdata(in);
  unsigned char *dst = maestro_buf_data(out);
  dst[0] = src[0];
  dst[size - 1] = src[size - 1];
  return maestro_fire_out(f, 0, out);
}

/* Resident set size in bytes. */
static size_t rss_bytes(void) {
  unsigned long pages = 0, resident = 0;
  FILE *fp = fopen("/proc/self/statm", "r");
  if (!fp) return 0;
  if (fscanf(fp, "%lu %lu", &pages, &resident) != 2) resident = 0;
  fclose(fp);
  return resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* Writes one byte per page (the pages become resident, as with real data). */
static void touch(unsigned char *p, size_t n, unsigned char v) {
  for (size_t i = 0; i < n; i += 4096)
    p[i] = v;
  p[n - 1] = v;
}

/* Runs host -> fn -> host over n messages of `size` bytes, one at a time;
 * returns the number of answers that came back right. */
static long run_graph(maestro_cpu_fn fn, size_t size, long n) {
  maestro_graph_t *g;
  maestro_agent_t *a;
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_FATAL(maestro_graph_create(rt, "memory", &g) == MAESTRO_OK);
  CU_ASSERT_FATAL(
      maestro_agent_add(
          g,
          &(maestro_agent_desc_t){
              .name = "work", .in = bytes_in, .n_in = 1, .out = bytes_out, .n_out = 1, .cpu = fn},
          &a) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_input(g, a, "in", &in) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_output(g, a, "out", &out) == MAESTRO_OK);
  CU_ASSERT_FATAL(maestro_graph_start(g) == MAESTRO_OK);
  long good = 0;
  for (long i = 0; i < n; i++) {
    maestro_buf_t *b;
    if (maestro_buf_create(rt, size, &b) != MAESTRO_OK) break;
    touch(maestro_buf_data(b), size, (unsigned char)i);
    if (maestro_input_push(in, b) != MAESTRO_OK) break;
    maestro_buf_t *r = NULL;
    if (maestro_output_pop(out, &r, 10000) != MAESTRO_OK) break;
    const unsigned char *p = maestro_buf_cdata(r);
    if (fn != echo) { /* answered with the size */
      uint64_t got;
      memcpy(&got, p, sizeof got);
      good += maestro_buf_size(r) == sizeof got && got == size;
    } else {
      good += maestro_buf_size(r) == size && p[0] == (unsigned char)i &&
              p[size - 1] == (unsigned char)i;
    }
    maestro_buf_release(r);
  }
  CU_ASSERT_EQUAL(maestro_input_close(in), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_OK);
  maestro_graph_destroy(g);
  return good;
}

/* Every class from 1 byte to 24 MiB, with sizes between classes. */
static const size_t sizes[] = {1,
                               64,
                               100,
                               1536,
                               4096,
                               5000,
                               65536,
                               100000,
                               384 << 10,
                               1 << 20,
                               3 << 19 /* 1.5 MiB */,
                               2 << 20,
                               3 << 20,
                               24 << 20};

/* More messages than a worker's cache holds for any class, so that a first
 * run reaches the steady state. */
enum { N_FIRST = 300 };

static void bounded(maestro_cpu_fn fn) {
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t size = sizes[i];
    struct mem_stats s0, s1, s2;
    mem_get_stats(rt, &s0);
    CU_ASSERT_EQUAL(run_graph(fn, size, N_FIRST), N_FIRST);
    mem_get_stats(rt, &s1);
    size_t rss1 = rss_bytes();
    CU_ASSERT_EQUAL(run_graph(fn, size, 3 * N_FIRST), 3 * N_FIRST);
    mem_get_stats(rt, &s2);
    size_t rss2 = rss_bytes();
    long long grew = (long long)rss2 - (long long)rss1;
    if (s2.fresh - s1.fresh > 1 || grew > (64 << 20))
      printf("\n    %s, %zu bytes: %llu new buffers in the first run, %llu in the second; "
             "resident memory %+lld KiB",
             fn == digest ? "digest" : "echo", size, s1.fresh - s0.fresh, s2.fresh - s1.fresh,
             grew / 1024);
    /* The second run finds the buffers it needs in the pools. A worker
     * releases a message's input after sending its answer, so the host may
     * push the next message while that input is still alive: a run may need
     * one more buffer than the previous one did, never one per message. */
    CU_ASSERT(s2.fresh - s1.fresh <= 2);
    /* A generous bound: the leak adds hundreds of MiB (two messages of the
     * largest size plus allocator noise stay far below it). */
    CU_ASSERT(grew < (64 << 20));
  }
}

static void memory_digest(void) {
  bounded(digest);
}

static void memory_echo(void) {
  bounded(echo);
}

/* maestro_fire_alloc refuses sizes whose arithmetic wraps around (it used
 * to succeed over a one-byte allocation), naming itself and the size. */
static const size_t huge[] = {SIZE_MAX,       SIZE_MAX - 1,     SIZE_MAX - 127,
                              SIZE_MAX - 255, SIZE_MAX / 2 + 1, (size_t)1 << 62};
enum { N_HUGE = sizeof huge / sizeof huge[0] };
static int huge_rc[N_HUGE], huge_named[N_HUGE];

static int alloc_huge(maestro_fire_t *f) {
  for (int i = 0; i < N_HUGE; i++) {
    maestro_buf_t *b = NULL;
    char expect[64];
    snprintf(expect, sizeof expect, "%zu bytes", huge[i]);
    huge_rc[i] = maestro_fire_alloc(f, huge[i], &b);
    huge_named[i] = b == NULL && strstr(maestro_last_error(), "maestro_fire_alloc") &&
                    strstr(maestro_last_error(), expect);
    if (huge_rc[i] == MAESTRO_OK) maestro_buf_release(b);
  }
  return digest(f);
}

static void memory_huge_fire_alloc(void) {
  CU_ASSERT_EQUAL(run_graph(alloc_huge, 16, 1), 1);
  for (int i = 0; i < N_HUGE; i++) {
    CU_ASSERT_EQUAL(huge_rc[i], MAESTRO_ENOMEM);
    CU_ASSERT_TRUE(huge_named[i]);
  }
}

void register_memory_tests(void) {
  ADD_SUITE("memory", memory_init, memory_fini, {"bounded_consumed", memory_digest},
            {"bounded_answered", memory_echo}, {"huge_fire_alloc", memory_huge_fire_alloc});
}

void register_suites(void) {
  register_memory_tests();
}
