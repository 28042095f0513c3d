/* Performance models (sched/perf.h): histories per (key, architecture, size
 * bucket), calibration and exploration, and their files.
 *
 * A file, <dir>/<arch, made safe>-<hash of arch>.perf:
 *
 *   maestro-perf 1
 *   arch opencl:NVIDIA%20H200
 *   <key> <bucket> <count> <mean ns> <m2> <last update, Unix s>
 *   ...
 *   end <number of entry lines>
 *
 * Strings are written with %XX for '%', spaces and control or non-ASCII
 * bytes, numbers in the C locale (%.17g: a double reads back the same). The
 * end line tells a truncated file from a short one. */
#include "sched/perf.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/error.h"
#include "base/fs.h"
#include "base/hash.h"
#include "base/runtime.h"
#include "sched/place.h"

#define PERF_VERSION  1
#define PERF_FILE_MAX (16u << 20) /* a larger file is not one of ours */
/* An exploration that finds the place this much faster than the model
 * restarts the entry. */
#define PERF_SURPRISE 0.5

struct perf_entry {
  uint64_t count;
  double mean, m2; /* Welford: m2 = sum of squared deviations over min(count, window) */
  double min;      /* the fastest sample since the last restart (a file's entry: its mean) */
  int64_t last;
  uint64_t gen, saved; /* updates, and the update last written */
};

struct perf_key {
  char *name;
  _Atomic uint64_t fires; /* perf_chosen calls over every architecture */
  struct perf_key *next;
};

struct perf_hist {
  struct perf_store *s;
  struct perf_key *key;
  pthread_mutex_t mu; /* e[] */
  struct perf_entry e[PERF_BUCKETS];
  /* What perf_estimate reads without the lock: e[b].count and e[b].mean as
   * of the last update (a reader may pair one update's count with the
   * next's mean, which an estimate can live with). */
  _Atomic uint64_t pub_count[PERF_BUCKETS];
  _Atomic double pub_mean[PERF_BUCKETS];
  _Atomic double pub_min[PERF_BUCKETS];
  _Atomic uint64_t last_chosen; /* key->fires when this arch was last chosen */
  _Atomic unsigned gap;         /* firings without it before an exploration */
  atomic_int exploring;         /* the next record measures an exploration */
  struct perf_hist *next;       /* in its architecture */
};

struct perf_arch {
  char *name;
  struct perf_hist *hists;
  struct perf_arch *next;
};

struct perf_store {
  pthread_mutex_t mu; /* the lists, loading and saving */
  char *dir;          /* NULL: memory only */
  struct perf_params p;
  struct perf_key *keys;
  struct perf_arch *archs;
  unsigned warnings;
  char warning[512];
};

/* An entry as read from a file. */
struct rec {
  char *key;
  int bucket;
  struct perf_entry e;
};

static _Atomic unsigned tmp_counter; /* unique temporary names within the process */

/* ---- helpers ---- */

/* Seconds are all a last update needs: the coarse clock is a load, where a
 * precise one can cost 100 ns in a virtual machine. */
static int64_t wall_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return (int64_t)ts.tv_sec;
}

static void warn(struct perf_store *s, const char *fmt, ...) MAESTRO_PRINTF(2, 3);
static void warn(struct perf_store *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->warning, sizeof s->warning, fmt, ap);
  va_end(ap);
  s->warnings++;
  fprintf(stderr, "maestro: warning: %s\n", s->warning);
}

/* Numbers in files are written and read in the C locale whatever the
 * program set (a "1,5" would not read back elsewhere). */
struct c_numeric {
  locale_t loc, old;
};
static void c_numeric_enter(struct c_numeric *c) {
  c->loc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
  c->old = c->loc ? uselocale(c->loc) : (locale_t)0;
}
static void c_numeric_leave(struct c_numeric *c) {
  if (!c->loc) return;
  uselocale(c->old);
  freelocale(c->loc);
}

