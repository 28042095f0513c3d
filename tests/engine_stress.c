/* Randomised stress: hundreds of random DAGs (sources, fan-out, fan-in
 * merges, random capacities, stateless agents, agents failing on random
 * messages under SKIP, sometimes one under STOP). Every message copy must be
 * delivered exactly once or dead-lettered, never lost nor duplicated.
 *
 *   MAESTRO_STRESS_SEED=n    replay a run (the seed is printed)
 *   MAESTRO_STRESS_GRAPHS=n  how many graphs (default 1000)
 *   MAESTRO_STRESS_ONLY=i    run graph i of the seed, MAESTRO_STRESS_GRAPHS times
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine_util.h"

enum { MAX_NODES = 16, MAX_PREDS = 3, MAX_MSGS = 400 };

static _Thread_local uint64_t rng_state; /* graphs may be built on two threads */
static uint32_t rnd(uint32_t n) {        /* xorshift64*, uniform enough for shapes */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 2685821657736338717ull) >> 33) % (n ? n : 1);
}

static uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return x;
}

struct stress_graph;

struct node {
  struct stress_graph *sg;
  int idx;
  int is_source, is_sink;
  int npred, pred[MAX_NODES];
  int outdeg;            /* channels leaving the output port */
  uint64_t first, count; /* sources: ids first .. first + count - 1 */
  int flaky;             /* fails when mix(id ^ salt) % mod == 0 */
  uint32_t mod;
  uint64_t salt;
  maestro_fail_t policy;
  int transient; /* RETRY: fails only the first attempt on each matching id */
  int max_retries;
  atomic_uchar *attempts; /* transient: firings per id */
  atomic_long retried;    /* transient: first attempts that failed */
  int stateless;
  int jitter; /* sleeps a little on some messages: uneven speeds, full channels */
  atomic_long taken, fails, sent_try, sent_ok;
  char name[16];
};

struct stress_graph {
  int n;
  struct node nodes[MAX_NODES];
  uint64_t nids;
  atomic_int *arrived; /* successful sink firings per id, all sinks together */
  int *dead_fail;      /* dead letters with a failure status, per id */
  int *dead_closed;    /* dead letters "not taken", per id */
};

/* Totals over the run, printed so that a run visibly did something. */
static atomic_long tot_ids, tot_arrived, tot_dead_fail, tot_dead_closed, tot_stopped, tot_agents,
    tot_cancelled, tot_retried;

static int node_hits(const struct node *nd, uint64_t id) {
  return nd->flaky && mix(id ^ nd->salt) % nd->mod == 0;
}

/* Fails for good (SKIP or STOP); a transient failure is retried and passes. */
static int node_fails(const struct node *nd, uint64_t id) {
  return !nd->transient && node_hits(nd, id);
}

static int stress_source(maestro_fire_t *f) {
  struct node *nd = maestro_fire_state(f);
  uint64_t seq = maestro_fire_seq(f);
  if (seq >= nd->count) return MAESTRO_DONE;
  uint64_t id = nd->first + seq;
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, sizeof id, &b);
  if (rc != MAESTRO_OK) return rc;
  memcpy(maestro_buf_data(b), &id, sizeof id);
  atomic_fetch_add(&nd->sent_try, nd->outdeg);
  if (maestro_fire_out(f, 0, b) == MAESTRO_OK) atomic_fetch_add(&nd->sent_ok, nd->outdeg);
  return MAESTRO_OK;
}

