/* The sizes a bundled agent's input messages must have, in ONE function
 * shared by the CPU implementation (cpu.c) and the kernel's host-side input
 * check (maestro_kernel_t.check, run by ocl_launch before anything is
 * enqueued): both refuse exactly the same messages, in the same words, and
 * a device kernel is never launched over a message it would not fill. */
#include <stdio.h>

#include "kern/kern.h"

static size_t elem_bytes(maestro_bundled_t which) {
  return which == MAESTRO_BUNDLED_HISTOGRAM_U8 ? 1 : sizeof(float);
}

/* The element count input `port` must hold and how it follows from the
 * parameters, or 0 in *want_set when any count is fine. */
static size_t want_count(const maestro_bundled_agent_t *ba, int port, const size_t *count,
                         int *want_set, char *how, size_t how_len) {
  const maestro_bundled_params_t *p = &ba->params;
  *want_set = 1;
  switch (ba->which) {
  case MAESTRO_BUNDLED_SAXPY:
  case MAESTRO_BUNDLED_ADD:
    if (port == 1) {
      snprintf(how, how_len, "as many as input 0 'x'");
      return count[0];
    }
    break;
  case MAESTRO_BUNDLED_TRANSPOSE:
  case MAESTRO_BUNDLED_CONV3X3:
  case MAESTRO_BUNDLED_CONV5X5:
    snprintf(how, how_len, "width * height = %u * %u", p->width, p->height);
    return (size_t)p->width * p->height;
  case MAESTRO_BUNDLED_SGEMM:
    if (port == 0) {
      snprintf(how, how_len, "m * k = %u * %u", p->m, p->k);
      return (size_t)p->m * p->k;
    }
    snprintf(how, how_len, "k * n = %u * %u", p->k, p->n);
    return (size_t)p->k * p->n;
  default: break;
  }
  *want_set = 0;
  return 0;
}

int kern_check_inputs(const maestro_bundled_agent_t *ba, const size_t *bytes, size_t *count,
                      char *why, size_t why_len) {
  const maestro_port_t *in, *out;
  int n_in, n_out;
  if (!ba || kern_bundled_ports(ba->which, &in, &n_in, &out, &n_out) != MAESTRO_OK) {
    snprintf(why, why_len,
             "no bundled agent state (the agent's .state / the kernel's .check_arg "
             "must be its maestro_bundled_agent_t)");
    return MAESTRO_EINVAL;
  }
  size_t es = elem_bytes(ba->which);
  for (int i = 0; i < n_in; i++) {
    count[i] = bytes[i] / es;
    if (bytes[i] % es) {
      snprintf(why, why_len,
               "input %d '%s' holds %zu bytes, not a whole number of its %zu-byte elements", i,
               in[i].name, bytes[i], es);
      return MAESTRO_EINVAL;
    }
    if (count[i] > UINT32_MAX) {
      snprintf(why, why_len,
               "input %d '%s' holds %zu elements, more than a kernel's cl_uint count allows (%u)",
               i, in[i].name, count[i], UINT32_MAX);
      return MAESTRO_EINVAL;
    }
  }
  for (int i = 0; i < n_in; i++) {
    char how[64];
    int set;
    size_t want = want_count(ba, i, count, &set, how, sizeof how);
    if (set && count[i] != want) {
      snprintf(why, why_len, "input %d '%s' holds %zu elements, expected %zu (%s)", i, in[i].name,
               count[i], want, how);
      return MAESTRO_EINVAL;
    }
  }
  return MAESTRO_OK;
}

/* The kernel side: maestro_kernel_t.check of every bundled agent. */
int kern_kernel_check(maestro_kcheck_t *c) {
  const maestro_bundled_agent_t *ba = c->arg;
  size_t count[2] = {0};
  if (ba && c->n_in != (ba->which == MAESTRO_BUNDLED_SAXPY || ba->which == MAESTRO_BUNDLED_ADD ||
                                ba->which == MAESTRO_BUNDLED_SGEMM
                            ? 2
                            : 1)) {
    snprintf(c->why, c->why_len, "%d input ports, the bundled operation has another number",
             c->n_in);
    return MAESTRO_EINVAL;
  }
  return kern_check_inputs(ba, c->bytes, count, c->why, c->why_len);
}