static int must_escape(unsigned char c) {
  return c <= ' ' || c >= 0x7f || c == '%';
}

static void put_escaped(FILE *f, const char *s) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (must_escape(c))
      fprintf(f, "%%%02X", c);
    else
      fputc(c, f);
  }
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* Decodes `s` into out (PERF_NAME_MAX + 1 bytes); 0 when malformed. */
static int unescape(const char *s, char *out) {
  size_t n = 0;
  for (; *s; s++) {
    if (n == PERF_NAME_MAX) return 0;
    if (*s == '%') {
      int hi = hexval(s[1]), lo = hi >= 0 ? hexval(s[2]) : -1;
      if (lo < 0 || (hi << 4 | lo) == 0) return 0;
      out[n++] = (char)(hi << 4 | lo);
      s += 2;
    } else {
      out[n++] = *s;
    }
  }
  out[n] = 0;
  return n > 0;
}

/* The file of architecture `arch`: its name made safe for any file system,
 * with a hash so that two names made alike stay apart. */
static int arch_path(const struct perf_store *s, const char *arch, char *out, size_t len) {
  char safe[65];
  size_t n = 0;
  for (const char *c = arch; *c && n < sizeof safe - 1; c++)
    safe[n++] = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                        *c == '.' || *c == '-'
                    ? *c
                    : '_';
  safe[n] = 0;
  int w = snprintf(out, len, "%s/%s-%016llx.perf", s->dir, safe,
                   (unsigned long long)hash_fnv1a(HASH_FNV_SEED, arch, strlen(arch)));
  return w > 0 && (size_t)w < len;
}

/* ---- parsing ---- */

static void recs_free(struct rec *r, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(r[i].key);
  free(r);
}

static int parse_entry(char *line, struct rec *r) {
  char *tok[7];
  int n = 0;
  for (char *save = NULL, *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
    if (n == 7) return 0;
    tok[n++] = t;
  }
  if (n != 6) return 0;
  char key[PERF_NAME_MAX + 1], *end;
  if (!unescape(tok[0], key)) return 0;
  errno = 0;
  long b = strtol(tok[1], &end, 10);
  if (*end || b < 0 || b >= PERF_BUCKETS) return 0;
  unsigned long long count = strtoull(tok[2], &end, 10);
  if (*end || tok[2][0] == '-' || count == 0 || count > (1ull << 53)) return 0;
  double mean = strtod(tok[3], &end);
  if (*end || !isfinite(mean) || mean < 0) return 0;
  double m2 = strtod(tok[4], &end);
  if (*end || !isfinite(m2) || m2 < 0) return 0;
  long long last = strtoll(tok[5], &end, 10);
  if (*end || last < 0 || errno) return 0;
  memset(r, 0, sizeof *r);
  if (!(r->key = strdup(key))) return 0;
  r->bucket = (int)b;
  r->e.count = count;
  r->e.mean = mean;
  r->e.min = mean; /* not kept in files: what calibration cut short by it needs is its bound */
  r->e.m2 = m2;
  r->e.last = last;
  return 1;
}

/* Parses the text of arch's file. 1 with the entries, or 0 with why (a
 * malformed file; `why` says where). -1: out of memory. */
