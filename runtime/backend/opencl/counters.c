/* Counters and costs: what runtime/prof and placement read. */
#include "base/error.h"
#include "backend/opencl/ocl_int.h"
#include "mem/replica.h"
#include "base/stats_rec.h"

/* The devices' stats collector (base/stats_rec.h), registered once the
 * backend has found its devices: adds each device's transfer counters to
 * its place record (the backend's devices are the first device places). */
static int collect_places(struct maestro_runtime *rt, struct prof_place_rec *r, int cap) {
  const struct ocl *o = ocl_state(rt);
  if (!o) return 0;
  for (int i = 0; i < cap; i++) {
    if (r[i].kind != MAESTRO_PLACE_DEVICE || r[i].index < 0 || r[i].index >= o->ndev) continue;
    ocl_dev_t *d = ocl_dev(rt, r[i].index);
    r[i].bytes_h2d += atomic_load(&d->bytes_h2d);
    r[i].bytes_d2h += atomic_load(&d->bytes_d2h);
    r[i].bytes_d2d += atomic_load(&d->bytes_d2d);
    r[i].transfers += atomic_load(&d->transfers);
  }
  return 0;
}

const struct stats_collector ocl_stats_collector = {.name = "opencl", .places = collect_places};

int ocl_dev_stats(const struct maestro_runtime *rt, int dev, ocl_dev_stats_t *s) {
  if (!rt || !s) return err_set(MAESTRO_EINVAL, "ocl_dev_stats: NULL argument");
  struct ocl *o = ocl_get((struct maestro_runtime *)rt);
  int n = o ? o->ndev : 0;
  if (dev < 0 || dev >= n)
    return err_set(MAESTRO_ENODEV, "ocl_dev_stats: no device %d (this runtime has %d)", dev, n);
  ocl_dev_t *d = ocl_dev(rt, dev);
  s->bytes_h2d = atomic_load(&d->bytes_h2d);
  s->bytes_d2h = atomic_load(&d->bytes_d2h);
  s->bytes_d2d = atomic_load(&d->bytes_d2d);
  s->transfers = atomic_load(&d->transfers);
  s->launches = atomic_load(&d->launches);
  pthread_mutex_lock(&d->mem_lock);
  s->evictions = d->evictions;
  s->mem_used = d->mem_used;
  s->mem_limit = d->mem_limit;
  pthread_mutex_unlock(&d->mem_lock);
  pthread_mutex_lock(&d->lock);
  s->inflight = d->inflight;
  pthread_mutex_unlock(&d->lock);
  s->zero_copy = d->zero_copy;
  return MAESTRO_OK;
}

uint64_t ocl_transfer_cost_ns(const struct maestro_runtime *rt, int dev, size_t bytes) {
  const struct ocl *o = rt ? ocl_state(rt) : NULL;
  if (!o || dev < 0 || dev >= o->ndev) return 0;
  return ocl_node_ops.cost_ns(ocl_dev(rt, dev), MEM_TO_NODE, bytes);
}

int ocl_buf_valid_on(const maestro_buf_t *b, int dev) {
  const struct ocl *o = b ? ocl_state(b->rt) : NULL;
  if (!o || dev < 0 || dev >= o->ndev) return 0;
  return mem_buf_valid_on(b, ocl_dev(b->rt, dev)->node);
}