static int stress_node(maestro_fire_t *f) {
  struct node *nd = maestro_fire_state(f);
  maestro_buf_t *in = maestro_fire_in(f, 0);
  uint64_t id = eng_val(in);
  if (nd->transient && node_hits(nd, id) && id < nd->sg->nids &&
      atomic_fetch_add(&nd->attempts[id], 1) == 0) {
    atomic_fetch_add(&nd->retried, 1);
    return MAESTRO_EINVAL; /* the retry of this very copy will pass */
  }
  atomic_fetch_add(&nd->taken, 1);
  if (nd->jitter && mix(id + (uint64_t)nd->idx) % 16 == 0) eng_sleep_us(nd->jitter);
  if (node_fails(nd, id)) {
    atomic_fetch_add(&nd->fails, 1);
    return MAESTRO_EINVAL;
  }
  if (nd->is_sink) {
    if (id < nd->sg->nids) atomic_fetch_add(&nd->sg->arrived[id], 1);
    return MAESTRO_OK;
  }
  atomic_fetch_add(&nd->sent_try, nd->outdeg);
  if (maestro_fire_out(f, 0, maestro_buf_retain(in)) == MAESTRO_OK)
    atomic_fetch_add(&nd->sent_ok, nd->outdeg);
  return MAESTRO_OK; /* a refused send (after a stop) is not this agent's failure */
}

/* Builds a random shape into sg. Returns the index of the STOP agent or -1. */
static int random_shape(struct stress_graph *sg, int allow_stop) {
  memset(sg, 0, sizeof *sg);
  sg->n = 2 + (int)rnd(MAX_NODES - 1);
  int stopper = -1;
  for (int i = 0; i < sg->n; i++) {
    struct node *nd = &sg->nodes[i];
    nd->sg = sg;
    nd->idx = i;
    snprintf(nd->name, sizeof nd->name, "n%d", i);
    nd->is_source = i == 0 || (i < sg->n - 1 && rnd(6) == 0);
    if (i == sg->n - 1) nd->is_source = 0;
    if (nd->is_source) {
      nd->first = sg->nids;
      nd->count = rnd(MAX_MSGS + 1);
      sg->nids += nd->count;
      continue;
    }
    if (rnd(8) == 0) nd->jitter = 1 + (int)rnd(100);
    int want = 1 + (int)rnd(MAX_PREDS);
    if (want > i) want = i;
    while (nd->npred < want) {
      int p = (int)rnd((uint32_t)i);
      int dup = 0;
      for (int k = 0; k < nd->npred; k++)
        dup |= nd->pred[k] == p;
      if (!dup) nd->pred[nd->npred++] = p;
    }
    if (rnd(3) == 0) {
      nd->flaky = 1;
      nd->mod = 3 + rnd(40);
      nd->salt = ((uint64_t)rnd(1u << 30) << 20) ^ (uint64_t)i;
      nd->policy = MAESTRO_FAIL_SKIP;
      if (allow_stop && stopper < 0 && rnd(2) == 0) {
        nd->policy = MAESTRO_FAIL_STOP;
        stopper = i;
      } else if (rnd(3) == 0) {
        nd->policy = MAESTRO_FAIL_RETRY;
        nd->transient = 1;
        nd->max_retries = 1 + (int)rnd(3);
      }
    }
  }
  for (int i = 0; i < sg->n; i++)
    for (int k = 0; k < sg->nodes[i].npred; k++)
      sg->nodes[sg->nodes[i].pred[k]].outdeg++;
  /* A source nobody reads gets a consumer: a later agent that is not a
   * source (the last one never is). */
  for (int i = 0; i < sg->n; i++) {
    if (!sg->nodes[i].is_source || sg->nodes[i].outdeg) continue;
    int j;
    do
      j = i + 1 + (int)rnd((uint32_t)(sg->n - i - 1));
    while (sg->nodes[j].is_source);
    sg->nodes[j].pred[sg->nodes[j].npred++] = i;
    sg->nodes[i].outdeg++;
  }
  for (int i = 0; i < sg->n; i++)
    sg->nodes[i].is_sink = !sg->nodes[i].is_source && sg->nodes[i].outdeg == 0;
  return stopper;
}

/* Per id: how many copies reach sinks successfully and how many are
 * dead-lettered by failures, had nothing stopped (the DP over the DAG in
 * index order, since every edge goes from a lower to a higher index). */