static int parse_file(char *text, size_t len, const char *arch, struct rec **out, size_t *nout,
                      char *why, size_t wlen) {
  *out = NULL;
  *nout = 0;
  if (len == 0 || text[len - 1] != '\n') {
    snprintf(why, wlen, "truncated (no end line)");
    return 0;
  }
  if (strlen(text) != len) {
    snprintf(why, wlen, "holds a NUL byte");
    return 0;
  }
  struct rec *r = NULL;
  size_t n = 0, cap = 0;
  int lineno = 0, ended = 0, ok = 1;
  char name[PERF_NAME_MAX + 1];
  for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && ok;
       line = strtok_r(NULL, "\n", &save)) {
    lineno++;
    if (ended) {
      snprintf(why, wlen, "line %d: text after the end line", lineno);
      ok = 0;
    } else if (lineno == 1) {
      int v = 0;
      char tail;
      if (sscanf(line, "maestro-perf %d%c", &v, &tail) != 1) {
        snprintf(why, wlen, "line 1: not a maestro performance model file");
        ok = 0;
      } else if (v != PERF_VERSION) {
        snprintf(why, wlen, "version %d, this build reads version %d", v, PERF_VERSION);
        ok = 0;
      }
    } else if (lineno == 2) {
      if (strncmp(line, "arch ", 5) != 0 || !unescape(line + 5, name) || strcmp(name, arch) != 0) {
        snprintf(why, wlen, "line 2: not the models of architecture '%s'", arch);
        ok = 0;
      }
    } else if (strncmp(line, "end ", 4) == 0) {
      char *end;
      unsigned long long want = strtoull(line + 4, &end, 10);
      if (*end || line[4] == '-' || want != n) {
        snprintf(why, wlen, "line %d: the end line counts %s entries, the file has %zu", lineno,
                 line + 4, n);
        ok = 0;
      }
      ended = 1;
    } else {
      if (n == cap) {
        size_t nc = cap ? cap * 2 : 64;
        struct rec *nr = realloc(r, nc * sizeof *nr);
        if (!nr) {
          recs_free(r, n);
          return -1;
        }
        r = nr;
        cap = nc;
      }
      if (parse_entry(line, &r[n]))
        n++;
      else {
        snprintf(why, wlen, "line %d: not an entry (key bucket count mean m2 time)", lineno);
        ok = 0;
      }
    }
  }
  if (ok && !ended) {
    snprintf(why, wlen, "truncated (no end line)");
    ok = 0;
  }
  if (!ok) {
    recs_free(r, n);
    return 0;
  }
  *out = r;
  *nout = n;
  return 1;
}

/* Reads arch's file: 1 with its entries, 0 when there is none or it does
 * not parse (with `why` set then, else why[0] == 0), -1 out of memory. */
static int read_file(const char *path, const char *arch, struct rec **out, size_t *n, char *why,
                     size_t wlen) {
  *out = NULL;
  *n = 0;
  why[0] = 0;
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (errno != ENOENT) snprintf(why, wlen, "cannot be read: %s", strerror(errno));
    return 0;
  }
  char *text = malloc(PERF_FILE_MAX + 1);
  if (!text) {
    fclose(f);
    return -1;
  }
  size_t len = fread(text, 1, PERF_FILE_MAX + 1, f);
  int rerr = ferror(f);
  fclose(f);
  int rc;
  if (rerr) {
    snprintf(why, wlen, "cannot be read");
    rc = 0;
  } else if (len > PERF_FILE_MAX) {
    snprintf(why, wlen, "larger than %u bytes", PERF_FILE_MAX);
    rc = 0;
  } else {
    text[len] = 0;
    struct c_numeric c;
    c_numeric_enter(&c);
    rc = parse_file(text, len, arch, out, n, why, wlen);
    c_numeric_leave(&c);
  }
  free(text);
  return rc;
}

/* ---- the store ---- */

