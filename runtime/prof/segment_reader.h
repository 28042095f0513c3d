/* Reading live stats segments (see prof/segment.h for the layout): attach
 * by pid or to a piece of memory, validate every size and offset against
 * what is mapped, take snapshots with sequence-lock retries, list this
 * user's segments and clean stale ones. Shared by maestro-top and the
 * tests (linked through maestro_internal). Nothing here trusts the segment:
 * a truncated, foreign or garbage segment gives an error code and a
 * message, never a crash. */
#ifndef MAESTRO_PROF_SEGMENT_READER_H
#define MAESTRO_PROF_SEGMENT_READER_H

#include <stddef.h>
#include <stdint.h>

#include "base/stats_rec.h"
#include "prof/segment.h"

enum prof_read_status {
  PROF_READ_OK = 0,
  PROF_READ_ENOENT = -1,   /* no such segment */
  PROF_READ_EACCES = -2,   /* not ours */
  PROF_READ_ETRUNC = -3,   /* smaller than its header says */
  PROF_READ_EMAGIC = -4,   /* not a Maestro segment (or not yet initialised) */
  PROF_READ_EVERSION = -5, /* a layout version this reader does not know */
  PROF_READ_ECORRUPT = -6, /* sizes or offsets that do not fit */
  PROF_READ_EBUSY = -7,    /* the writer kept a record locked through every retry */
  PROF_READ_ESYS = -8,     /* another system error (message says which) */
  PROF_READ_EFOREIGN = -9, /* not this user's regular file (a FIFO, a link, another owner's
                              file, writable by others): never read */
};

/* The static facts of a segment. */
struct prof_seg_info {
  int pid;
  unsigned uid;
  uint32_t version;
  uint64_t start_unix_ns, start_mono_ns;
  int ncpu, ndev;
  char program[PROF_PROGRAM_LEN];
  char shm_name[80];
};

struct prof_snapshot {
  struct prof_seg_info info;
  struct prof_seg_live live;
  uint64_t taken_unix_ns; /* CLOCK_REALTIME when the snapshot was taken */
  uint64_t taken_mono_ns; /* CLOCK_MONOTONIC, comparable with live.publish_mono_ns */
  int n_places, n_agents, n_chans;
  struct prof_place_rec *places;
  struct prof_agent_rec *agents;
  struct prof_chan_rec *chans;
};

struct prof_reader;

/* Attaches to /maestro-<uid>-<pid> of the calling user (its first runtime;
 * prof_list_segments finds the others); the segment must say it is pid's. */
int prof_reader_open_pid(int pid, struct prof_reader **r, char *err, size_t errlen);
/* Attaches to the shm object `name` ("/maestro-1000-42"). The object is
 * opened without following a link and without blocking, and read only when
 * it is a regular file owned by this user and writable by no one else
 * (anyone may create names in /dev/shm): PROF_READ_EFOREIGN otherwise. */
int prof_reader_open_name(const char *name, struct prof_reader **r, char *err, size_t errlen);
/* Reads `len` bytes at `mem` (borrowed, must outlive the reader). */
int prof_reader_open_mem(const void *mem, size_t len, struct prof_reader **r, char *err,
                         size_t errlen);
void prof_reader_close(struct prof_reader *r);
const struct prof_seg_info *prof_reader_info(const struct prof_reader *r);

/* Takes a consistent snapshot of every record (each record consistent on
 * its own; records are not a single atomic picture). Free with
 * prof_snapshot_free. */
int prof_reader_snapshot(struct prof_reader *r, struct prof_snapshot *s, char *err, size_t errlen);
void prof_snapshot_free(struct prof_snapshot *s);

/* This user's segments. */
struct prof_proc {
  int pid;
  int index; /* which runtime of the process: 0 for maestro-<uid>-<pid>, n for .n */
  int stale; /* its process is gone */
  char shm_name[80];
  char program[PROF_PROGRAM_LEN];
  uint64_t start_unix_ns;
};
/* Fills up to `cap` entries (returns how many exist), ordered by pid then
 * index. Only regular files of this user under a well-formed name are
 * listed (others are not ours to read or remove). With `clean`, stale
 * segments are unlinked (and still listed, stale = 1); `cleaned` counts
 * them (may be NULL). `pid` > 0 lists that process's segments only. */
int prof_list_segments(struct prof_proc *out, int cap, int clean, int *cleaned);
int prof_list_pid_segments(int pid, struct prof_proc *out, int cap, int clean, int *cleaned);
/* 1 when process `pid` exists. */
int prof_pid_alive(int pid);

/* A short name for enum prof_agent_state ("running", ...). */
const char *prof_agent_state_name(int state);

#endif
