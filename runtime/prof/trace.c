/* The Chrome Trace Event writer (MAESTRO_TRACE=file.json), opened by
 * Perfetto and chrome://tracing.
 *
 * Recording (hot path) and writing are apart. A traced firing appends one
 * fixed-size binary record (prof/trace_rec.h) to its thread's current chunk
 * and publishes it with one release store of the chunk's word count: no
 * lock, no formatting, no system call, no shared cache line. Chunks come
 * from one arena per trace, reserved at open (its first part faulted in
 * at once, so that recording takes no page fault there), and are recycled
 * once written.
 *
 * The JSON is formatted only when the trace is written: when the runtime is
 * destroyed, when prof_trace_flush() asks, and in the background (on the
 * stats thread) only when the records waiting pass the buffer cap
 * (MAESTRO_TRACE_BUFFER_MB, default 256): memory stays bounded, and a run
 * whose records fit pays no formatting while it runs. A writer that finds
 * no free chunk at all writes the trace itself (back-pressure, nothing lost).
 * The file is valid JSON after every write: events go before a fixed footer
 * that the next write overwrites.
 *
 * Time: records hold prof_clock() ticks (the TSC where it is invariant),
 * mapped onto rt_now_ns() at write time by a linear fit between the pair
 * (ticks, ns) read at open and the one read at the write. Short CPU firings
 * are not timed one by one (a clock read costs more than such a firing):
 * the engine brackets a batch of firings with one span, and the writer
 * spreads the batch's untimed firings evenly over it.
 *
 * Tracks (tid): 0 host, 1 + i "cpu i", 1001 + d "device d: <name>",
 * 2001 + d "device d: <name> transfers". A firing is a complete event
 * ("ph":"X", "cat":"firing", "name": the agent); its message flows are
 * "s"/"f" events with the message id; channel depths are counters ("C"). */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "base/error.h"
#include "base/runtime.h"
#include "prof/prof.h"
#include "prof/prof_impl.h"
#include "prof/trace_rec.h"
#include "prof/trace_write.h"

_Static_assert(NAME_PAGES *NAME_PAGE == REC_NAMES, "name table and record name ids");

int prof_clock_tsc;

enum { CHUNK_BYTES = 1 << 20, CHUNK_WORDS = (CHUNK_BYTES - 64) / 8 };
/* A batch's firings are timed one by one when they average more than this
 * many ticks (about a microsecond): a clock read is then under 2 %. */
enum { TIMED_TICKS = 4096 };

struct trace_chunk {
  struct trace_chunk *next_free;      /* arena free list */
  _Atomic(struct trace_chunk *) next; /* the writer's next chunk */
  _Atomic uint32_t count;             /* words published (writer: release) */
  uint32_t done;                      /* words written to the file (writer of the file only) */
  uint32_t heap;                      /* from the heap, not the arena */
  uint32_t pad0;
  uint64_t pad[4]; /* the words start on their own cache line */
  uint64_t w[CHUNK_WORDS];
};
_Static_assert(sizeof(struct trace_chunk) == CHUNK_BYTES, "chunk layout");

static int in_arena(const struct trace *t, const void *p) {
  return (const char *)p >= t->arena && (const char *)p < t->arena + t->arena_bytes;
}

struct trace_buf {
  struct trace_buf *next; /* registry list */
  pthread_t owner;
  struct trace_chunk *head;           /* the file writer's end */
  _Atomic(struct trace_chunk *) tail; /* the recording thread's end */
};

static _Atomic uint64_t trace_ids;

/* This thread's recording state (initial-exec: no call to find it). */
static __attribute__((tls_model("initial-exec"))) _Thread_local struct {
  uint64_t id; /* the trace it records into */
  struct trace_buf *buf;
  struct trace_chunk *c; /* == buf->tail */
  uint32_t n;            /* words in c (== c->count) */
  int in_batch;
  uint64_t batch_t0; /* prof_clock() at the batch's start (or its last chunk change) */
} tl;