struct perf_store *perf_store_create(const char *dir, const struct perf_params *p) {
  struct perf_params q = p ? *p : (struct perf_params){0};
  if (!q.min_samples) q.min_samples = PERF_MIN_SAMPLES_DEFAULT;
  if (!q.explore_every) q.explore_every = PERF_EXPLORE_EVERY_DEFAULT;
  if (!q.explore_max)
    q.explore_max =
        q.explore_every > PERF_EXPLORE_MAX_DEFAULT ? q.explore_every : PERF_EXPLORE_MAX_DEFAULT;
  if (!q.window) q.window = PERF_WINDOW_DEFAULT;
  if (!q.early_samples) q.early_samples = PERF_EARLY_SAMPLES_DEFAULT;
  if (!q.early_ref) q.early_ref = PERF_EARLY_REF_DEFAULT;
  if (q.early_ratio == 0) q.early_ratio = PERF_EARLY_RATIO_DEFAULT;
  if (q.explore_max < q.explore_every || q.window < 2 || !(q.early_ratio >= 1.0)) {
    err_set(MAESTRO_EINVAL,
            "perf_store_create: explore_max %u below explore_every %u, window %u below 2, or "
            "early_ratio %g below 1",
            q.explore_max, q.explore_every, q.window, q.early_ratio);
    return NULL;
  }
  struct perf_store *s = calloc(1, sizeof *s);
  if (!s || (dir && dir[0] && !(s->dir = strdup(dir)))) {
    free(s);
    err_set(MAESTRO_ENOMEM, "perf_store_create: out of memory");
    return NULL;
  }
  pthread_mutex_init(&s->mu, NULL);
  s->p = q;
  return s;
}

unsigned perf_store_warnings(struct perf_store *s, char *msg, size_t len) {
  pthread_mutex_lock(&s->mu);
  unsigned n = s->warnings;
  if (msg && len) snprintf(msg, len, "%s", s->warning);
  pthread_mutex_unlock(&s->mu);
  return n;
}

static struct perf_key *key_get(struct perf_store *s, const char *name) {
  for (struct perf_key *k = s->keys; k; k = k->next)
    if (strcmp(k->name, name) == 0) return k;
  struct perf_key *k = calloc(1, sizeof *k);
  if (!k || !(k->name = strdup(name))) {
    free(k);
    return NULL;
  }
  k->next = s->keys;
  s->keys = k;
  return k;
}

static struct perf_hist *hist_find(struct perf_arch *a, const char *key) {
  for (struct perf_hist *h = a->hists; h; h = h->next)
    if (strcmp(h->key->name, key) == 0) return h;
  return NULL;
}

static struct perf_hist *hist_get(struct perf_store *s, struct perf_arch *a, const char *key) {
  struct perf_hist *h = hist_find(a, key);
  if (h) return h;
  struct perf_key *k = key_get(s, key);
  if (!k || !(h = calloc(1, sizeof *h))) return NULL;
  h->s = s;
  h->key = k;
  pthread_mutex_init(&h->mu, NULL);
  atomic_init(&h->last_chosen, atomic_load(&k->fires));
  atomic_init(&h->gap, s->p.explore_every);
  h->next = a->hists;
  a->hists = h;
  return h;
}

/* Loads arch's file into `a` (the store's lock held). */
static int arch_load(struct perf_store *s, struct perf_arch *a) {
  char path[PATH_MAX], why[256];
  if (!s->dir) return MAESTRO_OK;
  if (!arch_path(s, a->name, path, sizeof path)) {
    warn(s, "performance models of '%s' not kept: the directory name '%s' is too long", a->name,
         s->dir);
    return MAESTRO_OK;
  }
  struct rec *r;
  size_t n;
  int rc = read_file(path, a->name, &r, &n, why, sizeof why);
  if (rc < 0) return err_set(MAESTRO_ENOMEM, "perf_hist_get: out of memory");
  if (rc == 0) {
    if (why[0]) warn(s, "performance model file '%s' ignored: %s", path, why);
    return MAESTRO_OK;
  }
  for (size_t i = 0; i < n; i++) {
    struct perf_hist *h = hist_get(s, a, r[i].key);
    if (!h) {
      recs_free(r, n);
      return err_set(MAESTRO_ENOMEM, "perf_hist_get: out of memory");
    }
    /* Before the pointer is handed out: no lock needed. */
    h->e[r[i].bucket] = r[i].e;
    atomic_store(&h->pub_count[r[i].bucket], r[i].e.count);
    atomic_store(&h->pub_mean[r[i].bucket], r[i].e.mean);
    atomic_store(&h->pub_min[r[i].bucket], r[i].e.min);
  }
  recs_free(r, n);
  return MAESTRO_OK;
}

