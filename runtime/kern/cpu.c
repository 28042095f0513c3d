/* The CPU side of bundled agents: one maestro_cpu_fn per operation, reading
 * its parameters from the agent's state (the maestro_bundled_agent_t), and
 * maestro_bundled_agent() putting both sides together. A message of the
 * wrong size fails the firing with MAESTRO_EINVAL naming the agent, the
 * port, expected and got (kern_check_inputs, shared with the device side). */
#include <string.h>

#include "base/error.h"
#include "kern/kern.h"

/* What one firing sees: the agent, its inputs' host views and counts. */
typedef struct cpu_call {
  maestro_fire_t *f;
  const maestro_bundled_agent_t *ba;
  const void *in[2];
  size_t count[2]; /* elements */
} cpu_call_t;

static const char *agent_name(const cpu_call_t *c) {
  return c->ba->desc.name ? c->ba->desc.name : maestro_bundled_kernel_name(c->ba->which);
}

static int no_state(void) {
  return err_set(MAESTRO_EINVAL, "bundled CPU implementation fired without its agent state");
}

/* Takes the firing's inputs, checked by kern_check_inputs(): the same
 * function the kernel's input check calls before a device launch, so the
 * CPU and the device refuse the same messages with the same message. */
static int cpu_begin(maestro_fire_t *f, cpu_call_t *c) {
  memset(c, 0, sizeof *c);
  c->f = f;
  c->ba = maestro_fire_state(f);
  if (!c->ba) return no_state();
  const maestro_port_t *in, *out;
  int n_in, n_out;
  int st = kern_bundled_ports(c->ba->which, &in, &n_in, &out, &n_out);
  if (st != MAESTRO_OK) return st;
  size_t bytes[2] = {0};
  for (int i = 0; i < n_in && i < 2; i++) {
    maestro_buf_t *b = maestro_fire_in(f, i);
    if (!b) return err_set(MAESTRO_EINVAL, "agent '%s': input %d is missing", agent_name(c), i);
    bytes[i] = maestro_buf_size(b);
  }
  char why[256];
  if ((st = kern_check_inputs(c->ba, bytes, c->count, why, sizeof why)) != MAESTRO_OK)
    return err_set(st, "agent '%s': kernel '%s': %s", agent_name(c),
                   maestro_bundled_kernel_name(c->ba->which), why);
  for (int i = 0; i < n_in && i < 2; i++) {
    if (!bytes[i]) continue;
    c->in[i] = maestro_buf_cdata(maestro_fire_in(f, i));
    if (!c->in[i]) return MAESTRO_ENOMEM; /* maestro_last_error() already says why */
  }
  return MAESTRO_OK;
}

/* Allocates an output of `bytes` and gives its writable host view. */
static int cpu_alloc(cpu_call_t *c, size_t bytes, maestro_buf_t **out, void **data) {
  int st = maestro_fire_alloc(c->f, bytes, out);
  if (st != MAESTRO_OK) return st;
  *data = maestro_buf_data(*out);
  if (!*data && bytes) {
    maestro_buf_release(*out);
    return err_set(MAESTRO_ENOMEM, "agent '%s': output buffer not writable", agent_name(c));
  }
  return MAESTRO_OK;
}

static int cpu_elementwise(maestro_fire_t *f) {
  cpu_call_t c;
  const maestro_bundled_agent_t *ba = maestro_fire_state(f);
  if (!ba) return no_state();
  int st = cpu_begin(f, &c);
  if (st != MAESTRO_OK) return st;
  size_t n = c.count[0];
  maestro_buf_t *out;
  void *data;
  if ((st = cpu_alloc(&c, n * sizeof(float), &out, &data)) != MAESTRO_OK) return st;
  const float *x = c.in[0], *y = c.in[1];
  if (n) {
    if (ba->which == MAESTRO_BUNDLED_SAXPY)
      kern_saxpy(x, y, data, n, ba->params.a);
    else if (ba->which == MAESTRO_BUNDLED_SCALE)
      kern_scale(x, data, n, ba->params.a);
    else
      kern_add(x, y, data, n);
  }
  return maestro_fire_out(f, 0, out);
}

static int cpu_reduce(maestro_fire_t *f) {
  cpu_call_t c;
  int st = cpu_begin(f, &c);
  if (st != MAESTRO_OK) return st;
  maestro_buf_t *out;
  void *data;
  if ((st = cpu_alloc(&c, sizeof(float), &out, &data)) != MAESTRO_OK) return st;
  *(float *)data = kern_reduce(c.ba->which, c.in[0], c.count[0]);
  return maestro_fire_out(f, 0, out);
}

static int cpu_scan(maestro_fire_t *f) {
  cpu_call_t c;
  int st = cpu_begin(f, &c);
  if (st != MAESTRO_OK) return st;
  maestro_buf_t *out;
  void *data;
  if ((st = cpu_alloc(&c, c.count[0] * sizeof(float), &out, &data)) != MAESTRO_OK) return st;
  kern_scan_sum(c.in[0], data, c.count[0]);
  return maestro_fire_out(f, 0, out);
}

