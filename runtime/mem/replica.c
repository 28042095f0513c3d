/* Coherence of a buffer's replicas across memory nodes (mem/replica.h):
 * which replica is valid, where a copy comes from, invalidation, write-back
 * before eviction. The bytes move through the nodes' operations
 * (mem/node.h); nothing here knows what a node is made of. */
#include "mem/replica.h"

#include <pthread.h>
#include <stdlib.h>

#include "base/error.h"
#include "base/runtime.h"

/* One node's replica of a buffer. `valid` is read without the lock
 * (mem_buf_valid_on: placement), written under it. */
struct mem_rep {
  int node;
  int valid;
  int pins;    /* uses in progress: never evicted while > 0 */
  int wrapped; /* h wraps the buffer's host bytes (zero-copy) */
  void *h;     /* the node's handle, NULL when it holds no memory */
  struct mem_rep *next;
};

struct mem_reps {
  pthread_mutex_t lock;
  struct mem_rep *head; /* prepended under the lock, published with release */
};

/* An injected transfer failure (base/fault.h), reported as a failed enqueue
 * would be; 0 otherwise. */
static int mem_fault_xfer(maestro_buf_t *b) {
  if (!fault_hit(&b->rt->fault, FAULT_XFER)) return MAESTRO_OK;
  return err_set(MAESTRO_ECL, "transfer of %zu bytes to a device: injected fault (MAESTRO_FAULTS)",
                 b->size);
}

