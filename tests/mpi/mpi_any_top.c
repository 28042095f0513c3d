/* maestro-top on a MAESTRO_RANK_ANY agent across MPI ranks (issue 11), run
 * by tests/mpi/any_top.sh under `mpiexec -n 2` and `-n 3`: rank 0's stats
 * segment holds the firings each rank answered, equal to
 * maestro_agent_rank_fires; every other rank's holds the firings it served,
 * equal to what rank 0 counts for it (and not its .fires: the firings that
 * failed once there and were retried count there twice). maestro-top
 * (MAESTRO_TOP, run on this process) shows them in its text and its JSON,
 * written to ANY_TOP_DIR/rN.jsonl for the script to merge. */
#include <fcntl.h>
#include <mpi.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "maestro.h"
#include "mpi_test.h"
#include "prof/prof.h"
#include "prof/segment_reader.h"
#include "testmain.h"

extern char **environ;

enum { N_MSGS = 300 }; /* as mpi_any's "expensive": enough to reach every rank */

static maestro_runtime_t *rt;
static int me, nr;

static int suite_init(void) {
  maestro_config_t cfg;
  mpi_test_config(&cfg);
  cfg.stats = 1;
  if (mpi_test_start(&cfg, &rt, &me, &nr)) return -1;
  return 0;
}

static int suite_fini(void) {
  maestro_runtime_destroy(rt);
  return 0;
}

/* 1 ms of work (worth sending to every rank), output = input. On a rank
 * other than 0, every 5th call fails (its supervisor retries it there). */
static atomic_int calls;

static int work(maestro_fire_t *f) {
  if (me != 0 && atomic_fetch_add(&calls, 1) % 5 == 4) return MAESTRO_EINVAL;
  mpi_test_spin(1000000);
  return maestro_fire_out(f, 0, maestro_buf_retain(maestro_fire_in(f, 0)));
}

static void *push_all(void *arg) {
  maestro_input_t *in = arg;
  for (uint64_t i = 0; i < N_MSGS; i++) {
    maestro_buf_t *b;
    if (maestro_buf_from(rt, &i, sizeof i, &b) != MAESTRO_OK) break;
    if (maestro_input_push(in, b) != MAESTRO_OK) break;
  }
  maestro_input_close(in);
  return NULL;
}

/* Runs `cmd` (argv) with its stdout in `out`; returns its exit status. */
static int run_to(char *const argv[], const char *out) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int st;
  if (waitpid(pid, &st, 0) != pid) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The whole of file `path` (NUL-terminated), or NULL. */
static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  char *buf = calloc(1, 1 << 20);
  size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
  (void)n;
  fclose(f);
  return buf;
}

/* This rank's record of agent `name` in its own stats segment. */
static int read_record(const char *name, struct prof_agent_rec *out) {
  struct prof_reader *r;
  char err[256];
  if (prof_reader_open_name(prof_stats_name(rt), &r, err, sizeof err) != PROF_READ_OK) {
    fprintf(stderr, "rank %d: %s\n", me, err);
    return 0;
  }
  struct prof_snapshot snap;
  int found = 0;
  if (prof_reader_snapshot(r, &snap, err, sizeof err) == PROF_READ_OK) {
    for (int i = 0; i < snap.n_agents && !found; i++)
      if (!strcmp(snap.agents[i].name, name) && !strcmp(snap.agents[i].graph, "anytop")) {
        *out = snap.agents[i];
        found = 1;
      }
    prof_snapshot_free(&snap);
  }
  prof_reader_close(r);
  return found;
}

