/* Performance models: how long one firing of an implementation takes on a
 * kind of place, learnt from measured firings and kept between runs
 * (runtime/sched/perf.c). The placer reads them to choose the place with
 * the earliest expected finish; transfer costs are not modelled here
 * (mem_cost_to_node of mem/replica.h gives those).
 *
 * A history is kept per (implementation key, place architecture, input
 * size bucket):
 *  - the key is the caller's string naming an implementation, e.g. the
 *    agent's name and the kind of implementation ("scale/cpu",
 *    "scale/opencl");
 *  - the architecture names a kind of place, not one place: two devices of
 *    one model share a history, a GPU and a CPU device never do. Device
 *    places give place_arch() of sched/place.h ("opencl:NVIDIA H200"), CPU
 *    places place_cpu_arch() ("cpu:AMD EPYC 7763 64-Core Processor", the
 *    CPU backend's, from topo);
 *    perf_place_arch() picks the right one;
 *  - the bucket is the log2 of the firing's input bytes (perf_bucket).
 *
 * Each entry keeps its sample count, mean and variance (Welford's
 * algorithm; past `window` samples the older ones fade geometrically, so a
 * long-lived model follows a change), and when it was last updated.
 *
 * Calibration: an entry is "not calibrated" until it has min_samples
 * samples (StarPU's rule, default 10): a place is chosen on its mean, against
 * the others' costs, only then. The placer should keep sending work to a
 * place whose entry is not calibrated, so that it gets measured.
 * Better than StarPU: a place found much slower than another need not be
 * measured 10 times to be dismissed. perf_settled cuts calibration short when
 * each of the entry's first early_samples samples (default 1) took more than
 * early_ratio (default 4) times the mean of another place measured
 * early_ref times at least (default 2): 10 firings at 8x cost 80 firings'
 * time where 1 costs 8. The counts: the place that is kept must have 2
 * samples, so that its own first firing (a cold start: slow, never fast by
 * chance) does not make every other place look fast; the place dismissed
 * needs 1, since noise only ever makes a sample slower and a slow first
 * sample is checked again soon: while it has fewer than early_ref samples
 * its exploration gap is not stretched (perf_explore_stretch), and the
 * second sample, taken then, either
 * confirms it (each sample slow) or undoes it (a fast sample restarts the
 * entry, below).
 *
 * Exploration: a place that is never chosen is never measured again, and a
 * wrong model (a 5 ms cold start) would stay wrong. So when a (key, arch)
 * has not been chosen for the last K firings of its key, perf_should_explore
 * says once that this firing should go there. A measurement that confirms
 * the model doubles that gap (up to explore_max); one that finds the place
 * at least twice as fast as the model said restarts the entry (it becomes
 * uncalibrated and is measured anew) and resets the gap to K, whether the
 * entry was calibrated or judged far slower on fewer samples.
 *
 * Persistence: with a directory (the runtime's cfg.perf_dir; "" keeps
 * nothing), an architecture's histories are read from
 * <dir>/<arch>-<hash>.perf the first time that architecture is used, and
 * written back by perf_store_save / perf_store_destroy: one small text file
 * per architecture, written to a temporary file and renamed (a reader sees
 * the old file or the new), under an flock of the directory, merged with
 * what is on disk (an entry this store did not update since its last save
 * keeps the file's version, so runtimes and processes sharing the
 * directory lose nothing but concurrent updates of the same entry). A file
 * that does not parse (wrong version, bad line, truncated) is ignored with a
 * warning on stderr (perf_store_warnings counts them) and replaced at the
 * next save.
 *
 * Threads: perf_hist_get takes the store's lock and may read a file: call it
 * once per (implementation, place) when a graph starts and keep the
 * pointer, valid until perf_store_destroy. On the firing path,
 * perf_estimate, perf_chosen and perf_should_explore are a few atomic
 * loads and stores, and perf_record takes only that history's own lock.
 * Each of these four takes a NULL history (none could be had) as one that
 * is never measured. */
#ifndef MAESTRO_SCHED_PERF_H
#define MAESTRO_SCHED_PERF_H

#include <stddef.h>
#include <stdint.h>

#include "maestro.h"

struct maestro_runtime;

/* Size buckets: bucket 0 holds firings of up to 64 input bytes, bucket b
 * those of (64 << (b-1), 64 << b]; the last holds everything larger. */
#define PERF_BUCKETS 32

/* Defaults of struct perf_params. */
#define PERF_MIN_SAMPLES_DEFAULT   10u
#define PERF_EXPLORE_EVERY_DEFAULT 64u
#define PERF_EXPLORE_MAX_DEFAULT   4096u
#define PERF_WINDOW_DEFAULT        256u
#define PERF_EARLY_SAMPLES_DEFAULT 1u
#define PERF_EARLY_REF_DEFAULT     2u
#define PERF_EARLY_RATIO_DEFAULT   4.0

/* Longest key or architecture string (longer ones are refused). */
#define PERF_NAME_MAX 256

struct perf_params {
  unsigned min_samples;   /* N: samples before an entry is calibrated (0 = default) */
  unsigned explore_every; /* K: firings of a key without choosing an arch before one goes there */
  unsigned explore_max;   /* largest gap the confirmations grow K to (>= K) */
  unsigned window;        /* samples weighted exactly; older ones fade past it (>= 2) */
  unsigned early_samples; /* perf_settled: samples each far slower than another place's (0 = 1) */
  double early_ratio;     /* ... by this factor (0 = 4; >= 1) */
  unsigned early_ref;     /* ... measured this many times at least (0 = 2) */
};

