/* The buffer object. runtime/mem owns allocation, reference counting and
 * the replicas on other memory nodes hanging off `reps` (mem/replica.h). */
#ifndef MAESTRO_MEM_BUF_H
#define MAESTRO_MEM_BUF_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "maestro.h"

struct mem_reps; /* mem/replica.c: replicas on other memory nodes and their validity */

/* Host replicas are aligned so that a device sharing host memory can wrap
 * them without a copy (CL_MEM_USE_HOST_PTR wants the device's base-address
 * alignment; 128 bytes covers the devices we know). */
#define MEM_HOST_ALIGN 128

/* Fields a firing touches come first, so that they share one cache line
 * (a message crossing cores then moves one line of header, not two). */
struct maestro_buf {
  atomic_uint refs;
  atomic_int host_valid; /* 1 when `host` holds the current bytes */
  size_t size;
  void *host;            /* host bytes; NULL until the host replica exists */
  struct mem_reps *reps; /* NULL until another memory node has touched the buffer */
  struct maestro_runtime *rt;
  uint32_t size_class;           /* pool bookkeeping (runtime/mem) */
  uint32_t flags;                /* MEM_BUF_* below */
  int node;                      /* NUMA node of the host bytes (picks its pool) */
  void *host_base;               /* what was allocated for `host` (runtime/mem) */
  size_t host_cap;               /* usable bytes at `host` */
  struct maestro_buf *next_free; /* shared-pool link (runtime/mem) */
  /* The message's shape (maestro_buf_set_shape): host-side metadata that
   * travels with the header across agents and devices, never to a device. */
  int ndim; /* 0 = none */
  size_t dims[3];
  /* The source message it derives from (runtime/core: aligned joins):
   * origin domain << 48 | sequence in that domain; 0 = none. Set by the
   * runtime when a firing sends it or the host pushes it; relaxed atomics
   * because a fan-out's branches read it on one shared buffer. */
  _Atomic uint64_t origin;
};

/* Buffer flags (runtime/mem). */
enum {
  MEM_BUF_INLINE = 1u << 0, /* header and host bytes are one allocation (from the host node) */
};

/* Pools: per-worker free lists by size class (runtime/mem/pool.c). */
int mem_init(struct maestro_runtime *rt);
void mem_fini(struct maestro_runtime *rt);

/* A buffer of `bytes` with host memory (host_valid = 1, contents undefined). */
int mem_buf_alloc(struct maestro_runtime *rt, size_t bytes, maestro_buf_t **b);
/* Like mem_buf_alloc, with the host bytes on NUMA node `node` (-1: the
 * calling worker's node). Only matters on machines with several nodes. */
int mem_buf_alloc_on(struct maestro_runtime *rt, size_t bytes, int node, maestro_buf_t **b);
/* mem_buf_alloc_on for the public function `who`, which the error message
 * names. Sizes whose header and alignment arithmetic would wrap around are
 * refused with MAESTRO_ENOMEM, as by every mem_buf_alloc*. */
int mem_buf_alloc_for(struct maestro_runtime *rt, size_t bytes, int node, const char *who,
                      maestro_buf_t **b);
/* NUMA nodes the pools know (>= 1). */
int mem_nodes(const struct maestro_runtime *rt);
/* A buffer whose host replica does not exist yet (a device will produce it). */
int mem_buf_alloc_nohost(struct maestro_runtime *rt, size_t bytes, maestro_buf_t **b);
/* Gives `b` host memory if it has none (host_valid stays as it is). */
int mem_buf_ensure_host(maestro_buf_t *b);
/* `who` (a retain or release) found `b` with a reference count of 0 (and
 * left it 0): counts it and reports it in maestro_last_error(). The buffer
 * went back to a pool on its last release and stays there, recycled once. */
void mem_buf_overreleased(maestro_buf_t *b, const char *who);

/* Checks `ndim` dims against a buffer of `bytes` (maestro_buf_set_shape's
 * rule): 1..3 dims whose product is a whole number of at least one byte
 * each, or 0 for an empty buffer. MAESTRO_OK or MAESTRO_EINVAL, nothing set. */
int mem_shape_fits(int ndim, const size_t *dims, size_t bytes);

/* Per-thread pool caches. A worker thread calls mem_thread_attach(rt, node)
 * when it starts (its buffers then come from and return to a cache of its own,
 * with host memory on NUMA node `node`) and mem_thread_detach() before it
 * ends, which hands its cached buffers back to the runtime's shared pool.
 * Other threads use the shared pool (one lock per batch of buffers). */
void mem_thread_attach(struct maestro_runtime *rt, int node);
void mem_thread_detach(void);

#endif
