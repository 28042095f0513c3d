/* The trace recorder (core/trace.h, core/trace_rec.h): the recording half
 * of MAESTRO_TRACE, below the writer in runtime/prof.
 *
 * A traced firing appends one fixed-size binary record to its thread's
 * current chunk and publishes it with one release store of the chunk's word
 * count: no lock, no formatting, no system call, no shared cache line.
 * Chunks come from one arena per trace, reserved at start (its first part
 * faulted in at once, so that recording takes no page fault there), and are
 * recycled once written by the writer thread, which drains them as the run
 * goes. Past three quarters of the arena the recorder wakes the writer at
 * once (writer.wake_drain); a thread that finds no free chunk at all loses
 * the record, counted in tracer->lost (the writer reports it): recording
 * never waits for the file.
 *
 * Short CPU firings are not timed one by one (a clock read costs more than
 * such a firing): the engine brackets a batch of firings with one span, and
 * the writer spreads the batch's untimed firings evenly over it. */
#include <stddef.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "base/error.h"
#include "base/runtime.h"
#include "core/trace.h"
#include "core/trace_rec.h"

int trace_clock_tsc;

/* A batch's firings are timed one by one when they average more than this
 * many ticks (about a microsecond): a clock read is then under 2 %. */
enum { TIMED_TICKS = 4096 };

_Static_assert(sizeof(struct trace_chunk) == TRACE_CHUNK_BYTES, "chunk layout");
_Static_assert((int)TRACE_CHOICE_PLACES == (int)REC_CHOICE_PLACES, "a choice's places");

static _Atomic uint64_t trace_ids;

/* This thread's recording state (initial-exec: no call to find it). */
static __attribute__((tls_model("initial-exec"))) _Thread_local struct {
  uint64_t id; /* the trace it records into */
  struct trace_buf *buf;
  struct trace_chunk *c; /* == buf->tail */
  uint32_t n;            /* words in c (== c->count) */
  int in_batch;
  uint64_t batch_t0;  /* trace_clock() at the batch's start (or its last chunk change) */
  uint64_t fail_pass; /* tracer->passes when a record was last dropped (0: none) */
} tl;

/* The run the next untimed firing may extend (trace.h's inline part). */
__attribute__((tls_model("initial-exec"))) _Thread_local struct trace_run trace_run;

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
  if (__get_cpuid(0x80000007, &a, &b, &c, &d) && (d & (1u << 8))) trace_clock_tsc = 1;
#endif
}

void tracer_clock_pair(uint64_t *ticks, uint64_t *ns) {
  uint64_t best = UINT64_MAX;
  *ticks = trace_clock();
  *ns = rt_now_ns();
  for (int i = 0; i < 5; i++) {
    uint64_t a = trace_clock(), n = rt_now_ns(), b = trace_clock();
    if (b - a < best) {
      best = b - a;
      *ticks = a + (b - a) / 2;
      *ns = n;
    }
  }
}

/* ---- names ---- */

uint32_t tracer_intern(struct tracer *t, const char *s) {
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
      char ***pg = &t->pages[nid / NAME_PAGE];
      if (!*pg && !(*pg = calloc(NAME_PAGE, sizeof **pg))) break;
      char *raw = malloc(len + 1);
      if (!raw) break;
      memcpy(raw, s, len);
      raw[len] = '\0';
      (*pg)[nid % NAME_PAGE] = raw;
      t->nnames++;
      /* Keep the table at most half full: past it, new names get id 0. */
      if (t->nnames < NAME_HASH / 2) t->hash[k] = nid + 1;
      id = nid;
      break;
    }
    const char *raw = tracer_name(t, e - 1);
    if (strncmp(raw, s, len) == 0 && raw[len] == '\0') {
      id = e - 1;
      break;
    }
  }
  pthread_mutex_unlock(&t->names_lock);
  return id;
}

uint32_t trace_name(struct maestro_runtime *rt, const char *name) {
  return trace_on(rt) ? tracer_intern(rt->tracer, name) : 0;
}

/* ---- chunks ---- */