struct perf_hist *perf_hist_get(struct perf_store *s, const char *key, const char *arch) {
  if (!s || !key || !arch || !key[0] || !arch[0] || strlen(key) > PERF_NAME_MAX ||
      strlen(arch) > PERF_NAME_MAX) {
    err_set(MAESTRO_EINVAL, "perf_hist_get: key '%s' / architecture '%s' empty or longer than %d",
            key ? key : "(null)", arch ? arch : "(null)", PERF_NAME_MAX);
    return NULL;
  }
  pthread_mutex_lock(&s->mu);
  struct perf_arch *a = s->archs;
  while (a && strcmp(a->name, arch) != 0)
    a = a->next;
  struct perf_hist *h = NULL;
  if (!a) {
    a = calloc(1, sizeof *a);
    if (!a || !(a->name = strdup(arch))) {
      free(a);
      pthread_mutex_unlock(&s->mu);
      err_set(MAESTRO_ENOMEM, "perf_hist_get: out of memory");
      return NULL;
    }
    a->next = s->archs;
    s->archs = a;
    if (arch_load(s, a) != MAESTRO_OK) {
      pthread_mutex_unlock(&s->mu);
      return NULL;
    }
  }
  h = hist_get(s, a, key);
  pthread_mutex_unlock(&s->mu);
  if (!h) err_set(MAESTRO_ENOMEM, "perf_hist_get: out of memory");
  return h;
}

/* ---- the firing path ---- */

int perf_bucket(uint64_t bytes) {
  if (bytes <= 64) return 0;
  /* ceil(log2(bytes)) - 6: 65..128 is 1, 129..256 is 2 */
  int b = 64 - __builtin_clzll(bytes - 1) - 6;
  return b < PERF_BUCKETS - 1 ? b : PERF_BUCKETS - 1;
}

int perf_estimate(struct perf_hist *h, uint64_t bytes, double *ns) {
  if (!h) {
    *ns = -1.0;
    return 0;
  }
  int b = perf_bucket(bytes);
  uint64_t n = atomic_load_explicit(&h->pub_count[b], memory_order_acquire);
  double mean = atomic_load_explicit(&h->pub_mean[b], memory_order_relaxed);
  *ns = n ? mean : -1.0;
  return n >= h->s->p.min_samples;
}

uint64_t perf_samples(struct perf_hist *h, uint64_t bytes) {
  return h ? atomic_load_explicit(&h->pub_count[perf_bucket(bytes)], memory_order_acquire) : 0;
}

int perf_settled(struct perf_hist *h, uint64_t bytes, struct perf_hist *other) {
  if (!h) return 0;
  const struct perf_params *p = &h->s->p;
  int b = perf_bucket(bytes);
  uint64_t n = atomic_load_explicit(&h->pub_count[b], memory_order_acquire);
  if (n >= p->min_samples) return 1;
  if (!other || other == h || n < p->early_samples ||
      atomic_load_explicit(&other->pub_count[b], memory_order_acquire) < p->early_ref)
    return 0;
  /* Its fastest sample bounds them all: each one was that much slower. */
  double ref = atomic_load_explicit(&other->pub_mean[b], memory_order_relaxed);
  return ref > 0 &&
         atomic_load_explicit(&h->pub_min[b], memory_order_relaxed) > p->early_ratio * ref;
}

struct perf_stats perf_entry_stats(struct perf_hist *h, int bucket) {
  struct perf_stats st = {0};
  if (bucket < 0 || bucket >= PERF_BUCKETS) return st;
  const struct perf_entry *e = &h->e[bucket];
  unsigned w = h->s->p.window;
  pthread_mutex_lock(&h->mu);
  st.count = e->count;
  st.mean_ns = e->mean;
  st.min_ns = e->count ? e->min : 0;
  uint64_t n = e->count < w ? e->count : w;
  st.var_ns2 = n >= 2 ? e->m2 / (double)(n - 1) : 0.0;
  st.last_update = e->last;
  pthread_mutex_unlock(&h->mu);
  return st;
}