/* The run the next untimed firing may extend (prof.h's inline part). */
__attribute__((tls_model("initial-exec"))) _Thread_local struct prof_run prof_run;

static const char FOOTER[] = "\n]}\n";

static void trace_wake_drain(struct trace *t);

int prof_tracing(const struct maestro_runtime *rt) {
  return rt && rt->prof && rt->prof->trace;
}

static int place_tid(maestro_place_kind_t kind, int index) {
  if (index < 0) return TID_HOST;
  return kind == MAESTRO_PLACE_DEVICE ? TID_DEV + index : TID_CPU + index;
}

/* ---- the clock ---- */

static void clock_choose(void) {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a, b, c, d;
  /* Invariant TSC: constant rate, runs in every C-state, synchronised
   * across cores by the OS. Otherwise the portable clock. */
  if (__get_cpuid(0x80000007, &a, &b, &c, &d) && (d & (1u << 8))) prof_clock_tsc = 1;
#endif
}

/* A (ticks, ns) pair read as close together as the clocks allow. */
static void clock_pair(uint64_t *ticks, uint64_t *ns) {
  uint64_t best = UINT64_MAX;
  *ticks = prof_clock();
  *ns = rt_now_ns();
  for (int i = 0; i < 5; i++) {
    uint64_t a = prof_clock(), n = rt_now_ns(), b = prof_clock();
    if (b - a < best) {
      best = b - a;
      *ticks = a + (b - a) / 2;
      *ns = n;
    }
  }
}

/* ---- names ---- */

/* Interns `s` (a name, or NULL) as a JSON string; returns its id. The table
 * only grows, in pages that never move, so the file writer reads it without
 * the lock (an id reaches it through a published record). */
uint32_t trace_intern(struct trace *t, const char *s) {
  if (!s) s = "";
  size_t len = strnlen(s, 1000);
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < len; i++)
    h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  pthread_mutex_lock(&t->names_lock);
  uint32_t id = 0;
  for (size_t k = h & (NAME_HASH - 1);; k = (k + 1) & (NAME_HASH - 1)) {
    uint32_t e = t->hash[k];
    if (!e) {
      if (t->nnames >= REC_NAMES) break; /* full: id 0, the empty name */
      uint32_t nid = t->nnames;
      struct trace_name **pg = &t->pages[nid / NAME_PAGE];
      if (!*pg && !(*pg = calloc(NAME_PAGE, sizeof **pg))) break;
      struct trace_name *nm = &(*pg)[nid % NAME_PAGE];
      char *raw = malloc(len + 1), *js = malloc(len * 6 + 3);
      if (!raw || !js) {
        free(raw);
        free(js);
        break;
      }
      memcpy(raw, s, len);
      raw[len] = '\0';
      nm->raw = raw;
      nm->json = js;
      nm->json_len = (uint32_t)(tw_put_str(js, raw) - js);
      t->nnames++;
      /* Keep the table at most half full: past it, new names get id 0. */
      if (t->nnames < NAME_HASH / 2) t->hash[k] = nid + 1;
      id = nid;
      break;
    }
    struct trace_name *nm = &t->pages[(e - 1) / NAME_PAGE][(e - 1) % NAME_PAGE];
    if (strncmp(nm->raw, s, len) == 0 && nm->raw[len] == '\0') {
      id = e - 1;
      break;
    }
  }
  pthread_mutex_unlock(&t->names_lock);
  return id;
}

uint32_t prof_trace_name(struct maestro_runtime *rt, const char *name) {
  return prof_tracing(rt) ? trace_intern(rt->prof->trace, name) : 0;
}

/* ---- chunks ---- */

/* Faults in the arena's first `bytes` before any writer gets there. */
static void arena_prefault(struct trace *t, size_t bytes) {
  if (bytes > t->arena_bytes) bytes = t->arena_bytes;
  for (size_t o = 0; o < bytes; o += 4096)
    ((volatile char *)t->arena)[o] = 0;
}