/* A snapshot of one entry. */
struct perf_stats {
  uint64_t count;      /* samples recorded (since its last restart) */
  double mean_ns;      /* 0 when count == 0 */
  double var_ns2;      /* sample variance (n - 1 denominator); 0 when count < 2 */
  double min_ns;       /* fastest sample since its last restart (read from a file: the mean) */
  int64_t last_update; /* wall-clock seconds (Unix time) of the last sample, 0 = never */
};

struct perf_store; /* one per runtime */
struct perf_hist;  /* one (key, architecture): its PERF_BUCKETS entries */

/* A store reading and writing `dir` ("" or NULL: kept in memory only).
 * `p` NULL or zero fields take the defaults. No file is touched here.
 * NULL on bad parameters (MAESTRO_EINVAL) or out of memory (MAESTRO_ENOMEM),
 * with maestro_last_error() set. */
struct perf_store *perf_store_create(const char *dir, const struct perf_params *p);

/* Writes every architecture that has entries updated since the last save.
 * MAESTRO_OK, nothing written, without a directory. MAESTRO_ESYS (message
 * naming the file) when a file cannot be written; the others are still
 * written and the entries stay unsaved. Thread-safe; may run while firings
 * record. */
int perf_store_save(struct perf_store *s);

/* Saves (errors are dropped: the models are a cache) and frees everything,
 * the histories included. NULL is a no-op. */
void perf_store_destroy(struct perf_store *s);

/* Files ignored so far because they did not parse; `msg` (may be NULL) gets
 * the last such warning. */
unsigned perf_store_warnings(struct perf_store *s, char *msg, size_t len);

/* The history of (key, arch), created empty when there is none, after
 * loading arch's file the first time arch is asked for. NULL with
 * MAESTRO_EINVAL for an empty or too long string, MAESTRO_ENOMEM. */
struct perf_hist *perf_hist_get(struct perf_store *s, const char *key, const char *arch);

/* The size bucket of a firing with `bytes` input bytes (all ports together). */
int perf_bucket(uint64_t bytes);

/* Expected firing time of `h` for `bytes` input bytes. Returns 1 when the
 * entry is calibrated (*ns = its mean), 0 when not: *ns is then the mean of
 * the samples so far, or -1 when there are none. */
int perf_estimate(struct perf_hist *h, uint64_t bytes, double *ns);

/* Samples in the entry of `bytes`' bucket (0 for a NULL history). */
uint64_t perf_samples(struct perf_hist *h, uint64_t bytes);

/* 1 when h's entry for `bytes` is calibrated, or when its calibration can
 * stop early: it has at least early_samples samples, `other`'s entry for
 * `bytes` (another architecture's history of the same key) at least
 * early_ref, and each of h's samples took more than early_ratio times
 * other's mean. Its
 * mean then serves as a calibrated one would. 0 otherwise, and for a NULL
 * `h`, a NULL `other` or other == h. */
int perf_settled(struct perf_hist *h, uint64_t bytes, struct perf_hist *other);

/* Snapshot of bucket `bucket` (0 .. PERF_BUCKETS-1; others give zeros). */
struct perf_stats perf_entry_stats(struct perf_hist *h, int bucket);

/* Records one firing of `bytes` input bytes that kept its place busy `ns`. */
void perf_record(struct perf_hist *h, uint64_t bytes, uint64_t ns);

/* Counts one firing of h's key sent to h's architecture: call it for every
 * firing of a key, on the history of the place chosen (CPU included), so
 * that the places not chosen can be told apart. */
void perf_chosen(struct perf_hist *h);

/* 1 when h's architecture has not been chosen for the last `gap` firings of
 * its key (gap: K at first, see above): the caller should send this firing
 * there and call perf_chosen(h). A 1 is given once per gap, even to callers
 * on several threads. Its next perf_record is taken as the exploration's
 * measurement. */
int perf_should_explore(struct perf_hist *h);

/* perf_should_explore for a place the models expect `slower` times as
 * long per firing as the one chosen: its gap is stretched by that factor
 * (when > 1), so that re-measuring a place costs about the same share of
 * the work (1 / gap) however slow it is. Without it a device 8x slower
 * than the CPU measured every 64 firings adds 8 / 64 = 12% to the run. */
int perf_should_explore_at(struct perf_hist *h, double slower);

/* The stretch perf_should_explore_at should get for h, a place the models
 * expect `slower` times as long for `bytes` input bytes: `slower`, but at
 * most 1 while h's entry has fewer than early_ref samples (judged far
 * slower on one slow sample, which may have been a cold start: it is
 * re-measured after gap firings). */
double perf_explore_stretch(struct perf_hist *h, uint64_t bytes, double slower);

/* The architecture of a place, for perf_hist_get: "cpu:<model>" for CPU
 * place `index`, place_arch() for device place `index`. MAESTRO_ENODEV for
 * no such place. */
int perf_place_arch(const struct maestro_runtime *rt, maestro_place_kind_t kind, int index,
                    char *buf, size_t len);

/* Runtime life (runtime/core/runtime.c): rt->perf from rt->cfg.perf_dir,
 * and at destroy, saved and freed. */
int perf_init(struct maestro_runtime *rt);
void perf_fini(struct maestro_runtime *rt);

#endif