void perf_record(struct perf_hist *h, uint64_t bytes, uint64_t ns) {
  if (!h) return;
  const struct perf_params *p = &h->s->p;
  int b = perf_bucket(bytes);
  struct perf_entry *e = &h->e[b];
  double x = (double)ns;
  int64_t now = wall_s();
  pthread_mutex_lock(&h->mu);
  /* Any entry an exploration measures was trusted (calibrated, or judged
   * far slower on fewer samples): a fast sample undoes either. */
  if (atomic_exchange(&h->exploring, 0) && e->count > 0) {
    unsigned gap = atomic_load(&h->gap);
    if (x < e->mean * PERF_SURPRISE) {
      /* The model was wrong: measure the place anew. */
      e->count = 0;
      e->mean = e->m2 = e->min = 0;
      atomic_store(&h->gap, p->explore_every);
    } else {
      atomic_store(&h->gap, gap > p->explore_max / 2 ? p->explore_max : gap * 2);
    }
  }
  uint64_t n = ++e->count;
  if (n == 1 || x < e->min) e->min = x;
  double d = x - e->mean;
  if (n <= p->window) { /* Welford */
    e->mean += d / (double)n;
    e->m2 += d * (x - e->mean);
  } else { /* exponentially weighted, weight 1/window */
    double a = 1.0 / (double)p->window;
    e->mean += d * a;
    e->m2 = (1.0 - a) * (e->m2 + d * d);
  }
  e->last = now;
  e->gen++;
  atomic_store_explicit(&h->pub_mean[b], e->mean, memory_order_relaxed);
  atomic_store_explicit(&h->pub_min[b], e->min, memory_order_relaxed);
  atomic_store_explicit(&h->pub_count[b], e->count, memory_order_release);
  pthread_mutex_unlock(&h->mu);
}

void perf_chosen(struct perf_hist *h) {
  if (!h) return;
  uint64_t f = atomic_fetch_add(&h->key->fires, 1) + 1;
  atomic_store(&h->last_chosen, f);
}

int perf_should_explore(struct perf_hist *h) {
  return perf_should_explore_at(h, 1.0);
}

double perf_explore_stretch(struct perf_hist *h, uint64_t bytes, double slower) {
  if (!h || !(slower > 1.0)) return slower;
  const struct perf_params *p = &h->s->p;
  /* Judged on fewer samples than a reference needs (one slow first firing
   * may have been a cold start or a first launch): re-measured after gap
   * firings, not stretched, however slow it looked; the second sample
   * confirms the judgement (every sample slow, the full stretch from then
   * on) or undoes it. Unstretched because a cold start must be forgotten
   * soon: after a 5 ms first CPU firing, the CPU comes back after 64 firings
   * (89% of 600 on it), where a 4x stretch kept 256 on the device (57%). */
  if (atomic_load_explicit(&h->pub_count[perf_bucket(bytes)], memory_order_acquire) < p->early_ref)
    return 1.0;
  return slower;
}

int perf_should_explore_at(struct perf_hist *h, double slower) {
  if (!h) return 0;
  /* last_chosen first: every value it held came from fires, which only grows. */
  uint64_t last = atomic_load(&h->last_chosen);
  uint64_t f = atomic_load(&h->key->fires);
  double gap = (double)atomic_load(&h->gap);
  if (slower > 1.0) gap = slower < 1e9 ? gap * slower : 1e18; /* NaN stays at 1x */
  if ((double)(f - last) < gap) return 0;
  if (!atomic_compare_exchange_strong(&h->last_chosen, &last, f)) return 0;
  atomic_store(&h->exploring, 1);
  return 1;
}

/* ---- saving ---- */