static void expected_for(const struct stress_graph *sg, uint64_t id, long *arrive, long *dead,
                         int *hits_stopper, int stopper) {
  long in[MAX_NODES] = {0}, out[MAX_NODES] = {0};
  *arrive = *dead = 0;
  for (int i = 0; i < sg->n; i++) {
    const struct node *nd = &sg->nodes[i];
    if (nd->is_source) {
      out[i] = id >= nd->first && id < nd->first + nd->count;
      continue;
    }
    for (int k = 0; k < nd->npred; k++)
      in[i] += out[nd->pred[k]];
    if (in[i] && node_fails(nd, id)) {
      *dead += in[i];
      if (i == stopper) *hits_stopper = 1;
    } else if (nd->is_sink)
      *arrive += in[i];
    else
      out[i] = in[i];
  }
}

/* Prints a graph's shape (MAESTRO_STRESS_SHAPE=1), to turn a failure into
 * a small reproducer. */
static void describe(const struct stress_graph *sg) {
  flockfile(stdout);
  printf("    shape (%d agents):\n", sg->n);
  for (int i = 0; i < sg->n; i++) {
    const struct node *nd = &sg->nodes[i];
    printf("      %s:", nd->name);
    if (nd->is_source)
      printf(" source of %llu msgs", (unsigned long long)nd->count);
    else {
      printf(" from");
      for (int k = 0; k < nd->npred; k++)
        printf(" n%d", nd->pred[k]);
    }
    if (nd->is_sink) printf(", sink");
    if (nd->stateless) printf(", stateless");
    if (nd->flaky)
      printf(", %s 1/%u",
             nd->policy == MAESTRO_FAIL_SKIP   ? "SKIP"
             : nd->policy == MAESTRO_FAIL_STOP ? "STOP"
                                               : "RETRY",
             nd->mod);
    if (nd->jitter) printf(", jitter %d us", nd->jitter);
    printf(" (took %ld, failed %ld)\n", atomic_load(&nd->taken), atomic_load(&nd->fails));
  }
  funlockfile(stdout);
}

/* Builds, runs and checks graph `gi`. With `cancel`, destroys it while it
 * runs instead (no check but: no hang, no crash, no leak, no firing after
 * the destroy returned, since the agents' state is freed right after). */
