/* Performance models (runtime/sched/perf.c): Welford figures, calibration,
 * exploration, persistence (round trip, corrupt files, no directory, two
 * stores on one directory) and architectures kept apart. Files go to a
 * temporary directory made by each test. */
#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/runtime.h"
#include "maestro.h"
#include "sched/perf.h"
#include "sched/place.h"
#include "testmain.h"

#define ARCH_A "opencl:pthread-AMD EPYC 7763 64-Core Processor"
#define ARCH_B "opencl:NVIDIA H200"

static char *tmpdir_new(void) {
  char tmpl[] = "/tmp/maestro-perf-XXXXXX";
  char *d = mkdtemp(tmpl);
  return d ? strdup(d) : NULL;
}

/* Files in `dir` (the "." entries aside); the first one's name in first. */
static int count_files(const char *dir, char *first, size_t len) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      if (n++ == 0 && first) snprintf(first, len, "%s/%s", dir, e->d_name);
    }
  closedir(d);
  return n;
}

static void rm_rf(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  char path[PATH_MAX];
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      unlink(path);
    }
  closedir(d);
  rmdir(dir);
}

static char *slurp(const char *path, size_t *len) {
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = calloc(1, 1 << 16);
  *len = fread(buf, 1, (1 << 16) - 1, f);
  fclose(f);
  return buf;
}

static void spit(const char *path, const char *data, size_t len) {
  FILE *f = fopen(path, "wb");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  CU_ASSERT_EQUAL(fwrite(data, 1, len, f), len);
  fclose(f);
}

static void record_all(struct perf_hist *h, uint64_t bytes, const uint64_t *ns, int n) {
  for (int i = 0; i < n; i++)
    perf_record(h, bytes, ns[i]);
}

/* ---- figures ---- */

static void perf_buckets(void) {
  CU_ASSERT_EQUAL(perf_bucket(0), 0);
  CU_ASSERT_EQUAL(perf_bucket(64), 0);
  CU_ASSERT_EQUAL(perf_bucket(65), 1);
  CU_ASSERT_EQUAL(perf_bucket(128), 1);
  CU_ASSERT_EQUAL(perf_bucket(129), 2);
  CU_ASSERT_EQUAL(perf_bucket(64u << 10), 10);
  CU_ASSERT_EQUAL(perf_bucket((64u << 10) + 1), 11);
  CU_ASSERT_EQUAL(perf_bucket(UINT64_MAX), PERF_BUCKETS - 1);
}

