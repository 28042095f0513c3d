/* Buffer pools: a cache per worker thread by size class, backed by shared
 * pools per runtime and NUMA node, so that a steady pipeline recycles its
 * buffers instead of allocating per message. Workers move buffers to and
 * from the shared pool in batches (one lock per batch). The bytes come from
 * the host memory node (mem/node.h: the CPU backend's host_alloc), only
 * when a pool is empty. On a machine with several NUMA nodes a buffer's
 * bytes live on one node and it goes back to that node's pool. */
#include "mem/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/culprit.h"
#include "base/error.h"
#include "base/runtime.h"
#include "mem/node.h"
#include "mem/replica.h"
#include "topo/topo.h"

/* Under AddressSanitizer the bytes of a buffer sitting in a pool are
 * poisoned: a write through a pointer kept after the last release is
 * reported instead of landing in the next owner's message. */
#if defined(__SANITIZE_ADDRESS__)
#define MEM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEM_ASAN 1
#endif
#endif
#ifdef MEM_ASAN
#include <sanitizer/asan_interface.h>
#define pool_poison(b)   ASAN_POISON_MEMORY_REGION((b)->host, (b)->host_cap)
#define pool_unpoison(b) ASAN_UNPOISON_MEMORY_REGION((b)->host, (b)->host_cap)
#else
#define pool_poison(b)   ((void)(b))
#define pool_unpoison(b) ((void)(b))
#endif

/* Per-thread cache: at most TC_MAX buffers and TC_BYTES bytes per class. */
#define TC_MAX   256
#define TC_BYTES (2u << 20)
/* Shared pool: at most this many bytes per class stay cached (at least 8
 * buffers); classes above TC_BYTES keep at most LARGE_KEEP buffers each and
 * LARGE_BYTES in all. */
#define SHARED_BYTES (32u << 20)
#define LARGE_KEEP   4
#define LARGE_BYTES  ((size_t)512 << 20)
/* Header size, rounded so that inline host bytes stay aligned. */
#define HDR_BYTES                                                                                  \
  ((sizeof(struct maestro_buf) + MEM_HOST_ALIGN - 1) & ~(size_t)(MEM_HOST_ALIGN - 1))

/* The largest buffer: its header, class rounding and alignment padding
 * added to it stay far from wrapping around (and malloc refuses more than
 * PTRDIFF_MAX anyway). */
#define MEM_MAX_BYTES ((size_t)PTRDIFF_MAX - HDR_BYTES - 2 * MEM_HOST_ALIGN)

static size_t round_align(size_t n) {
  return (n + MEM_HOST_ALIGN - 1) & ~(size_t)(MEM_HOST_ALIGN - 1);
}

struct shared_class {
  pthread_mutex_t lock;
  maestro_buf_t *head;
  size_t n, max;
};

struct mem {
  const struct mem_node *host; /* where the bytes come from */
  int nnodes;                  /* NUMA nodes (>= 1) */
  struct shared_class *cls;    /* [nnodes][MEM_NCLASS] */
  atomic_size_t large_bytes;   /* cached in classes above TC_BYTES */
  atomic_ullong fresh, reused, overreleased;
};

struct tcache {
  struct maestro_runtime *rt;
  int node;
  unsigned long long reused; /* added to the runtime's count at detach: no shared line per buffer */
  unsigned n[MEM_NCLASS], max[MEM_NCLASS];
  maestro_buf_t *items[MEM_NCLASS][TC_MAX];
};

static _Thread_local struct tcache *tls_cache;

unsigned mem_class_of(size_t bytes) {
  size_t cap = MEM_CLASS_MIN;
  for (unsigned k = 0; k < MEM_NCLASS; k++, cap <<= 1)
    if (bytes <= cap) return k;
  return MEM_NOPOOL;
}

size_t mem_class_bytes(unsigned cls) {
  return (size_t)MEM_CLASS_MIN << cls;
}

/* A valid node index of `m` for `node` (-1 or unknown: node 0). */
static int node_of(const struct mem *m, int node) {
  return node >= 0 && node < m->nnodes ? node : 0;
}

