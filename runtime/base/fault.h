/* Fault injection (issue 13), compiled in only when MAESTRO_FAULT_INJECTION
 * is defined (Debug builds): a fraction of buffer allocations, device
 * launches, transfers and CPU firings fail as a real failure would, so that
 * the failure paths run in tests and in the soak test (tests/engine_soak.c).
 * The fractions come from maestro_config_t.faults (MAESTRO_FAULTS), e.g.
 * "alloc=0.01,launch=0.05,xfer=0.02,fire=0.01,seed=42". In a build without
 * it fault_hit() is the constant 0 and a non-empty cfg.faults is refused. */
#ifndef MAESTRO_BASE_FAULT_H
#define MAESTRO_BASE_FAULT_H

#include <stdatomic.h>
#include <stdint.h>

/* FAULT_ANSWER and FAULT_SERVE (MAESTRO_RANK_ANY, on a rank serving
 * another's firings): queueing a firing's outcome for rank 0 fails
 * ("answer"), taking a firing in fails ("serve"), as out of memory would. */
enum fault_kind {
  FAULT_ALLOC,
  FAULT_LAUNCH,
  FAULT_XFER,
  FAULT_FIRE,
  FAULT_ANSWER,
  FAULT_SERVE,
  FAULT_NKIND
};

/* One runtime's injector: zero = nothing injected. */
struct fault {
  int on;
  uint64_t seed;
  uint32_t thresh[FAULT_NKIND]; /* a draw below it fails; 2^32 * fraction */
  uint64_t gen;                 /* tells the per-thread generators of two injectors apart */
  atomic_ullong count[FAULT_NKIND];
};

/* Parses `spec` (NULL or "" = no faults) into `f`; MAESTRO_EINVAL naming
 * `var` and the bad item, or, in a build without fault injection, any
 * non-empty spec. */
int fault_parse(const char *var, const char *spec, struct fault *f);

/* How many faults of `kind` `f` injected so far. */
unsigned long long fault_count(const struct fault *f, enum fault_kind kind);

#ifdef MAESTRO_FAULT_INJECTION
int fault_draw(struct fault *f, enum fault_kind kind);
/* 1 when this call must fail (counted). Deterministic per seed and thread:
 * each thread draws from its own generator, seeded from the seed and the
 * order in which threads first drew. */
#define fault_hit(f, kind) (__builtin_expect((f)->on, 0) && fault_draw((f), (kind)))
/* 1 when `f` may inject faults at all (a fast path then steps aside). */
#define fault_armed(f) ((f)->on)
#else
#define fault_hit(f, kind) ((void)(f), (void)(kind), 0)
#define fault_armed(f)     ((void)(f), 0)
#endif

#endif
