/* The binary records a traced thread appends to its chunk (runtime/prof
 * private). A record is a few 64-bit words; the first one, the head, says
 * its type, its track, its interned name, flags and (firings) the input
 * bytes when they fit in 24 bits:
 *   bits 0-3 type, 4-7 flags, 8-19 track (tid), 20-39 name id, 40-63 bytes.
 * Firing words: head, seq, flow_in, flow_out, then for a run of untimed
 * firings (REC_FIRE) their count, then the bytes if REC_F_BIG, then t0, t1
 * for REC_FIRE_TIMED. A run holds consecutive firings of one agent whose
 * seq, flow_in and flow_out (those not 0) each go up by one: a batch of a
 * pipeline's short firings is one 40-byte record. */
#ifndef MAESTRO_PROF_TRACE_REC_H
#define MAESTRO_PROF_TRACE_REC_H

#include <stdint.h>

enum rec_type {
  REC_FIRE = 1,   /* a run of firings timed by the span that follows it */
  REC_FIRE_TIMED, /* a firing with its own t0, t1 */
  REC_SPAN,       /* t0, t1 of a batch: its REC_FIRE records share it out */
  REC_XFER,       /* bytes, t0, t1 */
  REC_DEPTH,      /* depth, t */
};
enum {
  REC_FIRE_WORDS = 5,
  REC_FIRE_TIMED_WORDS = 6,
  REC_SPAN_WORDS = 3,
  REC_XFER_WORDS = 4,
  REC_DEPTH_WORDS = 3,
};
enum {
  REC_F_NS = 1,  /* times are rt_now_ns() nanoseconds, not prof_clock() ticks */
  REC_F_BIG = 2, /* a firing's bytes do not fit the head: one word more, after flow_out */
};
enum { REC_NAMES = 1 << 20, REC_TIDS = 1 << 12, REC_HEAD_BYTES = (1 << 24) - 1 };
enum { TID_HOST = 0, TID_CPU = 1, TID_DEV = 1001, TID_XFER = 2001 };

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

#endif
