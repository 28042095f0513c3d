/* Memory nodes: where a buffer's bytes can live (runtime/mem/node.c).
 *
 * Node 0 is host memory: the CPU backend (runtime/backend/cpu) registers
 * it when the runtime is created (mem_node_add_host), and the pools
 * (mem/pool.c) take the buffers' own bytes from it (host_alloc). Every
 * other node is brought by a backend, which registers it with a table of
 * operations (struct mem_node_ops) when it discovers its places: one node
 * per device memory. mem/replica.c keeps each buffer's replicas coherent
 * across nodes through these operations alone; it names no backend.
 *
 * A replica's memory on a node is the backend's handle (void *h): a cl_mem
 * with the event that makes it valid, for OpenCL. The backend orders its own
 * commands (a kernel waits for the copy that made its input valid); mem/
 * decides which replica is valid, where a copy comes from, and when a
 * replica must go. */
#ifndef MAESTRO_MEM_NODE_H
#define MAESTRO_MEM_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "maestro.h"

struct maestro_runtime;

#define MEM_HOST      0
#define MEM_MAX_NODES 65 /* the host and 64 device memories */

/* Node flags. */
enum {
  MEM_NODE_ZERO_COPY = 1u << 0,     /* shares host memory: wrap the host bytes, copy nothing */
  MEM_NODE_HOST_COHERENT = 1u << 1, /* a wrap sees host writes as they happen (a CPU device) */
};

/* Directions for mem_node_ops.cost_ns. */
enum { MEM_TO_NODE = 0, MEM_FROM_NODE = 1 };

struct mem_node_ops {
  /* A replica of b (b->size bytes) on this node. With `wrap`, one that
   * wraps b->host (zero-copy), or *h = NULL with MAESTRO_OK when this
   * buffer cannot be wrapped (alignment); without, memory of its own, which
   * may wait while the node's memory is full of replicas in use. */
  int (*alloc)(void *node, maestro_buf_t *b, int wrap, void **h);
  /* Frees a replica (after the commands still using it). */
  void (*free)(void *node, maestro_buf_t *b, void *h, int wrapped);
  /* Starts copying b's bytes into replica `dh` of this node without
   * blocking, from replica `sh` of node `src` (a node with the same
   * operations that `direct` accepted), or from the host bytes b->host when
   * src is NULL. Later uses of dh on this node are ordered after it.
   * `use` is the caller's record (mem_rep_acquire's), passed through. */
  int (*copy_in)(void *node, void *dh, void *src, void *sh, maestro_buf_t *b, void *use);
  /* Copies replica h into b->host, blocking until the bytes are there. */
  int (*copy_out)(void *node, void *h, maestro_buf_t *b, int wrapped);
  /* 1 when this node copies directly from node `other` (same operations). */
  int (*direct)(void *node, void *other);
  /* Expected time to move `bytes` to (MEM_TO_NODE) or from this node. */
  uint64_t (*cost_ns)(void *node, int dir, size_t bytes);
  /* Optional: a use of replica h is about to start (mem_rep_acquire's last
   * step, the buffer's replica lock held): fill `use` with what the backend
   * needs (the memory, the event to wait for) and mark it recently used. */
  void (*use)(void *node, void *h, int wrapped, void *use);
  /* The host node only (required there): memory the host's code reads and
   * writes, for the buffers' own bytes (the pools): `bytes` aligned to
   * MEM_HOST_ALIGN, on NUMA node `numa` (its OS index; -1 = anywhere); NULL
   * when out of memory. Freed with host_free and the same `bytes`. */
  void *(*host_alloc)(void *node, size_t bytes, int numa);
  void (*host_free)(void *node, void *p, size_t bytes);
};

struct mem_node {
  const struct mem_node_ops *ops;
  void *ctx; /* the backend's node */
  unsigned flags;
};

/* Registers a node; returns its id (>= 1) or a negative status. */
int mem_node_add(struct maestro_runtime *rt, const struct mem_node_ops *ops, void *ctx,
                 unsigned flags);
/* Registers the host node, MEM_HOST (once per runtime: MAESTRO_ESTATE the
 * second time); its operations must have host_alloc and host_free. */
int mem_node_add_host(struct maestro_runtime *rt, const struct mem_node_ops *ops, void *ctx,
                      unsigned flags);
/* Node `id` (>= 1), or NULL. */
const struct mem_node *mem_node_get(const struct maestro_runtime *rt, int id);
/* The host node, or NULL before the CPU backend registered it. */
const struct mem_node *mem_node_host(const struct maestro_runtime *rt);

/* The node table: made before the places are found (the CPU backend
 * registers the host node then) and freed after the pools. */
int mem_node_table_init(struct maestro_runtime *rt);
void mem_node_table_fini(struct maestro_runtime *rt);

#endif