static int arch_dirty(struct perf_arch *a) {
  int dirty = 0;
  for (struct perf_hist *h = a->hists; h && !dirty; h = h->next) {
    pthread_mutex_lock(&h->mu);
    for (int b = 0; b < PERF_BUCKETS && !dirty; b++)
      dirty = h->e[b].gen != h->e[b].saved;
    pthread_mutex_unlock(&h->mu);
  }
  return dirty;
}

static void put_entry(FILE *f, const char *key, int bucket, const struct perf_entry *e) {
  put_escaped(f, key);
  fprintf(f, " %d %llu %.17g %.17g %lld\n", bucket, (unsigned long long)e->count, e->mean, e->m2,
          (long long)e->last);
}

/* Writes `len` bytes to `path` through a temporary file and a rename. */
static int write_atomic(const char *path, const char *data, size_t len) {
  char tmp[PATH_MAX + 48];
  snprintf(tmp, sizeof tmp, "%s.%ld.%u.tmp", path, (long)getpid(),
           atomic_fetch_add(&tmp_counter, 1));
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(fd, data + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
  int ok = off == len;
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    errno = e ? e : EIO;
    return -1;
  }
  return 0;
}

/* Writes architecture `a` merged with its file (the store's lock and the
 * directory's flock held). */
static int arch_save(struct perf_store *s, struct perf_arch *a) {
  char path[PATH_MAX], why[256];
  if (!arch_path(s, a->name, path, sizeof path))
    return err_set(MAESTRO_ESYS, "perf_store_save: directory name '%s' too long", s->dir);
  struct rec *disk;
  size_t ndisk;
  if (read_file(path, a->name, &disk, &ndisk, why, sizeof why) < 0)
    return err_set(MAESTRO_ENOMEM, "perf_store_save: out of memory");
  size_t nh = 0;
  for (struct perf_hist *h = a->hists; h; h = h->next)
    nh++;
  uint64_t *snap = calloc(nh * PERF_BUCKETS + 1, sizeof *snap);
  char *text = NULL;
  size_t len = 0;
  FILE *f = snap ? open_memstream(&text, &len) : NULL;
  if (!f) {
    free(snap);
    recs_free(disk, ndisk);
    return err_set(MAESTRO_ENOMEM, "perf_store_save: out of memory");
  }
  struct c_numeric c;
  c_numeric_enter(&c);
  fprintf(f, "maestro-perf %d\narch ", PERF_VERSION);
  put_escaped(f, a->name);
  fputc('\n', f);
  size_t n = 0, i = 0;
  for (struct perf_hist *h = a->hists; h; h = h->next, i++) {
    pthread_mutex_lock(&h->mu);
    for (int b = 0; b < PERF_BUCKETS; b++) {
      struct perf_entry *e = &h->e[b];
      snap[i * PERF_BUCKETS + b] = e->gen;
      int mine = e->gen != e->saved;
      const struct perf_entry *out = e->count ? e : NULL;
      /* An entry not updated since the last save keeps the file's version
       * (another runtime may have updated it meanwhile). */
      for (size_t d = 0; d < ndisk && !mine; d++)
        if (disk[d].bucket == b && disk[d].key && strcmp(disk[d].key, h->key->name) == 0)
          out = &disk[d].e;
      if (out) {
        put_entry(f, h->key->name, b, out);
        n++;
      }
      for (size_t d = 0; d < ndisk; d++) /* written (or replaced) here */
        if (disk[d].bucket == b && disk[d].key && strcmp(disk[d].key, h->key->name) == 0) {
          free(disk[d].key);
          disk[d].key = NULL;
        }
    }
    pthread_mutex_unlock(&h->mu);
  }
  for (size_t d = 0; d < ndisk; d++) /* entries of keys this store never used */
    if (disk[d].key) {
      put_entry(f, disk[d].key, disk[d].bucket, &disk[d].e);
      n++;
    }
  fprintf(f, "end %zu\n", n);
  c_numeric_leave(&c);
  int ok = fclose(f) == 0;
  recs_free(disk, ndisk);
  int rc = MAESTRO_OK;
  if (!ok)
    rc = err_set(MAESTRO_ENOMEM, "perf_store_save: out of memory");
  else if (write_atomic(path, text, len) != 0)
    rc = err_set(MAESTRO_ESYS, "perf_store_save: cannot write '%s': %s", path, strerror(errno));
  free(text);
  if (rc == MAESTRO_OK) {
    i = 0;
    for (struct perf_hist *h = a->hists; h; h = h->next, i++) {
      pthread_mutex_lock(&h->mu);
      for (int b = 0; b < PERF_BUCKETS; b++)
        h->e[b].saved = snap[i * PERF_BUCKETS + b];
      pthread_mutex_unlock(&h->mu);
    }
  }
  free(snap);
  return rc;
}

