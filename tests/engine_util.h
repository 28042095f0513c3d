/* Helpers shared by the engine test programs (tests/engine_*.c): a CPU-only
 * runtime per suite, a few agent implementations every test needs, and
 * host-side helpers to feed and drain a graph. Public API only. */
#ifndef MAESTRO_TESTS_ENGINE_UTIL_H
#define MAESTRO_TESTS_ENGINE_UTIL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "maestro.h"
#include "testmain.h"

/* One runtime per test program, CPU-only (the engine tests need no device and
 * PoCL's start-up would only slow them down). */
static maestro_runtime_t *eng_rt;

#ifdef ENG_FAKE_DEVICE
/* The same tests with the test-only backend registered (tests/backend.cmake):
 * every agent with inputs may then also fire on its fake device, the
 * messages crossing to its memory and back. */
#include "backend_fake.h"
#endif

static inline int eng_suite_init(void) {
#ifdef ENG_FAKE_DEVICE
  if (fake_backend_register() != MAESTRO_OK) return -1;
#endif
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "none";
  cfg.stats = 0;
#ifdef ENG_FAKE_DEVICE
  cfg.sched = "eager"; /* the fake device first, while it has room */
#endif
  return maestro_runtime_create(&cfg, &eng_rt) == MAESTRO_OK ? 0 : -1;
}

static inline int eng_suite_fini(void) {
  maestro_runtime_destroy(eng_rt);
  eng_rt = NULL;
#ifdef ENG_FAKE_DEVICE
  /* Messages did cross to the fake device and back, and nothing stayed there. */
  struct fake_stats fs;
  fake_stats_get(&fs);
  printf("\n    fake device: %llu firings, %llu copies in, %llu copies out, %lld replicas left\n",
         (unsigned long long)fs.firings, (unsigned long long)fs.copies_in,
         (unsigned long long)fs.copies_out, (long long)fs.live);
  if (!fs.firings || !fs.copies_in || fs.live != 0) return -1;
#endif
  return 0;
}

static const maestro_port_t eng_u64_in[] = {{"in", MAESTRO_I64, 0}};
static const maestro_port_t eng_u64_out[] = {{"out", MAESTRO_I64, 0}};

/* A message holding one uint64_t. */
static inline maestro_buf_t *eng_msg(maestro_runtime_t *rt, uint64_t v) {
  maestro_buf_t *b = NULL;
  if (maestro_buf_from(rt, &v, sizeof v, &b) != MAESTRO_OK) return NULL;
  return b;
}

static inline uint64_t eng_val(maestro_buf_t *b) {
  uint64_t v = UINT64_MAX;
  const void *p = maestro_buf_cdata(b);
  if (p && maestro_buf_size(b) >= sizeof v) memcpy(&v, p, sizeof v);
  return v;
}

/* Forwards its input message unchanged (the same buffer: no copy). */
static inline int eng_pass(maestro_fire_t *f) {
  return maestro_fire_out(f, 0, maestro_buf_retain(maestro_fire_in(f, 0)));
}

/* Takes a message and does nothing with it (for agents without outputs). */
static inline int eng_sink(maestro_fire_t *f) {
  (void)f;
  return MAESTRO_OK;
}

/* Sends value + 1 in a new buffer. */
static inline int eng_inc(maestro_fire_t *f) {
  maestro_buf_t *out;
  int rc = maestro_fire_alloc(f, sizeof(uint64_t), &out);
  if (rc != MAESTRO_OK) return rc;
  uint64_t v = eng_val(maestro_fire_in(f, 0)) + 1;
  memcpy(maestro_buf_data(out), &v, sizeof v);
  return maestro_fire_out(f, 0, out);
}

/* A source sending 0, 1, ..., *(uint64_t *)state - 1, then MAESTRO_DONE. */
static inline int eng_count_source(maestro_fire_t *f) {
  uint64_t n = *(const uint64_t *)maestro_fire_state(f);
  uint64_t seq = maestro_fire_seq(f);
  if (seq >= n) return MAESTRO_DONE;
  maestro_buf_t *out;
  int rc = maestro_fire_alloc(f, sizeof seq, &out);
  if (rc != MAESTRO_OK) return rc;
  memcpy(maestro_buf_data(out), &seq, sizeof seq);
  return maestro_fire_out(f, 0, out);
}