static int cpu_histogram(maestro_fire_t *f) {
  cpu_call_t c;
  const maestro_bundled_agent_t *ba = maestro_fire_state(f);
  if (!ba) return no_state();
  int u8 = ba->which == MAESTRO_BUNDLED_HISTOGRAM_U8;
  int st = cpu_begin(f, &c);
  if (st != MAESTRO_OK) return st;
  maestro_buf_t *out;
  void *data;
  if ((st = cpu_alloc(&c, 256 * sizeof(uint32_t), &out, &data)) != MAESTRO_OK) return st;
  if (u8)
    kern_histogram_u8(c.in[0], c.count[0], data);
  else
    kern_histogram_f32(c.in[0], c.count[0], ba->params.lo, ba->hist_scale, data);
  return maestro_fire_out(f, 0, out);
}

static int cpu_transpose(maestro_fire_t *f) {
  cpu_call_t c;
  int st = cpu_begin(f, &c);
  if (st != MAESTRO_OK) return st;
  const maestro_bundled_params_t *p = &c.ba->params;
  maestro_buf_t *out;
  void *data;
  if ((st = cpu_alloc(&c, c.count[0] * sizeof(float), &out, &data)) != MAESTRO_OK) return st;
  kern_transpose(c.in[0], data, p->width, p->height);
  return maestro_fire_out(f, 0, out);
}

static int cpu_sgemm(maestro_fire_t *f) {
  cpu_call_t c;
  int st = cpu_begin(f, &c);
  if (st != MAESTRO_OK) return st;
  const maestro_bundled_params_t *p = &c.ba->params;
  maestro_buf_t *out;
  void *data;
  if ((st = cpu_alloc(&c, (size_t)p->m * p->n * sizeof(float), &out, &data)) != MAESTRO_OK)
    return st;
  kern_sgemm(c.in[0], c.in[1], data, p->m, p->n, p->k);
  return maestro_fire_out(f, 0, out);
}

static int cpu_conv(maestro_fire_t *f) {
  cpu_call_t c;
  int st = cpu_begin(f, &c);
  if (st != MAESTRO_OK) return st;
  const maestro_bundled_params_t *p = &c.ba->params;
  maestro_buf_t *out;
  void *data;
  if ((st = cpu_alloc(&c, c.count[0] * sizeof(float), &out, &data)) != MAESTRO_OK) return st;
  int radius = c.ba->which == MAESTRO_BUNDLED_CONV3X3 ? 1 : 2;
  kern_conv(c.in[0], data, p->width, p->height, radius, p->weights);
  return maestro_fire_out(f, 0, out);
}

maestro_cpu_fn maestro_bundled_cpu(maestro_bundled_t which) {
  switch (which) {
  case MAESTRO_BUNDLED_SAXPY:
  case MAESTRO_BUNDLED_SCALE:
  case MAESTRO_BUNDLED_ADD: return cpu_elementwise;
  case MAESTRO_BUNDLED_REDUCE_SUM:
  case MAESTRO_BUNDLED_REDUCE_MIN:
  case MAESTRO_BUNDLED_REDUCE_MAX: return cpu_reduce;
  case MAESTRO_BUNDLED_SCAN_SUM: return cpu_scan;
  case MAESTRO_BUNDLED_HISTOGRAM_U8:
  case MAESTRO_BUNDLED_HISTOGRAM_F32: return cpu_histogram;
  case MAESTRO_BUNDLED_TRANSPOSE: return cpu_transpose;
  case MAESTRO_BUNDLED_SGEMM: return cpu_sgemm;
  case MAESTRO_BUNDLED_CONV3X3:
  case MAESTRO_BUNDLED_CONV5X5: return cpu_conv;
  default: return kern_lib_cpu(which);
  }
}

int maestro_bundled_agent(maestro_bundled_t which, const char *name,
                          const maestro_bundled_params_t *p, maestro_bundled_agent_t *out) {
  if (!name) return err_set(MAESTRO_EINVAL, "maestro_bundled_agent: NULL name");
  if (kern_is_lib(which)) return kern_lib_agent(which, name, p, out);
  int st = kern_bundled_kernel(which, p, out);
  if (st != MAESTRO_OK) return st;
  maestro_agent_desc_t *d = &out->desc;
  kern_bundled_ports(which, &d->in, &d->n_in, &d->out, &d->n_out);
  d->name = name;
  d->cpu = maestro_bundled_cpu(which);
  d->kernel = &out->kernel;
  d->state = out;
  d->affinity = (maestro_affinity_t){MAESTRO_ANYWHERE, -1, 0};
  d->flags = MAESTRO_STATELESS;
  return MAESTRO_OK;
}