/* A chunk for a writer: a recycled one, or the arena's next; NULL when
 * every chunk holds records not yet written, unless `heap`: then one from
 * the heap (more threads than the arena has chunks), freed when written. */
static struct trace_chunk *chunk_take(struct trace *t, int heap) {
  pthread_mutex_lock(&t->free_lock);
  struct trace_chunk *c = t->free;
  if (c) {
    t->free = c->next_free;
  } else if (t->arena_next + CHUNK_BYTES <= t->arena_bytes) {
    c = (struct trace_chunk *)(t->arena + t->arena_next);
    t->arena_next += CHUNK_BYTES;
  }
  size_t in_use = ++t->chunks_in_use;
  pthread_mutex_unlock(&t->free_lock);
  if (!c && heap) c = aligned_alloc(64, sizeof *c);
  if (!c) {
    pthread_mutex_lock(&t->free_lock);
    t->chunks_in_use--;
    pthread_mutex_unlock(&t->free_lock);
    return NULL;
  }
  c->heap = !in_arena(t, c);
  c->next_free = NULL;
  atomic_store_explicit(&c->next, NULL, memory_order_relaxed);
  atomic_store_explicit(&c->count, 0, memory_order_relaxed);
  c->done = 0;
  /* Past the cap's drain mark: ask the stats thread to write in the
   * background while there is room left. */
  if (in_use * CHUNK_BYTES >= t->drain_mark) trace_wake_drain(t);
  return c;
}

static void chunk_give_back(struct trace *t, struct trace_chunk *c) {
  int heap = (int)c->heap; /* c is the caller's until it is on the free list */
  pthread_mutex_lock(&t->free_lock);
  if (!heap) {
    c->next_free = t->free;
    t->free = c;
  }
  t->chunks_in_use--;
  pthread_mutex_unlock(&t->free_lock);
  if (heap) free(c);
}

static void flush_locked(struct trace *t, int final);

/* Makes tl point at this thread's buffer of `t`, with room for `words`
 * more words (+ a span). Returns 0 when there is no memory at all. */
static int rec_slow(struct trace *t, uint32_t words) {
  if (tl.id != t->id) {
    /* This thread's buffer of this trace, if it had one (a thread that
     * records into two runtimes' traces in turn). */
    struct trace_buf *b = NULL;
    pthread_mutex_lock(&t->lock);
    for (b = t->bufs; b; b = b->next)
      if (pthread_equal(b->owner, pthread_self())) break;
    pthread_mutex_unlock(&t->lock);
    if (!b) {
      struct trace_chunk *c = chunk_take(t, 0);
      if (!c) {
        pthread_mutex_lock(&t->lock);
        flush_locked(t, 0);
        pthread_mutex_unlock(&t->lock);
        c = chunk_take(t, 1);
      }
      b = c ? calloc(1, sizeof *b) : NULL;
      if (!b) {
        if (c) chunk_give_back(t, c);
        return 0;
      }
      b->owner = pthread_self();
      b->head = c;
      atomic_store_explicit(&b->tail, c, memory_order_relaxed);
      pthread_mutex_lock(&t->lock);
      b->next = t->bufs;
      t->bufs = b;
      pthread_mutex_unlock(&t->lock);
    }
    tl.id = t->id;
    tl.buf = b;
    tl.c = atomic_load_explicit(&b->tail, memory_order_relaxed);
    tl.n = atomic_load_explicit(&tl.c->count, memory_order_relaxed);
    tl.in_batch = 0;
    prof_run.count = NULL;
  }
  if (tl.n + words + REC_SPAN_WORDS <= CHUNK_WORDS) return 1;
  /* The chunk is full. A batch going on is closed in it with a span to
   * now and goes on in the next chunk: a chunk's untimed firings never
   * wait for another chunk. */
  struct trace_chunk *c = tl.c;
  if (tl.in_batch) {
    uint64_t now = prof_clock();
    rec_put_span(c->w + tl.n, tl.batch_t0, now);
    tl.n += REC_SPAN_WORDS;
    atomic_store_explicit(&c->count, tl.n, memory_order_release);
    tl.batch_t0 = now;
  }
  prof_run.count = NULL; /* a run never spans two chunks */
  struct trace_chunk *nc = chunk_take(t, 0);
  if (!nc) { /* every chunk waits to be written: write them here */
    pthread_mutex_lock(&t->lock);
    flush_locked(t, 0);
    pthread_mutex_unlock(&t->lock);
    nc = chunk_take(t, 1);
  }
  if (!nc) return 0;
  atomic_store_explicit(&c->next, nc, memory_order_release);
  atomic_store_explicit(&tl.buf->tail, nc, memory_order_relaxed);
  tl.c = nc;
  tl.n = 0;
  return 1;
}