static void perf_welford_exact(void) {
  struct perf_store *s = perf_store_create(NULL, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  struct perf_hist *h = perf_hist_get(s, "scale/cpu", "cpu:test");
  CU_ASSERT_PTR_NOT_NULL_FATAL(h);
  CU_ASSERT_PTR_EQUAL(perf_hist_get(s, "scale/cpu", "cpu:test"), h);
  int64_t t0 = (int64_t)time(NULL);
  /* 1, 3, 5, 7, 9: every step of Welford's update is exact in binary. */
  static const uint64_t odd[] = {1, 3, 5, 7, 9};
  record_all(h, 100, odd, 5);
  struct perf_stats st = perf_entry_stats(h, perf_bucket(100));
  CU_ASSERT_EQUAL(st.count, 5);
  CU_ASSERT(st.mean_ns == 5.0);
  CU_ASSERT(st.var_ns2 == 10.0);
  CU_ASSERT(st.last_update >= t0 && st.last_update <= (int64_t)time(NULL));
  /* The textbook series: mean 5, sample variance 32/7. */
  static const uint64_t tb[] = {2, 4, 4, 4, 5, 5, 7, 9};
  record_all(h, 1000, tb, 8);
  st = perf_entry_stats(h, perf_bucket(1000));
  CU_ASSERT_EQUAL(st.count, 8);
  CU_ASSERT_DOUBLE_EQUAL(st.mean_ns, 5.0, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(st.var_ns2, 32.0 / 7.0, 1e-12);
  /* Buckets are separate; an empty one is all zeros. */
  st = perf_entry_stats(h, perf_bucket(100));
  CU_ASSERT_EQUAL(st.count, 5);
  st = perf_entry_stats(h, 20);
  CU_ASSERT_EQUAL(st.count, 0);
  CU_ASSERT(st.mean_ns == 0 && st.var_ns2 == 0 && st.last_update == 0);
  st = perf_entry_stats(h, PERF_BUCKETS);
  CU_ASSERT_EQUAL(st.count, 0);
  perf_store_destroy(s);
}

/* Past `window` samples the old ones fade with weight 1/window. */
static void perf_window_fades(void) {
  struct perf_store *s = perf_store_create(NULL, &(struct perf_params){.window = 4});
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  struct perf_hist *h = perf_hist_get(s, "k", "cpu:test");
  static const uint64_t v[] = {10, 10, 10, 10, 20};
  record_all(h, 1, v, 5);
  struct perf_stats st = perf_entry_stats(h, 0);
  CU_ASSERT_EQUAL(st.count, 5);
  CU_ASSERT(st.mean_ns == 12.5); /* 10 + (20 - 10) / 4 */
  CU_ASSERT(st.var_ns2 == 25.0); /* m2 = 3/4 * (0 + 100) = 75, over 4 - 1 */
  perf_store_destroy(s);
}

static void perf_calibration(void) {
  struct perf_store *s = perf_store_create(NULL, &(struct perf_params){.min_samples = 3});
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  struct perf_hist *h = perf_hist_get(s, "k", "cpu:test");
  double ns = 0;
  CU_ASSERT_EQUAL(perf_estimate(h, 4096, &ns), 0);
  CU_ASSERT(ns == -1.0);
  perf_record(h, 4096, 100);
  CU_ASSERT_EQUAL(perf_estimate(h, 4096, &ns), 0);
  CU_ASSERT(ns == 100.0);
  perf_record(h, 4096, 300);
  CU_ASSERT_EQUAL(perf_estimate(h, 4096, &ns), 0);
  CU_ASSERT(ns == 200.0);
  perf_record(h, 4000, 500); /* same bucket */
  CU_ASSERT_EQUAL(perf_estimate(h, 4096, &ns), 1);
  CU_ASSERT(ns == 300.0);
  CU_ASSERT_EQUAL(perf_estimate(h, 1 << 20, &ns), 0); /* another bucket */
  CU_ASSERT(ns == -1.0);
  perf_store_destroy(s);

  /* The default is StarPU's 10. */
  s = perf_store_create(NULL, NULL);
  h = perf_hist_get(s, "k", "cpu:test");
  for (int i = 0; i < 9; i++)
    perf_record(h, 1, 50);
  CU_ASSERT_EQUAL(perf_estimate(h, 1, &ns), 0);
  perf_record(h, 1, 50);
  CU_ASSERT_EQUAL(perf_estimate(h, 1, &ns), 1);
  CU_ASSERT(ns == 50.0);
  perf_store_destroy(s);
}

/* placefix: calibration cut short (perf_settled): an entry whose every
 * sample took more than 4x another architecture's mean over two samples or
 * more counts as calibrated; one fast sample undoes it. */
static void perf_early_settle(void) {
  struct perf_store *s = perf_store_create(NULL, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  struct perf_hist *slow = perf_hist_get(s, "k", "cpu:test");
  struct perf_hist *fast = perf_hist_get(s, "k", ARCH_B);
  CU_ASSERT_FATAL(slow && fast);
  CU_ASSERT_EQUAL(perf_settled(slow, 4096, fast), 0); /* nothing measured */
  perf_record(slow, 4096, 500);
  perf_record(fast, 4096, 100);
  CU_ASSERT_EQUAL(perf_samples(slow, 4096), 1);
  CU_ASSERT_EQUAL(perf_settled(slow, 4096, fast), 0); /* one sample each */
  perf_record(slow, 4096, 450);
  CU_ASSERT_EQUAL(perf_settled(slow, 4096, fast), 0); /* the other has one */
  perf_record(fast, 4096, 110);                       /* its mean: 105, 4x = 420 */
  CU_ASSERT_EQUAL(perf_samples(fast, 4096), 2);
  CU_ASSERT_EQUAL(perf_settled(slow, 4096, fast), 1);    /* 450 and 500 > 420 */
  CU_ASSERT_EQUAL(perf_settled(fast, 4096, slow), 0);    /* faster, not slower */
  CU_ASSERT_EQUAL(perf_settled(slow, 1 << 20, fast), 0); /* another bucket */
  CU_ASSERT_EQUAL(perf_settled(slow, 4096, slow), 0);    /* not against itself */
  CU_ASSERT_EQUAL(perf_settled(slow, 4096, NULL), 0);
  CU_ASSERT_EQUAL(perf_settled(NULL, 4096, fast), 0);
  double ns;
  CU_ASSERT_EQUAL(perf_estimate(slow, 4096, &ns), 0); /* still short of 10 */
  CU_ASSERT(ns == 475.0);
  CU_ASSERT(perf_entry_stats(slow, perf_bucket(4096)).min_ns == 450.0);
  perf_record(slow, 4096, 400); /* one not 4x slower: measured on */
  CU_ASSERT_EQUAL(perf_settled(slow, 4096, fast), 0);
  CU_ASSERT(perf_entry_stats(slow, perf_bucket(4096)).min_ns == 400.0);
  /* Calibrated the usual way, whatever the other. */
  for (int i = 0; i < 7; i++)
    perf_record(slow, 4096, 10);
  CU_ASSERT_EQUAL(perf_settled(slow, 4096, NULL), 1);
  perf_store_destroy(s);

  /* Three samples, 8x: settable. */
  s = perf_store_create(NULL, &(struct perf_params){.early_samples = 3, .early_ratio = 8});
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  slow = perf_hist_get(s, "k", "cpu:test");
  fast = perf_hist_get(s, "k", ARCH_B);
  record_all(fast, 64, (const uint64_t[]){100, 100, 100}, 3);
  record_all(slow, 64, (const uint64_t[]){900, 900}, 2);
  CU_ASSERT_EQUAL(perf_settled(slow, 64, fast), 0); /* two of three */
  perf_record(slow, 64, 790);
  CU_ASSERT_EQUAL(perf_settled(slow, 64, fast), 0); /* 790 < 800 */
  perf_store_destroy(s);
  s = perf_store_create(NULL, &(struct perf_params){.early_samples = 3, .early_ratio = 8});
  slow = perf_hist_get(s, "k", "cpu:test");
  fast = perf_hist_get(s, "k", ARCH_B);
  record_all(fast, 64, (const uint64_t[]){100, 100, 100}, 3);
  record_all(slow, 64, (const uint64_t[]){900, 900, 801}, 3);
  CU_ASSERT_EQUAL(perf_settled(slow, 64, fast), 1);
  perf_store_destroy(s);
  /* A ratio below 1 would call a faster place slower. */
  CU_ASSERT_PTR_NULL(perf_store_create(NULL, &(struct perf_params){.early_ratio = 0.5}));
}

/* cold9: the counts of the early stop. The place dismissed needs ONE
 * sample (early_samples 1), the place it is compared with TWO (early_ref
 * 2); while the dismissed entry has fewer than two samples its exploration
 * is not stretched, whatever the ratio, and the
 * exploration's sample restarts it when it is fast (a cold start), or
 * confirms it when slow, after which the full stretch applies. */
static void perf_early_settle_one(void) {
  struct perf_store *s = perf_store_create(NULL, &(struct perf_params){.explore_every = 4});
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  struct perf_hist *slow = perf_hist_get(s, "k", "cpu:test");
  struct perf_hist *fast = perf_hist_get(s, "k", ARCH_B);
  CU_ASSERT_FATAL(slow && fast);
  perf_record(fast, 4096, 100);
  perf_record(slow, 4096, 5000);
  CU_ASSERT_EQUAL(perf_settled(slow, 4096, fast), 0); /* the other has one sample */
  perf_record(fast, 4096, 100);
  CU_ASSERT_EQUAL(perf_samples(slow, 4096), 1);
  CU_ASSERT_EQUAL(perf_samples(fast, 4096), 2);
  CU_ASSERT_EQUAL(perf_settled(slow, 4096, fast), 1); /* one sample, 50x */
  CU_ASSERT_EQUAL(perf_settled(fast, 4096, slow), 0);
  /* 50x slower on one sample: not stretched. */
  CU_ASSERT(perf_explore_stretch(slow, 4096, 50.0) == 1.0);
  CU_ASSERT(perf_explore_stretch(slow, 4096, 3.0) == 1.0);
  CU_ASSERT(perf_explore_stretch(slow, 4096, 0.5) == 0.5);
  CU_ASSERT(perf_explore_stretch(fast, 4096, 50.0) == 50.0);   /* two samples: the full stretch */
  CU_ASSERT(perf_explore_stretch(slow, 1 << 20, 50.0) == 1.0); /* no sample there */
  CU_ASSERT(perf_explore_stretch(NULL, 4096, 50.0) == 50.0);
  /* Its exploration comes after 4 firings of the key (explore_every). */
  for (int i = 0; i < 3; i++) {
    perf_chosen(fast);
    CU_ASSERT_EQUAL(perf_should_explore_at(slow, perf_explore_stretch(slow, 4096, 50.0)), 0);
  }
  perf_chosen(fast);
  CU_ASSERT_EQUAL(perf_should_explore_at(slow, perf_explore_stretch(slow, 4096, 50.0)), 1);
  /* It finds the place fast (< half the model): the entry restarts, one
   * sample short of calibrated as any new entry, and is not settled. */
  perf_record(slow, 4096, 80);
  CU_ASSERT_EQUAL(perf_samples(slow, 4096), 1);
  double ns;
  CU_ASSERT_EQUAL(perf_estimate(slow, 4096, &ns), 0);
  CU_ASSERT(ns == 80.0);
  CU_ASSERT_EQUAL(perf_settled(slow, 4096, fast), 0);
  perf_store_destroy(s);

  /* A slow exploration confirms it: two samples, the full stretch. */
  s = perf_store_create(NULL, &(struct perf_params){.explore_every = 4});
  slow = perf_hist_get(s, "k", "cpu:test");
  fast = perf_hist_get(s, "k", ARCH_B);
  record_all(fast, 64, (const uint64_t[]){100, 100}, 2);
  perf_record(slow, 64, 5000);
  for (int i = 0; i < 4; i++)
    perf_chosen(fast);
  CU_ASSERT_EQUAL(perf_should_explore_at(slow, perf_explore_stretch(slow, 64, 50.0)), 1);
  perf_record(slow, 64, 4800);
  CU_ASSERT_EQUAL(perf_samples(slow, 64), 2);
  CU_ASSERT_EQUAL(perf_settled(slow, 64, fast), 1);
  CU_ASSERT(perf_explore_stretch(slow, 64, 49.0) == 49.0);
  perf_store_destroy(s);

  /* The counts are parameters: the reference may be asked for more. */
  s = perf_store_create(NULL, &(struct perf_params){.early_ref = 3});
  slow = perf_hist_get(s, "k", "cpu:test");
  fast = perf_hist_get(s, "k", ARCH_B);
  record_all(fast, 64, (const uint64_t[]){100, 100}, 2);
  perf_record(slow, 64, 5000);
  CU_ASSERT_EQUAL(perf_settled(slow, 64, fast), 0); /* two of three */
  CU_ASSERT(perf_explore_stretch(slow, 64, 50.0) == 1.0);
  perf_record(fast, 64, 100);
  CU_ASSERT_EQUAL(perf_settled(slow, 64, fast), 1);
  perf_store_destroy(s);
}

static void perf_bad_arguments(void) {
  CU_ASSERT_PTR_NULL(
      perf_store_create(NULL, &(struct perf_params){.explore_every = 8, .explore_max = 4}));
  CU_ASSERT(strstr(maestro_last_error(), "explore_max 4 below explore_every 8") != NULL);
  CU_ASSERT_PTR_NULL(perf_store_create(NULL, &(struct perf_params){.window = 1}));
  struct perf_store *s = perf_store_create(NULL, NULL);
  CU_ASSERT_PTR_NULL(perf_hist_get(s, "", "cpu:x"));
  CU_ASSERT(strstr(maestro_last_error(), "perf_hist_get: key ''") != NULL);
  char longname[PERF_NAME_MAX + 2];
  memset(longname, 'a', sizeof longname - 1);
  longname[sizeof longname - 1] = 0;
  CU_ASSERT_PTR_NULL(perf_hist_get(s, "k", longname));
  longname[PERF_NAME_MAX] = 0; /* the longest allowed */
  CU_ASSERT_PTR_NOT_NULL(perf_hist_get(s, "k", longname));
  perf_store_destroy(s);
}

/* ---- exploration ---- */

static void perf_exploration(void) {
  struct perf_store *s =
      perf_store_create(NULL, &(struct perf_params){.min_samples = 2, .explore_every = 4});
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  struct perf_hist *a = perf_hist_get(s, "k", "cpu:test");
  struct perf_hist *b = perf_hist_get(s, "k", ARCH_B);
  struct perf_hist *other = perf_hist_get(s, "other", "cpu:test");
  /* Firings of another key do not count. */
  for (int i = 0; i < 10; i++)
    perf_chosen(other);
  CU_ASSERT_EQUAL(perf_should_explore(b), 0);
  for (int i = 0; i < 3; i++) {
    perf_chosen(a);
    CU_ASSERT_EQUAL(perf_should_explore(b), 0);
  }
  perf_chosen(a); /* b not chosen for the last 4 firings of k */
  CU_ASSERT_EQUAL(perf_should_explore(a), 0);
  CU_ASSERT_EQUAL(perf_should_explore(b), 1);
  CU_ASSERT_EQUAL(perf_should_explore(b), 0); /* given once */
  perf_chosen(b);
  /* b calibrated at 1000 ns (an uncalibrated entry's measurement moves no gap). */
  perf_record(b, 1, 1000);
  perf_record(b, 1, 1000);
  for (int i = 0; i < 4; i++)
    perf_chosen(a);
  CU_ASSERT_EQUAL(perf_should_explore(b), 1);
  perf_chosen(b);
  perf_record(b, 1, 900); /* confirms the model: the gap doubles to 8 */
  for (int i = 0; i < 7; i++) {
    perf_chosen(a);
    CU_ASSERT_EQUAL(perf_should_explore(b), 0);
  }
  perf_chosen(a);
  CU_ASSERT_EQUAL(perf_should_explore(b), 1);
  perf_chosen(b);
  /* Far faster than the model said: the entry starts again, the gap is 4. */
  perf_record(b, 1, 100);
  struct perf_stats st = perf_entry_stats(b, 0);
  CU_ASSERT_EQUAL(st.count, 1);
  CU_ASSERT(st.mean_ns == 100.0);
  double ns;
  CU_ASSERT_EQUAL(perf_estimate(b, 1, &ns), 0); /* to be calibrated anew */
  for (int i = 0; i < 3; i++)
    perf_chosen(a);
  CU_ASSERT_EQUAL(perf_should_explore(b), 0);
  perf_chosen(a);
  CU_ASSERT_EQUAL(perf_should_explore(b), 1);
  perf_store_destroy(s);
}

/* A place the models expect `slower` times as long as the chosen one is
 * explored after gap * slower firings of its key, so that re-measuring it
 * costs the same share of the run however slow it is; 1 or less (or an
 * unknown ratio) keeps the plain gap. */
static void perf_exploration_slower(void) {
  struct perf_store *s =
      perf_store_create(NULL, &(struct perf_params){.min_samples = 1, .explore_every = 4});
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  struct perf_hist *a = perf_hist_get(s, "k", "cpu:test");
  struct perf_hist *b = perf_hist_get(s, "k", ARCH_B);
  for (int i = 0; i < 4; i++)
    perf_chosen(a);
  CU_ASSERT_EQUAL(perf_should_explore_at(b, 3.0), 0); /* 4 of 12 */
  for (int i = 0; i < 7; i++) {
    perf_chosen(a);
    CU_ASSERT_EQUAL(perf_should_explore_at(b, 3.0), 0);
  }
  perf_chosen(a); /* 12 */
  CU_ASSERT_EQUAL(perf_should_explore_at(b, 3.0), 1);
  CU_ASSERT_EQUAL(perf_should_explore_at(b, 3.0), 0); /* given once */
  for (int i = 0; i < 4; i++)
    perf_chosen(a);
  CU_ASSERT_EQUAL(perf_should_explore_at(b, 0.5), 1); /* faster: the plain gap */
  for (int i = 0; i < 4; i++)
    perf_chosen(a);
  CU_ASSERT_EQUAL(perf_should_explore_at(b, 0.0 / 0.0), 1); /* unknown: the plain gap */
  for (int i = 0; i < 4; i++)
    perf_chosen(a);
  CU_ASSERT_EQUAL(perf_should_explore_at(b, 1e300), 0); /* never overflows into a yes */
  perf_store_destroy(s);
}

/* The gap never grows past explore_max. */
static void perf_exploration_max(void) {
  struct perf_store *s = perf_store_create(
      NULL, &(struct perf_params){.min_samples = 1, .explore_every = 2, .explore_max = 6});
  struct perf_hist *a = perf_hist_get(s, "k", "cpu:test");
  struct perf_hist *b = perf_hist_get(s, "k", ARCH_B);
  perf_record(b, 1, 1000);
  int gaps[4];
  for (int round = 0; round < 4; round++) {
    int n = 0;
    do {
      perf_chosen(a);
      n++;
    } while (!perf_should_explore(b) && n < 100);
    gaps[round] = n;
    perf_chosen(b);
    perf_record(b, 1, 1000);
  }
  CU_ASSERT_EQUAL(gaps[0], 2);
  CU_ASSERT_EQUAL(gaps[1], 4);
  CU_ASSERT_EQUAL(gaps[2], 6);
  CU_ASSERT_EQUAL(gaps[3], 6);
  perf_store_destroy(s);
}

#define NCLAIM 8
static struct perf_hist *claim_h;
static pthread_barrier_t claim_bar;
static void *claimer(void *arg) {
  pthread_barrier_wait(&claim_bar);
  *(int *)arg = perf_should_explore(claim_h);
  return NULL;
}

/* Several threads asking at once: one of them explores. */
static void perf_exploration_once(void) {
  struct perf_store *s = perf_store_create(NULL, &(struct perf_params){.explore_every = 4});
  struct perf_hist *a = perf_hist_get(s, "k", "cpu:test");
  claim_h = perf_hist_get(s, "k", ARCH_B);
  for (int i = 0; i < 4; i++)
    perf_chosen(a);
  pthread_t t[NCLAIM];
  int got[NCLAIM] = {0};
  pthread_barrier_init(&claim_bar, NULL, NCLAIM);
  for (int i = 0; i < NCLAIM; i++)
    pthread_create(&t[i], NULL, claimer, &got[i]);
  int sum = 0;
  for (int i = 0; i < NCLAIM; i++) {
    pthread_join(t[i], NULL);
    sum += got[i];
  }
  pthread_barrier_destroy(&claim_bar);
  CU_ASSERT_EQUAL(sum, 1);
  perf_store_destroy(s);
}

/* ---- persistence ---- */

static void expect_same(struct perf_hist *x, struct perf_hist *y) {
  for (int b = 0; b < PERF_BUCKETS; b++) {
    struct perf_stats p = perf_entry_stats(x, b), q = perf_entry_stats(y, b);
    CU_ASSERT_EQUAL(p.count, q.count);
    CU_ASSERT(p.mean_ns == q.mean_ns);
    CU_ASSERT(p.var_ns2 == q.var_ns2);
    CU_ASSERT_EQUAL(p.last_update, q.last_update);
  }
}

static void perf_round_trip(void) {
  char *dir = tmpdir_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
  char sub[PATH_MAX];
  snprintf(sub, sizeof sub, "%s/nested/perf", dir); /* created at save */
  /* Keys and architectures with spaces, '%' and bytes beyond ASCII. */
  const char *k1 = "scale/cpu", *k2 = "odd key %41 \xc3\xa9/opencl";
  struct perf_store *s = perf_store_create(sub, &(struct perf_params){.min_samples = 2});
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  struct perf_hist *h1 = perf_hist_get(s, k1, ARCH_A), *h2 = perf_hist_get(s, k2, ARCH_A),
                   *h3 = perf_hist_get(s, k1, ARCH_B);
  CU_ASSERT_EQUAL(count_files(sub, NULL, 0), -1); /* nothing read or written yet */
  static const uint64_t v1[] = {1234567, 7654321, 1000003}, v2[] = {17, 19}, v3[] = {3};
  record_all(h1, 100, v1, 3);
  record_all(h1, 1 << 20, v2, 2);
  record_all(h2, 0, v2, 2);
  record_all(h3, 100, v3, 1);
  CU_ASSERT_EQUAL(perf_store_save(s), MAESTRO_OK);
  CU_ASSERT_EQUAL(count_files(sub, NULL, 0), 2); /* one per architecture */
  struct perf_store *t = perf_store_create(sub, &(struct perf_params){.min_samples = 2});
  struct perf_hist *g1 = perf_hist_get(t, k1, ARCH_A), *g2 = perf_hist_get(t, k2, ARCH_A),
                   *g3 = perf_hist_get(t, k1, ARCH_B);
  expect_same(h1, g1);
  expect_same(h2, g2);
  expect_same(h3, g3);
  CU_ASSERT_EQUAL(perf_entry_stats(g1, perf_bucket(100)).count, 3);
  double x, y;
  CU_ASSERT_EQUAL(perf_estimate(g1, 100, &x), 1);
  CU_ASSERT_EQUAL(perf_estimate(h1, 100, &y), 1);
  CU_ASSERT(x == y);
  CU_ASSERT_EQUAL(perf_estimate(g3, 100, &x), 0); /* one sample: still not calibrated */
  CU_ASSERT(x == 3.0);
  CU_ASSERT_EQUAL(perf_store_warnings(t, NULL, 0), 0);
  perf_store_destroy(t);
  perf_store_destroy(s);
  CU_ASSERT_EQUAL(count_files(sub, NULL, 0), 2); /* no temporary file left */
  rm_rf(sub);
  snprintf(sub, sizeof sub, "%s/nested", dir);
  rmdir(sub);
  rm_rf(dir);
  free(dir);
}

/* Saved at destroy (the runtime's store too, in runtime_destroy). */
static void perf_saved_at_destroy(void) {
  char *dir = tmpdir_new();
  struct perf_store *s = perf_store_create(dir, NULL);
  perf_record(perf_hist_get(s, "k", ARCH_B), 10, 42);
  CU_ASSERT_EQUAL(count_files(dir, NULL, 0), 0);
  perf_store_destroy(s);
  CU_ASSERT_EQUAL(count_files(dir, NULL, 0), 1);
  s = perf_store_create(dir, NULL);
  CU_ASSERT(perf_entry_stats(perf_hist_get(s, "k", ARCH_B), 0).mean_ns == 42.0);
  perf_store_destroy(s);

  /* Through a runtime: cfg.perf_dir is the store's directory. */
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "none";
  cfg.stats = 0;
  cfg.perf_dir = dir;
  maestro_runtime_t *rt;
  CU_ASSERT_EQUAL_FATAL(maestro_runtime_create(&cfg, &rt), MAESTRO_OK);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rt->perf);
  char arch[PERF_NAME_MAX];
  CU_ASSERT_EQUAL(perf_place_arch(rt, MAESTRO_PLACE_CPU, 0, arch, sizeof arch), MAESTRO_OK);
  perf_record(perf_hist_get(rt->perf, "k", arch), 10, 7);
  maestro_runtime_destroy(rt);
  CU_ASSERT_EQUAL(count_files(dir, NULL, 0), 2);
  s = perf_store_create(dir, NULL);
  CU_ASSERT(perf_entry_stats(perf_hist_get(s, "k", arch), 0).mean_ns == 7.0);
  perf_store_destroy(s);
  rm_rf(dir);
  free(dir);
}

/* A directory that cannot be made: the save says so, naming it, and the
 * entries stay unsaved (a later save may still write them). */
static void perf_unwritable_dir(void) {
  char *dir = tmpdir_new(), file[PATH_MAX], sub[PATH_MAX];
  snprintf(file, sizeof file, "%s/file", dir);
  snprintf(sub, sizeof sub, "%s/file/perf", dir);
  spit(file, "x", 1);
  struct perf_store *s = perf_store_create(sub, NULL);
  perf_record(perf_hist_get(s, "k", ARCH_B), 1, 3);
  CU_ASSERT_EQUAL(perf_store_save(s), MAESTRO_ESYS);
  CU_ASSERT(strstr(maestro_last_error(), "cannot create directory") != NULL);
  CU_ASSERT(strstr(maestro_last_error(), sub) != NULL);
  unlink(file);
  CU_ASSERT_EQUAL(perf_store_save(s), MAESTRO_OK);
  CU_ASSERT_EQUAL(count_files(sub, NULL, 0), 1);
  perf_store_destroy(s);
  rm_rf(sub);
  snprintf(sub, sizeof sub, "%s/file", dir);
  rmdir(sub);
  rm_rf(dir);
  free(dir);
}

/* "" and NULL keep nothing: no file anywhere, not even in the current directory. */
static void perf_no_dir_writes_nothing(void) {
  char *dir = tmpdir_new(), cwd[PATH_MAX];
  CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(cwd, sizeof cwd));
  CU_ASSERT_EQUAL_FATAL(chdir(dir), 0);
  const char *dirs[] = {"", NULL};
  for (int i = 0; i < 2; i++) {
    struct perf_store *s = perf_store_create(dirs[i], NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    perf_record(perf_hist_get(s, "k", ARCH_B), 10, 42);
    CU_ASSERT_EQUAL(perf_store_save(s), MAESTRO_OK);
    perf_store_destroy(s);
  }
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.devices = "none";
  cfg.stats = 0;
  cfg.perf_dir = "";
  maestro_runtime_t *rt;
  CU_ASSERT_EQUAL_FATAL(maestro_runtime_create(&cfg, &rt), MAESTRO_OK);
  perf_record(perf_hist_get(rt->perf, "k", ARCH_B), 10, 42);
  maestro_runtime_destroy(rt);
  CU_ASSERT_EQUAL(count_files(dir, NULL, 0), 0);
  CU_ASSERT_EQUAL(chdir(cwd), 0);
  rm_rf(dir);
  free(dir);
}

/* Writes a good file for ARCH_B with key "k" (2 samples in bucket 0) and
 * returns its path and text. */
static char *good_file(const char *dir, char *path, size_t plen, size_t *len) {
  struct perf_store *s = perf_store_create(dir, NULL);
  struct perf_hist *h = perf_hist_get(s, "k", ARCH_B);
  perf_record(h, 1, 10);
  perf_record(h, 1, 20);
  perf_store_destroy(s);
  CU_ASSERT_EQUAL(count_files(dir, path, plen), 1);
  return slurp(path, len);
}

static void perf_corrupt_files_ignored(void) {
  char *dir = tmpdir_new(), path[PATH_MAX];
  size_t len = 0;
  char *good = good_file(dir, path, sizeof path, &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(good);
  CU_ASSERT(strncmp(good, "maestro-perf 1\narch opencl:NVIDIA%20H200\nk 0 2 15 50 ", 53) == 0);
  CU_ASSERT(len > 6 && strcmp(good + len - 6, "end 1\n") == 0);
  /* The good file loads. */
  struct perf_store *s = perf_store_create(dir, NULL);
  CU_ASSERT_EQUAL(perf_entry_stats(perf_hist_get(s, "k", ARCH_B), 0).count, 2);
  CU_ASSERT_EQUAL(perf_store_warnings(s, NULL, 0), 0);
  perf_store_destroy(s);

  char buf[1024];
  const char *line3 = strchr(strchr(good, '\n') + 1, '\n') + 1;
  struct {
    const char *what;
    char text[512];
    size_t len;
    const char *why;
  } bad[] = {
      {"truncated in a line", "", len - 3, "truncated"},
      {"truncated at a line", "", (size_t)(strstr(good, "end") - good), "truncated"},
      {"empty", "", 0, "truncated"},
      {"garbage", "hello\nworld\n", 0, "not a maestro performance model file"},
      {"newer version", "maestro-perf 99\n", 0, "version 99"},
      {"other arch", "maestro-perf 1\narch opencl:other\nend 0\n", 0, "not the models of"},
      {"bad number", "", 0, "line 3: not an entry"},
      {"negative mean", "", 0, "line 3: not an entry"},
      {"bucket out of range", "", 0, "line 3: not an entry"},
      {"wrong count", "", 0, "the end line counts 2 entries"},
      {"after the end", "", 0, "text after the end line"},
      {"NUL byte", "", 0, "NUL"},
  };
  for (int i = 3; i <= 5; i++)
    bad[i].len = strlen(bad[i].text);
  memcpy(bad[0].text, good, len - 3);
  memcpy(bad[1].text, good, bad[1].len);
  size_t head = (size_t)(line3 - good);
  bad[6].len = (size_t)snprintf(bad[6].text, sizeof bad[6].text, "%.*sk 0 2 abc 50 1\nend 1\n",
                                (int)head, good);
  bad[7].len = (size_t)snprintf(bad[7].text, sizeof bad[7].text, "%.*sk 0 2 -1 50 1\nend 1\n",
                                (int)head, good);
  bad[8].len = (size_t)snprintf(bad[8].text, sizeof bad[8].text, "%.*sk 32 2 1 50 1\nend 1\n",
                                (int)head, good);
  bad[9].len = (size_t)snprintf(bad[9].text, sizeof bad[9].text, "%.*send 2\n",
                                (int)(strstr(good, "end") - good), good);
  bad[10].len = (size_t)snprintf(bad[10].text, sizeof bad[10].text, "%sk 1 1 1 0 1\n", good);
  memcpy(bad[11].text, good, len);
  bad[11].text[5] = 0;
  bad[11].len = len;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    spit(path, bad[i].text, bad[i].len);
    s = perf_store_create(dir, NULL);
    struct perf_hist *h = perf_hist_get(s, "k", ARCH_B);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    CU_ASSERT_EQUAL(perf_entry_stats(h, 0).count, 0); /* nothing taken from it */
    CU_ASSERT_EQUAL(perf_store_warnings(s, buf, sizeof buf), 1);
    if (!strstr(buf, bad[i].why) || !strstr(buf, path))
      fprintf(stderr, "case '%s': warning '%s'\n", bad[i].what, buf);
    CU_ASSERT(strstr(buf, bad[i].why) != NULL);
    CU_ASSERT(strstr(buf, path) != NULL);
    /* The next save replaces it with a good file. */
    perf_record(h, 1, 5);
    perf_store_destroy(s);
    s = perf_store_create(dir, NULL);
    struct perf_stats st = perf_entry_stats(perf_hist_get(s, "k", ARCH_B), 0);
    CU_ASSERT_EQUAL(st.count, 1);
    CU_ASSERT(st.mean_ns == 5.0);
    CU_ASSERT_EQUAL(perf_store_warnings(s, NULL, 0), 0);
    perf_store_destroy(s);
  }
  free(good);
  rm_rf(dir);
  free(dir);
}

static void perf_arches_apart(void) {
  char *dir = tmpdir_new();
  struct perf_store *s = perf_store_create(dir, NULL);
  struct perf_hist *gpu = perf_hist_get(s, "scale/opencl", ARCH_B);
  struct perf_hist *cpudev = perf_hist_get(s, "scale/opencl", ARCH_A);
  CU_ASSERT_PTR_NOT_EQUAL(gpu, cpudev);
  for (int i = 0; i < 10; i++) {
    perf_record(gpu, 4096, 100);
    perf_record(cpudev, 4096, 5000);
  }
  double x, y;
  CU_ASSERT_EQUAL(perf_estimate(gpu, 4096, &x), 1);
  CU_ASSERT_EQUAL(perf_estimate(cpudev, 4096, &y), 1);
  CU_ASSERT(x == 100.0 && y == 5000.0);
  perf_store_destroy(s);
  CU_ASSERT_EQUAL(count_files(dir, NULL, 0), 2);
  s = perf_store_create(dir, NULL);
  CU_ASSERT_EQUAL(perf_estimate(perf_hist_get(s, "scale/opencl", ARCH_B), 4096, &x), 1);
  CU_ASSERT_EQUAL(perf_estimate(perf_hist_get(s, "scale/opencl", ARCH_A), 4096, &y), 1);
  CU_ASSERT(x == 100.0 && y == 5000.0);
  CU_ASSERT_EQUAL(perf_estimate(perf_hist_get(s, "scale/opencl", "opencl:other"), 4096, &x), 0);
  perf_store_destroy(s);
  rm_rf(dir);
  free(dir);
}

/* Two stores (two runtimes) on one directory: each one's entries survive
 * the other's save; an entry one did not update keeps the other's version. */
static void perf_two_stores(void) {
  char *dir = tmpdir_new();
  struct perf_store *s = perf_store_create(dir, NULL);
  perf_record(perf_hist_get(s, "shared", ARCH_B), 1, 10);
  perf_store_destroy(s);

  struct perf_store *a = perf_store_create(dir, NULL), *b = perf_store_create(dir, NULL);
  struct perf_hist *ah = perf_hist_get(a, "shared", ARCH_B),
                   *bh = perf_hist_get(b, "shared", ARCH_B);
  perf_record(perf_hist_get(a, "only-a", ARCH_B), 1, 1);
  perf_record(perf_hist_get(b, "only-b", ARCH_B), 1, 2);
  perf_record(ah, 1, 30); /* a updates "shared"; b does not */
  CU_ASSERT_EQUAL(perf_entry_stats(bh, 0).count, 1);
  CU_ASSERT_EQUAL(perf_store_save(a), MAESTRO_OK);
  CU_ASSERT_EQUAL(perf_store_save(b), MAESTRO_OK);
  s = perf_store_create(dir, NULL);
  CU_ASSERT(perf_entry_stats(perf_hist_get(s, "only-a", ARCH_B), 0).mean_ns == 1.0);
  CU_ASSERT(perf_entry_stats(perf_hist_get(s, "only-b", ARCH_B), 0).mean_ns == 2.0);
  struct perf_stats st = perf_entry_stats(perf_hist_get(s, "shared", ARCH_B), 0);
  CU_ASSERT_EQUAL(st.count, 2);
  CU_ASSERT(st.mean_ns == 20.0);
  perf_store_destroy(s);
  perf_store_destroy(a);
  perf_store_destroy(b);
  CU_ASSERT_EQUAL(count_files(dir, NULL, 0), 1);
  rm_rf(dir);
  free(dir);
}

/* Saves racing from two stores and two threads leave a whole file. */
#define NSAVES 40
struct saver {
  struct perf_store *s;
  struct perf_hist *h;
  int rc;
};
static void *save_loop(void *arg) {
  struct saver *sv = arg;
  for (int i = 0; i < NSAVES; i++) {
    perf_record(sv->h, 1, 100);
    int rc = perf_store_save(sv->s);
    if (rc) sv->rc = rc;
  }
  return NULL;
}

static void perf_concurrent_saves(void) {
  char *dir = tmpdir_new();
  struct saver sv[2] = {{perf_store_create(dir, NULL), NULL, 0},
                        {perf_store_create(dir, NULL), NULL, 0}};
  sv[0].h = perf_hist_get(sv[0].s, "x", ARCH_B);
  sv[1].h = perf_hist_get(sv[1].s, "y", ARCH_B);
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    pthread_create(&t[i], NULL, save_loop, &sv[i]);
  for (int i = 0; i < 2; i++)
    pthread_join(t[i], NULL);
  CU_ASSERT_EQUAL(sv[0].rc, MAESTRO_OK);
  CU_ASSERT_EQUAL(sv[1].rc, MAESTRO_OK);
  perf_store_destroy(sv[0].s);
  perf_store_destroy(sv[1].s);
  CU_ASSERT_EQUAL(count_files(dir, NULL, 0), 1);
  struct perf_store *s = perf_store_create(dir, NULL);
  CU_ASSERT_EQUAL(perf_entry_stats(perf_hist_get(s, "x", ARCH_B), 0).count, NSAVES);
  CU_ASSERT_EQUAL(perf_entry_stats(perf_hist_get(s, "y", ARCH_B), 0).count, NSAVES);
  CU_ASSERT_EQUAL(perf_store_warnings(s, NULL, 0), 0);
  perf_store_destroy(s);
  rm_rf(dir);
  free(dir);
}

/* Firing-path calls from several threads while another saves: every
 * sample counted. */
#define NREC_THREADS 4
#define NRECS        2000
static struct perf_hist *rec_h[2];
static void *record_loop(void *arg) {
  (void)arg;
  double ns;
  for (int i = 0; i < NRECS; i++) {
    perf_estimate(rec_h[0], 100, &ns);
    perf_estimate(rec_h[1], 100, &ns);
    if (perf_should_explore(rec_h[1])) perf_chosen(rec_h[1]);
    perf_chosen(rec_h[0]);
    perf_record(rec_h[0], 100, 10);
  }
  return NULL;
}

static void perf_record_while_saving(void) {
  char *dir = tmpdir_new();
  struct perf_store *s = perf_store_create(dir, NULL);
  rec_h[0] = perf_hist_get(s, "k", "cpu:test");
  rec_h[1] = perf_hist_get(s, "k", ARCH_B);
  pthread_t t[NREC_THREADS];
  for (int i = 0; i < NREC_THREADS; i++)
    pthread_create(&t[i], NULL, record_loop, NULL);
  int rc = MAESTRO_OK;
  for (int i = 0; i < 20; i++)
    rc |= perf_store_save(s);
  for (int i = 0; i < NREC_THREADS; i++)
    pthread_join(t[i], NULL);
  CU_ASSERT_EQUAL(rc, MAESTRO_OK);
  struct perf_stats st = perf_entry_stats(rec_h[0], perf_bucket(100));
  CU_ASSERT_EQUAL(st.count, NREC_THREADS * NRECS);
  CU_ASSERT(st.mean_ns == 10.0 && st.var_ns2 == 0.0);
  perf_store_destroy(s);
  s = perf_store_create(dir, NULL);
  CU_ASSERT_EQUAL(perf_entry_stats(perf_hist_get(s, "k", "cpu:test"), perf_bucket(100)).count,
                  NREC_THREADS * NRECS);
  perf_store_destroy(s);
  rm_rf(dir);
  free(dir);
}

/* A place's architecture: the CPU model for CPU places, place_arch() for a
 * device (the real PoCL device). */
static void perf_place_arches(void) {
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.stats = 0;
  cfg.perf_dir = "";
  maestro_runtime_t *rt;
  CU_ASSERT_EQUAL_FATAL(maestro_runtime_create(&cfg, &rt), MAESTRO_OK);
  char arch[PERF_NAME_MAX], want[PERF_NAME_MAX];
  CU_ASSERT_EQUAL(perf_place_arch(rt, MAESTRO_PLACE_CPU, 0, arch, sizeof arch), MAESTRO_OK);
  maestro_place_info_t info;
  CU_ASSERT_EQUAL(maestro_runtime_place_info(rt, MAESTRO_PLACE_CPU, 0, &info), MAESTRO_OK);
  snprintf(want, sizeof want, "cpu:%s", info.vendor);
  CU_ASSERT(info.vendor[0] != 0);
  CU_ASSERT_STRING_EQUAL(arch, want);
  /* Every CPU place of this (one-model) machine has one architecture. */
  int ncpu = maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU);
  for (int i = 1; i < ncpu; i++) {
    CU_ASSERT_EQUAL(perf_place_arch(rt, MAESTRO_PLACE_CPU, i, want, sizeof want), MAESTRO_OK);
    CU_ASSERT_STRING_EQUAL(arch, want);
  }
  CU_ASSERT_EQUAL(perf_place_arch(rt, MAESTRO_PLACE_CPU, ncpu, arch, sizeof arch), MAESTRO_ENODEV);
  int ndev = maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE);
  CU_ASSERT_FATAL(ndev >= 1);
  CU_ASSERT_EQUAL(perf_place_arch(rt, MAESTRO_PLACE_DEVICE, 0, arch, sizeof arch), MAESTRO_OK);
  CU_ASSERT_STRING_EQUAL(arch, place_arch(rt, 0));
  CU_ASSERT(strncmp(arch, "opencl:", 7) == 0);
  CU_ASSERT_EQUAL(perf_place_arch(rt, MAESTRO_PLACE_DEVICE, ndev, arch, sizeof arch),
                  MAESTRO_ENODEV);
  maestro_runtime_destroy(rt);
}

void register_suites(void) {
  ADD_SUITE("perf_model", NULL, NULL, {"buckets", perf_buckets},
            {"welford_exact", perf_welford_exact}, {"window_fades", perf_window_fades},
            {"calibration", perf_calibration}, {"bad_arguments", perf_bad_arguments},
            {"exploration", perf_exploration}, {"exploration_max", perf_exploration_max},
            {"exploration_once", perf_exploration_once},
            {"exploration_slower", perf_exploration_slower}, {"early_settle", perf_early_settle},
            {"early_settle_one", perf_early_settle_one});
  ADD_SUITE("perf_files", NULL, NULL, {"round_trip", perf_round_trip},
            {"saved_at_destroy", perf_saved_at_destroy},
            {"no_dir_writes_nothing", perf_no_dir_writes_nothing},
            {"unwritable_dir", perf_unwritable_dir},
            {"corrupt_files_ignored", perf_corrupt_files_ignored},
            {"arches_apart", perf_arches_apart}, {"two_stores", perf_two_stores},
            {"concurrent_saves", perf_concurrent_saves},
            {"record_while_saving", perf_record_while_saving}, {"place_arches", perf_place_arches});
}
