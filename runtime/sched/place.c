/* The place table: the CPU backend's places, found when the runtime is
 * created; the device backends, their lazy discovery, and the mapping from a
 * device place to its backend, its backend-local index and its memory node
 * (sched/place.h). */
#include "sched/place.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/runtime.h"
#include "sched/sched.h"

#define PLACE_MAX_EXTRA 8

/* Extra backends (tests), process-wide, registered before runtimes exist. */
static const struct backend_ops *extra[PLACE_MAX_EXTRA];
static atomic_int nextra;

struct backend {
  const struct backend_ops *ops;
  void *be;       /* its state, once discovered */
  int first, n;   /* its device places: first .. first + n - 1 */
  int discovered; /* discover() ran and succeeded */
};

struct places {
  pthread_mutex_t lock; /* discovery */
  atomic_int done;      /* discovery finished (successfully or not) */
  int status;           /* discovery's result */
  char why[512];        /* its message when it failed */
  int nbe;
  struct backend be[PLACE_MAX_BACKENDS];
  struct backend *cpu; /* the backend of the CPU places */
  int cur;             /* the backend being discovered (place_add) */
  int ndev;            /* places added so far (published as rt->ndev when done) */
  int node[PLACE_MAX_DEVICES];
  int be_of[PLACE_MAX_DEVICES];
};

struct place_impls {
  uint64_t places; /* device places they run on */
  int cpu_code;    /* one of them runs the agent's CPU code */
  int n;
  struct {
    int be;
    void *impl;
  } im[];
};

int place_backend_register(const struct backend_ops *ops) {
  if (!ops || !ops->discover || !ops->submit || !ops->prepare || !ops->wants)
    return err_set(MAESTRO_EINVAL, "place_backend_register: incomplete backend operations");
  if (ops->cpu_places)
    return err_set(MAESTRO_EINVAL,
                   "place_backend_register: backend '%s' brings CPU places, "
                   "which the built-in CPU backend brings",
                   ops->name ? ops->name : "?");
  int i = atomic_fetch_add(&nextra, 1);
  if (i >= PLACE_MAX_EXTRA) {
    atomic_fetch_sub(&nextra, 1);
    return err_set(MAESTRO_ENOMEM, "place_backend_register: more than %d extra backends",
                   PLACE_MAX_EXTRA);
  }
  extra[i] = ops;
  return MAESTRO_OK;
}

int place_init(struct maestro_runtime *rt) {
  struct places *p = calloc(1, sizeof *p);
  rt->dev_info = calloc(PLACE_MAX_DEVICES, sizeof *rt->dev_info);
  if (!p || !rt->dev_info) {
    free(p);
    free(rt->dev_info);
    rt->dev_info = NULL;
    return err_set(MAESTRO_ENOMEM, "maestro_runtime_create: out of memory");
  }
  pthread_mutex_init(&p->lock, NULL);
  for (int i = 0; place_builtin_backends[i] && p->nbe < PLACE_MAX_BACKENDS; i++)
    p->be[p->nbe++].ops = place_builtin_backends[i];
  int n = atomic_load(&nextra);
  for (int i = 0; i < n && i < PLACE_MAX_EXTRA && p->nbe < PLACE_MAX_BACKENDS; i++)
    p->be[p->nbe++].ops = extra[i];
  rt->places = p;
  atomic_store(&rt->ndev, 0);
  /* The CPU places now: the workers start on them (sched_init). */
  for (int i = 0; i < p->nbe && !p->cpu; i++)
    if (p->be[i].ops->cpu_places) p->cpu = &p->be[i];
  if (!p->cpu || !p->cpu->ops->bind || !p->cpu->ops->arch) {
    place_fini(rt);
    return err_set(MAESTRO_ENODEV, "maestro_runtime_create: no backend brings the CPU places");
  }
  int rc = p->cpu->ops->discover(rt, &p->cpu->be);
  if (rc == MAESTRO_OK) {
    p->cpu->discovered = 1;
    p->cpu->n = rt->ncpu;
    if (rt->ncpu < 1)
      rc = err_set(MAESTRO_ENODEV, "maestro_runtime_create: backend '%s' found no CPU place",
                   p->cpu->ops->name);
  }
  if (rc) place_fini(rt); /* the runtime brings down only what came up */
  return rc;
}