/* Reserves `words` words for the record about to be written, or NULL. */
static inline uint64_t *rec_begin(struct trace *t, uint32_t words) {
  if (__builtin_expect(tl.id != t->id || tl.n + words + REC_SPAN_WORDS > CHUNK_WORDS, 0) &&
      !rec_slow(t, words))
    return NULL;
  return tl.c->w + tl.n;
}

static inline void rec_commit(uint32_t words) {
  tl.n += words;
  atomic_store_explicit(&tl.c->count, tl.n, memory_order_release);
}

/* ---- recording ---- */

void prof_trace_fire_rec(struct maestro_runtime *rt, int index, uint32_t name, uint64_t seq,
                         uint64_t bytes, uint64_t t0, uint64_t t1, uint64_t flow_in,
                         uint64_t flow_out) {
  struct prof *p = rt->prof;
  if (!p || !p->trace) return;
  int timed = t1 != 0, big = bytes >= REC_HEAD_BYTES;
  uint64_t head = rec_head(timed ? REC_FIRE_TIMED : REC_FIRE, (uint32_t)(TID_CPU + index), name,
                           big ? REC_F_BIG : 0) |
                  (big ? 0 : bytes << 40);
  prof_run.batch_n++;
  uint32_t words = (timed ? REC_FIRE_TIMED_WORDS : REC_FIRE_WORDS) + (uint32_t)big;
  uint64_t *w = rec_begin(p->trace, words);
  if (!w) return;
  w[0] = head;
  w[1] = seq;
  w[2] = flow_in;
  w[3] = flow_out;
  w += 4;
  if (!timed) *w++ = 1; /* the run's count */
  if (big) *w++ = bytes;
  if (timed) {
    w[0] = t0;
    w[1] = t1;
  }
  rec_commit(words);
  if (!timed && !big && tl.in_batch) {
    prof_run.count = tl.c->w + tl.n - words + 4;
    prof_run.key = (uint64_t)name << 32 | (uint32_t)index;
    prof_run.bytes = bytes;
    prof_run.seq = seq + 1;
    prof_run.in = flow_in + (flow_in != 0);
    prof_run.out = flow_out + (flow_out != 0);
  } else {
    prof_run.count = NULL;
  }
}

void prof_trace_fire_ns(struct maestro_runtime *rt, maestro_place_kind_t kind, int index,
                        uint32_t name, uint64_t seq, uint64_t bytes, uint64_t t0_ns, uint64_t t1_ns,
                        uint64_t flow_in, uint64_t flow_out) {
  struct prof *p = rt->prof;
  if (!p || !p->trace) return;
  int big = bytes >= REC_HEAD_BYTES;
  uint32_t words = REC_FIRE_TIMED_WORDS + (uint32_t)big;
  uint64_t *w = rec_begin(p->trace, words);
  if (!w) return;
  w[0] = rec_head(REC_FIRE_TIMED, (uint32_t)place_tid(kind, index), name,
                  REC_F_NS | (big ? REC_F_BIG : 0)) |
         (big ? 0 : bytes << 40);
  w[1] = seq;
  w[2] = flow_in;
  w[3] = flow_out;
  w += 4;
  if (big) *w++ = bytes;
  w[0] = t0_ns;
  w[1] = t1_ns > t0_ns ? t1_ns : t0_ns;
  rec_commit(words);
}

