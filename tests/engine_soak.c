/* Soak (issue 13): random graphs under random injected faults (buffer
 * allocations and firings fail at random; base/fault.h) and random
 * supervisors (SKIP, RETRY, STOP). The invariant, per message copy: every
 * copy a successful firing sent is taken by exactly one successful firing or
 * dead-lettered once, never lost nor duplicated; no graph hangs (a watchdog
 * aborts with the seed); memory stays flat (the pool's fresh allocations
 * stop growing once warm, nothing over-released). One graph in ten is
 * destroyed while it runs (no check then but no hang, crash or leak).
 *
 *   MAESTRO_SOAK_SEED=n     replay a run (the seed is printed)
 *   MAESTRO_SOAK_SECONDS=n  how long to run (default 3; tools/soak.sh runs minutes)
 *
 * Builds without fault injection (Release) run the same graphs without
 * injected faults. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "base/runtime.h"
#include "chan/chan.h"
#include "core/graph.h"
#include "engine_util.h"
#include "mem/pool.h"

enum { MAX_NODES = 10, MAX_PREDS = 3, MAX_MSGS = 300, ROUND_LIMIT_S = 60 };

static uint64_t rng_state;
static uint32_t rnd(uint32_t n) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 2685821657736338717ull) >> 33) % (n ? n : 1);
}

struct soak_graph;
struct node {
  struct soak_graph *sg;
  int is_source, is_sink, copy; /* copy: forwards a new buffer (an allocation) */
  int npred, pred[MAX_PREDS], outdeg;
  uint32_t fail_mod; /* its own failures: 1 in fail_mod firings, 0 = none */
  uint64_t count;    /* sources: ids first .. first + count - 1 */
  uint64_t first;
  maestro_fail_t policy;
  atomic_ulong calls;
  char name[16];
};

struct soak_graph {
  int n;
  uint64_t nids;
  struct node nodes[MAX_NODES];
  atomic_int *sent; /* per id: copies that successful firings sent */
  atomic_int *took; /* per id: successful non-source firings */
  int *dead;        /* per id: dead letters */
};

static int soak_fails(struct node *nd) {
  return nd->fail_mod && atomic_fetch_add(&nd->calls, 1) % nd->fail_mod == nd->fail_mod - 1;
}

static int soak_source(maestro_fire_t *f) {
  struct node *nd = maestro_fire_state(f);
  uint64_t seq = maestro_fire_seq(f);
  if (seq >= nd->count) return MAESTRO_DONE;
  if (soak_fails(nd)) return MAESTRO_EINVAL;
  uint64_t id = nd->first + seq;
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, sizeof id, &b);
  if (rc != MAESTRO_OK) return rc;
  memcpy(maestro_buf_data(b), &id, sizeof id);
  if ((rc = maestro_fire_out(f, 0, b)) != MAESTRO_OK) return rc;
  atomic_fetch_add(&nd->sg->sent[id], nd->outdeg);
  return MAESTRO_OK;
}

static int soak_node(maestro_fire_t *f) {
  struct node *nd = maestro_fire_state(f);
  maestro_buf_t *in = maestro_fire_in(f, 0);
  uint64_t id = eng_val(in);
  if (id >= nd->sg->nids) return MAESTRO_OK; /* reported by the check (took stays short) */
  if (soak_fails(nd)) return MAESTRO_EINVAL;
  if (!nd->is_sink) {
    maestro_buf_t *b = maestro_buf_retain(in);
    if (nd->copy) {
      maestro_buf_release(b);
      int rc = maestro_fire_alloc(f, sizeof id, &b);
      if (rc != MAESTRO_OK) return rc;
      memcpy(maestro_buf_data(b), &id, sizeof id);
    }
    int rc = maestro_fire_out(f, 0, b);
    if (rc != MAESTRO_OK) return rc;
    atomic_fetch_add(&nd->sg->sent[id], nd->outdeg);
  }
  atomic_fetch_add(&nd->sg->took[id], 1);
  return MAESTRO_OK;
}

