/* The live stats segment: its shared-memory layout (version 4) and the
 * writer the publisher uses. The reader lives in prof/segment_reader.h.
 *
 * One POSIX shm object per runtime, named /maestro-<uid>-<pid> (a second
 * runtime in the same process adds ".<n>"), mode 0600. Layout, all integers
 * little-endian host order, every offset from the start of the segment:
 *
 *   struct prof_seg_header   (PROF_SEG_HEADER_SIZE bytes, 8-aligned)
 *     static part: written once before `magic` is stored (release), never
 *                  changed afterwards: version, sizes, slot counts and
 *                  offsets, pid, uid, start times, program name.
 *     live part:   under its own sequence lock `live_seq`: how many slots of
 *                  each kind hold records now, publish count and time.
 *   place slots  [place_slots]   at place_off, each place_slot_size bytes
 *   agent slots  [agent_slots]   at agent_off, each agent_slot_size bytes
 *   chan slots   [chan_slots]    at chan_off,  each chan_slot_size bytes
 *
 * A slot is `uint64_t seq` followed by one record of records.h (place slots
 * hold CPU places first, then devices: a device is a place of kind
 * MAESTRO_PLACE_DEVICE whose transfer counters runtime/ocl adds). Each slot
 * has ONE writer (the publisher, serialised by its lock), which makes `seq`
 * odd, writes the record, then makes it even again; a reader copies the
 * record between two reads of an equal, even `seq` (retrying otherwise), so
 * it never sees a torn record. Records are copied as 8-byte relaxed atomic
 * words so the protocol is data-race free in C11 terms, across processes.
 * Readers copy min(slot record size, their record size) bytes and zero the
 * rest, so a record that grows at its end can still be read by a reader
 * that knows the older, shorter one. A layout that adds fields still gets a
 * new version (what a reader shows depends on it), and readers accept the
 * versions from PROF_SEG_VERSION_MIN on whose records are prefixes of
 * theirs: version 4 added the MAESTRO_RANK_ANY fields at the end of the
 * agent record, so a version 3 segment reads with them zero (its flags
 * never say they hold). */
#ifndef MAESTRO_PROF_SEGMENT_H
#define MAESTRO_PROF_SEGMENT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/stats_rec.h"

#define PROF_SEG_MAGIC      0x014F52545345414Dull /* the bytes "MAESTRO\1" */
#define PROF_SEG_VERSION    4u
#define PROF_SEG_LIVE_WORDS 16
#define PROF_SEG_PREFIX     "maestro-" /* in /dev/shm: maestro-<uid>-<pid>[.<n>] */
#define PROF_PROGRAM_LEN    64
/* The oldest layout this reader reads (see above). */
#define PROF_SEG_VERSION_MIN 3u

/* Default slot counts: agents and channels beyond them are counted in
 * `agents_total` / `chans_total` but not published. Pages never touched
 * are never allocated, so generous counts cost nothing. */
#define PROF_SEG_AGENT_SLOTS 1024
#define PROF_SEG_CHAN_SLOTS  2048

struct prof_seg_header {
  /* ---- static part ---- */
  _Atomic uint64_t magic; /* PROF_SEG_MAGIC, stored last at creation */
  uint32_t version;       /* PROF_SEG_VERSION */
  uint32_t header_size;   /* sizeof(struct prof_seg_header) */
  uint64_t total_size;    /* bytes of the whole segment */
  uint32_t place_slot_size, agent_slot_size, chan_slot_size, reserved0;
  uint32_t place_slots, agent_slots, chan_slots, reserved1;
  uint64_t place_off, agent_off, chan_off;
  int32_t pid;
  uint32_t uid;
  uint64_t start_unix_ns; /* CLOCK_REALTIME at runtime creation */
  uint64_t start_mono_ns; /* CLOCK_MONOTONIC at runtime creation (rt->start_ns) */
  int32_t ncpu, ndev;     /* CPU and device places of the runtime */
  char program[PROF_PROGRAM_LEN];
  uint64_t reserved2[4];
  /* ---- live part: a struct prof_seg_live under the sequence lock live_seq ---- */
  _Atomic uint64_t live_seq;
  _Atomic uint64_t live[PROF_SEG_LIVE_WORDS];
};

/* The live part of the header, as 8-byte words. */
struct prof_seg_live {
  uint64_t n_places, n_agents, n_chans; /* slots holding records now */
  uint64_t agents_total, chans_total;   /* may exceed the slot counts */
  uint64_t n_graphs;
  uint64_t publishes;       /* how many times the publisher ran */
  uint64_t publish_mono_ns; /* CLOCK_MONOTONIC of the last publish */
  uint64_t flags;           /* PROF_SEG_F_* */
  uint64_t reserved[PROF_SEG_LIVE_WORDS - 9];
};

#define PROF_SEG_F_TRACING 1u /* MAESTRO_TRACE is on */
#define PROF_SEG_F_CLOSING 2u /* prof_fini published the last snapshot */

#define PROF_SEG_HEADER_SIZE ((uint32_t)sizeof(struct prof_seg_header))

/* A slot as laid out in the segment: seq then the record words. */
#define PROF_SLOT_SIZE(rec) ((uint32_t)(sizeof(uint64_t) + sizeof(rec)))

/* ---- the writer (runtime/prof/segment.c) ---- */
struct prof_seg;

struct prof_seg_params {
  int ncpu, ndev;
  uint32_t place_slots, agent_slots, chan_slots;
  uint64_t start_mono_ns;
  const char *program; /* NULL: this process's name */
};

/* Creates and maps the segment for this process. The object is created
 * anew (O_EXCL, never through a link) and checked to be an empty 0600
 * regular file of ours; a name something else holds (another user's file,
 * a FIFO, a link) is left alone and the next index used: then `err` says so
 * (and stderr, once per process) and 0 is returned. On failure returns a
 * negative errno-like value and writes a message to `err`. */
int prof_seg_create(const struct prof_seg_params *p, struct prof_seg **out, char *err,
                    size_t errlen);
/* Unmaps and unlinks. */
void prof_seg_destroy(struct prof_seg *s);
/* The segment's shm name ("/maestro-1000-4242"). */
const char *prof_seg_name(const struct prof_seg *s);
/* The mapped header (tests use it to check the layout). */
struct prof_seg_header *prof_seg_header(struct prof_seg *s);

/* Slot writers: slot `i` must be below the slot count of its kind. Each
 * slot must have a single writer at a time (callers serialise). */
void prof_seg_write_place(struct prof_seg *s, uint32_t i, const struct prof_place_rec *r);
void prof_seg_write_agent(struct prof_seg *s, uint32_t i, const struct prof_agent_rec *r);
void prof_seg_write_chan(struct prof_seg *s, uint32_t i, const struct prof_chan_rec *r);

/* Writes the live part of the header (after the slots it announces). */
void prof_seg_write_live(struct prof_seg *s, const struct prof_seg_live *l);

/* The seqlock primitives, shared by writer and reader: `words` bytes are a
 * multiple of 8. */
void prof_seqlock_write(_Atomic uint64_t *seq, _Atomic uint64_t *dst, const void *src,
                        size_t bytes);
/* Returns 1 and fills `dst` when a consistent copy was taken within
 * `tries` attempts, 0 otherwise. */
int prof_seqlock_read(const _Atomic uint64_t *seq, const _Atomic uint64_t *src, void *dst,
                      size_t bytes, int tries);

#endif