void prof_trace_firing(struct maestro_runtime *rt, maestro_place_kind_t kind, int index,
                       const char *agent, uint64_t seq, uint64_t bytes, uint64_t t0_ns,
                       uint64_t t1_ns, uint64_t flow_in, uint64_t flow_out) {
  if (!prof_tracing(rt)) return;
  prof_trace_fire_ns(rt, kind, index, trace_intern(rt->prof->trace, agent), seq, bytes, t0_ns,
                     t1_ns, flow_in, flow_out);
}

uint64_t prof_trace_batch_begin(struct maestro_runtime *rt) {
  uint64_t now = prof_clock();
  struct prof *p = rt->prof;
  if (!p || !p->trace) return now;
  if (!rec_begin(p->trace, 0)) return now;
  tl.in_batch = 1;
  tl.batch_t0 = now;
  prof_run.batch_n = 0;
  prof_run.count = NULL;
  return now;
}

int prof_trace_batch_end(struct maestro_runtime *rt) {
  struct prof *p = rt->prof;
  if (!p || !p->trace || tl.id != p->trace->id || !tl.in_batch) return 0;
  uint64_t now = prof_clock();
  uint32_t n = prof_run.batch_n;
  /* rec_begin left room for a span in the chunk. */
  rec_put_span(tl.c->w + tl.n, tl.batch_t0, now);
  rec_commit(REC_SPAN_WORDS);
  tl.in_batch = 0;
  prof_run.count = NULL;
  return n && (now - tl.batch_t0) / n > TIMED_TICKS;
}

void prof_trace_transfer(struct maestro_runtime *rt, int dev, const char *what, uint64_t bytes,
                         uint64_t t0_ns, uint64_t t1_ns) {
  if (!prof_tracing(rt)) return;
  struct trace *t = rt->prof->trace;
  uint32_t name = trace_intern(t, what);
  uint64_t *w = rec_begin(t, REC_XFER_WORDS);
  if (!w) return;
  w[0] = rec_head(REC_XFER, (uint32_t)(dev >= 0 ? TID_XFER + dev : TID_HOST), name, REC_F_NS);
  w[1] = bytes;
  w[2] = t0_ns;
  w[3] = t1_ns > t0_ns ? t1_ns : t0_ns;
  rec_commit(REC_XFER_WORDS);
}

void prof_trace_depth(struct maestro_runtime *rt, const char *channel, uint32_t depth,
                      uint64_t t_ns) {
  if (!prof_tracing(rt)) return;
  struct trace *t = rt->prof->trace;
  uint32_t name = trace_intern(t, channel);
  uint64_t *w = rec_begin(t, REC_DEPTH_WORDS);
  if (!w) return;
  w[0] = rec_head(REC_DEPTH, TID_HOST, name, REC_F_NS);
  w[1] = depth;
  w[2] = t_ns;
  rec_commit(REC_DEPTH_WORDS);
}

void trace_sample_depths(struct prof *p, const struct prof_chan_rec *c, int n, uint64_t t_ns) {
  for (int i = 0; i < n; i++) {
    char name[EV_NAME];
    snprintf(name, sizeof name, "%.16s: %.20s->%.20s", c[i].graph, c[i].from, c[i].to);
    prof_trace_depth(p->rt, name, c[i].depth, t_ns);
  }
}

/* ---- writing ---- */

/* Ticks -> ns on rt_now_ns()'s clock: a line through the pair read at open
 * and the one read at this write. */
static void clock_fit(struct trace *t) {
  uint64_t tk = 0, ns = 0;
  clock_pair(&tk, &ns);
  if (tk > t->tick0 && ns > t->ns0)
    t->ns_per_tick = (double)(ns - t->ns0) / (double)(tk - t->tick0);
}