static void random_shape(struct soak_graph *sg) {
  sg->n = 2 + (int)rnd(MAX_NODES - 1);
  for (int i = 0; i < sg->n; i++) {
    struct node *nd = &sg->nodes[i];
    nd->sg = sg;
    snprintf(nd->name, sizeof nd->name, "s%d", i);
    nd->is_source = i == 0 || (i < sg->n - 1 && rnd(5) == 0);
    uint32_t p = rnd(10);
    nd->policy = p < 6 ? MAESTRO_FAIL_SKIP : p < 9 ? MAESTRO_FAIL_RETRY : MAESTRO_FAIL_STOP;
    nd->fail_mod = rnd(3) == 0 ? 5 + rnd(60) : 0;
    if (nd->is_source) {
      nd->first = sg->nids;
      nd->count = 1 + rnd(MAX_MSGS);
      sg->nids += nd->count;
      continue;
    }
    nd->copy = rnd(2);
    int want = 1 + (int)rnd(MAX_PREDS);
    if (want > i) want = i;
    while (nd->npred < want) {
      int q = (int)rnd((uint32_t)i), dup = 0;
      for (int k = 0; k < nd->npred; k++)
        dup |= nd->pred[k] == q;
      if (!dup) nd->pred[nd->npred++] = q;
    }
  }
  for (int i = 0; i < sg->n; i++)
    for (int k = 0; k < sg->nodes[i].npred; k++)
      sg->nodes[sg->nodes[i].pred[k]].outdeg++;
  for (int i = 0; i < sg->n; i++) { /* a source nobody reads feeds the last agent */
    struct node *last = &sg->nodes[sg->n - 1];
    if (sg->nodes[i].is_source && !sg->nodes[i].outdeg && last->npred < MAX_PREDS) {
      last->pred[last->npred++] = i;
      sg->nodes[i].outdeg++;
    }
  }
  for (int i = 0; i < sg->n; i++)
    sg->nodes[i].is_sink = !sg->nodes[i].is_source && !sg->nodes[i].outdeg;
}

/* The watchdog: a round running past its deadline is a hang. */
static atomic_llong deadline_s;
static char hang_msg[256];
static void *watchdog(void *arg) {
  (void)arg;
  for (;;) {
    sleep(1);
    long long d = atomic_load(&deadline_s);
    if (d < 0) return NULL;
    if (d && time(NULL) > d) {
      fprintf(stderr, "\n    soak: HANG: %s did not end within %d s\n", hang_msg, ROUND_LIMIT_S);
      abort();
    }
  }
}

/* A hang's evidence: every agent's shape and runner state, every channel's
 * indices (published and private) and flags, as the engine left them. */
static void dump_hang(struct soak_graph *sg, maestro_graph_t *g, maestro_agent_t *const *ag) {
  static const char *const pol[] = {"stop", "retry", "skip", "?"};
  printf("    graph: stopped %d, active %d, finished %d of %d\n", atomic_load(&g->stopped),
         atomic_load(&g->active), g->nfinished, g->nagents);
  for (int i = 0; i < sg->n; i++) {
    struct node *nd = &sg->nodes[i];
    struct maestro_agent *a = ag[i];
    maestro_agent_stats_t st = {0};
    maestro_agent_stats(a, &st);
    printf("    %s: %s%s policy %s fail 1/%u count %llu outdeg %d; phase %d blocked %d failed %d "
           "ended %d seq %llu task %d; fires %llu failures %llu retries %llu dead %llu in %llu "
           "out %llu\n",
           nd->name,
           nd->is_source ? "source"
           : nd->is_sink ? "sink"
                         : "node",
           a->flags & MAESTRO_STATELESS ? " stateless" : "",
           (unsigned)nd->policy < 4 ? pol[nd->policy] : "?", nd->fail_mod,
           (unsigned long long)nd->count, nd->outdeg, a->phase, a->blocked, a->failed, a->ended,
           (unsigned long long)a->seq, atomic_load(&a->task.state), (unsigned long long)st.fires,
           (unsigned long long)st.failures, (unsigned long long)st.retries,
           (unsigned long long)st.dead_letters, (unsigned long long)st.msgs_in,
           (unsigned long long)st.msgs_out);
  }
  for (struct chan *c = g->chans; c; c = c->next)
    printf("    chan %s -> %s: cap %d closed %d tail %zu tail_w %zu head %zu head_r %zu pend %zu "
           "pushed %llu popped %llu prod_waiting %d mp %d\n",
           c->prod ? c->prod->name : "host", c->cons ? c->cons->name : "host", c->capacity,
           atomic_load(&c->closed), atomic_load(&c->ring.tail), c->ring.tail_w,
           atomic_load(&c->ring.head), c->ring.head_r, c->pend_n, (unsigned long long)c->pushed,
           (unsigned long long)c->popped, atomic_load(&c->prod_waiting), c->ring.mp_p);
}

