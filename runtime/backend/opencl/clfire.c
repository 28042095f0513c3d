/* .cl implementations (maestro/opencl.h): an agent's own OpenCL code run
 * on a device's worker thread. The inputs are made valid on the device and
 * pinned as for a kernel launch, the function enqueues on the device's
 * execution queue and allocates its outputs there, and the firing joins the
 * device's completion FIFO behind the event it named. */
#include <stdlib.h>
#include <string.h>

#include "backend/opencl/ocl_int.h"
#include "base/error.h"
#include "maestro/opencl.h"
#include "sched/place.h"

struct ocl_clagent {
  struct maestro_runtime *rt;
  char *name;
  maestro_cl_fn fn;
  void *state;
  int n_in, n_out;
};

struct maestro_clfire {
  ocl_pending_t pend; /* first: the device's completion FIFO holds this */
  ocl_clagent_t *ca;
  ocl_dev_t *d;
  int dev;
  int in_call;         /* 1 while the .cl function runs: the clfire_* calls are for then */
  maestro_buf_t **in;  /* borrowed until done() */
  ocl_xfer_t *x;       /* per input */
  maestro_buf_t **out; /* owned until done(); NULL for a port not allocated */
  cl_event done_ev;    /* a reference */
  uint64_t t_submit;
  place_done_fn done;
  void *ctx;
  struct place_result res;
};

int ocl_clagent_create(struct maestro_runtime *rt, const struct place_agent_desc *d,
                       ocl_clagent_t **out) {
  *out = NULL;
  ocl_clagent_t *ca = calloc(1, sizeof *ca);
  if (!ca || !(ca->name = strdup(d->name))) {
    free(ca);
    return err_set(MAESTRO_ENOMEM, "agent '%s': out of memory", d->name);
  }
  ca->rt = rt;
  ca->fn = d->cl;
  ca->state = d->state;
  ca->n_in = d->n_in;
  ca->n_out = d->n_out;
  *out = ca;
  return MAESTRO_OK;
}

void ocl_clagent_destroy(ocl_clagent_t *ca) {
  if (!ca) return;
  free(ca->name);
  free(ca);
}

static void clfire_free(maestro_clfire_t *f) {
  for (int i = 0; i < f->ca->n_in; i++) {
    if (f->x[i].ev) clReleaseEvent(f->x[i].ev);
    if (f->x[i].wait) clReleaseEvent(f->x[i].wait);
  }
  if (f->done_ev) clReleaseEvent(f->done_ev);
  free(f);
}

/* Undoes a firing that never reached the FIFO: `n_acq` inputs pinned. */
static void clfire_abort(maestro_clfire_t *f, int n_acq) {
  for (int i = 0; i < n_acq; i++)
    ocl_rep_unpin(f->in[i], f->dev);
  for (int j = 0; j < f->ca->n_out; j++) {
    if (!f->out[j]) continue;
    ocl_rep_unpin(f->out[j], f->dev);
    maestro_buf_release(f->out[j]);
  }
  clfire_free(f);
}

static void clfire_finish(ocl_dev_t *d, ocl_pending_t *p) {
  maestro_clfire_t *f = (maestro_clfire_t *)p;
  ocl_clagent_t *ca = f->ca;
  cl_int st = CL_COMPLETE;
  cl_int e = clWaitForEvents(1, &f->done_ev);
  clGetEventInfo(f->done_ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof st, &st, NULL);
  if (e != CL_SUCCESS || st < 0)
    f->res.status = err_set(
        MAESTRO_ECL, "agent '%s': the commands of its .cl function failed on device %d (%s): %s",
        ca->name, f->dev, d->name, ocl_strerror(st < 0 ? st : e));
  /* The firing's span as the host saw it: from the call to the completion
   * of its last command (its commands may be several, on any queue). */
  f->res.t_start_ns = f->t_submit;
  f->res.t_end_ns = rt_now_ns();
  f->res.busy_ns = f->res.t_end_ns - f->res.t_start_ns;
  for (int i = 0; i < ca->n_in; i++)
    ocl_rep_unpin(f->in[i], f->dev);
  for (int j = 0; j < ca->n_out; j++) {
    maestro_buf_t *b = f->out[j];
    if (!b) continue;
    ocl_rep_unpin(b, f->dev);
    if (f->res.status) {
      maestro_buf_release(b);
      f->out[j] = NULL;
    } else if (d->host_coherent && b->host && ocl_rep_wraps_host(b, f->dev)) {
      atomic_store(&b->host_valid, 1); /* the commands wrote the host bytes themselves */
    }
  }
  ocl_dev_launch_ended(d);
  /* After done() the agent may be destroyed: nothing of it is touched after. */
  place_done_fn done = f->done;
  void *ctx = f->ctx;
  struct place_result res = f->res;
  maestro_buf_t **out = f->out;
  f->done = NULL;
  for (int i = 0; i < ca->n_in; i++) {
    if (f->x[i].ev) clReleaseEvent(f->x[i].ev);
    if (f->x[i].wait) clReleaseEvent(f->x[i].wait);
    f->x[i].ev = f->x[i].wait = NULL;
  }
  clReleaseEvent(f->done_ev);
  f->done_ev = NULL;
  done(ctx, out, &res);
  free(f);
}