static uint64_t to_ns(const struct trace *t, uint64_t v, int ns) {
  if (ns) return v;
  double d = (double)(int64_t)(v - t->tick0) * t->ns_per_tick;
  return t->ns0 + (uint64_t)(int64_t)d;
}

/* Words of the record that starts with `h`. */
static uint32_t rec_words(uint64_t h) {
  switch (rec_type(h)) {
  case REC_FIRE:
  case REC_FIRE_TIMED: return rec_fire_words(h);
  case REC_SPAN: return REC_SPAN_WORDS;
  case REC_XFER: return REC_XFER_WORDS;
  case REC_DEPTH: return REC_DEPTH_WORDS;
  default: return 1;
  }
}

static const struct trace_name *name_of(const struct trace *t, uint32_t id) {
  return &t->pages[id / NAME_PAGE][id % NAME_PAGE];
}

/* Writes the run of firings `r`, firings k.. of the `n` that share out
 * [a, b] ns evenly; returns the k of the firing after it. */
static uint64_t write_run(struct trace *t, const uint64_t *r, uint64_t k, uint64_t n, uint64_t a,
                          uint64_t b) {
  const struct trace_name *name = name_of(t, rec_name(r[0]));
  uint64_t bytes = rec_fire_bytes(r), span = b - a;
  for (uint64_t m = 0; m < r[4]; m++, k++) {
    uint64_t t0 = a + (uint64_t)((double)span * (double)k / (double)n);
    uint64_t t1 = a + (uint64_t)((double)span * (double)(k + 1) / (double)n);
    if (t1 > b) t1 = b;
    tw_firing(t, rec_tid(r[0]), name, r[1] + m, bytes, r[2] ? r[2] + m : 0, r[3] ? r[3] + m : 0, t0,
              t1);
  }
  return k;
}

/* Writes the records of w[from, to); untimed firings are spread over the
 * span that closes them (or, when `final` and none does, over nothing). */
static void write_words(struct trace *t, const uint64_t *w, uint32_t from, uint32_t to, int final) {
  uint32_t pend = UINT32_MAX, npend = 0; /* untimed firings waiting for their span */
  uint64_t last = t->last_ns;            /* the latest time seen */
  for (uint32_t i = from; i < to; i += rec_words(w[i])) {
    uint64_t h = w[i];
    switch (rec_type(h)) {
    case REC_FIRE:
      if (pend == UINT32_MAX) pend = i;
      npend += w[i + 4];
      break;
    case REC_SPAN: {
      uint64_t a = to_ns(t, w[i + 1], 0), b = to_ns(t, w[i + 2], 0);
      if (b < a) b = a;
      last = b;
      uint64_t k = 0;
      /* The batch as a slice around its firings: their times inside it are
       * spread evenly, not measured one by one. */
      if (npend > 1) tw_batch(t, rec_tid(w[pend]), npend, a, b);
      for (uint32_t j = pend; npend && j < i; j += rec_words(w[j]))
        if (rec_type(w[j]) == REC_FIRE) k = write_run(t, &w[j], k, npend, a, b);
      pend = UINT32_MAX;
      npend = 0;
      break;
    }
    case REC_FIRE_TIMED: {
      int ns = rec_flags(h) & REC_F_NS;
      const uint64_t *tt = rec_fire_times(&w[i]);
      last = to_ns(t, tt[1], ns);
      tw_firing(t, rec_tid(h), name_of(t, rec_name(h)), w[i + 1], rec_fire_bytes(&w[i]), w[i + 2],
                w[i + 3], to_ns(t, tt[0], ns), last);
      break;
    }
    case REC_XFER: tw_transfer(t, &w[i], name_of(t, rec_name(h))); break;
    case REC_DEPTH: tw_depth(t, &w[i], name_of(t, rec_name(h))); break;
    default: break;
    }
  }
  /* A batch never closed (its thread went on recording into another
   * runtime's trace): at the last time known. */
  if (final && npend)
    for (uint32_t j = pend; j < to; j += rec_words(w[j]))
      if (rec_type(w[j]) == REC_FIRE) write_run(t, &w[j], 0, 1, last, last);
  t->last_ns = last;
}