/* Adds a one-in one-out u64 agent. */
static inline maestro_agent_t *eng_add(maestro_graph_t *g, const char *name, maestro_cpu_fn fn,
                                       void *state) {
  maestro_agent_t *a = NULL;
  int rc = maestro_agent_add(g,
                             &(maestro_agent_desc_t){.name = name,
                                                     .in = eng_u64_in,
                                                     .n_in = 1,
                                                     .out = eng_u64_out,
                                                     .n_out = 1,
                                                     .cpu = fn,
                                                     .state = state},
                             &a);
  CU_ASSERT_EQUAL(rc, MAESTRO_OK);
  return a;
}

/* Adds a source (no input) sending through "out". */
static inline maestro_agent_t *eng_add_source(maestro_graph_t *g, const char *name,
                                              maestro_cpu_fn fn, void *state) {
  maestro_agent_t *a = NULL;
  int rc = maestro_agent_add(
      g,
      &(maestro_agent_desc_t){
          .name = name, .out = eng_u64_out, .n_out = 1, .cpu = fn, .state = state},
      &a);
  CU_ASSERT_EQUAL(rc, MAESTRO_OK);
  return a;
}

/* Pops every message of `out` into vals (up to cap) until ECLOSED; returns
 * how many, or -1 when a pop fails otherwise (e.g. 10 s without a message). */
static inline long eng_drain(maestro_output_t *out, uint64_t *vals, long cap) {
  long n = 0;
  for (;;) {
    maestro_buf_t *b = NULL;
    int rc = maestro_output_pop(out, &b, 10000);
    if (rc == MAESTRO_ECLOSED) return n;
    if (rc != MAESTRO_OK) return -1;
    if (vals && n < cap) vals[n] = eng_val(b);
    n++;
    maestro_buf_release(b);
  }
}

/* Pushes 0..n-1 then closes; returns the first failing status or MAESTRO_OK. */
static inline int eng_feed(maestro_runtime_t *rt, maestro_input_t *in, uint64_t n) {
  for (uint64_t i = 0; i < n; i++) {
    int rc = maestro_input_push(in, eng_msg(rt, i));
    if (rc != MAESTRO_OK) return rc;
  }
  return maestro_input_close(in);
}

/* A host thread feeding offset+0 .. offset+n-1 into `in`, then closing it,
 * so that the test thread can drain outputs meanwhile. */
struct eng_feeder {
  pthread_t th;
  maestro_runtime_t *rt;
  maestro_input_t *in;
  uint64_t n, offset;
  int rc; /* first failing push status, or MAESTRO_OK */
};

static inline void *eng_feeder_main(void *arg) {
  struct eng_feeder *fd = arg;
  fd->rc = MAESTRO_OK;
  for (uint64_t i = 0; i < fd->n; i++) {
    int rc = maestro_input_push(fd->in, eng_msg(fd->rt, fd->offset + i));
    if (rc != MAESTRO_OK) {
      fd->rc = rc;
      break;
    }
  }
  maestro_input_close(fd->in);
  return NULL;
}

static inline void eng_feeder_start(struct eng_feeder *fd, maestro_runtime_t *rt,
                                    maestro_input_t *in, uint64_t n, uint64_t offset) {
  fd->rt = rt;
  fd->in = in;
  fd->n = n;
  fd->offset = offset;
  fd->rc = MAESTRO_OK;
  pthread_create(&fd->th, NULL, eng_feeder_main, fd);
}

static inline int eng_feeder_join(struct eng_feeder *fd) {
  pthread_join(fd->th, NULL);
  return fd->rc;
}

/* Does the last error mention `what`? */
static inline int eng_err_names(const char *what) {
  const char *e = maestro_last_error();
  return e && strstr(e, what) != NULL;
}

static inline void eng_sleep_us(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  nanosleep(&ts, NULL);
}

#endif
