/* The trace recorder's insides, shared by the recorder (core/trace_rec.c)
 * and the trace writer that drains it (runtime/prof/trace.c); the engine
 * records through core/trace.h only.
 *
 * The binary records a traced thread appends to its chunk. A record is a few 64-bit words; the
 * first one, the head, says its type, its track, its interned name, flags and (firings) the input
 * bytes when they fit in 24 bits:
 *   bits 0-3 type, 4-7 flags, 8-19 track (tid), 20-39 name id, 40-63 bytes.
 * Firing words: head, seq, flow_in, flow_out, then for a run of untimed
 * firings (REC_FIRE) their count, then the bytes if REC_F_BIG, then t0, t1
 * for REC_FIRE_TIMED. A run holds consecutive firings of one agent whose
 * seq, flow_in and flow_out (those not 0) each go up by one: a batch of a
 * pipeline's short firings is one 40-byte record. */
#ifndef MAESTRO_CORE_TRACE_REC_H
#define MAESTRO_CORE_TRACE_REC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct maestro_runtime;

enum rec_type {
  REC_FIRE = 1,   /* a run of firings timed by the span that follows it */
  REC_FIRE_TIMED, /* a firing with its own t0, t1 */
  REC_SPAN,       /* t0, t1 of a batch: its REC_FIRE records share it out */
  REC_XFER,       /* bytes, t0, t1 */
  REC_DEPTH,      /* depth, t */
  REC_FLOW_END,   /* flow id, t: a message taken by the host (an output's pop) */
  REC_CHOICE,     /* a hybrid firing's placement: the REC_FIRE_TIMED that follows it */
};
enum {
  REC_FIRE_WORDS = 5,
  REC_FIRE_TIMED_WORDS = 6,
  REC_SPAN_WORDS = 3,
  REC_XFER_WORDS = 4,
  REC_DEPTH_WORDS = 3,
  REC_FLOW_END_WORDS = 3,
};
/* REC_CHOICE: head (its bytes bits: n, the places), then (chosen place + 1)
 * | why << 32, then n estimates and n expected finishes (int64 ns: place 0
 * the CPU, place 1 + d device d; -1 not measured yet, -2 not a place of
 * this agent). */
enum { REC_CHOICE_PLACES = 5 };
enum {
  REC_F_NS = 1,  /* times are rt_now_ns() nanoseconds, not trace_clock() ticks */
  REC_F_BIG = 2, /* a firing's bytes do not fit the head: one word more, after flow_out */
};
enum { REC_NAMES = 1 << 20, REC_TIDS = 1 << 12, REC_HEAD_BYTES = (1 << 24) - 1 };
enum { TID_HOST = 0, TID_CPU = 1, TID_DEV = 1001, TID_XFER = 2001, TID_RANK = 3001 };
/* TID_RANK + r: rank r's MAESTRO_RANK_ANY firings, traced on rank 0. */
enum { TID_RANKS = REC_TIDS - TID_RANK };

static inline uint64_t rec_head(uint32_t type, uint32_t tid, uint32_t name, uint32_t flags) {
  return (uint64_t)type | (uint64_t)(flags & 0xf) << 4 | (uint64_t)(tid & 0xfff) << 8 |
         (uint64_t)(name & (REC_NAMES - 1)) << 20;
}
static inline uint32_t rec_type(uint64_t h) {
  return (uint32_t)(h & 0xf);
}
static inline uint32_t rec_flags(uint64_t h) {
  return (uint32_t)(h >> 4 & 0xf);
}
static inline uint32_t rec_tid(uint64_t h) {
  return (uint32_t)(h >> 8 & 0xfff);
}
static inline uint32_t rec_name(uint64_t h) {
  return (uint32_t)(h >> 20 & (REC_NAMES - 1));
}
static inline uint64_t rec_head_bytes(uint64_t h) {
  return h >> 40;
}
/* Words of a REC_CHOICE record with head `h`. */
static inline uint32_t rec_choice_words(uint64_t h) {
  return 2 + 2 * (uint32_t)rec_head_bytes(h);
}
/* Words of a firing record with head `h`. */
static inline uint32_t rec_fire_words(uint64_t h) {
  uint32_t n = rec_type(h) == REC_FIRE_TIMED ? REC_FIRE_TIMED_WORDS : REC_FIRE_WORDS;
  return n + (rec_flags(h) & REC_F_BIG ? 1 : 0);
}
/* Firings in a firing record. */
static inline uint64_t rec_fire_count(const uint64_t *w) {
  return rec_type(w[0]) == REC_FIRE ? w[4] : 1;
}
/* A firing's bytes: in the head, or the word after flow_out (and count). */
static inline uint64_t rec_fire_bytes(const uint64_t *w) {
  return rec_flags(w[0]) & REC_F_BIG ? w[rec_type(w[0]) == REC_FIRE ? 5 : 4] : rec_head_bytes(w[0]);
}
/* A firing's t0, t1 (REC_FIRE_TIMED). */
static inline const uint64_t *rec_fire_times(const uint64_t *w) {
  return w + (rec_flags(w[0]) & REC_F_BIG ? 5 : 4);
}
static inline void rec_put_span(uint64_t *w, uint64_t t0, uint64_t t1) {
  w[0] = rec_head(REC_SPAN, 0, 0, 0);
  w[1] = t0;
  w[2] = t1;
}