/* How far [from, n) can be written now: up to the last span when untimed
 * firings follow it (their span is not recorded yet), else all of it. */
static uint32_t writable_end(const uint64_t *w, uint32_t from, uint32_t n) {
  uint32_t safe = from;
  int open = 0;
  for (uint32_t i = from; i < n; i += rec_words(w[i])) {
    uint32_t type = rec_type(w[i]);
    if (type == REC_SPAN) {
      safe = i + REC_SPAN_WORDS;
      open = 0;
    } else if (type == REC_FIRE) {
      open = 1;
    }
  }
  return open ? safe : n;
}

/* Writes every record published so far; the caller holds t->lock. Once a
 * write failed, records are dropped instead (their chunks reused: memory
 * stays bounded, recording threads never wait on a file that fails). */
static void flush_locked(struct trace *t, int final) {
  if (!t->f) return;
  if (!t->failed && fseek(t->f, t->body_end, SEEK_SET) != 0) tw_fail(t, errno);
  int drop = t->failed;
  if (!drop) {
    clock_fit(t);
    tw_meta_devices(t, t->prof->rt);
  }
  for (struct trace_buf *b = t->bufs; b; b = b->next) {
    struct trace_chunk *c = b->head;
    while (c) {
      uint32_t n = atomic_load_explicit(&c->count, memory_order_acquire);
      struct trace_chunk *next = atomic_load_explicit(&c->next, memory_order_acquire);
      /* A chunk with a successor is complete: `next` was published after
       * its last record. Re-read the count after `next` for that. */
      if (next) n = atomic_load_explicit(&c->count, memory_order_acquire);
      uint32_t end = next || final ? n : writable_end(c->w, c->done, n);
      if (end > c->done && !drop) write_words(t, c->w, c->done, end, final || next != NULL);
      c->done = end;
      if (!next) break;
      b->head = next; /* the writer has moved on: c is ours */
      chunk_give_back(t, c);
      c = next;
    }
  }
  if (drop) return;
  tw_out_flush(t);
  t->body_end = ftell(t->f);
  fputs(FOOTER, t->f);
  if (fflush(t->f) != 0 || ferror(t->f)) tw_fail(t, errno);
}

int prof_trace_flush(struct maestro_runtime *rt) {
  if (!prof_tracing(rt)) return MAESTRO_OK;
  struct trace *t = rt->prof->trace;
  pthread_mutex_lock(&t->lock);
  flush_locked(t, 0);
  int failed = t->failed, e = t->error;
  pthread_mutex_unlock(&t->lock);
  if (failed)
    return err_set(MAESTRO_ESYS, "prof_trace_flush: writing the trace file '%s' failed: %s",
                   t->path, strerror(e));
  return MAESTRO_OK;
}

/* The stats thread's part: write when past the drain mark. (It does not
 * populate the arena ahead of the writers: on a machine whose cores are all
 * busy that costs the run as much as the writers' own page faults.) */
void trace_background(struct prof *p) {
  struct trace *t = p->trace;
  if (!t) return;
  pthread_mutex_lock(&t->free_lock);
  size_t in_use = t->chunks_in_use * CHUNK_BYTES;
  pthread_mutex_unlock(&t->free_lock);
  atomic_store_explicit(&t->drain_asked, 0, memory_order_relaxed);
  if (in_use >= t->drain_mark) {
    pthread_mutex_lock(&t->lock);
    flush_locked(t, 0);
    pthread_mutex_unlock(&t->lock);
  }
}

/* Asks the stats thread for trace_background() now. */
static void trace_wake_drain(struct trace *t) {
  atomic_store_explicit(&t->drain_asked, 1, memory_order_relaxed);
  pthread_mutex_lock(&t->prof->wake_lock);
  pthread_cond_signal(&t->prof->wake);
  pthread_mutex_unlock(&t->prof->wake_lock);
}