static int run_round(maestro_runtime_t *rt, uint64_t seed, long round, char *why, size_t len) {
  struct soak_graph *sg = calloc(1, sizeof *sg);
  random_shape(sg);
  sg->sent = calloc(sg->nids, sizeof *sg->sent);
  sg->took = calloc(sg->nids, sizeof *sg->took);
  sg->dead = calloc(sg->nids, sizeof *sg->dead);
  int failed = 0;
#define SOAK_FAIL(...)                                                                             \
  do {                                                                                             \
    if (!failed) snprintf(why, len, __VA_ARGS__);                                                  \
    failed = 1;                                                                                    \
  } while (0)
  snprintf(hang_msg, sizeof hang_msg, "round %ld (MAESTRO_SOAK_SEED=%llu)", round,
           (unsigned long long)seed);
  atomic_store(&deadline_s, (long long)time(NULL) + ROUND_LIMIT_S);
  maestro_graph_t *g = NULL;
  maestro_agent_t *ag[MAX_NODES] = {0};
  maestro_output_t *dl = NULL;
  if (maestro_graph_create(rt, "soak", &g) != MAESTRO_OK) {
    SOAK_FAIL("graph_create: %s", maestro_last_error());
    goto out;
  }
  for (int i = 0; i < sg->n; i++) {
    struct node *nd = &sg->nodes[i];
    maestro_agent_desc_t d = {
        .name = nd->name,
        .in = nd->is_source ? NULL : eng_u64_in,
        .n_in = nd->is_source ? 0 : 1,
        .out = nd->is_sink ? NULL : eng_u64_out,
        .n_out = nd->is_sink ? 0 : 1,
        .cpu = nd->is_source ? soak_source : soak_node,
        .state = nd,
        .flags = !nd->is_source && rnd(4) == 0 ? MAESTRO_STATELESS : 0,
        .supervisor = {.on_fail = nd->policy, .max_retries = 1 + (int)rnd(3)},
    };
    if (maestro_agent_add(g, &d, &ag[i]) != MAESTRO_OK) {
      SOAK_FAIL("agent_add %s: %s", nd->name, maestro_last_error());
      goto out;
    }
  }
  for (int i = 0; i < sg->n; i++)
    for (int k = 0; k < sg->nodes[i].npred; k++)
      if (maestro_connect(g, ag[sg->nodes[i].pred[k]], "out", ag[i], "in", (int)rnd(9)) !=
          MAESTRO_OK) {
        SOAK_FAIL("connect: %s", maestro_last_error());
        goto out;
      }
  if (maestro_graph_dead_letters(g, &dl) != MAESTRO_OK || maestro_graph_start(g) != MAESTRO_OK) {
    SOAK_FAIL("start: %s", maestro_last_error());
    goto out;
  }
  if (rnd(10) == 0) { /* destroyed while it runs: no hang, no leak, no crash */
    eng_sleep_us((long)rnd(2000));
    goto out;
  }
  for (;;) {
    maestro_buf_t *b;
    maestro_letter_t w = {0};
    int rc = maestro_output_pop_letter(dl, &b, &w, 30000);
    if (rc == MAESTRO_ECLOSED) break;
    if (rc != MAESTRO_OK) {
      SOAK_FAIL("dead letters never ended (%s): a hang", maestro_strerror(rc));
      dump_hang(sg, g, ag);
      goto out;
    }
    uint64_t id = eng_val(b);
    maestro_buf_release(b);
    if (id >= sg->nids)
      SOAK_FAIL("a dead letter with unknown id %llu", (unsigned long long)id);
    else
      sg->dead[id]++;
  }
  int wrc = maestro_graph_wait(g);
  if (wrc != MAESTRO_OK && wrc != MAESTRO_EAGENT)
    SOAK_FAIL("graph_wait: %s (%s)", maestro_strerror(wrc), maestro_last_error());
  for (uint64_t id = 0; id < sg->nids; id++) {
    int sent = atomic_load(&sg->sent[id]), took = atomic_load(&sg->took[id]);
    if (sent != took + sg->dead[id])
      SOAK_FAIL("id %llu: %d copies sent, %d taken by successful firings + %d dead letters (%s)",
                (unsigned long long)id, sent, took, sg->dead[id],
                sent > took + sg->dead[id] ? "lost" : "duplicated");
  }
out:
  atomic_store(&deadline_s, 0);
  maestro_graph_destroy(g);
  free(sg->sent);
  free(sg->took);
  free(sg->dead);
  free(sg);
  return failed ? -1 : 0;
#undef SOAK_FAIL
}