static struct shared_class *shared(struct mem *m, int node, unsigned k) {
  return &m->cls[(size_t)node_of(m, node) * MEM_NCLASS + k];
}

int mem_init(struct maestro_runtime *rt) {
  const struct mem_node *host = mem_node_host(rt);
  if (!host) return err_set(MAESTRO_ENODEV, "mem_init: no host memory node (the CPU backend's)");
  struct mem *m = calloc(1, sizeof *m);
  if (!m) return err_set(MAESTRO_ENOMEM, "mem_init: out of memory");
  m->host = host;
  m->nnodes = topo_numa_nodes(rt);
  if (m->nnodes < 1) m->nnodes = 1;
  m->cls = calloc((size_t)m->nnodes * MEM_NCLASS, sizeof *m->cls);
  if (!m->cls) {
    free(m);
    return err_set(MAESTRO_ENOMEM, "mem_init: out of memory");
  }
  for (int node = 0; node < m->nnodes; node++)
    for (unsigned k = 0; k < MEM_NCLASS; k++) {
      struct shared_class *c = shared(m, node, k);
      pthread_mutex_init(&c->lock, NULL);
      size_t max = SHARED_BYTES / mem_class_bytes(k);
      c->max = mem_class_bytes(k) > TC_BYTES ? LARGE_KEEP : max < 8 ? 8 : max;
    }
  rt->mem = m;
  return MAESTRO_OK;
}

/* Frees the memory of a buffer (never pooled again). */
static void buf_free_memory(maestro_buf_t *b) {
  const struct mem_node *host = b->rt->mem->host;
  if (b->host) pool_unpoison(b); /* the allocator may hand these bytes out again */
  if (b->flags & MEM_BUF_INLINE) {
    host->ops->host_free(host->ctx, b, HDR_BYTES + round_align(b->host_cap));
    return;
  }
  if (b->host_base) host->ops->host_free(host->ctx, b->host_base, round_align(b->host_cap));
  free(b);
}

void mem_fini(struct maestro_runtime *rt) {
  struct mem *m = rt->mem;
  if (!m) return;
  for (int node = 0; node < m->nnodes; node++)
    for (unsigned k = 0; k < MEM_NCLASS; k++) {
      struct shared_class *c = shared(m, node, k);
      maestro_buf_t *b = c->head;
      while (b) {
        maestro_buf_t *next = b->next_free;
        buf_free_memory(b);
        b = next;
      }
      pthread_mutex_destroy(&c->lock);
    }
  free(m->cls);
  free(m);
  rt->mem = NULL;
}

void mem_thread_attach(struct maestro_runtime *rt, int node) {
  struct tcache *tc = calloc(1, sizeof *tc);
  if (!tc) return; /* the thread then uses the shared pool */
  tc->rt = rt;
  tc->node = node_of(rt->mem, node);
  for (unsigned k = 0; k < MEM_NCLASS; k++) {
    size_t max = TC_BYTES / mem_class_bytes(k); /* 0 above TC_BYTES: no thread cache */
    tc->max[k] = max > TC_MAX ? TC_MAX : (unsigned)max;
  }
  tls_cache = tc;
}

/* Moves `n` buffers of class `k` and node `node` to the shared pool (freeing
 * those beyond its bound). */
static void shared_put(struct mem *m, int node, unsigned k, maestro_buf_t **v, unsigned n) {
  struct shared_class *c = shared(m, node, k);
  size_t cap = mem_class_bytes(k);
  int large = cap > TC_BYTES;
  unsigned i = 0;
  pthread_mutex_lock(&c->lock);
  for (; i < n && c->n < c->max; i++) {
    if (large) {
      if (atomic_load(&m->large_bytes) + cap > LARGE_BYTES) break;
      atomic_fetch_add(&m->large_bytes, cap);
    }
    v[i]->next_free = c->head;
    c->head = v[i];
    c->n++;
  }
  pthread_mutex_unlock(&c->lock);
  for (; i < n; i++)
    buf_free_memory(v[i]);
}