/* The .cl call itself, with d->launch_lock held: the function allocates
 * device memory, as a kernel launch does under that lock. */
static int clfire_run(maestro_clfire_t *f) {
  ocl_clagent_t *ca = f->ca;
  ocl_dev_t *d = f->d;
  int rc;
  for (int i = 0; i < ca->n_in; i++) {
    if ((rc = ocl_rep_acquire(f->in[i], f->dev, &f->x[i]))) {
      err_append(" (agent '%s', input %d, device %d)", ca->name, i, f->dev);
      clfire_abort(f, i);
      return rc;
    }
    if (f->x[i].kind && f->x[i].kind[0] == 'h')
      f->res.bytes_h2d += f->x[i].bytes;
    else if (f->x[i].kind)
      f->res.bytes_d2d += f->x[i].bytes;
  }
  /* What the function enqueues runs after the inputs' transfers: a barrier
   * on the in-order queue it is given. */
  cl_event waits[16], *wl = waits;
  if (ca->n_in > 16 && !(wl = malloc((size_t)ca->n_in * sizeof *wl))) {
    clfire_abort(f, ca->n_in);
    return err_set(MAESTRO_ENOMEM, "agent '%s': out of memory", ca->name);
  }
  cl_uint nw = 0;
  for (int i = 0; i < ca->n_in; i++)
    if (f->x[i].wait) wl[nw++] = f->x[i].wait;
  cl_int e = nw ? clEnqueueBarrierWithWaitList(d->q_exec, nw, wl, NULL) : CL_SUCCESS;
  if (wl != waits) free(wl);
  if (e != CL_SUCCESS) {
    rc = ocl_fail(e, "clEnqueueBarrierWithWaitList");
    err_append(" (agent '%s', device %d)", ca->name, f->dev);
    clfire_abort(f, ca->n_in);
    return rc;
  }
  clFlush(d->q_h2d);
  f->in_call = 1;
  rc = ca->fn(f);
  f->in_call = 0;
  if (rc != MAESTRO_OK) {
    if (rc > 0)
      rc = err_set(MAESTRO_EAGENT, "agent '%s': its .cl function returned %d on device %d",
                   ca->name, rc, f->dev);
    else
      rc = err_set(rc, "agent '%s': its .cl function failed on device %d: %s", ca->name, f->dev,
                   maestro_strerror(rc));
  } else if (!f->done_ev &&
             (e = clEnqueueMarkerWithWaitList(d->q_exec, 0, NULL, &f->done_ev)) != CL_SUCCESS) {
    f->done_ev = NULL;
    rc = ocl_fail(e, "clEnqueueMarkerWithWaitList");
    err_append(" (agent '%s', after its .cl function, device %d)", ca->name, f->dev);
  }
  if (rc) {
    /* What it enqueued may still read the inputs and write the outputs:
     * let it end before they go back to the pool (a failure path only). */
    clFinish(d->q_exec);
    clfire_abort(f, ca->n_in);
    return rc;
  }
  for (int j = 0; j < ca->n_out; j++)
    if (f->out[j]) ocl_rep_set_ready(f->out[j], f->dev, f->done_ev);
  clFlush(d->q_exec);
  ocl_pending_push(d, &f->pend);
  return MAESTRO_OK;
}

int ocl_clagent_submit(ocl_clagent_t *ca, int dev, maestro_buf_t *const *in, place_done_fn done,
                       void *ctx) {
  struct ocl *o = ocl_state(ca->rt);
  if (!o || dev < 0 || dev >= o->ndev)
    return err_set(MAESTRO_ENODEV, "agent '%s': no OpenCL device %d", ca->name, dev);
  if (!done) return err_set(MAESTRO_EINVAL, "agent '%s': NULL completion", ca->name);
  size_t n_in = (size_t)ca->n_in, n_out = (size_t)ca->n_out;
  maestro_clfire_t *f =
      calloc(1, sizeof *f + n_in * (sizeof(maestro_buf_t *) + sizeof(ocl_xfer_t)) +
                    (n_out + 1) * sizeof(maestro_buf_t *));
  if (!f) return err_set(MAESTRO_ENOMEM, "agent '%s': out of memory", ca->name);
  f->x = (ocl_xfer_t *)(f + 1);
  f->in = (maestro_buf_t **)(f->x + n_in);
  f->out = f->in + n_in;
  for (size_t i = 0; i < n_in; i++)
    f->in[i] = in[i];
  f->pend.finish = clfire_finish;
  f->ca = ca;
  f->dev = dev;
  f->d = ocl_dev(ca->rt, dev);
  f->done = done;
  f->ctx = ctx;
  f->t_submit = rt_now_ns();
  ocl_dev_t *d = f->d; /* f is gone once clfire_run returns */
  pthread_mutex_lock(&d->launch_lock);
  int rc = clfire_run(f);
  pthread_mutex_unlock(&d->launch_lock);
  return rc;
}

