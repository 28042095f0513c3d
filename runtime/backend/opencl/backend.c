/* The OpenCL backend's place operations (sched/place.h): discovery through
 * the ICD loader, kernels built per agent, launches submitted without
 * blocking. Everything else of the backend hangs off these. */
#include <stdio.h>
#include <stdlib.h>

#include "backend/opencl/ocl_int.h"
#include "base/error.h"
#include "mem/node.h"
#include "sched/place.h"

struct ocl *ocl_get(struct maestro_runtime *rt) {
  place_discover(rt); /* at once when done */
  return ocl_state(rt);
}

static int wants(const struct place_agent_desc *d) {
  return (d->kernel != NULL || d->cl != NULL) && d->affinity.pref != MAESTRO_ON_CPU;
}

/* An agent's implementation here: its kernel, or its .cl function
 * (maestro_agent_add lets an agent set only one of them). */
struct ocl_impl {
  ocl_kagent_t *ka;
  ocl_clagent_t *ca;
};

static int discover(struct maestro_runtime *rt, void **be) {
  int rc = ocl_init(rt);
  if (rc) return rc;
  struct ocl *o = ocl_state(rt);
  for (int i = 0; i < o->ndev; i++) {
    ocl_dev_t *dev = &o->dev[i];
    unsigned flags = (dev->zero_copy ? MEM_NODE_ZERO_COPY : 0) |
                     (dev->host_coherent ? MEM_NODE_HOST_COHERENT : 0);
    dev->node = mem_node_add(rt, &ocl_node_ops, dev, flags);
    if (dev->node < 0) return dev->node;
    int d = place_add(rt, &o->info[i], dev->node);
    if (d < 0) return d;
    if (d != i) /* the backend indexes its devices as device places */
      return err_set(MAESTRO_ENODEV, "OpenCL backend: its devices must be the first device places");
  }
  if (!o->ndev) place_set_reason(rt, o->why);
  *be = o;
  /* Once the devices are known: a publisher may read it from then on. */
  return stats_register(rt, &ocl_stats_collector);
}

static void fini(struct maestro_runtime *rt, void *be) {
  (void)be;
  ocl_fini(rt);
}

static int prepare(void *be, const struct place_agent_desc *d, uint64_t places, void **impl) {
  struct maestro_runtime *rt = ((struct ocl *)be)->rt;
  *impl = NULL;
  struct ocl_impl *im = calloc(1, sizeof *im);
  if (!im) return err_set(MAESTRO_ENOMEM, "agent '%s': out of memory", d->name);
  int rc = d->cl ? ocl_clagent_create(rt, d, &im->ca)
                 : ocl_kagent_create_on(rt, d->name, d->kernel, d->in, d->n_in, d->out, d->n_out,
                                        places, &im->ka);
  /* a library agent's one-time set-up on its devices (CLBlast's compile) */
  if (!rc && d->cl) rc = ocl_lib_prepare(be, d, places);
  if (rc) {
    ocl_kagent_destroy(im->ka);
    ocl_clagent_destroy(im->ca);
    free(im);
    return rc;
  }
  *impl = im;
  return MAESTRO_OK;
}

static void unprepare(void *be, void *impl) {
  (void)be;
  struct ocl_impl *im = impl;
  if (!im) return;
  ocl_kagent_destroy(im->ka);
  ocl_clagent_destroy(im->ca);
  free(im);
}

static int submit(void *be, void *impl, int place, maestro_buf_t *const *in, uint64_t seq,
                  unsigned host_outputs, place_done_fn done, void *ctx) {
  (void)be;
  (void)seq;
  struct ocl_impl *im = impl;
  /* A .cl function's outputs are read back on demand (it enqueues its
   * commands itself). */
  if (im->ca) return ocl_clagent_submit(im->ca, place, in, done, ctx);
  return ocl_launch_ex(im->ka, place, in, host_outputs, done, ctx);
}

static const char *arch(void *be, int place) {
  struct ocl *o = be;
  return o->dev[place].arch;
}

const struct backend_ops ocl_backend_ops = {
    .name = "opencl",
    .wants = wants,
    .discover = discover,
    .fini = fini,
    .prepare = prepare,
    .unprepare = unprepare,
    .submit = submit,
    .arch = arch,
};