int perf_store_save(struct perf_store *s) {
  if (!s || !s->dir) return MAESTRO_OK;
  pthread_mutex_lock(&s->mu);
  int rc = MAESTRO_OK, lockfd = -1;
  for (struct perf_arch *a = s->archs; a; a = a->next) {
    if (!arch_dirty(a)) continue;
    if (lockfd < 0) {
      if (fs_mkdir_p(s->dir) != 0) {
        rc = err_set(MAESTRO_ESYS, "perf_store_save: cannot create directory '%s': %s", s->dir,
                     strerror(errno));
        break;
      }
      /* flock locks an open file description: runtimes in one process
       * exclude each other as processes do. Where it fails (a file system
       * without locks), the rename still keeps every file whole. */
      lockfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (lockfd >= 0)
        while (flock(lockfd, LOCK_EX) != 0 && errno == EINTR) {
        }
    }
    int r = arch_save(s, a);
    if (r != MAESTRO_OK && rc == MAESTRO_OK) rc = r;
  }
  if (lockfd >= 0) close(lockfd); /* releases the flock */
  pthread_mutex_unlock(&s->mu);
  return rc;
}

void perf_store_destroy(struct perf_store *s) {
  if (!s) return;
  perf_store_save(s);
  while (s->archs) {
    struct perf_arch *a = s->archs;
    s->archs = a->next;
    while (a->hists) {
      struct perf_hist *h = a->hists;
      a->hists = h->next;
      pthread_mutex_destroy(&h->mu);
      free(h);
    }
    free(a->name);
    free(a);
  }
  while (s->keys) {
    struct perf_key *k = s->keys;
    s->keys = k->next;
    free(k->name);
    free(k);
  }
  pthread_mutex_destroy(&s->mu);
  free(s->dir);
  free(s);
}

/* ---- the runtime's store ---- */

int perf_place_arch(const struct maestro_runtime *rt, maestro_place_kind_t kind, int index,
                    char *buf, size_t len) {
  if (!rt || !buf || !len) return err_set(MAESTRO_EINVAL, "perf_place_arch: bad argument");
  if (kind == MAESTRO_PLACE_CPU) {
    if (index < 0 || index >= rt->ncpu)
      return err_set(MAESTRO_ENODEV, "perf_place_arch: no CPU place %d (this runtime has %d)",
                     index, rt->ncpu);
    snprintf(buf, len, "%s", place_cpu_arch(rt, index));
    return MAESTRO_OK;
  }
  int ndev = atomic_load(&((struct maestro_runtime *)rt)->ndev);
  if (kind != MAESTRO_PLACE_DEVICE || index < 0 || index >= ndev)
    return err_set(MAESTRO_ENODEV, "perf_place_arch: no place (kind %d, index %d)", (int)kind,
                   index);
  snprintf(buf, len, "%s", place_arch(rt, index));
  return MAESTRO_OK;
}

int perf_init(struct maestro_runtime *rt) {
  rt->perf = perf_store_create(rt->cfg.perf_dir, NULL);
  return rt->perf ? MAESTRO_OK : MAESTRO_ENOMEM;
}

void perf_fini(struct maestro_runtime *rt) {
  perf_store_destroy(rt->perf);
  rt->perf = NULL;
}