/* ---- the recorder ---- */

enum { TRACE_CHUNK_BYTES = 1 << 20, TRACE_CHUNK_WORDS = (TRACE_CHUNK_BYTES - 64) / 8 };
enum { NAME_PAGE = 1024, NAME_PAGES = 1024, NAME_HASH = 1 << 16 };
_Static_assert(NAME_PAGES *NAME_PAGE == REC_NAMES, "name table and record name ids");

/* A chunk of one thread's records. The recording thread publishes words
 * with a release store of `count`, and the next chunk with one of `next`
 * after its last record: a chunk with a successor is complete. */
struct trace_chunk {
  struct trace_chunk *next_free;      /* arena free list */
  _Atomic(struct trace_chunk *) next; /* the recording thread's next chunk */
  _Atomic uint32_t count;             /* words published (recording thread: release) */
  uint32_t done;                      /* words written to the file (the writer only) */
  uint32_t pad0[2];
  uint64_t pad[4]; /* the words start on their own cache line */
  uint64_t w[TRACE_CHUNK_WORDS];
};

/* One recording thread's chunks, from `head` (the writer's end) to `tail`. */
struct trace_buf {
  struct trace_buf *next; /* registry list */
  pthread_t owner;
  struct trace_chunk *head;           /* the writer's end */
  _Atomic(struct trace_chunk *) tail; /* the recording thread's end */
};

/* What the recorder asks of the writer that drains it. */
struct tracer_writer {
  void *ctx;
  /* Past the drain mark: write soon (called on a recording thread, at most
   * once until the writer clears tracer->drain_asked). */
  void (*wake_drain)(void *ctx);
};

struct tracer {
  uint64_t id; /* tells this trace's thread buffers from a previous one's */
  /* The registry of thread buffers; the writer holds it while it reads
   * them (and so it also serialises the writes). */
  pthread_mutex_t lock;
  struct trace_buf *bufs;
  struct tracer_writer writer;

  /* The arena the chunks come from. */
  char *arena;
  size_t arena_bytes;
  pthread_mutex_t free_lock; /* free list, arena_next, chunks_in_use */
  struct trace_chunk *free;
  size_t arena_next;
  size_t chunks_in_use;
  size_t drain_mark; /* bytes in use from which the writer is woken */
  _Atomic int drain_asked;
  /* Records lost because no chunk was free (a thread never waits), and the
   * writer's passes (each one may have freed chunks: a thread that lost a
   * record tries again only after the next). */
  _Atomic uint64_t lost;
  _Atomic uint64_t passes;

  /* trace_clock() ticks and rt_now_ns() read together at the start. */
  uint64_t tick0, ns0;

  /* Interned names: the table only grows, in pages that never move, so the
   * writer reads a name without the lock (its id reached the writer through
   * a published record). */
  pthread_mutex_t names_lock;
  uint32_t nnames;
  uint32_t hash[NAME_HASH];
  char **pages[NAME_PAGES];
};

/* Starts recording into rt->tracer: reserves `buffer_mb` MiB of chunks
 * (faulting in the first `prefault_mb` now) and sets rt->tracer. */
int tracer_start(struct maestro_runtime *rt, size_t buffer_mb, size_t prefault_mb,
                 const struct tracer_writer *w);
/* Clears rt->tracer and frees the recorder: call it once the writer has
 * written the last records, with no thread recording any more. */
void tracer_stop(struct maestro_runtime *rt);
/* Interns `s` (NULL: ""): its id in the records (0, the empty name, when
 * the table is full). */
uint32_t tracer_intern(struct tracer *t, const char *s);
/* The name with id `id`, as interned. */
static inline const char *tracer_name(const struct tracer *t, uint32_t id) {
  return t->pages[id / NAME_PAGE][id % NAME_PAGE];
}
/* A chunk the writer has written (it follows another of its thread's). */
void tracer_chunk_give_back(struct tracer *t, struct trace_chunk *c);
/* A (trace_clock() ticks, rt_now_ns()) pair read as close together as the
 * clocks allow. */
void tracer_clock_pair(uint64_t *ticks, uint64_t *ns);

#endif