/* ---- the public calls (maestro/opencl.h) ---- */

cl_command_queue maestro_clfire_queue(maestro_clfire_t *f) {
  return f && f->in_call ? f->d->q_exec : NULL;
}

cl_context maestro_clfire_context(maestro_clfire_t *f) {
  return f ? f->d->ctx : NULL;
}

cl_device_id maestro_clfire_device(maestro_clfire_t *f) {
  return f ? f->d->id : NULL;
}

cl_mem maestro_clfire_in(maestro_clfire_t *f, int port) {
  if (!f || port < 0 || port >= f->ca->n_in) return NULL;
  return f->x[port].mem;
}

maestro_buf_t *maestro_clfire_in_buf(maestro_clfire_t *f, int port) {
  if (!f || port < 0 || port >= f->ca->n_in) return NULL;
  return f->in[port];
}

int maestro_clfire_out(maestro_clfire_t *f, int port, size_t bytes, cl_mem *mem) {
  if (mem) *mem = NULL;
  if (!f || !mem) return err_set(MAESTRO_EINVAL, "maestro_clfire_out: %s is NULL", f ? "mem" : "f");
  if (!f->in_call)
    return err_set(MAESTRO_ESTATE, "maestro_clfire_out: agent '%s': outside its .cl function",
                   f->ca->name);
  if (port < 0 || port >= f->ca->n_out)
    return err_set(MAESTRO_EINVAL, "maestro_clfire_out: agent '%s': no output port %d (it has %d)",
                   f->ca->name, port, f->ca->n_out);
  if (f->out[port])
    return err_set(MAESTRO_EINVAL,
                   "maestro_clfire_out: agent '%s': output port %d is already allocated in this "
                   "firing (one message per port)",
                   f->ca->name, port);
  int rc = ocl_rep_new_output(f->d, bytes, &f->out[port]);
  if (rc) {
    err_append(" (maestro_clfire_out: agent '%s', output %d, device %d)", f->ca->name, port,
               f->dev);
    f->out[port] = NULL;
    return rc;
  }
  *mem = ocl_rep_mem(f->out[port], f->dev);
  return MAESTRO_OK;
}

int maestro_clfire_done_after(maestro_clfire_t *f, cl_event ev) {
  if (!f || !ev)
    return err_set(MAESTRO_EINVAL, "maestro_clfire_done_after: %s is NULL", f ? "ev" : "f");
  if (!f->in_call)
    return err_set(MAESTRO_ESTATE,
                   "maestro_clfire_done_after: agent '%s': outside its .cl function", f->ca->name);
  cl_int e = clRetainEvent(ev);
  if (e != CL_SUCCESS) {
    int rc = ocl_fail(e, "maestro_clfire_done_after: clRetainEvent");
    err_append(" (agent '%s')", f->ca->name);
    return rc;
  }
  if (f->done_ev) clReleaseEvent(f->done_ev);
  f->done_ev = ev;
  return MAESTRO_OK;
}

maestro_buf_t *ocl_clfire_out_buf(maestro_clfire_t *f, int port) {
  return f && port >= 0 && port < f->ca->n_out ? f->out[port] : NULL;
}

int ocl_clfire_dev(const maestro_clfire_t *f) {
  return f->dev;
}

struct ocl *ocl_clfire_ocl(const maestro_clfire_t *f) {
  return ocl_state(f->ca->rt);
}

void *maestro_clfire_state(maestro_clfire_t *f) {
  return f ? f->ca->state : NULL;
}

int maestro_runtime_cl_device(maestro_runtime_t *rt, int index, cl_context *ctx,
                              cl_device_id *dev) {
  if (ctx) *ctx = NULL;
  if (dev) *dev = NULL;
  if (!rt) return err_set(MAESTRO_EINVAL, "maestro_runtime_cl_device: rt is NULL");
  struct ocl *o = ocl_get(rt);
  int n = o ? o->ndev : 0;
  if (index < 0 || index >= n)
    return err_set(MAESTRO_ENODEV,
                   "maestro_runtime_cl_device: no OpenCL device place %d (there are %d)", index, n);
  if (ctx) *ctx = o->dev[index].ctx;
  if (dev) *dev = o->dev[index].id;
  return MAESTRO_OK;
}
