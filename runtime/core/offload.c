/* An agent's CPU implementation fired for a backend, on the backend's own
 * thread (sched/place.h: place_agent_desc.fire_cpu): the test backend runs
 * CPU code on a device place this way. The supervisor's retries happen here,
 * as on a CPU lane; the final failure goes back through the launch's result
 * (impl_failed) to the windowed runner, which applies STOP or SKIP. */
#include <stdlib.h>

#include "base/error.h"
#include "core/run.h"

int run_fire_offload(void *agent, maestro_buf_t *const *in, uint64_t seq, int dev,
                     maestro_buf_t **out, struct place_msg **more, int *n_more) {
  struct maestro_agent *a = agent;
  struct maestro_fire f;
  run_fire_init(&f, a, (maestro_buf_t **)in, seq, MAESTRO_PLACE_DEVICE, dev);
  for (int j = 0; j < a->n_out; j++)
    out[j] = NULL;
  *more = NULL;
  *n_more = 0;
  struct run_stats rs = {0};
  err_clear();
  int bad = a->sized ? run_misfit(a, in) : -1, st;
  if (bad >= 0) {
    st = run_misfit_error(a, in, bad);
    rs.failures++;
  } else {
    st = run_call_cpu(a, &f);
    if (st < 0) st = run_fire_retry(a, &f, &rs, st);
  }
  /* The runner counts the firing itself; these are its retries. */
  atomic_fetch_add_explicit(&a->st.fires, rs.fires, memory_order_relaxed);
  atomic_fetch_add_explicit(&a->st.failures, rs.failures, memory_order_relaxed);
  atomic_fetch_add_explicit(&a->st.retries, rs.retries, memory_order_relaxed);
  if (st >= 0) /* MAESTRO_DONE too: the agent closes once it is emitted */
    for (int i = 0; i < f.nout; i++) {
      struct staged *s = &f.out[i];
      if (!out[s->port]) {
        out[s->port] = s->b;
      } else {
        if (!*more && !(*more = malloc((size_t)f.nout * sizeof **more))) {
          st = err_set(MAESTRO_ENOMEM, "agent '%s': out of memory", a->name);
          break;
        }
        (*more)[(*n_more)++] = (struct place_msg){s->port, s->b};
      }
      s->b = NULL;
    }
  if (st < 0) {
    for (int j = 0; j < a->n_out; j++) {
      maestro_buf_release(out[j]);
      out[j] = NULL;
    }
    for (int k = 0; k < *n_more; k++)
      maestro_buf_release((*more)[k].b);
    free(*more);
    *more = NULL;
    *n_more = 0;
  }
  for (int i = 0; i < f.nout; i++)
    maestro_buf_release(f.out[i].b); /* NULL once handed over */
  if (f.out != f.inl) free(f.out);
  return st;
}