void place_fini(struct maestro_runtime *rt) {
  struct places *p = rt->places;
  if (!p) return;
  /* Device backends first (reverse order), the CPU backend last. */
  for (int i = p->nbe - 1; i >= 0; i--)
    if (&p->be[i] != p->cpu && p->be[i].discovered && p->be[i].ops->fini)
      p->be[i].ops->fini(rt, p->be[i].be);
  if (p->cpu && p->cpu->discovered && p->cpu->ops->fini) p->cpu->ops->fini(rt, p->cpu->be);
  pthread_mutex_destroy(&p->lock);
  free(p);
  rt->places = NULL;
  free(rt->dev_info);
  rt->dev_info = NULL;
  atomic_store(&rt->ndev, 0);
  free(rt->cpu_info);
  rt->cpu_info = NULL;
  rt->ncpu = 0;
}

int place_add_cpu(struct maestro_runtime *rt, const maestro_place_info_t *info) {
  maestro_place_info_t *v = realloc(rt->cpu_info, sizeof *v * (size_t)(rt->ncpu + 1));
  if (!v) return err_set(MAESTRO_ENOMEM, "maestro_runtime_create: out of memory (CPU places)");
  rt->cpu_info = v;
  int i = rt->ncpu++;
  v[i] = *info;
  v[i].kind = MAESTRO_PLACE_CPU;
  v[i].index = i;
  return i;
}

int place_bind_cpu(struct maestro_runtime *rt, int cpu) {
  struct places *p = rt->places;
  if (cpu < 0 || cpu >= rt->ncpu)
    return err_set(MAESTRO_ENODEV, "no CPU place %d (this runtime has %d)", cpu, rt->ncpu);
  return p->cpu->ops->bind(p->cpu->be, cpu);
}

const char *place_cpu_arch(const struct maestro_runtime *rt, int cpu) {
  const struct places *p = rt->places;
  if (cpu < 0 || cpu >= rt->ncpu) return "";
  return p->cpu->ops->arch(p->cpu->be, cpu);
}

void *place_backend_get(const struct maestro_runtime *rt, const struct backend_ops *ops) {
  const struct places *p = rt->places;
  for (int i = 0; p && i < p->nbe; i++)
    if (p->be[i].ops == ops) return p->be[i].be;
  return NULL;
}

void place_backend_set(struct maestro_runtime *rt, const struct backend_ops *ops, void *state) {
  struct places *p = rt->places;
  for (int i = 0; p && i < p->nbe; i++)
    if (p->be[i].ops == ops) p->be[i].be = state;
}

int place_add(struct maestro_runtime *rt, const maestro_place_info_t *info, int node) {
  struct places *p = rt->places;
  if (p->ndev >= PLACE_MAX_DEVICES)
    return err_set(MAESTRO_ENODEV, "backend '%s': more than %d device places in one runtime",
                   p->be[p->cur].ops->name, PLACE_MAX_DEVICES);
  int d = p->ndev++;
  rt->dev_info[d] = *info;
  rt->dev_info[d].kind = MAESTRO_PLACE_DEVICE;
  rt->dev_info[d].index = d;
  p->node[d] = node;
  p->be_of[d] = p->cur;
  p->be[p->cur].n++;
  return d;
}

void place_set_reason(struct maestro_runtime *rt, const char *why) {
  if (!rt->cpu_only_reason) rt->cpu_only_reason = why;
}

int place_discover(struct maestro_runtime *rt) {
  struct places *p = rt->places;
  if (atomic_load_explicit(&p->done, memory_order_acquire)) {
    if (p->status) err_set(p->status, "%s", p->why);
    return p->status;
  }
  pthread_mutex_lock(&p->lock);
  if (atomic_load_explicit(&p->done, memory_order_relaxed)) {
    pthread_mutex_unlock(&p->lock);
    return place_discover(rt);
  }
  int rc = MAESTRO_OK;
  for (int i = 0; i < p->nbe && rc == MAESTRO_OK; i++) {
    struct backend *b = &p->be[i];
    if (b == p->cpu) continue; /* discovered at place_init */
    p->cur = i;
    b->first = p->ndev;
    b->n = 0;
    rc = b->ops->discover(rt, &b->be);
    if (rc == MAESTRO_OK) b->discovered = 1;
  }
  if (rc == MAESTRO_OK && p->ndev > 0) rt->cpu_only_reason = NULL;
  if (rc == MAESTRO_OK && p->ndev == 0 && !rt->cpu_only_reason)
    rt->cpu_only_reason = "no device backend found a device";
  /* Device workers start before the places are published: whoever sees
   * rt->ndev places may queue work for their workers. */
  if (rc == MAESTRO_OK) rc = sched_add_devices(rt, p->ndev);
  if (rc) {
    snprintf(p->why, sizeof p->why, "%s", maestro_last_error());
    p->status = rc;
    rt->cpu_only_reason = p->why;
  } else {
    atomic_store_explicit(&rt->ndev, p->ndev, memory_order_release);
  }
  atomic_store_explicit(&p->done, 1, memory_order_release);
  pthread_mutex_unlock(&p->lock);
  return rc;
}