/* Faults in the arena's first `bytes` before any writer gets there. */
static void arena_prefault(struct tracer *t, size_t bytes) {
  if (bytes > t->arena_bytes) bytes = t->arena_bytes;
  for (size_t o = 0; o < bytes; o += 4096)
    ((volatile char *)t->arena)[o] = 0;
}

/* A chunk for a recording thread: a recycled one, or the arena's next;
 * NULL when every chunk holds records not yet written. */
static struct trace_chunk *chunk_take(struct tracer *t) {
  pthread_mutex_lock(&t->free_lock);
  struct trace_chunk *c = t->free;
  if (c) {
    t->free = c->next_free;
  } else if (t->arena_next + TRACE_CHUNK_BYTES <= t->arena_bytes) {
    c = (struct trace_chunk *)(t->arena + t->arena_next);
    t->arena_next += TRACE_CHUNK_BYTES;
  }
  size_t in_use = t->chunks_in_use += c != NULL;
  pthread_mutex_unlock(&t->free_lock);
  /* Past the drain mark (or out of chunks): wake the writer now rather
   * than at its next period, while there is room left. */
  if ((!c || in_use * TRACE_CHUNK_BYTES >= t->drain_mark) &&
      !atomic_exchange_explicit(&t->drain_asked, 1, memory_order_relaxed))
    t->writer.wake_drain(t->writer.ctx);
  if (!c) return NULL;
  c->next_free = NULL;
  atomic_store_explicit(&c->next, NULL, memory_order_relaxed);
  atomic_store_explicit(&c->count, 0, memory_order_relaxed);
  c->done = 0;
  return c;
}

void tracer_chunk_give_back(struct tracer *t, struct trace_chunk *c) {
  pthread_mutex_lock(&t->free_lock);
  c->next_free = t->free;
  t->free = c;
  t->chunks_in_use--;
  pthread_mutex_unlock(&t->free_lock);
}

/* Makes tl point at this thread's buffer of `t`, with room for `words`
 * more words (+ a span). Returns 0 when there is no memory at all. */