static int run_one(maestro_runtime_t *rt, uint64_t gi, int allow_stop, int cancel, char *why,
                   size_t whylen) {
  struct stress_graph *sg = calloc(1, sizeof *sg);
  int stopper = random_shape(sg, allow_stop);
  sg->arrived = calloc(sg->nids + 1, sizeof *sg->arrived);
  sg->dead_fail = calloc(sg->nids + 1, sizeof *sg->dead_fail);
  sg->dead_closed = calloc(sg->nids + 1, sizeof *sg->dead_closed);
  for (int i = 0; i < sg->n; i++)
    if (sg->nodes[i].transient)
      sg->nodes[i].attempts = calloc(sg->nids + 1, sizeof *sg->nodes[i].attempts);
  int failed = 0;
#define STRESS_FAIL(...)                                                                           \
  do {                                                                                             \
    if (!failed) snprintf(why, whylen, __VA_ARGS__);                                               \
    failed = 1;                                                                                    \
  } while (0)

  maestro_graph_t *g = NULL;
  char gname[32];
  snprintf(gname, sizeof gname, "stress%llu", (unsigned long long)gi);
  if (maestro_graph_create(rt, gname, &g) != MAESTRO_OK) {
    STRESS_FAIL("graph_create: %s", maestro_last_error());
    goto out;
  }
  maestro_agent_t *ag[MAX_NODES] = {0};
  for (int i = 0; i < sg->n; i++) {
    struct node *nd = &sg->nodes[i];
    nd->stateless = !nd->is_source && rnd(5) == 0;
    maestro_agent_desc_t d = {
        .name = nd->name,
        .in = nd->is_source ? NULL : eng_u64_in,
        .n_in = nd->is_source ? 0 : 1,
        .out = nd->is_sink ? NULL : eng_u64_out,
        .n_out = nd->is_sink ? 0 : 1,
        .cpu = nd->is_source ? stress_source : stress_node,
        .state = nd,
        .flags = nd->stateless ? MAESTRO_STATELESS : 0,
        .supervisor = {.on_fail = nd->policy, .max_retries = nd->max_retries},
    };
    if (maestro_agent_add(g, &d, &ag[i]) != MAESTRO_OK) {
      STRESS_FAIL("agent_add %s: %s", nd->name, maestro_last_error());
      goto out;
    }
  }
  for (int i = 0; i < sg->n; i++)
    for (int k = 0; k < sg->nodes[i].npred; k++) {
      int p = sg->nodes[i].pred[k];
      int cap = rnd(4) == 0 ? 0 : 1 + (int)rnd(8);
      if (maestro_connect(g, ag[p], "out", ag[i], "in", cap) != MAESTRO_OK) {
        STRESS_FAIL("connect n%d->n%d: %s", p, i, maestro_last_error());
        goto out;
      }
    }
  maestro_output_t *dl;
  if (maestro_graph_dead_letters(g, &dl) != MAESTRO_OK || maestro_graph_start(g) != MAESTRO_OK) {
    STRESS_FAIL("start: %s", maestro_last_error());
    goto out;
  }
  if (cancel) {
    eng_sleep_us((long)rnd(3000));
    tot_cancelled++;
    goto out;
  }
  /* Drain the dead letters until they end: that is the graph's end. */
  for (;;) {
    maestro_buf_t *b;
    maestro_letter_t w = {0};
    int rc = maestro_output_pop_letter(dl, &b, &w, 20000);
    if (rc == MAESTRO_ECLOSED) break;
    if (rc != MAESTRO_OK) {
      STRESS_FAIL("dead letters never ended (%s): a hang", maestro_strerror(rc));
      goto out; /* destroy cancels the graph */
    }
    uint64_t id = eng_val(b);
    maestro_buf_release(b);
    if (id >= sg->nids) {
      STRESS_FAIL("dead letter with unknown id %llu", (unsigned long long)id);
      continue;
    }
    if (w.status == MAESTRO_ECLOSED)
      sg->dead_closed[id]++;
    else
      sg->dead_fail[id]++;
  }
  int wrc = maestro_graph_wait(g);

  /* What should have happened. */
  long fails_total = 0, taken = 0, sent_try = 0, sent_ok = 0, dl_closed = 0, dl_fail = 0;
  for (int i = 0; i < sg->n; i++) {
    fails_total += atomic_load(&sg->nodes[i].fails);
    taken += atomic_load(&sg->nodes[i].taken);
    sent_try += atomic_load(&sg->nodes[i].sent_try);
    sent_ok += atomic_load(&sg->nodes[i].sent_ok);
  }
  int hits = 0; /* does any message reach the STOP agent's failure? */
  for (uint64_t id = 0; id < sg->nids; id++) {
    long arrive, dead;
    expected_for(sg, id, &arrive, &dead, &hits, stopper);
  }
  for (uint64_t id = 0; id < sg->nids; id++) {
    long arrive, dead;
    int ignored = 0;
    expected_for(sg, id, &arrive, &dead, &ignored, stopper);
    dl_closed += sg->dead_closed[id];
    dl_fail += sg->dead_fail[id];
    long got = atomic_load(&sg->arrived[id]);
    if (!hits || stopper < 0) {
      /* Nothing stops: exact, per id. */
      if (got != arrive)
        STRESS_FAIL("id %llu reached sinks %ld times, expected %ld", (unsigned long long)id, got,
                    arrive);
      if (sg->dead_fail[id] != dead)
        STRESS_FAIL("id %llu dead-lettered %d times by failures, expected %ld",
                    (unsigned long long)id, sg->dead_fail[id], dead);
    } else if (got > arrive) {
      STRESS_FAIL("id %llu reached sinks %ld times, at most %ld expected (duplicate)",
                  (unsigned long long)id, got, arrive);
    }
  }
  int want_rc = (stopper >= 0 && hits) ? MAESTRO_EAGENT : MAESTRO_OK;
  tot_ids += (long)sg->nids;
  tot_agents += sg->n;
  tot_dead_fail += dl_fail;
  tot_dead_closed += dl_closed;
  tot_stopped += wrc == MAESTRO_EAGENT;
  for (int i = 0; i < sg->n; i++)
    tot_retried += atomic_load(&sg->nodes[i].retried);
  for (uint64_t id = 0; id < sg->nids; id++)
    tot_arrived += atomic_load(&sg->arrived[id]);
  if (wrc != want_rc)
    STRESS_FAIL("graph_wait gave %s, expected %s (%s)", maestro_strerror(wrc),
                maestro_strerror(want_rc), maestro_last_error());
  if (wrc == MAESTRO_EAGENT && !eng_err_names(sg->nodes[stopper].name))
    STRESS_FAIL("the error '%s' does not name the stopping agent %s", maestro_last_error(),
                sg->nodes[stopper].name);
  long retried_total = 0;
  for (int i = 0; i < sg->n; i++)
    retried_total += atomic_load(&sg->nodes[i].retried);
  /* Once the graph stops, a failed firing is not retried any more: a
   * transient failure then becomes a failure dead letter too. */
  if (wrc == MAESTRO_EAGENT ? dl_fail < fails_total || dl_fail > fails_total + retried_total
                            : dl_fail != fails_total)
    STRESS_FAIL("%ld failed firings (%ld to retry) but %ld failure dead letters", fails_total,
                retried_total, dl_fail);
  if (want_rc == MAESTRO_OK) {
    /* Retried failures: counted as retries (and failures) by the stats,
     * never dead-lettered. */
    for (int i = 0; i < sg->n; i++) {
      const struct node *nd = &sg->nodes[i];
      maestro_agent_stats_t st;
      if (maestro_agent_stats(ag[i], &st) != MAESTRO_OK) {
        STRESS_FAIL("agent_stats %s: %s", nd->name, maestro_last_error());
        continue;
      }
      long retried = atomic_load(&nd->retried), fails = atomic_load(&nd->fails);
      if ((long)st.retries != retried || (long)st.failures != fails + retried)
        STRESS_FAIL("%s (%s%s%s): stats say %llu retries, %llu failures; it failed %ld times, "
                    "%ld retried",
                    nd->name, nd->policy == MAESTRO_FAIL_RETRY ? "RETRY" : "SKIP",
                    nd->stateless ? ", stateless" : "", nd->is_sink ? ", sink" : "",
                    (unsigned long long)st.retries, (unsigned long long)st.failures,
                    fails + retried, retried);
    }
    if (dl_closed != 0)
      STRESS_FAIL("%ld 'not taken' dead letters in a graph that ran out", dl_closed);
    if (sent_ok != sent_try || sent_try != taken)
      STRESS_FAIL("sent %ld (ok %ld) copies but %ld taken", sent_try, sent_ok, taken);
  } else if (taken + dl_closed + (dl_fail - fails_total) < sent_ok ||
             taken + dl_closed + (dl_fail - fails_total) > sent_try) {
    /* Every copy accepted by a channel was taken by its consumer or became
     * a "not taken" dead letter, once (a transient failure left unretried by
     * the stop is neither: it is one of the extra failure letters). */
    STRESS_FAIL("after a stop: %ld copies sent (%ld accepted), %ld taken + %ld not-taken letters",
                sent_try, sent_ok, taken, dl_closed);
  }
out:
  if (failed && getenv("MAESTRO_STRESS_SHAPE")) describe(sg);
  maestro_graph_destroy(g);
  free(sg->arrived);
  free(sg->dead_fail);
  free(sg->dead_closed);
  for (int i = 0; i < sg->n; i++)
    free(sg->nodes[i].attempts);
  free(sg);
  return failed ? -1 : 0;
#undef STRESS_FAIL
}