/* Takes up to `want` buffers from the shared pool; returns how many. */
static unsigned shared_get(struct mem *m, int node, unsigned k, maestro_buf_t **v, unsigned want) {
  struct shared_class *c = shared(m, node, k);
  unsigned n = 0;
  pthread_mutex_lock(&c->lock);
  while (n < want && c->head) {
    v[n++] = c->head;
    c->head = c->head->next_free;
    c->n--;
    if (mem_class_bytes(k) > TC_BYTES) atomic_fetch_sub(&m->large_bytes, mem_class_bytes(k));
  }
  pthread_mutex_unlock(&c->lock);
  return n;
}

void mem_thread_detach(void) {
  struct tcache *tc = tls_cache;
  if (!tc) return;
  tls_cache = NULL;
  atomic_fetch_add_explicit(&tc->rt->mem->reused, tc->reused, memory_order_relaxed);
  for (unsigned k = 0; k < MEM_NCLASS; k++)
    shared_put(tc->rt->mem, tc->node, k, tc->items[k], tc->n[k]);
  free(tc);
}

void mem_get_stats(struct maestro_runtime *rt, struct mem_stats *s) {
  s->fresh = atomic_load_explicit(&rt->mem->fresh, memory_order_relaxed);
  s->reused = atomic_load_explicit(&rt->mem->reused, memory_order_relaxed);
  s->overreleased = atomic_load_explicit(&rt->mem->overreleased, memory_order_relaxed);
}

/* Host bytes for a separate (non-inline) buffer of class capacity `cap`. */
static int host_alloc(maestro_buf_t *b, size_t cap) {
  const struct mem_node *host = b->rt->mem->host;
  void *base = host->ops->host_alloc(host->ctx, round_align(cap), b->node);
  if (!base) return MAESTRO_ENOMEM;
  b->host_base = base;
  b->host = base; /* aligned to MEM_HOST_ALIGN by host_alloc */
  b->host_cap = cap;
  return MAESTRO_OK;
}

/* A fresh buffer of class `k` (or exact size when k == MEM_NOPOOL) on `node`. */
static maestro_buf_t *buf_fresh(struct maestro_runtime *rt, unsigned k, size_t bytes, int with_host,
                                int node) {
  size_t cap = k == MEM_NOPOOL ? bytes : mem_class_bytes(k);
  const struct mem_node *host = rt->mem->host;
  maestro_buf_t *b;
  if (with_host && cap <= MEM_INLINE_MAX) {
    size_t total = HDR_BYTES + round_align(cap);
    b = host->ops->host_alloc(host->ctx, total, node);
    if (!b) return NULL;
    memset(b, 0, sizeof *b);
    b->flags = MEM_BUF_INLINE;
    b->host = (char *)b + HDR_BYTES;
    b->host_base = b->host;
    b->host_cap = cap;
    b->rt = rt;
    b->node = node;
  } else {
    b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->rt = rt;
    b->node = node;
    if (with_host && host_alloc(b, cap) != MAESTRO_OK) {
      free(b);
      return NULL;
    }
  }
  b->size_class = k;
  atomic_fetch_add_explicit(&rt->mem->fresh, 1, memory_order_relaxed);
  return b;
}

/* A buffer whose bytes live on `node` (-1: the calling worker's node). */
static maestro_buf_t *buf_get(struct maestro_runtime *rt, size_t bytes, int with_host, int node) {
  struct mem *m = rt->mem;
  unsigned k = mem_class_of(bytes);
  struct tcache *tc = tls_cache;
  if (tc && tc->rt != rt) tc = NULL;
  node = node_of(m, node < 0 && tc ? tc->node : node);
  maestro_buf_t *b = NULL;
  if (k != MEM_NOPOOL && with_host) {
    if (tc && tc->max[k] && tc->node == node) {
      if (tc->n[k] == 0) tc->n[k] = shared_get(m, node, k, tc->items[k], (tc->max[k] + 1) / 2);
      if (tc->n[k]) {
        b = tc->items[k][--tc->n[k]];
        tc->reused++;
      }
    } else if (shared_get(m, node, k, &b, 1)) {
      atomic_fetch_add_explicit(&m->reused, 1, memory_order_relaxed);
    }
  }
  if (b)
    pool_unpoison(b);
  else
    b = buf_fresh(rt, k, bytes, with_host, node);
  if (!b) return NULL;
  atomic_init(&b->refs, 1);
  b->size = bytes;
  atomic_init(&b->host_valid, with_host ? 1 : 0);
  b->reps = NULL;
  b->next_free = NULL;
  b->ndim = 0;
  return b;
}