static int wanted(const struct places *p, const struct place_agent_desc *d) {
  for (int i = 0; i < p->nbe; i++)
    if (&p->be[i] != p->cpu && p->be[i].ops->wants(d)) return 1;
  return 0;
}

int place_wanted(const struct maestro_runtime *rt, const struct place_agent_desc *d) {
  return wanted(rt->places, d);
}

int place_prepare(struct maestro_runtime *rt, const struct place_agent_desc *d, uint64_t allowed,
                  struct place_impls **out) {
  struct places *p = rt->places;
  *out = NULL;
  if (!wanted(p, d)) return MAESTRO_OK;
  int rc = place_discover(rt);
  if (rc) return rc;
  struct place_impls *pi = calloc(1, sizeof *pi + (size_t)p->nbe * sizeof pi->im[0]);
  if (!pi) return err_set(MAESTRO_ENOMEM, "agent '%s': out of memory", d->name);
  for (int i = 0; i < p->nbe; i++) {
    struct backend *b = &p->be[i];
    if (b == p->cpu || !b->discovered || b->n == 0 || !b->ops->wants(d)) continue;
    uint64_t local = 0;
    for (int k = 0; k < b->n; k++)
      if (allowed >> (b->first + k) & 1) local |= 1ull << k;
    if (!local) continue;
    void *impl = NULL;
    rc = b->ops->prepare(b->be, d, local, &impl);
    if (rc) {
      place_impls_free(rt, pi);
      return rc;
    }
    if (!impl) continue;
    pi->im[pi->n].be = i;
    pi->im[pi->n].impl = impl;
    pi->n++;
    pi->places |= local << b->first;
    pi->cpu_code |= b->ops->runs_cpu_code;
  }
  if (!pi->n) {
    free(pi);
    return MAESTRO_OK;
  }
  *out = pi;
  return MAESTRO_OK;
}

void place_impls_free(struct maestro_runtime *rt, struct place_impls *pi) {
  if (!pi) return;
  struct places *p = rt->places;
  for (int i = 0; i < pi->n; i++) {
    struct backend *b = &p->be[pi->im[i].be];
    if (b->ops->unprepare) b->ops->unprepare(b->be, pi->im[i].impl);
  }
  free(pi);
}

uint64_t place_impls_places(const struct place_impls *pi) {
  return pi ? pi->places : 0;
}

int place_impls_run_cpu_code(const struct place_impls *pi) {
  return pi && pi->cpu_code;
}

int place_submit(struct maestro_runtime *rt, const struct place_impls *pi, int dev,
                 maestro_buf_t *const *in, uint64_t seq, unsigned host_outputs, place_done_fn done,
                 void *ctx) {
  struct places *p = rt->places;
  if (!pi || dev < 0 || dev >= p->ndev || !(pi->places >> dev & 1))
    return err_set(MAESTRO_ENODEV, "no implementation for device place %d", dev);
  int k = p->be_of[dev];
  for (int i = 0; i < pi->n; i++)
    if (pi->im[i].be == k) {
      struct backend *b = &p->be[k];
      return b->ops->submit(b->be, pi->im[i].impl, dev - b->first, in, seq, host_outputs, done,
                            ctx);
    }
  return err_set(MAESTRO_ENODEV, "no implementation for device place %d", dev);
}

int place_node(const struct maestro_runtime *rt, int dev) {
  const struct places *p = rt->places;
  return dev >= 0 && dev < p->ndev ? p->node[dev] : -1;
}

const char *place_arch(const struct maestro_runtime *rt, int dev) {
  const struct places *p = rt->places;
  if (dev < 0 || dev >= p->ndev) return "";
  const struct backend *b = &p->be[p->be_of[dev]];
  return b->ops->arch ? b->ops->arch(b->be, dev - b->first) : b->ops->name;
}

void *place_backend_state(const struct maestro_runtime *rt, int dev) {
  const struct places *p = rt->places;
  return dev >= 0 && dev < p->ndev ? p->be[p->be_of[dev]].be : NULL;
}

const char *place_backend_name(const struct maestro_runtime *rt, int dev) {
  const struct places *p = rt->places;
  return dev >= 0 && dev < p->ndev ? p->be[p->be_of[dev]].ops->name : "";
}