int trace_open(struct prof *p, const char *path) {
  struct trace *t = calloc(1, sizeof *t);
  if (!t) return err_set(MAESTRO_ENOMEM, "MAESTRO_TRACE: out of memory");
  size_t mb = (size_t)p->rt->cfg.trace_buffer_mb;
  t->arena_bytes = mb << 20;
  t->arena = mmap(NULL, t->arena_bytes, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (t->arena == MAP_FAILED) {
    free(t);
    return err_set(MAESTRO_ENOMEM, "MAESTRO_TRACE: cannot reserve %zu MiB of trace buffer", mb);
  }
  t->f = fopen(path, "w");
  int open_errno = errno;
  t->path = strdup(path);
  if (!t->f || !t->path) {
    int e = t->f ? ENOMEM : open_errno;
    if (t->f) fclose(t->f);
    free(t->path);
    munmap(t->arena, t->arena_bytes);
    free(t);
    return err_set(MAESTRO_EINVAL, "MAESTRO_TRACE='%s': cannot write the trace file: %s", path,
                   strerror(e));
  }
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, clock_choose);
  t->prof = p;
  t->id = atomic_fetch_add(&trace_ids, 1) + 1;
  t->start_ns = p->rt->start_ns;
  t->pid = (int)getpid();
  /* Written in the background from three quarters of the cap on. */
  t->drain_mark = t->arena_bytes / 4 * 3;
  pthread_mutex_init(&t->lock, NULL);
  pthread_mutex_init(&t->free_lock, NULL);
  pthread_mutex_init(&t->names_lock, NULL);
  clock_pair(&t->tick0, &t->ns0);
  t->last_ns = t->ns0;
  t->ns_per_tick = prof_clock_tsc ? 0.0 : 1.0;
  trace_intern(t, ""); /* id 0 */
  /* The first part of the arena now: recording never waits for a page
   * fault there (a first touch costs 1-3 us a page on a VM, about 40 ns a
   * 32-byte record). Past it, the writers fault pages in themselves. */
  size_t pre = (size_t)p->rt->cfg.trace_prefault_mb << 20;
  arena_prefault(t, pre);
  tw_init(t);
  tw_meta(t, p->rt);
  t->body_end = ftell(t->f);
  fputs(FOOTER, t->f);
  p->trace = t;
  if (fflush(t->f) != 0 || ferror(t->f)) { /* a full disk, /dev/full */
    int e = errno ? errno : EIO;
    tw_fail(t, e);
    err_format("MAESTRO_TRACE='%s': cannot write the trace file: %s", path, strerror(e));
    trace_close(p);
    return MAESTRO_ESYS;
  }
  return MAESTRO_OK;
}

void trace_close(struct prof *p) {
  struct trace *t = p->trace;
  if (!t) return;
  pthread_mutex_lock(&t->lock);
  flush_locked(t, 1);
  pthread_mutex_unlock(&t->lock);
  p->trace = NULL;
  if (fclose(t->f) != 0) tw_fail(t, errno);
  for (struct trace_buf *b = t->bufs, *nb; b; b = nb) {
    nb = b->next;
    for (struct trace_chunk *c = b->head, *nc; c; c = nc) {
      nc = atomic_load_explicit(&c->next, memory_order_relaxed);
      if (c->heap) free(c);
    }
    free(b);
  }
  for (int i = 0; i < NAME_PAGES && t->pages[i]; i++) {
    for (int k = 0; k < NAME_PAGE; k++) {
      free(t->pages[i][k].raw);
      free(t->pages[i][k].json);
    }
    free(t->pages[i]);
  }
  munmap(t->arena, t->arena_bytes);
  pthread_mutex_destroy(&t->lock);
  pthread_mutex_destroy(&t->free_lock);
  pthread_mutex_destroy(&t->names_lock);
  free(t->path);
  free(t);
}