/* buf_get for `who` (the public function asked, or NULL), refusing sizes
 * whose arithmetic would wrap around. */
static int buf_alloc(struct maestro_runtime *rt, size_t bytes, int with_host, int node,
                     const char *who, maestro_buf_t **out) {
  const char *sep = who ? ": " : "";
  if (!who) who = "";
  if (bytes > MEM_MAX_BYTES)
    return err_set(MAESTRO_ENOMEM, "%s%sbuffer of %zu bytes: more than a buffer can hold (%zu)",
                   who, sep, bytes, (size_t)MEM_MAX_BYTES);
  maestro_buf_t *b =
      fault_hit(&rt->fault, FAULT_ALLOC) ? NULL : buf_get(rt, bytes, with_host, node);
  if (!b) return err_set(MAESTRO_ENOMEM, "%s%sbuffer of %zu bytes: out of memory", who, sep, bytes);
  *out = b;
  return MAESTRO_OK;
}

int mem_buf_alloc(struct maestro_runtime *rt, size_t bytes, maestro_buf_t **out) {
  return buf_alloc(rt, bytes, 1, -1, NULL, out);
}

int mem_buf_alloc_on(struct maestro_runtime *rt, size_t bytes, int node, maestro_buf_t **out) {
  return buf_alloc(rt, bytes, 1, node, NULL, out);
}

int mem_buf_alloc_for(struct maestro_runtime *rt, size_t bytes, int node, const char *who,
                      maestro_buf_t **out) {
  return buf_alloc(rt, bytes, 1, node, who, out);
}

int mem_buf_alloc_nohost(struct maestro_runtime *rt, size_t bytes, maestro_buf_t **out) {
  return buf_alloc(rt, bytes, 0, -1, NULL, out);
}

int mem_buf_ensure_host(maestro_buf_t *b) {
  if (b->host) return MAESTRO_OK;
  size_t cap = b->size_class == MEM_NOPOOL ? b->size : mem_class_bytes(b->size_class);
  if (host_alloc(b, cap) != MAESTRO_OK)
    return err_set(MAESTRO_ENOMEM, "host replica of %zu bytes: out of memory", b->size);
  return MAESTRO_OK;
}

int mem_nodes(const struct maestro_runtime *rt) {
  return rt->mem->nnodes;
}

void mem_buf_recycle(maestro_buf_t *b) {
  if (b->reps) mem_buf_free_replicas(b);
  unsigned k = b->size_class;
  if (k == MEM_NOPOOL || !b->host) {
    buf_free_memory(b);
    return;
  }
  pool_poison(b);
  struct tcache *tc = tls_cache;
  if (tc && tc->rt == b->rt && tc->max[k] && tc->node == b->node) {
    if (tc->n[k] == tc->max[k]) {
      /* Keep the lower half, hand back the rest: at least one buffer, also
       * when the row holds a single one (max 1: the 2 MiB class). */
      unsigned keep = tc->max[k] / 2;
      shared_put(b->rt->mem, tc->node, k, tc->items[k] + keep, tc->n[k] - keep);
      tc->n[k] = keep;
    }
    tc->items[k][tc->n[k]++] = b;
    return;
  }
  shared_put(b->rt->mem, b->node, k, &b, 1);
}

void mem_buf_overreleased(maestro_buf_t *b, const char *who) {
  atomic_fetch_add_explicit(&b->rt->mem->overreleased, 1, memory_order_relaxed);
  const char *agent = culprit_agent();
  err_set(MAESTRO_ESTATE,
          "%s: buffer %p of %zu bytes was already released by its last holder (reference "
          "count 0)%s%s%s; this call is ignored",
          who, (void *)b, b->size, agent ? ", in a firing of agent '" : "", agent ? agent : "",
          agent ? "'" : "");
}