struct job {
  maestro_runtime_t *rt;
  uint64_t seed;
  long gi;
  int failed;
  char why[512];
};

static void *job_main(void *arg) {
  struct job *j = arg;
  /* Each graph's shape depends on the seed and its index only. */
  rng_state = mix(j->seed * 1000003ull + (uint64_t)j->gi) | 1;
  j->why[0] = 0;
  j->failed =
      run_one(j->rt, (uint64_t)j->gi, j->gi % 4 == 3, j->gi % 17 == 16, j->why, sizeof j->why) != 0;
  return NULL;
}

/* Most graphs run one at a time on the suite's runtime; every third pair
 * runs two graphs at once; one graph in ten runs on a one-worker runtime;
 * one in 17 is destroyed while it runs. */
static void test_random_graphs(void) {
  const char *s = getenv("MAESTRO_STRESS_SEED");
  uint64_t seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL);
  const char *c = getenv("MAESTRO_STRESS_GRAPHS");
  long graphs = c ? strtol(c, NULL, 0) : 1000;
  const char *o = getenv("MAESTRO_STRESS_ONLY");
  long only = o ? strtol(o, NULL, 0) : -1;
  printf("\n    stress: seed %llu, %ld graphs (MAESTRO_STRESS_SEED=%llu replays)\n",
         (unsigned long long)seed, graphs, (unsigned long long)seed);
  fflush(stdout);
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "none";
  cfg.stats = 0;
  cfg.ncpu = 1;
  maestro_runtime_t *one;
  CU_ASSERT_FATAL(maestro_runtime_create(&cfg, &one) == MAESTRO_OK);
  long bad = 0;
  for (long gi = 0; gi < graphs; gi += 2) {
    struct job jobs[2];
    int nj = gi + 1 < graphs ? 2 : 1;
    for (int k = 0; k < nj; k++) {
      jobs[k].seed = seed;
      jobs[k].gi = only >= 0 ? only : gi + k;
      jobs[k].rt = jobs[k].gi % 10 == 9 ? one : eng_rt;
    }
    if ((gi / 2) % 3 == 0 && nj == 2) {
      pthread_t th[2];
      for (int k = 0; k < 2; k++)
        pthread_create(&th[k], NULL, job_main, &jobs[k]);
      for (int k = 0; k < 2; k++)
        pthread_join(th[k], NULL);
    } else {
      for (int k = 0; k < nj; k++)
        job_main(&jobs[k]);
    }
    for (int k = 0; k < nj; k++) {
      if (!jobs[k].failed) continue;
      if (bad < 10)
        printf("    graph %ld (seed %llu): %s\n", jobs[k].gi, (unsigned long long)seed,
               jobs[k].why);
      bad++;
    }
  }
  maestro_runtime_destroy(one);
  printf(
      "    %ld agents, %ld messages from sources, %ld copies delivered to sinks, %ld dead\n"
      "    letters from failures, %ld not taken after a stop, %ld graphs stopped, %ld cancelled,\n"
      "    %ld firings retried\n",
      atomic_load(&tot_agents), atomic_load(&tot_ids), atomic_load(&tot_arrived),
      atomic_load(&tot_dead_fail), atomic_load(&tot_dead_closed), atomic_load(&tot_stopped),
      atomic_load(&tot_cancelled), atomic_load(&tot_retried));
  if (bad) printf("    %ld of %ld graphs failed\n", bad, graphs);
  CU_ASSERT_EQUAL(bad, 0);
}

void register_suites(void) {
  ADD_SUITE("engine_stress", eng_suite_init, eng_suite_fini, {"random graphs", test_random_graphs});
}