enum { PHASE_ROUNDS = 400 };

/* One phase: a runtime with random fault rates and worker count, up to
 * PHASE_ROUNDS graphs or until `end`. Returns the failed rounds. */
static long run_phase(uint64_t seed, long *round, time_t end, long *rounds_out) {
  static const char *const alloc[] = {"0", "0.001", "0.01", "0.05", "0.2"};
  static const char *const fire[] = {"0", "0.005", "0.02", "0.1", "0.3"};
  char spec[128] = "";
#ifdef MAESTRO_FAULT_INJECTION
  snprintf(spec, sizeof spec, "alloc=%s,fire=%s,seed=%llu", alloc[rnd(5)], fire[rnd(5)],
           (unsigned long long)(seed + (uint64_t)*round));
#else
  (void)alloc;
  (void)fire;
#endif
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "none";
  cfg.stats = 0;
  cfg.ncpu = (int)rnd(3); /* 0: one per core */
  cfg.faults = spec;
  maestro_runtime_t *rt;
  if (maestro_runtime_create(&cfg, &rt) != MAESTRO_OK) {
    printf("    runtime_create '%s': %s\n", spec, maestro_last_error());
    return 1;
  }
  long bad = 0, n = 0;
  unsigned long long warm_fresh = 0;
  struct mem_stats ms;
  do {
    char why[512];
    if (run_round(rt, seed, *round, why, sizeof why)) {
      if (bad < 10)
        printf("    round %ld, faults '%s', %d workers (MAESTRO_SOAK_SEED=%llu): %s\n", *round,
               spec, cfg.ncpu, (unsigned long long)seed, why);
      bad++;
    }
    ++*round;
    mem_get_stats(rt, &ms);
    if (++n == 20) warm_fresh = ms.fresh;
  } while (n < PHASE_ROUNDS && time(NULL) < end);
  CU_ASSERT_EQUAL(ms.overreleased, 0);
  /* Flat: once warm, the pools serve what the graphs need (the bound covers
   * the workers' caches filling up); a leak grows with every round. */
  if (n == PHASE_ROUNDS && ms.fresh > warm_fresh + 2048) {
    printf("    faults '%s': %llu fresh buffers after 20 rounds, %llu after %ld: memory grows\n",
           spec, warm_fresh, (unsigned long long)ms.fresh, n);
    bad++;
  }
  *rounds_out += n;
  maestro_runtime_destroy(rt);
  return bad;
}

static void test_soak(void) {
  const char *s = getenv("MAESTRO_SOAK_SEED");
  uint64_t seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL);
  const char *t = getenv("MAESTRO_SOAK_SECONDS");
  long seconds = t ? strtol(t, NULL, 0) : 3;
  rng_state = seed * 0x9e3779b97f4a7c15ull | 1;
  printf("\n    soak: seed %llu, %ld s, faults %s (MAESTRO_SOAK_SEED=%llu replays)\n",
         (unsigned long long)seed, seconds,
#ifdef MAESTRO_FAULT_INJECTION
         "injected",
#else
         "off (not a Debug build)",
#endif
         (unsigned long long)seed);
  fflush(stdout);
  pthread_t wd;
  pthread_create(&wd, NULL, watchdog, NULL);
  time_t end = time(NULL) + seconds;
  long round = 0, rounds = 0, bad = 0, phases = 0;
  do {
    bad += run_phase(seed, &round, end, &rounds);
    phases++;
  } while (time(NULL) < end);
  atomic_store(&deadline_s, -1);
  pthread_join(wd, NULL);
  printf("    %ld rounds in %ld runtimes, %ld failed\n", rounds, phases, bad);
  CU_ASSERT_EQUAL(bad, 0);
}

void register_suites(void) {
  ADD_SUITE("engine_soak", NULL, NULL, {"random graphs, random faults", test_soak});
}