static void test_segment_and_top(void) {
  const char *top = getenv("MAESTRO_TOP"), *dir = getenv("ANY_TOP_DIR");
  CU_ASSERT_PTR_NOT_NULL_FATAL(top);
  CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
  maestro_graph_t *g;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_create(rt, "anytop", &g), MAESTRO_OK);
  static const maestro_port_t in_p[] = {{"in", MAESTRO_BYTES, 0}};
  static const maestro_port_t out_p[] = {{"out", MAESTRO_BYTES, 0}};
  maestro_agent_desc_t d = {
      .name = "work",
      .in = in_p,
      .n_in = 1,
      .out = out_p,
      .n_out = 1,
      .cpu = work,
      .flags = MAESTRO_STATELESS,
      .supervisor = {.on_fail = MAESTRO_FAIL_RETRY, .max_retries = 2},
      .affinity = {.pref = MAESTRO_ON_CPU, .index = -1, .rank = MAESTRO_RANK_ANY}};
  maestro_agent_t *a;
  CU_ASSERT_EQUAL_FATAL(maestro_agent_add(g, &d, &a), MAESTRO_OK);
  maestro_input_t *in;
  maestro_output_t *out;
  CU_ASSERT_EQUAL_FATAL(maestro_graph_input(g, a, "in", &in), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_output(g, a, "out", &out), MAESTRO_OK);
  CU_ASSERT_EQUAL_FATAL(maestro_graph_start(g), MAESTRO_OK);
  if (me == 0) {
    pthread_t t; /* pushes while this thread pops: the channels are bounded */
    pthread_create(&t, NULL, push_all, in);
    maestro_buf_t *m;
    int got = 0;
    while (maestro_output_pop(out, &m, -1) == MAESTRO_OK) {
      uint64_t v;
      memcpy(&v, maestro_buf_cdata(m), sizeof v);
      CU_ASSERT_EQUAL(v, (uint64_t)got);
      got++;
      maestro_buf_release(m);
    }
    pthread_join(t, NULL);
    CU_ASSERT_EQUAL(got, N_MSGS);
  }
  /* Its last counters are published here, once the ranks agree it ended. */
  CU_ASSERT_EQUAL_FATAL(maestro_graph_wait(g), MAESTRO_OK);

  /* What rank 0 says each rank answered, on every rank. */
  unsigned long long per[64] = {0};
  if (me == 0)
    for (int r = 0; r < nr; r++) {
      uint64_t n = 0;
      CU_ASSERT_EQUAL(maestro_agent_rank_fires(a, r, &n), MAESTRO_OK);
      per[r] = n;
    }
  MPI_Bcast(per, nr, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
  unsigned long long sum = 0;
  for (int r = 0; r < nr; r++)
    sum += per[r];
  CU_ASSERT_EQUAL(sum, N_MSGS);
  maestro_agent_stats_t s;
  CU_ASSERT_EQUAL(maestro_agent_stats(a, &s), MAESTRO_OK);

  /* The segment. */
  struct prof_agent_rec rec = {0};
  CU_ASSERT_FATAL(read_record("work", &rec));
  if (me == 0) {
    CU_ASSERT_EQUAL(rec.flags &
                        (PROF_AGENT_F_ANY_OWNER | PROF_AGENT_F_ANY_SERVED | PROF_AGENT_F_ANY_FINAL),
                    PROF_AGENT_F_ANY_OWNER | PROF_AGENT_F_ANY_FINAL);
    CU_ASSERT_EQUAL(rec.state, PROF_AGENT_FINISHED);
    CU_ASSERT_EQUAL(rec.nranks, nr);
    for (int r = 0; r < PROF_RANK_FIRES; r++)
      CU_ASSERT_EQUAL(rec.rank_fires[r], r < nr ? per[r] : 0);
    CU_ASSERT_EQUAL(rec.rank_fires[0], s.fires);
    CU_ASSERT_EQUAL(rec.rank_fires_rest, 0);
    CU_ASSERT_EQUAL(rec.served_for, -1);
    CU_ASSERT_EQUAL(rec.served, 0);
    CU_ASSERT_EQUAL(s.served, 0);
  } else {
    CU_ASSERT_EQUAL(rec.flags &
                        (PROF_AGENT_F_ANY_OWNER | PROF_AGENT_F_ANY_SERVED | PROF_AGENT_F_ANY_FINAL),
                    PROF_AGENT_F_ANY_SERVED | PROF_AGENT_F_ANY_FINAL);
    CU_ASSERT_EQUAL(rec.state, PROF_AGENT_REMOTE);
    CU_ASSERT_EQUAL(rec.served_for, 0);
    CU_ASSERT_EQUAL(rec.served, per[me]);
    CU_ASSERT_EQUAL(s.served, per[me]);
    CU_ASSERT_TRUE(rec.served > 0); /* 1 ms firings reach every rank */
    /* .fires counts each attempt: the served firings and the failed ones. */
    CU_ASSERT_EQUAL(rec.fires, s.fires);
    CU_ASSERT_EQUAL(s.fires, s.served + s.failures);
    CU_ASSERT_EQUAL(s.failures, s.retries);
    CU_ASSERT_EQUAL(s.failures, (uint64_t)atomic_load(&calls) / 5);
    CU_ASSERT_EQUAL(rec.nranks, 0);
    CU_ASSERT_EQUAL(rec.rank_fires[me], 0);
  }
  fprintf(stderr, "  rank %d: fires %llu served %llu failures %llu; rank 0 counts", me,
          (unsigned long long)s.fires, (unsigned long long)s.served,
          (unsigned long long)s.failures);
  for (int r = 0; r < nr; r++)
    fprintf(stderr, " %llu", per[r]);
  fprintf(stderr, "\n");

  /* maestro-top on this process: the text (the screen's lines) and JSON. */
  char pid[16], path[512], want[256];
  snprintf(pid, sizeof pid, "%d", (int)getpid());
  char *text_argv[] = {(char *)top, "-b", "-n", "1", "-d", "0.05", "-p", pid, NULL};
  char *json_argv[] = {(char *)top, "--json", "-n", "1", "-d", "0.05", "-p", pid, NULL};
  snprintf(path, sizeof path, "%s/r%d.txt", dir, me);
  CU_ASSERT_EQUAL(run_to(text_argv, path), 0);
  char *text = slurp(path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(text);
  if (me == 0)
    snprintf(want, sizeof want, "\n  ranks: r0 %llu (", per[0]);
  else
    snprintf(want, sizeof want, "\n  served for rank 0: %llu\n", per[me]);
  if (!strstr(text, want)) fprintf(stderr, "rank %d: no '%s' in:\n%s\n", me, want + 1, text);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, want));
  if (me == 0 && nr > 1) {
    snprintf(want, sizeof want, ", r%d %llu (", nr - 1, per[nr - 1]);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, want));
  }
  free(text);
  snprintf(path, sizeof path, "%s/r%d.jsonl", dir, me);
  CU_ASSERT_EQUAL(run_to(json_argv, path), 0);
  char *json = slurp(path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(json);
  if (me == 0) {
    int o = snprintf(want, sizeof want, "\"nranks\":%d,\"rank_fires\":[", nr);
    for (int r = 0; r < nr; r++)
      o += snprintf(want + o, sizeof want - (size_t)o, "%s%llu", r ? "," : "", per[r]);
    snprintf(want + o, sizeof want - (size_t)o, "],\"counts_final\":true}");
  } else {
    snprintf(want, sizeof want, "\"served_for\":0,\"served\":%llu,\"counts_final\":true}", per[me]);
  }
  if (!strstr(json, want)) fprintf(stderr, "rank %d: no '%s' in:\n%s\n", me, want, json);
  CU_ASSERT_PTR_NOT_NULL(strstr(json, want));
  free(json);
  MPI_Barrier(MPI_COMM_WORLD); /* every rank's view taken before any graph goes */
  maestro_graph_destroy(g);
}

void register_suites(void) {
  ADD_SUITE("mpi_any_top", suite_init, suite_fini,
            {"RANK_ANY counts in the segment and maestro-top", test_segment_and_top});
}
