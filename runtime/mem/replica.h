/* Coherence of a buffer's replicas across memory nodes (runtime/mem/replica.c).
 *
 * The host replica is the buffer's own `host` bytes, valid when
 * b->host_valid is set. The others hang off b->reps, one per node that has
 * touched the buffer, each valid or not, pinned while a firing uses it
 * (never evicted then). The rules:
 * - a use on node n makes n's replica valid first: from a valid replica of
 *   a node that copies directly to n, else through the host (bringing the
 *   host bytes back first if they are stale); a zero-copy node wraps the
 *   host bytes instead;
 * - a host write (maestro_buf_data) makes every other replica stale;
 * - reading on the host (maestro_buf_cdata) copies a valid replica back;
 * - the last release frees every replica;
 * - a node short of memory evicts an unpinned replica: one valid elsewhere
 *   first, else the only copy after writing it back to the host.
 * Lock order: a buffer's replica lock, then the backend's own locks. */
#ifndef MAESTRO_MEM_REPLICA_H
#define MAESTRO_MEM_REPLICA_H

#include <stdint.h>

#include "mem/buf.h"
#include "mem/node.h"

/* Makes b's replica on `node` valid and pins it for a use: copies it there
 * if needed (without blocking on the node: the backend orders the copy
 * before the use). `use` is the backend's record, handed to its copy_in and
 * use operations. */
int mem_rep_acquire(maestro_buf_t *b, int node, void *use);
/* A fresh buffer of `bytes` whose only valid replica is on `node`, pinned
 * (the backend's command will write it). `with_host`: give it host memory
 * now (it will likely be read there). *h is the replica's handle. */
int mem_rep_new_output(struct maestro_runtime *rt, int node, size_t bytes, int with_host,
                       maestro_buf_t **out, void **h);
/* b's replica on `node` (valid and pinned by mem_rep_acquire) is about to
 * be written there: every other replica, the host's included, becomes
 * stale. For a buffer held alone (a kernel's read-write argument). */
void mem_rep_write_on(maestro_buf_t *b, int node);
/* Ends a use begun by mem_rep_acquire or mem_rep_new_output. */
void mem_rep_unpin(maestro_buf_t *b, int node);
/* The handle of b's replica on `node` (NULL when none). */
void *mem_rep_handle(maestro_buf_t *b, int node);
/* 1 when b's valid replica on `node` wraps its host bytes. */
int mem_rep_wraps_host(maestro_buf_t *b, int node);
/* The buffer's replica lock, for a backend updating what its handle holds
 * (the event that will make an output valid). */
void mem_rep_lock(maestro_buf_t *b);
void mem_rep_unlock(maestro_buf_t *b);

/* For a node's allocator short of memory, holding its own lock: tries to
 * take b's replica on `node` away. Returns 1 when the replica was detached
 * (its handle is the caller's to recycle: no longer in b), 0 when it must
 * stay (pinned; or the only copy while `only_copies` is 0; or the write-back
 * failed), -1 when b is busy (try another). */
int mem_rep_evict(maestro_buf_t *b, int node, int only_copies);

/* 1 when `node` holds a valid replica of b (0 for the host: see host_valid). */
int mem_buf_valid_on(const maestro_buf_t *b, int node);
/* Expected time to make b readable on `node` (0 when it is, or the node
 * shares host memory). */
uint64_t mem_cost_to_node(const maestro_buf_t *b, int node);

/* runtime/mem's own uses (buffer.c, pool.c). */
int mem_buf_sync_host(maestro_buf_t *b);
void mem_buf_invalidate_nodes(maestro_buf_t *b);
void mem_buf_free_replicas(maestro_buf_t *b);
/* For a buffer going back to the pools: frees every replica's memory but
 * keeps the records (the lock, one entry per node it visited, none valid),
 * so that its next life on the same nodes allocates none of them again. */
void mem_buf_drop_replicas(maestro_buf_t *b);

#endif