static struct mem_reps *reps_get(maestro_buf_t *b) {
  struct mem_reps *R = __atomic_load_n(&b->reps, __ATOMIC_ACQUIRE);
  if (R) return R;
  R = calloc(1, sizeof *R);
  if (!R) return NULL;
  pthread_mutex_init(&R->lock, NULL);
  struct mem_reps *expected = NULL;
  if (!__atomic_compare_exchange_n(&b->reps, &expected, R, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    pthread_mutex_destroy(&R->lock);
    free(R);
    return expected;
  }
  return R;
}

static struct mem_rep *rep_find(const struct mem_reps *R, int node) {
  for (struct mem_rep *r = __atomic_load_n(&R->head, __ATOMIC_ACQUIRE); r; r = r->next)
    if (r->node == node) return r;
  return NULL;
}

/* The replica of `node`, created if needed (R locked). */
static struct mem_rep *rep_get(struct mem_reps *R, int node) {
  struct mem_rep *r = rep_find(R, node);
  if (r) return r;
  r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->node = node;
  r->next = R->head;
  __atomic_store_n(&R->head, r, __ATOMIC_RELEASE);
  return r;
}

static void set_valid(struct mem_rep *r, int v) {
  __atomic_store_n(&r->valid, v, __ATOMIC_RELAXED);
}

/* Frees r's memory (R locked). */
static void rep_drop(maestro_buf_t *b, struct mem_rep *r) {
  if (r->h) {
    const struct mem_node *n = mem_node_get(b->rt, r->node);
    n->ops->free(n->ctx, b, r->h, r->wrapped);
  }
  r->h = NULL;
  r->wrapped = 0;
  set_valid(r, 0);
}

/* Makes the host bytes current, blocking (R locked). */
static int sync_host_locked(maestro_buf_t *b, struct mem_reps *R) {
  if (atomic_load(&b->host_valid)) return MAESTRO_OK;
  struct mem_rep *src = NULL;
  for (struct mem_rep *r = R->head; r; r = r->next) {
    if (!r->valid || !r->h) continue;
    if (!src || (r->wrapped && !src->wrapped)) src = r; /* a wrap costs nothing */
  }
  int rc = mem_buf_ensure_host(b);
  if (rc) return rc;
  if (src && b->size) {
    const struct mem_node *n = mem_node_get(b->rt, src->node);
    if ((rc = n->ops->copy_out(n->ctx, src->h, b, src->wrapped))) return rc;
  }
  /* No valid bytes anywhere yet: nothing to bring. */
  atomic_store(&b->host_valid, 1);
  return MAESTRO_OK;
}

int mem_buf_sync_host(maestro_buf_t *b) {
  if (!b || atomic_load(&b->host_valid)) return MAESTRO_OK;
  struct mem_reps *R = __atomic_load_n(&b->reps, __ATOMIC_ACQUIRE);
  if (!R) { /* never on another node: the host bytes are all there is */
    int rc = mem_buf_ensure_host(b);
    if (rc == MAESTRO_OK) atomic_store(&b->host_valid, 1);
    return rc;
  }
  pthread_mutex_lock(&R->lock);
  int rc = sync_host_locked(b, R);
  pthread_mutex_unlock(&R->lock);
  return rc;
}

void mem_buf_invalidate_nodes(maestro_buf_t *b) {
  struct mem_reps *R = b ? __atomic_load_n(&b->reps, __ATOMIC_ACQUIRE) : NULL;
  if (!R) return;
  pthread_mutex_lock(&R->lock);
  for (struct mem_rep *r = R->head; r; r = r->next) {
    /* A wrap may cache the old host bytes: make a fresh one next time.
     * Memory of the node's own stays, to be written again. */
    if (r->wrapped && !(mem_node_get(b->rt, r->node)->flags & MEM_NODE_HOST_COHERENT))
      rep_drop(b, r);
    set_valid(r, 0);
  }
  pthread_mutex_unlock(&R->lock);
}

void mem_buf_free_replicas(maestro_buf_t *b) {
  struct mem_reps *R = b ? __atomic_load_n(&b->reps, __ATOMIC_ACQUIRE) : NULL;
  if (!R) return;
  pthread_mutex_lock(&R->lock);
  for (struct mem_rep *r = R->head, *next; r; r = next) {
    next = r->next;
    rep_drop(b, r);
    free(r);
  }
  pthread_mutex_unlock(&R->lock);
  pthread_mutex_destroy(&R->lock);
  free(R);
  b->reps = NULL;
}

void mem_buf_drop_replicas(maestro_buf_t *b) {
  struct mem_reps *R = b ? __atomic_load_n(&b->reps, __ATOMIC_ACQUIRE) : NULL;
  if (!R) return;
  pthread_mutex_lock(&R->lock);
  for (struct mem_rep *r = R->head; r; r = r->next) {
    rep_drop(b, r);
    r->pins = 0;
  }
  pthread_mutex_unlock(&R->lock);
}

int mem_buf_valid_on(const maestro_buf_t *b, int node) {
  const struct mem_reps *R = b ? __atomic_load_n(&b->reps, __ATOMIC_ACQUIRE) : NULL;
  const struct mem_rep *r = R ? rep_find(R, node) : NULL;
  return r && __atomic_load_n(&r->valid, __ATOMIC_RELAXED);
}

uint64_t mem_cost_to_node(const maestro_buf_t *b, int node) {
  const struct mem_node *n = b ? mem_node_get(b->rt, node) : NULL;
  if (!n || !b->size || (n->flags & MEM_NODE_ZERO_COPY) || mem_buf_valid_on(b, node)) return 0;
  uint64_t cost = n->ops->cost_ns ? n->ops->cost_ns(n->ctx, MEM_TO_NODE, b->size) : 0;
  if (atomic_load_explicit(&((maestro_buf_t *)b)->host_valid, memory_order_relaxed)) return cost;
  /* The bytes are on another node: directly from there, or back through the host. */
  const struct mem_reps *R = __atomic_load_n(&b->reps, __ATOMIC_ACQUIRE);
  uint64_t back = UINT64_MAX;
  for (const struct mem_rep *r = R ? R->head : NULL; r; r = r->next) {
    if (!__atomic_load_n(&r->valid, __ATOMIC_RELAXED)) continue;
    const struct mem_node *s = mem_node_get(b->rt, r->node);
    if (s->ops == n->ops && n->ops->direct && n->ops->direct(n->ctx, s->ctx)) return cost;
    uint64_t c = s->ops->cost_ns ? s->ops->cost_ns(s->ctx, MEM_FROM_NODE, b->size) : 0;
    if (c < back) back = c;
  }
  return back == UINT64_MAX ? cost : cost + back;
}

/* Gives r memory of the node's own; R is unlocked meanwhile (the node may
 * wait for memory). Returns with R locked. */
static int rep_alloc(maestro_buf_t *b, const struct mem_node *n, struct mem_reps *R,
                     struct mem_rep *r) {
  pthread_mutex_unlock(&R->lock);
  void *h = NULL;
  int rc = n->ops->alloc(n->ctx, b, 0, &h);
  pthread_mutex_lock(&R->lock);
  if (rc) return rc;
  if (r->h) { /* another use got there first */
    n->ops->free(n->ctx, b, h, 0);
    return MAESTRO_OK;
  }
  r->h = h;
  r->wrapped = 0;
  return MAESTRO_OK;
}

/* Makes r valid for a use on node n (R locked, r pinned). */
static int make_valid(maestro_buf_t *b, const struct mem_node *n, struct mem_reps *R,
                      struct mem_rep *r, void *use) {
  int rc;
  if (r->valid) return MAESTRO_OK;
  if (b->size == 0) {
    set_valid(r, 1);
    return MAESTRO_OK;
  }
  if (n->flags & MEM_NODE_ZERO_COPY) {
    if ((rc = sync_host_locked(b, R))) return rc;
    if (r->h && r->wrapped && (n->flags & MEM_NODE_HOST_COHERENT)) { /* the same bytes, current */
      set_valid(r, 1);
      return MAESTRO_OK;
    }
    if (r->h) rep_drop(b, r);
    void *h = NULL;
    if ((rc = n->ops->alloc(n->ctx, b, 1, &h))) return rc;
    if (h) {
      r->h = h;
      r->wrapped = 1;
      set_valid(r, 1);
      return MAESTRO_OK;
    }
  }
  if (r->wrapped) rep_drop(b, r);
  if (!r->h && (rc = rep_alloc(b, n, R, r))) return rc;
  if (r->valid) return MAESTRO_OK; /* made valid while R was unlocked */
  /* A direct copy from a node that has it. */
  for (struct mem_rep *s = R->head; s; s = s->next) {
    if (s == r || !s->valid || !s->h) continue;
    const struct mem_node *sn = mem_node_get(b->rt, s->node);
    if (sn->ops != n->ops || !n->ops->direct || !n->ops->direct(n->ctx, sn->ctx)) continue;
    if ((rc = mem_fault_xfer(b))) return rc;
    if ((rc = n->ops->copy_in(n->ctx, r->h, sn->ctx, s->h, b, use))) return rc;
    set_valid(r, 1);
    return MAESTRO_OK;
  }
  /* Through the host (bringing it back from another node first if needed). */
  if ((rc = sync_host_locked(b, R))) return rc;
  if ((rc = mem_fault_xfer(b))) return rc;
  if ((rc = n->ops->copy_in(n->ctx, r->h, NULL, NULL, b, use))) return rc;
  set_valid(r, 1);
  return MAESTRO_OK;
}

int mem_rep_acquire(maestro_buf_t *b, int node, void *use) {
  const struct mem_node *n = mem_node_get(b->rt, node);
  if (!n) return err_set(MAESTRO_EINVAL, "buffer replicas: no memory node %d", node);
  struct mem_reps *R = reps_get(b);
  if (!R) return err_set(MAESTRO_ENOMEM, "buffer replicas: out of memory");
  pthread_mutex_lock(&R->lock);
  struct mem_rep *r = rep_get(R, node);
  if (!r) {
    pthread_mutex_unlock(&R->lock);
    return err_set(MAESTRO_ENOMEM, "buffer replicas: out of memory");
  }
  r->pins++; /* from now on nobody evicts it */
  int rc = make_valid(b, n, R, r, use);
  if (rc) {
    r->pins--;
  } else if (n->ops->use) {
    n->ops->use(n->ctx, r->h, r->wrapped, use);
  }
  pthread_mutex_unlock(&R->lock);
  return rc;
}

int mem_rep_new_output(struct maestro_runtime *rt, int node, size_t bytes, int with_host,
                       maestro_buf_t **out, void **h) {
  const struct mem_node *n = mem_node_get(rt, node);
  if (!n) return err_set(MAESTRO_EINVAL, "buffer replicas: no memory node %d", node);
  maestro_buf_t *b;
  int rc = with_host ? mem_buf_alloc(rt, bytes, &b) : mem_buf_alloc_nohost(rt, bytes, &b);
  if (rc) return rc;
  struct mem_reps *R = reps_get(b);
  if (!R) {
    maestro_buf_release(b);
    return err_set(MAESTRO_ENOMEM, "buffer replicas: out of memory");
  }
  pthread_mutex_lock(&R->lock);
  struct mem_rep *r = rep_get(R, node);
  if (!r) {
    pthread_mutex_unlock(&R->lock);
    maestro_buf_release(b);
    return err_set(MAESTRO_ENOMEM, "buffer replicas: out of memory");
  }
  r->pins = 1;
  if (bytes && (n->flags & MEM_NODE_ZERO_COPY) && b->host) {
    void *wh = NULL;
    if (n->ops->alloc(n->ctx, b, 1, &wh) == MAESTRO_OK && wh) {
      r->h = wh;
      r->wrapped = 1;
    } else {
      err_clear(); /* memory of its own will do */
    }
  }
  if (bytes && !r->h && (rc = rep_alloc(b, n, R, r))) {
    r->pins = 0;
    pthread_mutex_unlock(&R->lock);
    maestro_buf_release(b);
    return rc;
  }
  set_valid(r, 1);
  atomic_store(&b->host_valid, 0);
  if (n->ops->use) n->ops->use(n->ctx, r->h, r->wrapped, NULL);
  *h = r->h;
  pthread_mutex_unlock(&R->lock);
  *out = b;
  return MAESTRO_OK;
}

void mem_rep_write_on(maestro_buf_t *b, int node) {
  struct mem_reps *R = __atomic_load_n(&b->reps, __ATOMIC_ACQUIRE);
  if (!R) return;
  pthread_mutex_lock(&R->lock);
  for (struct mem_rep *r = R->head; r; r = r->next)
    if (r->node != node) set_valid(r, 0);
  atomic_store(&b->host_valid, 0);
  pthread_mutex_unlock(&R->lock);
}

void mem_rep_unpin(maestro_buf_t *b, int node) {
  struct mem_reps *R = __atomic_load_n(&b->reps, __ATOMIC_ACQUIRE);
  if (!R) return;
  pthread_mutex_lock(&R->lock);
  struct mem_rep *r = rep_find(R, node);
  if (r && r->pins > 0) r->pins--;
  pthread_mutex_unlock(&R->lock);
}

void *mem_rep_handle(maestro_buf_t *b, int node) {
  struct mem_reps *R = __atomic_load_n(&b->reps, __ATOMIC_ACQUIRE);
  struct mem_rep *r = R ? rep_find(R, node) : NULL;
  return r ? r->h : NULL;
}

int mem_rep_wraps_host(maestro_buf_t *b, int node) {
  struct mem_reps *R = __atomic_load_n(&b->reps, __ATOMIC_ACQUIRE);
  if (!R) return 0;
  pthread_mutex_lock(&R->lock);
  struct mem_rep *r = rep_find(R, node);
  int w = r && r->wrapped && r->valid;
  pthread_mutex_unlock(&R->lock);
  return w;
}

void mem_rep_lock(maestro_buf_t *b) {
  pthread_mutex_lock(&reps_get(b)->lock);
}

void mem_rep_unlock(maestro_buf_t *b) {
  pthread_mutex_unlock(&b->reps->lock);
}

/* 1 when another memory node (the host included) holds b's bytes (R locked). */
static int valid_elsewhere(const maestro_buf_t *b, const struct mem_reps *R,
                           const struct mem_rep *r) {
  if (atomic_load(&((maestro_buf_t *)b)->host_valid)) return 1;
  for (const struct mem_rep *s = R->head; s; s = s->next)
    if (s != r && s->valid) return 1;
  return 0;
}

int mem_rep_evict(maestro_buf_t *b, int node, int only_copies) {
  struct mem_reps *R = __atomic_load_n(&b->reps, __ATOMIC_ACQUIRE);
  if (!R) return 0;
  /* The caller holds its node's lock, which comes after ours: only try. */
  if (pthread_mutex_trylock(&R->lock)) return -1;
  struct mem_rep *r = rep_find(R, node);
  int out = 0;
  if (r && r->pins == 0 && r->h && !r->wrapped) {
    out = 1;
    if (r->valid && !valid_elsewhere(b, R, r)) {
      const struct mem_node *n = mem_node_get(b->rt, node);
      /* The only copy: written back to the host first, and only as a last resort. */
      out = only_copies && mem_buf_ensure_host(b) == MAESTRO_OK &&
            n->ops->copy_out(n->ctx, r->h, b, 0) == MAESTRO_OK;
      if (out) atomic_store(&b->host_valid, 1);
    }
    if (out) {
      r->h = NULL;
      set_valid(r, 0);
    }
  }
  pthread_mutex_unlock(&R->lock);
  return out;
}