static int rec_slow(struct tracer *t, uint32_t words) {
  if (tl.id != t->id) {
    /* This thread's buffer of this trace, if it had one (a thread that
     * records into two runtimes' traces in turn). */
    struct trace_buf *b = NULL;
    pthread_mutex_lock(&t->lock);
    for (b = t->bufs; b; b = b->next)
      if (pthread_equal(b->owner, pthread_self())) break;
    pthread_mutex_unlock(&t->lock);
    if (!b) {
      /* No chunk free: this record is lost (counted), the thread never
       * waits for the writer. */
      struct trace_chunk *c = chunk_take(t);
      b = c ? calloc(1, sizeof *b) : NULL;
      if (!b) {
        if (c) tracer_chunk_give_back(t, c);
        atomic_fetch_add_explicit(&t->lost, 1, memory_order_relaxed);
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
    tl.fail_pass = 0;
    trace_run.count = NULL;
  }
  if (tl.n + words + REC_SPAN_WORDS <= TRACE_CHUNK_WORDS) return 1;
  /* Dropping since the writer's last pass: nothing was freed since. */
  if (tl.fail_pass == atomic_load_explicit(&t->passes, memory_order_acquire)) {
    atomic_fetch_add_explicit(&t->lost, 1, memory_order_relaxed);
    return 0;
  }
  /* The chunk is full. A batch going on is closed in it with a span to
   * now and goes on in the next chunk: a chunk's untimed firings never
   * wait for another chunk. */
  struct trace_chunk *c = tl.c;
  if (tl.in_batch) {
    uint64_t now = trace_clock();
    rec_put_span(c->w + tl.n, tl.batch_t0, now);
    tl.n += REC_SPAN_WORDS;
    atomic_store_explicit(&c->count, tl.n, memory_order_release);
    tl.batch_t0 = now;
  }
  trace_run.count = NULL; /* a run never spans two chunks */
  struct trace_chunk *nc = chunk_take(t);
  if (!nc) {
    /* Every chunk holds records not yet written. This thread's own chunk
     * can start again once the writer has written all of it (the writer
     * is not reading it while we hold its lock; a writer at work now
     * means we do not wait for it). Else the record is lost, counted:
     * a recording thread never waits for the file. */
    if (pthread_mutex_trylock(&t->lock) == 0) {
      int reuse = c->done == tl.n;
      if (reuse) {
        atomic_store_explicit(&c->count, 0, memory_order_relaxed);
        c->done = 0;
        tl.n = 0;
      }
      pthread_mutex_unlock(&t->lock);
      if (reuse) return 1;
    }
    tl.in_batch = 0; /* closed by the span above: its rest is lost */
    tl.fail_pass = atomic_load_explicit(&t->passes, memory_order_acquire);
    atomic_fetch_add_explicit(&t->lost, 1, memory_order_relaxed);
    return 0;
  }
  atomic_store_explicit(&c->next, nc, memory_order_release);
  atomic_store_explicit(&tl.buf->tail, nc, memory_order_relaxed);
  tl.c = nc;
  tl.n = 0;
  return 1;
}

/* Reserves `words` words for the record about to be written, or NULL. */
static inline uint64_t *rec_begin(struct tracer *t, uint32_t words) {
  if (__builtin_expect(tl.id != t->id || tl.n + words + REC_SPAN_WORDS > TRACE_CHUNK_WORDS, 0) &&
      !rec_slow(t, words))
    return NULL;
  return tl.c->w + tl.n;
}

static inline void rec_commit(uint32_t words) {
  tl.n += words;
  atomic_store_explicit(&tl.c->count, tl.n, memory_order_release);
}

/* ---- recording ---- */

void trace_fire_rec(struct maestro_runtime *rt, int index, uint32_t name, uint64_t seq,
                    uint64_t bytes, uint64_t t0, uint64_t t1, uint64_t flow_in, uint64_t flow_out) {
  struct tracer *t = rt->tracer;
  if (!t) return;
  int timed = t1 != 0, big = bytes >= REC_HEAD_BYTES;
  uint64_t head = rec_head(timed ? REC_FIRE_TIMED : REC_FIRE, (uint32_t)(TID_CPU + index), name,
                           big ? REC_F_BIG : 0) |
                  (big ? 0 : bytes << 40);
  trace_run.batch_n++;
  uint32_t words = (timed ? REC_FIRE_TIMED_WORDS : REC_FIRE_WORDS) + (uint32_t)big;
  /* An untimed firing needs its batch's span: none when the batch's start
   * found no room (its records are being lost). */
  if (!timed && (tl.id != t->id || !tl.in_batch)) {
    trace_run.count = NULL;
    atomic_fetch_add_explicit(&t->lost, 1, memory_order_relaxed);
    return;
  }
  uint64_t *w = rec_begin(t, words);
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
    trace_run.count = tl.c->w + tl.n - words + 4;
    trace_run.key = (uint64_t)name << 32 | (uint32_t)index;
    trace_run.bytes = bytes;
    trace_run.seq = seq + 1;
    trace_run.in = flow_in + (flow_in != 0);
    trace_run.out = flow_out + (flow_out != 0);
  } else {
    trace_run.count = NULL;
  }
}

/* Writes a timed firing record at `w` (`words` long); returns the words. */
static uint32_t put_fire_ns(uint64_t *w, uint32_t tid, uint32_t name, uint64_t seq, uint64_t bytes,
                            uint64_t t0_ns, uint64_t t1_ns, uint64_t flow_in, uint64_t flow_out) {
  int big = bytes >= REC_HEAD_BYTES;
  w[0] = rec_head(REC_FIRE_TIMED, tid, name, REC_F_NS | (big ? REC_F_BIG : 0)) |
         (big ? 0 : bytes << 40);
  w[1] = seq;
  w[2] = flow_in;
  w[3] = flow_out;
  w += 4;
  if (big) *w++ = bytes;
  w[0] = t0_ns;
  w[1] = t1_ns > t0_ns ? t1_ns : t0_ns;
  return REC_FIRE_TIMED_WORDS + (uint32_t)big;
}

void trace_fire_ns(struct maestro_runtime *rt, maestro_place_kind_t kind, int index, uint32_t name,
                   uint64_t seq, uint64_t bytes, uint64_t t0_ns, uint64_t t1_ns, uint64_t flow_in,
                   uint64_t flow_out) {
  struct tracer *t = rt->tracer;
  if (!t) return;
  uint32_t words = REC_FIRE_TIMED_WORDS + (uint32_t)(bytes >= REC_HEAD_BYTES);
  uint64_t *w = rec_begin(t, words);
  if (!w) return;
  rec_commit(put_fire_ns(w, (uint32_t)place_tid(kind, index), name, seq, bytes, t0_ns, t1_ns,
                         flow_in, flow_out));
}

void trace_fire_rank(struct maestro_runtime *rt, int rank, uint32_t name, uint64_t seq,
                     uint64_t bytes, uint64_t t0_ns, uint64_t t1_ns) {
  struct tracer *t = rt->tracer;
  if (!t || rank < 0 || rank >= TID_RANKS) return; /* more ranks than the tracks can name */
  uint32_t words = REC_FIRE_TIMED_WORDS + (uint32_t)(bytes >= REC_HEAD_BYTES);
  uint64_t *w = rec_begin(t, words);
  if (!w) return;
  rec_commit(put_fire_ns(w, (uint32_t)(TID_RANK + rank), name, seq, bytes, t0_ns, t1_ns, 0, 0));
}

void trace_fire_choice(struct maestro_runtime *rt, maestro_place_kind_t kind, int index,
                       uint32_t name, uint64_t seq, uint64_t bytes, uint64_t t0_ns, uint64_t t1_ns,
                       uint64_t flow_in, uint64_t flow_out, const struct trace_choice *ch) {
  struct tracer *t = rt->tracer;
  if (!t) return;
  uint32_t n = ch->n < 0 ? 0 : ch->n > REC_CHOICE_PLACES ? REC_CHOICE_PLACES : (uint32_t)ch->n;
  uint32_t cw = 2 + 2 * n;
  /* One reservation: the choice and its firing are in the same chunk. */
  uint64_t *w = rec_begin(t, cw + REC_FIRE_TIMED_WORDS + 1);
  if (!w) return;
  w[0] = rec_head(REC_CHOICE, (uint32_t)place_tid(kind, index), name, 0) | (uint64_t)n << 40;
  w[1] = (uint64_t)(uint32_t)(ch->chosen + 1) | (uint64_t)(uint32_t)ch->why << 32;
  for (uint32_t i = 0; i < n; i++) {
    w[2 + i] = (uint64_t)ch->est[i];
    w[2 + n + i] = (uint64_t)ch->cost[i];
  }
  rec_commit(cw + put_fire_ns(w + cw, (uint32_t)place_tid(kind, index), name, seq, bytes, t0_ns,
                              t1_ns, flow_in, flow_out));
}

void trace_firing(struct maestro_runtime *rt, maestro_place_kind_t kind, int index,
                  const char *agent, uint64_t seq, uint64_t bytes, uint64_t t0_ns, uint64_t t1_ns,
                  uint64_t flow_in, uint64_t flow_out) {
  if (!trace_on(rt)) return;
  trace_fire_ns(rt, kind, index, tracer_intern(rt->tracer, agent), seq, bytes, t0_ns, t1_ns,
                flow_in, flow_out);
}

uint64_t trace_batch_begin(struct maestro_runtime *rt) {
  uint64_t now = trace_clock();
  struct tracer *t = rt->tracer;
  if (!t) return now;
  if (!rec_begin(t, 0)) return now;
  tl.in_batch = 1;
  tl.batch_t0 = now;
  trace_run.batch_n = 0;
  trace_run.count = NULL;
  return now;
}

int trace_batch_end(struct maestro_runtime *rt) {
  struct tracer *t = rt->tracer;
  if (!t || tl.id != t->id || !tl.in_batch) return 0;
  uint64_t now = trace_clock();
  uint32_t n = trace_run.batch_n;
  /* rec_begin left room for a span in the chunk. */
  rec_put_span(tl.c->w + tl.n, tl.batch_t0, now);
  rec_commit(REC_SPAN_WORDS);
  tl.in_batch = 0;
  trace_run.count = NULL;
  return n && (now - tl.batch_t0) / n > TIMED_TICKS;
}

void trace_transfer(struct maestro_runtime *rt, int dev, const char *what, uint64_t bytes,
                    uint64_t t0_ns, uint64_t t1_ns) {
  if (!trace_on(rt)) return;
  struct tracer *t = rt->tracer;
  uint32_t name = tracer_intern(t, what);
  uint64_t *w = rec_begin(t, REC_XFER_WORDS);
  if (!w) return;
  w[0] = rec_head(REC_XFER, (uint32_t)(dev >= 0 ? TID_XFER + dev : TID_HOST), name, REC_F_NS);
  w[1] = bytes;
  w[2] = t0_ns;
  w[3] = t1_ns > t0_ns ? t1_ns : t0_ns;
  rec_commit(REC_XFER_WORDS);
}

void trace_flow_end(struct maestro_runtime *rt, uint64_t flow, uint64_t t_ns) {
  struct tracer *t = rt->tracer;
  if (!t) return;
  uint64_t *w = rec_begin(t, REC_FLOW_END_WORDS);
  if (!w) return;
  w[0] = rec_head(REC_FLOW_END, TID_HOST, 0, REC_F_NS);
  w[1] = flow;
  w[2] = t_ns;
  rec_commit(REC_FLOW_END_WORDS);
}

void trace_depth(struct maestro_runtime *rt, const char *channel, uint32_t depth, uint64_t t_ns) {
  if (!trace_on(rt)) return;
  struct tracer *t = rt->tracer;
  uint32_t name = tracer_intern(t, channel);
  uint64_t *w = rec_begin(t, REC_DEPTH_WORDS);
  if (!w) return;
  w[0] = rec_head(REC_DEPTH, TID_HOST, name, REC_F_NS);
  w[1] = depth;
  w[2] = t_ns;
  rec_commit(REC_DEPTH_WORDS);
}

/* ---- start, stop ---- */

int tracer_start(struct maestro_runtime *rt, size_t buffer_mb, size_t prefault_mb,
                 const struct tracer_writer *w) {
  struct tracer *t = calloc(1, sizeof *t);
  if (!t) return err_set(MAESTRO_ENOMEM, "MAESTRO_TRACE: out of memory");
  t->arena_bytes = buffer_mb << 20;
  t->arena = mmap(NULL, t->arena_bytes, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (t->arena == MAP_FAILED) {
    free(t);
    return err_set(MAESTRO_ENOMEM, "MAESTRO_TRACE: cannot reserve %zu MiB of trace buffer",
                   buffer_mb);
  }
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, clock_choose);
  t->writer = *w;
  t->id = atomic_fetch_add(&trace_ids, 1) + 1;
  /* The writer is woken from three quarters of the cap on. */
  t->drain_mark = t->arena_bytes / 4 * 3;
  atomic_store_explicit(&t->passes, 1, memory_order_relaxed); /* tl.fail_pass 0 means none */
  pthread_mutex_init(&t->lock, NULL);
  pthread_mutex_init(&t->free_lock, NULL);
  pthread_mutex_init(&t->names_lock, NULL);
  tracer_clock_pair(&t->tick0, &t->ns0);
  tracer_intern(t, ""); /* id 0 */
  /* The first part of the arena now: recording never waits for a page
   * fault there (a first touch costs 1-3 us a page on a VM, about 40 ns a
   * 32-byte record). Past it, the recording threads fault pages in. */
  arena_prefault(t, prefault_mb << 20);
  rt->tracer = t;
  return MAESTRO_OK;
}

void tracer_stop(struct maestro_runtime *rt) {
  struct tracer *t = rt->tracer;
  if (!t) return;
  rt->tracer = NULL;
  for (struct trace_buf *b = t->bufs, *nb; b; b = nb) {
    nb = b->next;
    free(b);
  }
  for (int i = 0; i < NAME_PAGES && t->pages[i]; i++) {
    for (int k = 0; k < NAME_PAGE; k++)
      free(t->pages[i][k]);
    free(t->pages[i]);
  }
  munmap(t->arena, t->arena_bytes);
  pthread_mutex_destroy(&t->lock);
  pthread_mutex_destroy(&t->free_lock);
  pthread_mutex_destroy(&t->names_lock);
  free(t);
}
