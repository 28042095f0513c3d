/* Size classes and pools for buffers (runtime/mem/pool.c). */
#ifndef MAESTRO_MEM_POOL_H
#define MAESTRO_MEM_POOL_H

#include <stddef.h>

#include "mem/buf.h"

/* Classes hold 64 << k bytes; larger buffers are allocated exactly and freed
 * on release. Classes above 2 MiB skip the per-thread caches and a bounded
 * number of them stays in the shared pool (large device results reuse
 * memory that is already faulted in). Small classes keep header and bytes in one allocation. */
#define MEM_NCLASS     23 /* up to 256 MiB */
#define MEM_CLASS_MIN  64
#define MEM_CLASS_LOG2 6 /* log2(MEM_CLASS_MIN) */
#define MEM_CLASS_MAX  ((size_t)MEM_CLASS_MIN << (MEM_NCLASS - 1))
#define MEM_NOPOOL     0xffffffffu
#define MEM_INLINE_MAX 4096

/* The class for `bytes`, or MEM_NOPOOL when too large to pool. */
unsigned mem_class_of(size_t bytes);
size_t mem_class_bytes(unsigned cls);

/* Gives a buffer back to the pools (called on the last release). */
void mem_buf_recycle(maestro_buf_t *b);

/* Counters for tests: buffers created by malloc so far, and recycled (a worker's
 * reuses are counted when it stops); releases and retains refused because the
 * buffer's count was already 0. */
struct mem_stats {
  unsigned long long fresh, reused, overreleased;
};
void mem_get_stats(struct maestro_runtime *rt, struct mem_stats *s);

#endif
