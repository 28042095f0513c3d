/* Graphs: declaration (agents, ports, channels, host endpoints), validation
 * at start, waiting, stopping and destruction. */
#include "core/graph.h"

#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <time.h>

#include "base/error.h"
#include "core/dist.h"
#include "core/run.h"
#include "base/runtime.h"
#include "mem/buf.h"
#include "core/trace.h"
#include "sched/place.h"

size_t maestro_type_size(maestro_type_t t) {
  switch (t) {
  case MAESTRO_BYTES:
  case MAESTRO_U8: return 1;
  case MAESTRO_I32:
  case MAESTRO_U32:
  case MAESTRO_F32: return 4;
  case MAESTRO_I64:
  case MAESTRO_F64: return 8;
  default: return 0; /* MAESTRO_RECORD too: its port says */
  }
}

const char *maestro_type_name(maestro_type_t t) {
  static const char *names[] = {"bytes", "u8", "i32", "u32", "i64", "f32", "f64", "record"};
  return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

size_t graph_port_esize(const maestro_port_t *p) {
  return p->type == MAESTRO_RECORD ? p->size : maestro_type_size(p->type);
}

int run_misfit_error(struct maestro_agent *a, maestro_buf_t *const *in, int p) {
  const struct inport *ip = &a->in[p];
  return err_set(MAESTRO_EINVAL,
                 "agent '%s': input port '%s' (%s) got a message of %zu bytes, not a whole number "
                 "of its %zu-byte elements; it was not fired on",
                 a->name, ip->name, maestro_type_name(ip->type), in[p]->size, ip->esize);
}

int run_refuse_misfit(struct maestro_agent *a, maestro_buf_t **in, const uint64_t *seq, int p,
                      struct run_stats *rs) {
  int st = run_misfit_error(a, in, p);
  rs->failures++;
  return run_failed(a, in, seq, st, maestro_last_error(), rs);
}

_Thread_local struct maestro_agent *core_firing __attribute__((tls_model("initial-exec")));

int core_refuse_in_firing(const char *fn, const char *why) {
  struct maestro_agent *a = core_firing;
  if (__builtin_expect(a == NULL, 1)) return MAESTRO_OK;
  return err_set(MAESTRO_ESTATE, "%s called from inside a firing of agent '%s' (graph '%s'): %s",
                 fn, a->name, a->g->name, why);
}

int maestro_graph_create(maestro_runtime_t *rt, const char *name, maestro_graph_t **out) {
  if (!rt || !name || !out)
    return err_set(MAESTRO_EINVAL, "maestro_graph_create: %s is NULL",
                   !rt     ? "rt"
                   : !name ? "name"
                           : "g");
  struct maestro_graph *g = calloc(1, sizeof *g);
  if (!g || !(g->name = strdup(name))) {
    free(g);
    return err_set(MAESTRO_ENOMEM, "maestro_graph_create: out of memory");
  }
  g->rt = rt;
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->cv, NULL);
  host_output_init(&g->dl, g, NULL);
  pthread_mutex_lock(&rt->graphs_lock);
  g->next = rt->graphs;
  rt->graphs = g;
  pthread_mutex_unlock(&rt->graphs_lock);
  *out = g;
  return MAESTRO_OK;
}

const char *maestro_graph_name(const maestro_graph_t *g) {
  return g ? g->name : NULL;
}

const char *maestro_agent_name(const maestro_agent_t *a) {
  return a ? a->name : NULL;
}

maestro_agent_t *maestro_graph_agent(const maestro_graph_t *g, const char *name) {
  if (!g || !name) return NULL;
  for (int i = 0; i < g->nagents; i++)
    if (strcmp(g->agents[i]->name, name) == 0) return g->agents[i];
  return NULL;
}

static int check_ports(const char *agent, const char *what, const maestro_port_t *p, int n) {
  if (n < 0 || (n > 0 && !p))
    return err_set(MAESTRO_EINVAL, "maestro_agent_add: agent '%s': %s ports: %d ports but %s",
                   agent, what, n, n < 0 ? "a negative count" : "no array");
  for (int i = 0; i < n; i++) {
    if (!p[i].name || !p[i].name[0])
      return err_set(MAESTRO_EINVAL, "maestro_agent_add: agent '%s': %s port %d has no name", agent,
                     what, i);
    if (p[i].type == MAESTRO_RECORD) {
      if (p[i].size == 0)
        return err_set(MAESTRO_EINVAL,
                       "maestro_agent_add: agent '%s': %s port '%s' is a MAESTRO_RECORD port "
                       "without a .size (the bytes of one record)",
                       agent, what, p[i].name);
    } else if (maestro_type_size(p[i].type) == 0) {
      return err_set(MAESTRO_EINVAL,
                     "maestro_agent_add: agent '%s': %s port '%s' has unknown type %d", agent, what,
                     p[i].name, (int)p[i].type);
    } else if (p[i].size && p[i].size != maestro_type_size(p[i].type)) {
      return err_set(MAESTRO_EINVAL,
                     "maestro_agent_add: agent '%s': %s port '%s' is %s (%zu bytes) but its .size "
                     "is %zu (0 or the type's size)",
                     agent, what, p[i].name, maestro_type_name(p[i].type),
                     maestro_type_size(p[i].type), p[i].size);
    }
    for (int j = 0; j < i; j++)
      if (strcmp(p[i].name, p[j].name) == 0)
        return err_set(MAESTRO_EGRAPH, "maestro_agent_add: agent '%s': duplicate %s port '%s'",
                       agent, what, p[i].name);
  }
  return MAESTRO_OK;
}

/* maestro_agent_add keeps its own copy of the kernel description and of
 * everything it points to (the strings, .args, and .out_count with one entry
 * per output port), so the caller may reuse or free its own at once: a
 * kernel described in a loop from one variable. `.check` is a function and
 * `.check_arg` an opaque pointer of the caller's, kept as they are. */
static void kernel_free(maestro_kernel_t *k) {
  if (!k) return;
  for (int i = 0; k->args && i < k->n_args; i++)
    if (k->args[i].kind == MAESTRO_KARG_KIND_BYTES)
      free((void *)k->args[i].v.data.ptr);
    else if (k->args[i].kind == MAESTRO_KARG_KIND_BUF)
      maestro_buf_release(k->args[i].v.buf);
  free((char *)k->source);
  free((char *)k->name);
  free((char *)k->options);
  free((maestro_karg_t *)k->args);
  free((size_t *)k->out_count);
  free(k);
}

/* Our copy of `k`, strings, arguments (by-value bytes included, a
 * reference on each constant buffer) and output counts; NULL when out of
 * memory. Built in place so that kernel_free undoes a partial copy: each
 * pointer is NULL until its copy exists, and n_args counts only the
 * arguments copied so far. */
static maestro_kernel_t *kernel_dup(const maestro_kernel_t *k, int n_out) {
  maestro_kernel_t *c = malloc(sizeof *c);
  if (!c) return NULL;
  *c = *k;
  c->source = c->name = c->options = NULL;
  c->args = NULL;
  c->n_args = 0;
  c->out_count = NULL;
  int ok = (!k->source || (c->source = strdup(k->source))) &&
           (!k->name || (c->name = strdup(k->name))) &&
           (!k->options || (c->options = strdup(k->options)));
  maestro_karg_t *args = NULL;
  if (ok && k->n_args > 0) ok = (c->args = args = malloc((size_t)k->n_args * sizeof *args)) != NULL;
  for (int i = 0; ok && i < k->n_args; i++) {
    args[i] = k->args[i];
    if (args[i].kind == MAESTRO_KARG_KIND_BYTES) {
      void *v = malloc(args[i].v.data.n ? args[i].v.data.n : 1);
      if (v && args[i].v.data.n) memcpy(v, k->args[i].v.data.ptr, args[i].v.data.n);
      args[i].v.data.ptr = v;
      ok = v != NULL;
    } else if (args[i].kind == MAESTRO_KARG_KIND_BUF) {
      maestro_buf_retain(args[i].v.buf); /* the agent's own reference */
    }
    if (ok) c->n_args = i + 1;
  }
  if (ok && k->out_count && n_out > 0) {
    size_t *oc = malloc((size_t)n_out * sizeof *oc);
    if ((ok = oc != NULL)) memcpy(oc, k->out_count, (size_t)n_out * sizeof *oc);
    c->out_count = oc;
  }
  if (!ok) {
    kernel_free(c);
    return NULL;
  }
  return c;
}

static void agent_free(struct maestro_agent *a) {
  if (!a) return;
  for (int i = 0; i < a->n_in; i++) {
    free(a->in[i].name);
    free(a->in[i].ch);
  }
  for (int i = 0; i < a->n_out; i++) {
    free(a->out[i].name);
    free(a->out[i].ch);
  }
  win_free(a);
  serve_free(a);
  /* Disarmed when it finished; this only makes sure. */
  if (a->period_ns && a->g->state == GRAPH_STARTED) sched_timer_cancel(a->g->rt, &a->timer);
  place_impls_free(a->g->rt, a->impls);
  free(a->prep_why);
  kernel_free((maestro_kernel_t *)a->kernel); /* our copy (kernel_dup) */
  free(a->in);
  free(a->out);
  free(a->inbuf);
  free(a->restart_ns);
  pthread_mutex_destroy(&a->sup_mu);
  free(a->name);
  free(a);
}

int maestro_agent_add(maestro_graph_t *g, const maestro_agent_desc_t *d, maestro_agent_t **out) {
  if (out) *out = NULL;
  if (!g || !d) return err_set(MAESTRO_EINVAL, "maestro_agent_add: %s is NULL", g ? "desc" : "g");
  if (g->state != GRAPH_NEW)
    return err_set(MAESTRO_ESTATE, "maestro_agent_add: graph '%s' has already started", g->name);
  if (!d->name || !d->name[0])
    return err_set(MAESTRO_EINVAL, "maestro_agent_add: agent has no name");
  if (!d->cpu && !d->kernel && !d->cl)
    return err_set(MAESTRO_EINVAL,
                   "maestro_agent_add: agent '%s' has no implementation (.cpu, .kernel or .cl)",
                   d->name);
  /* Which of the two would run on a device would be a guess. */
  if (d->kernel && d->cl)
    return err_set(MAESTRO_EINVAL,
                   "maestro_agent_add: agent '%s' sets both .kernel and .cl: set one of them",
                   d->name);
  if (maestro_graph_agent(g, d->name))
    return err_set(MAESTRO_EGRAPH, "maestro_agent_add: graph '%s' already has an agent named '%s'",
                   g->name, d->name);
  int rc = check_ports(d->name, "input", d->in, d->n_in);
  if (!rc) rc = check_ports(d->name, "output", d->out, d->n_out);
  if (rc) return rc;
  if (d->n_in == 0 && !d->cpu)
    return err_set(MAESTRO_EINVAL, "maestro_agent_add: agent '%s': a source needs a .cpu function",
                   d->name);
  const maestro_affinity_t *af = &d->affinity;
  if (af->pref != MAESTRO_ANYWHERE && af->pref != MAESTRO_ON_CPU && af->pref != MAESTRO_ON_DEVICE)
    return err_set(MAESTRO_EINVAL, "maestro_agent_add: agent '%s': unknown affinity %d", d->name,
                   (int)af->pref);
  if (af->rank < MAESTRO_RANK_ANY || af->rank >= g->rt->nranks)
    return err_set(MAESTRO_ENODEV, "maestro_agent_add: agent '%s': no rank %d (there are %d)",
                   d->name, af->rank, g->rt->nranks);
  if (af->rank == MAESTRO_RANK_ANY && !(d->flags & MAESTRO_STATELESS))
    return err_set(MAESTRO_EINVAL,
                   "maestro_agent_add: agent '%s': MAESTRO_RANK_ANY is for MAESTRO_STATELESS "
                   "agents (a stateful agent's state lives on one rank)",
                   d->name);
  if (af->rank == MAESTRO_RANK_ANY && !d->cpu)
    return err_set(MAESTRO_EINVAL,
                   "maestro_agent_add: agent '%s': MAESTRO_RANK_ANY needs a .cpu implementation "
                   "(a device one may come with it: every rank then fires it on its CPU places "
                   "and its devices)",
                   d->name);
  if (af->pref == MAESTRO_ON_CPU) {
    if (!d->cpu)
      return err_set(MAESTRO_EINVAL, "maestro_agent_add: agent '%s' asks for a CPU but has no .cpu",
                     d->name);
    if (af->index < -1 || af->index >= g->rt->ncpu)
      return err_set(MAESTRO_ENODEV,
                     "maestro_agent_add: agent '%s': no CPU place %d (there are %d)", d->name,
                     af->index, g->rt->ncpu);
  }
  if (af->pref == MAESTRO_ON_DEVICE) {
    struct place_agent_desc pd = {.name = d->name,
                                  .cpu = d->cpu,
                                  .kernel = d->kernel,
                                  .cl = d->cl,
                                  .state = d->state,
                                  .flags = d->flags,
                                  .affinity = d->affinity,
                                  .in = d->in,
                                  .out = d->out,
                                  .n_in = d->n_in,
                                  .n_out = d->n_out,
                                  .fire_cpu = d->cpu ? run_fire_offload : NULL};
    if (!place_wanted(g->rt, &pd))
      return err_set(MAESTRO_EINVAL,
                     "maestro_agent_add: agent '%s' asks for a device but has no device "
                     "implementation (.kernel or .cl)",
                     d->name);
    int drc = place_discover(g->rt);
    if (drc) return drc;
    if (g->rt->ndev == 0)
      return err_set(
          MAESTRO_EINVAL,
          "maestro_agent_add: agent '%s' asks for a device but the runtime has none (%s)", d->name,
          g->rt->cpu_only_reason ? g->rt->cpu_only_reason : "no device");
    if (af->index < -1 || af->index >= g->rt->ndev)
      return err_set(MAESTRO_ENODEV,
                     "maestro_agent_add: agent '%s': no device place %d (there are %d)", d->name,
                     af->index, g->rt->ndev);
  }
  /* The kernel is copied here, its .args with it. */
  const maestro_kernel_t *k = d->kernel;
  if (k && k->n_args < 0)
    return err_set(MAESTRO_EINVAL, "maestro_agent_add: agent '%s': kernel '%s': .n_args is %d",
                   d->name, k->name ? k->name : "?", k->n_args);
  if (k && k->n_args > 0 && !k->args)
    return err_set(MAESTRO_EINVAL,
                   "maestro_agent_add: agent '%s': kernel '%s': .args is NULL with .n_args %d",
                   d->name, k->name ? k->name : "?", k->n_args);
  for (int i = 0; k && i < k->n_args; i++)
    if (k->args[i].kind == MAESTRO_KARG_KIND_BYTES && !k->args[i].v.data.ptr)
      return err_set(MAESTRO_EINVAL,
                     "maestro_agent_add: agent '%s': kernel '%s': argument %d: MAESTRO_KARG_BYTES "
                     "of a NULL pointer",
                     d->name, k->name ? k->name : "?", i);
  for (int i = 0; k && i < k->n_args; i++)
    if (k->args[i].kind == MAESTRO_KARG_KIND_BUF && !k->args[i].v.buf)
      return err_set(MAESTRO_EINVAL,
                     "maestro_agent_add: agent '%s': kernel '%s': argument %d: MAESTRO_KARG_BUF "
                     "of a NULL buffer",
                     d->name, k->name ? k->name : "?", i);
  if (d->supervisor.on_fail != MAESTRO_FAIL_STOP && d->supervisor.on_fail != MAESTRO_FAIL_RETRY &&
      d->supervisor.on_fail != MAESTRO_FAIL_SKIP)
    return err_set(MAESTRO_EINVAL, "maestro_agent_add: agent '%s': unknown supervisor policy %d",
                   d->name, (int)d->supervisor.on_fail);
  if (d->supervisor.max_retries < 0)
    return err_set(MAESTRO_EINVAL, "maestro_agent_add: agent '%s': max_retries %d < 0", d->name,
                   d->supervisor.max_retries);
  const maestro_supervisor_t *sv = &d->supervisor;
  if (sv->max_restarts < 0 || sv->within_ms < 0 || sv->backoff_ms < 0 || sv->backoff_max_ms < 0)
    return err_set(MAESTRO_EINVAL,
                   "maestro_agent_add: agent '%s': negative supervisor field (max_restarts %d, "
                   "within_ms %d, backoff_ms %d, backoff_max_ms %d)",
                   d->name, sv->max_restarts, sv->within_ms, sv->backoff_ms, sv->backoff_max_ms);
  if (d->period_ms < 0)
    return err_set(MAESTRO_EINVAL, "maestro_agent_add: agent '%s': period_ms %d < 0", d->name,
                   d->period_ms);
  if (d->period_ms > 0 && d->n_in > 0 &&
      ((d->flags & MAESTRO_STATELESS) || d->kernel || d->cl || !d->cpu))
    return err_set(MAESTRO_EINVAL,
                   "maestro_agent_add: agent '%s': period_ms %d (a timeout firing) needs an agent "
                   "fired by its .cpu one message at a time, and this one %s",
                   d->name, d->period_ms,
                   (d->flags & MAESTRO_STATELESS) ? "is MAESTRO_STATELESS"
                                                  : "has a device implementation (.kernel or .cl)");
  if (sv->max_restarts > 0 && sv->within_ms == 0)
    return err_set(MAESTRO_EINVAL,
                   "maestro_agent_add: agent '%s': max_restarts %d needs a window within_ms > 0",
                   d->name, sv->max_restarts);

  struct maestro_agent *a = calloc(1, sizeof *a);
  if (!a) return err_set(MAESTRO_ENOMEM, "maestro_agent_add: out of memory");
  pthread_mutex_init(&a->sup_mu, NULL);
  if (sv->max_restarts > 0) {
    a->restart_ns = calloc((size_t)sv->max_restarts, sizeof *a->restart_ns);
    if (!a->restart_ns) {
      pthread_mutex_destroy(&a->sup_mu);
      free(a);
      return err_set(MAESTRO_ENOMEM, "maestro_agent_add: out of memory");
    }
  }
  a->g = g;
  a->fail_rank = -1;
  a->name = strdup(d->name);
  a->n_in = d->n_in;
  a->n_out = d->n_out;
  a->in = calloc((size_t)d->n_in + 1, sizeof *a->in);
  a->out = calloc((size_t)d->n_out + 1, sizeof *a->out);
  a->inbuf = calloc((size_t)d->n_in + 1, sizeof *a->inbuf);
  if (k) a->kernel = kernel_dup(k, d->n_out);
  a->cl = d->cl;
  int oom = !a->name || !a->in || !a->out || !a->inbuf || (k && !a->kernel);
  for (int i = 0; !oom && i < d->n_in; i++) {
    a->in[i].name = strdup(d->in[i].name);
    a->in[i].type = d->in[i].type;
    size_t es = graph_port_esize(&d->in[i]);
    a->in[i].esize = es;
    a->in[i].emask = (es & (es - 1)) ? 0 : es - 1;
    a->in[i].ediv = (es & (es - 1)) != 0;
    if (es > 1) a->sized = 1;
    oom = !a->in[i].name;
  }
  for (int i = 0; !oom && i < d->n_out; i++) {
    a->out[i].name = strdup(d->out[i].name);
    a->out[i].type = d->out[i].type;
    a->out[i].esize = graph_port_esize(&d->out[i]);
    oom = !a->out[i].name;
  }
  if (!oom && g->nagents == g->cap_agents) {
    int cap = g->cap_agents ? g->cap_agents * 2 : 8;
    struct maestro_agent **v = realloc(g->agents, (size_t)cap * sizeof *v);
    if (v) {
      g->agents = v;
      g->cap_agents = cap;
    } else {
      oom = 1;
    }
  }
  if (oom) {
    agent_free(a);
    return err_set(MAESTRO_ENOMEM, "maestro_agent_add: out of memory");
  }
  a->cpu = d->cpu;
  a->state = d->state;
  a->affinity = d->affinity;
  a->flags = d->flags;
  a->sup = d->supervisor;
  a->on_end = d->on_end;
  a->period_ns = (uint64_t)d->period_ms * 1000000u;
  a->timer.slot = -1;
  a->timer.task = &a->task;
  a->id = g->nagents;
  atomic_init(&a->task.state, TASK_IDLE);
  a->task.owner = a;
  a->task.dev = -1;
  atomic_init(&a->task.fire_ns, 0);
  a->task.pin = af->pref == MAESTRO_ON_CPU ? af->index : -1;
  a->task.home = g->rt->ncpu > 0 ? a->id % g->rt->ncpu : 0;
  a->task.active = &g->active;
  atomic_init(&a->st.place_kind, MAESTRO_PLACE_CPU);
  atomic_init(&a->st.place_index, -1);
  atomic_init(&a->st.cpu_place, -1);
  atomic_init(&a->st.dev_place, -1);
  g->agents[g->nagents++] = a;
  if (out) *out = a;
  return MAESTRO_OK;
}

static int port_index_in(const struct maestro_agent *a, const char *name) {
  for (int i = 0; i < a->n_in; i++)
    if (strcmp(a->in[i].name, name) == 0) return i;
  return -1;
}

static int port_index_out(const struct maestro_agent *a, const char *name) {
  for (int i = 0; i < a->n_out; i++)
    if (strcmp(a->out[i].name, name) == 0) return i;
  return -1;
}

static int add_chan(struct chan ***v, int *n, struct chan *c) {
  struct chan **nv = realloc(*v, (size_t)(*n + 1) * sizeof *nv);
  if (!nv) return -1;
  nv[(*n)++] = c;
  *v = nv;
  return 0;
}

/* A channel from (from, out port) to (to, in port); NULL ends are the host. */
static int graph_new_chan(struct maestro_graph *g, struct maestro_agent *from, int op,
                          struct maestro_agent *to, int ip, int capacity, struct chan **out) {
  /* Host inputs may be pushed by several threads at once. */
  struct chan *c = chan_new(capacity, from == NULL);
  if (!c) return err_set(MAESTRO_ENOMEM, "channel of capacity %d: out of memory", capacity);
  c->prod = from;
  c->cons = to;
  c->prod_port = op;
  c->cons_port = ip;
  if (from && add_chan(&from->out[op].ch, &from->out[op].nch, c)) goto oom;
  if (to && add_chan(&to->in[ip].ch, &to->in[ip].nch, c)) {
    if (from) from->out[op].nch--;
    goto oom;
  }
  c->next = g->chans;
  g->chans = c;
  *out = c;
  return MAESTRO_OK;
oom:
  chan_free(c);
  return err_set(MAESTRO_ENOMEM, "channel: out of memory");
}

static int check_agent(const struct maestro_graph *g, const struct maestro_agent *a, const char *fn,
                       const char *which) {
  if (!a) return err_set(MAESTRO_EINVAL, "%s: %s agent is NULL", fn, which);
  if (a->g != g)
    return err_set(MAESTRO_EINVAL, "%s: agent '%s' belongs to graph '%s', not '%s'", fn, a->name,
                   a->g->name, g->name);
  return MAESTRO_OK;
}

int maestro_connect_ports(maestro_graph_t *g, maestro_agent_t *from, int op, maestro_agent_t *to,
                          int ip, int capacity) {
  if (!g) return err_set(MAESTRO_EINVAL, "maestro_connect: g is NULL");
  int rc = check_agent(g, from, "maestro_connect", "from");
  if (!rc) rc = check_agent(g, to, "maestro_connect", "to");
  if (rc) return rc;
  if (g->state != GRAPH_NEW)
    return err_set(MAESTRO_ESTATE, "maestro_connect: graph '%s' has already started", g->name);
  if (op < 0 || op >= from->n_out)
    return err_set(MAESTRO_EGRAPH, "maestro_connect: agent '%s' has no output port %d", from->name,
                   op);
  if (ip < 0 || ip >= to->n_in)
    return err_set(MAESTRO_EGRAPH, "maestro_connect: agent '%s' has no input port %d", to->name,
                   ip);
  if (capacity < 0 || capacity > GRAPH_MAX_CAPACITY)
    return err_set(MAESTRO_EINVAL, "maestro_connect: %s.%s -> %s.%s: capacity %d (0 to %d)",
                   from->name, from->out[op].name, to->name, to->in[ip].name, capacity,
                   GRAPH_MAX_CAPACITY);
  if (from->out[op].type != to->in[ip].type)
    return err_set(MAESTRO_ETYPE, "maestro_connect: %s.%s is %s but %s.%s is %s", from->name,
                   from->out[op].name, maestro_type_name(from->out[op].type), to->name,
                   to->in[ip].name, maestro_type_name(to->in[ip].type));
  if (from->out[op].esize != to->in[ip].esize)
    return err_set(MAESTRO_ETYPE,
                   "maestro_connect: %s.%s is a record of %zu bytes but %s.%s a record of %zu "
                   "bytes",
                   from->name, from->out[op].name, from->out[op].esize, to->name, to->in[ip].name,
                   to->in[ip].esize);
  struct chan *c;
  return graph_new_chan(g, from, op, to, ip, capacity ? capacity : GRAPH_DEFAULT_CAPACITY, &c);
}

int maestro_connect(maestro_graph_t *g, maestro_agent_t *from, const char *out_port,
                    maestro_agent_t *to, const char *in_port, int capacity) {
  if (!g) return err_set(MAESTRO_EINVAL, "maestro_connect: g is NULL");
  int rc = check_agent(g, from, "maestro_connect", "from");
  if (!rc) rc = check_agent(g, to, "maestro_connect", "to");
  if (rc) return rc;
  if (!out_port || !in_port)
    return err_set(MAESTRO_EINVAL, "maestro_connect: %s port name is NULL",
                   out_port ? "in" : "out");
  int op = port_index_out(from, out_port), ip = port_index_in(to, in_port);
  if (op < 0)
    return err_set(MAESTRO_EGRAPH, "maestro_connect: agent '%s' has no output port '%s'",
                   from->name, out_port);
  if (ip < 0)
    return err_set(MAESTRO_EGRAPH, "maestro_connect: agent '%s' has no input port '%s'", to->name,
                   in_port);
  return maestro_connect_ports(g, from, op, to, ip, capacity);
}

/* The checks maestro_graph_input and maestro_graph_output share: no NULL
 * argument (`out_name` names the result in the message), an agent of `g`,
 * a graph not started yet. `fn` names the caller in the message. */
static int check_host_end(maestro_graph_t *g, maestro_agent_t *a, const char *port, const void *out,
                          const char *fn, const char *out_name) {
  if (!g || !port || !out)
    return err_set(MAESTRO_EINVAL, "%s: %s is NULL", fn, !g ? "g" : !port ? "port" : out_name);
  int rc = check_agent(g, a, fn, "the");
  if (rc) return rc;
  if (g->state != GRAPH_NEW)
    return err_set(MAESTRO_ESTATE, "%s: graph '%s' has already started", fn, g->name);
  return MAESTRO_OK;
}

int maestro_graph_input(maestro_graph_t *g, maestro_agent_t *a, const char *port,
                        maestro_input_t **out) {
  int rc = check_host_end(g, a, port, out, "maestro_graph_input", "in");
  if (rc) return rc;
  int ip = port_index_in(a, port);
  if (ip < 0)
    return err_set(MAESTRO_EGRAPH, "maestro_graph_input: agent '%s' has no input port '%s'",
                   a->name, port);
  if (a->in[ip].has_host)
    return err_set(MAESTRO_EGRAPH, "maestro_graph_input: %s.%s already has a host input", a->name,
                   port);
  struct maestro_input *in = calloc(1, sizeof *in);
  if (!in) return err_set(MAESTRO_ENOMEM, "maestro_graph_input: out of memory");
  struct chan *c;
  if ((rc = graph_new_chan(g, NULL, 0, a, ip, GRAPH_DEFAULT_CAPACITY, &c))) {
    free(in);
    return rc;
  }
  a->in[ip].has_host = 1;
  in->g = g;
  in->c = c;
  in->a = a;
  in->port = ip;
  in->owner = -1;
  c->host_in = in;
  pthread_mutex_init(&in->mu, NULL);
  pthread_cond_init(&in->cv, NULL);
  atomic_init(&in->closed, 0);
  atomic_init(&in->pushers, 0);
  atomic_init(&in->seq, 0);
  atomic_init(&in->oseq, 0);
  in->dom = (uint64_t)((ORIGIN_HOST + (unsigned)g->ninputs++) & 0xffffu) << ORIGIN_SHIFT;
  in->next = g->inputs;
  g->inputs = in;
  *out = in;
  return MAESTRO_OK;
}

int maestro_graph_output(maestro_graph_t *g, maestro_agent_t *a, const char *port,
                         maestro_output_t **out) {
  int rc = check_host_end(g, a, port, out, "maestro_graph_output", "out");
  if (rc) return rc;
  int op = port_index_out(a, port);
  if (op < 0)
    return err_set(MAESTRO_EGRAPH, "maestro_graph_output: agent '%s' has no output port '%s'",
                   a->name, port);
  struct maestro_output *o = calloc(1, sizeof *o);
  if (!o) return err_set(MAESTRO_ENOMEM, "maestro_graph_output: out of memory");
  struct chan *c;
  if ((rc = graph_new_chan(g, a, op, NULL, 0, GRAPH_DEFAULT_CAPACITY, &c))) {
    free(o);
    return rc;
  }
  host_output_init(o, g, c);
  c->host_out = o;
  o->next = g->outputs;
  g->outputs = o;
  *out = o;
  return MAESTRO_OK;
}

int maestro_graph_dead_letters(maestro_graph_t *g, maestro_output_t **out) {
  if (!g || !out)
    return err_set(MAESTRO_EINVAL, "maestro_graph_dead_letters: %s is NULL", g ? "out" : "g");
  *out = &g->dl;
  return MAESTRO_OK;
}

/* Which device places agent `a` may run on (bit i = device i); 0 for none. */
static uint64_t agent_devices(const struct maestro_agent *a) {
  if (a->affinity.pref == MAESTRO_ON_CPU) return 0;
  /* Timeout firings come from the CPU runner (core/period.c): a backend
   * that could fire its .cpu elsewhere would give it the windowed one. */
  if (a->period_ns && a->n_in) return 0;
  if (a->affinity.pref == MAESTRO_ON_DEVICE && a->affinity.index >= 0 &&
      a->affinity.index < PLACE_MAX_DEVICES)
    return 1ull << a->affinity.index;
  return ~(uint64_t)0;
}

/* What the backends see of agent `a`; in/out are arrays of n_in / n_out + 1
 * the caller provides. */
static void agent_desc(const struct maestro_agent *a, maestro_port_t *in, maestro_port_t *out,
                       struct place_agent_desc *d) {
  for (int p = 0; p < a->n_in; p++)
    in[p] = (maestro_port_t){a->in[p].name, a->in[p].type, a->in[p].esize};
  for (int p = 0; p < a->n_out; p++)
    out[p] = (maestro_port_t){a->out[p].name, a->out[p].type, a->out[p].esize};
  *d = (struct place_agent_desc){.name = a->name,
                                 .cpu = a->cpu,
                                 .kernel = a->kernel,
                                 .cl = a->cl,
                                 .state = a->state,
                                 .flags = a->flags,
                                 .affinity = a->affinity,
                                 .in = in,
                                 .out = out,
                                 .n_in = a->n_in,
                                 .n_out = a->n_out,
                                 .fire_cpu = a->cpu ? run_fire_offload : NULL,
                                 .agent = (void *)a};
}

/* Prepares every agent's device implementations (builds kernels), only for
 * the device places each agent may run on. An implementation that cannot be
 * set up while its places exist fails the start with the backend's own
 * message (the build log, the argument count that does not match), also
 * for a hybrid agent: running it CPU-only would hide a programming error.
 * A runtime with no device place runs hybrid agents on their CPU
 * implementation. */
static int graph_prepare_impls(struct maestro_graph *g) {
  struct maestro_runtime *rt = g->rt;
  for (int i = 0; i < g->nagents; i++) {
    struct maestro_agent *a = g->agents[i];
    uint64_t devs = agent_devices(a);
    /* MAESTRO_ON_CPU: never on a device; remote: not here, but for a
     * MAESTRO_RANK_ANY agent, fired here for its owner (serve.c). */
    int serving = a->remote && win_any_agent(a);
    if (!devs || (a->remote && !serving)) continue;
    maestro_port_t *in = calloc((size_t)a->n_in + 1, sizeof *in);
    maestro_port_t *out = calloc((size_t)a->n_out + 1, sizeof *out);
    int rc = MAESTRO_ENOMEM;
    err_clear();
    if (in && out) {
      struct place_agent_desc d;
      agent_desc(a, in, out, &d);
      rc = place_prepare(rt, &d, devs, &a->impls);
    }
    free(in);
    free(out);
    if (rc == MAESTRO_OK && (a->impls || a->cpu)) continue;
    if (serving) {
      /* The other ranks go on starting: this one fails once the graph runs
       * (serve_started), so that every rank's maestro_graph_wait says why. */
      a->prep_rc = rc;
      a->prep_why = strdup(maestro_last_error());
      continue;
    }
    if (rc == MAESTRO_OK)
      return err_set(MAESTRO_ENODEV,
                     "maestro_graph_start: graph '%s': agent '%s' has no CPU implementation and "
                     "no device can run it (%s)",
                     g->name, a->name, rt->cpu_only_reason ? rt->cpu_only_reason : "no device");
    if (rc == MAESTRO_EBUILD) return rc; /* the message names the agent and holds the build log */
    char *why = strdup(maestro_last_error());
    rc = err_set(rc,
                 "maestro_graph_start: graph '%s': %s agent '%s': its device implementation "
                 "cannot be set up: %s",
                 g->name, a->cpu ? "hybrid" : "device", a->name,
                 why && why[0] ? why : maestro_strerror(rc));
    free(why);
    return rc;
  }
  return MAESTRO_OK;
}

static void graph_free_impls(struct maestro_graph *g) {
  for (int i = 0; i < g->nagents; i++) {
    free(g->agents[i]->prep_why);
    g->agents[i]->prep_why = NULL;
    g->agents[i]->prep_rc = 0;
    place_impls_free(g->rt, g->agents[i]->impls);
    g->agents[i]->impls = NULL;
  }
}

/* Whether some agent of port `p`'s channels satisfies `ok` (host inputs count
 * as satisfying it: a host can push and close): `all` asks it of every channel. */
static int port_fed(const struct inport *p, const char *ok, int all) {
  for (int k = 0; k < p->nch; k++) {
    const struct maestro_agent *prod = p->ch[k]->prod;
    int yes = !prod || ok[prod->id];
    if (all && !yes) return 0;
    if (!all && yes) return 1;
  }
  return all;
}

/* Refuses a graph in which some agent can never finish (docs/engine.md,
 * "Ends, cycles and calls from a firing"). An agent may fire if it is a
 * source or each input port has a channel from a host input or from an agent
 * that may fire; it may stop firing and close its outputs if it may fire (it
 * may return MAESTRO_DONE) or some input port may end (each of its channels
 * is a host input or comes from an agent that may close). The graph finishes
 * only if every agent may close; one that cannot waits on a producer that
 * cannot either, so following them leads round a cycle, which the message
 * names. */
static int graph_check_ends(struct maestro_graph *g) {
  int n = g->nagents;
  char *fire = calloc((size_t)n + 1, 1), *ends = calloc((size_t)n + 1, 1);
  int *step = malloc(((size_t)n + 1) * sizeof *step);
  int *walk = calloc((size_t)n + 1, sizeof *walk);
  if (!fire || !ends || !step || !walk) {
    free(fire);
    free(ends);
    free(step);
    free(walk);
    return err_set(MAESTRO_ENOMEM, "maestro_graph_start: out of memory");
  }
  for (int changed = 1; changed;) {
    changed = 0;
    for (int i = 0; i < n; i++) {
      const struct maestro_agent *a = g->agents[i];
      if (fire[i]) continue;
      int all = 1;
      for (int p = 0; all && p < a->n_in; p++)
        all = port_fed(&a->in[p], fire, 0);
      if (all) fire[i] = changed = 1;
    }
  }
  memcpy(ends, fire, (size_t)n);
  for (int changed = 1; changed;) {
    changed = 0;
    for (int i = 0; i < n; i++) {
      const struct maestro_agent *a = g->agents[i];
      for (int p = 0; !ends[i] && p < a->n_in; p++)
        if (port_fed(&a->in[p], ends, 1)) ends[i] = changed = 1;
    }
  }
  int rc = MAESTRO_OK, first = -1;
  for (int i = 0; i < n && first < 0; i++)
    if (!ends[i]) first = i;
  if (first >= 0) {
    /* Walk to a producer that cannot close until an agent comes round again. */
    for (int i = 0; i < n; i++)
      step[i] = -1;
    int cur = first, k = 0;
    while (step[cur] < 0) {
      walk[k] = cur;
      step[cur] = k++;
      const struct inport *p = &g->agents[cur]->in[0];
      int next = -1;
      for (int c = 0; c < p->nch && next < 0; c++)
        if (p->ch[c]->prod && !ends[p->ch[c]->prod->id]) next = p->ch[c]->prod->id;
      if (next < 0) { /* cannot happen (port 0 cannot end): name the whole walk */
        cur = first;
        break;
      }
      cur = next;
    }
    /* walk[step[cur]..k-1] is the cycle, consumers first: name it in the
     * order messages would flow, producers first. */
    char names[1024];
    size_t len = 0;
    names[0] = 0;
    for (int x = k - 1; x >= step[cur] - 1 && len < sizeof names - 1; x--) {
      int i = x >= step[cur] ? walk[x] : walk[k - 1];
      int r = snprintf(names + len, sizeof names - len, "%s'%s'", x < k - 1 ? " -> " : "",
                       g->agents[i]->name);
      if (r < 0) break;
      len += (size_t)r;
    }
    rc = err_set(MAESTRO_EGRAPH,
                 "maestro_graph_start: graph '%s': the cycle %s can never end: no message "
                 "reaches every input port of any of its agents from a source or a host input "
                 "(so none fires or returns MAESTRO_DONE), and each waits for end-of-stream "
                 "from the one before it",
                 g->name, names);
  }
  free(fire);
  free(ends);
  free(step);
  free(walk);
  return rc;
}

/* Root of agent `i` in the union-find `up` (paths halved on the way). */
static int comp_root(int *up, int i) {
  while (up[i] != i)
    i = up[i] = up[up[i]];
  return i;
}

/* First homes: the agents of one connected part of the graph start
 * together on one worker, since agents that talk share caches there;
 * independent parts (and graphs) go to different workers in turn. Agents
 * whose firings prove costly, or that wait behind a run that lasts, are
 * then stolen by idle workers (sched.h). */
static void graph_first_homes(struct maestro_graph *g) {
  static atomic_uint next_home;
  unsigned ncpu = g->rt->ncpu > 0 ? (unsigned)g->rt->ncpu : 1;
  int n = g->nagents;
  int *up = malloc((size_t)n * sizeof *up);
  if (!up) {
    /* Out of memory: one home for all, as correct if less spread. */
    unsigned home = atomic_fetch_add(&next_home, 1) % ncpu;
    for (int i = 0; i < n; i++)
      g->agents[i]->task.home = (int)home;
    return;
  }
  for (int i = 0; i < n; i++)
    up[i] = i;
  for (struct chan *c = g->chans; c; c = c->next)
    if (c->prod && c->cons) up[comp_root(up, c->prod->id)] = comp_root(up, c->cons->id);
  int ncomp = 0;
  for (int i = 0; i < n; i++)
    ncomp += up[i] == i;
  unsigned base = atomic_fetch_add(&next_home, (unsigned)(ncomp ? ncomp : 1));
  /* Each root takes the next home, in agent order, then its part follows it. */
  int next = 0;
  for (int i = 0; i < n; i++)
    if (up[i] == i) g->agents[i]->task.home = (int)((base + (unsigned)next++) % ncpu);
  for (int i = 0; i < n; i++)
    g->agents[i]->task.home = g->agents[comp_root(up, i)]->task.home;
  free(up);
}

/* 1 when `a` is a join whose input sets are aligned by origin
 * (run_align_heads): several ports, each fed by one channel. */
static int graph_aligned_join(const struct maestro_agent *a) {
  if (a->n_in < 2) return 0;
  for (int p = 0; p < a->n_in; p++)
    if (a->in[p].nch != 1) return 0;
  return 1;
}

/* Marks the agents whose sends must carry their origin (a->stamp): those
 * upstream of an aligned join. Others never pay for it on their path. */
static void graph_mark_stamps(struct maestro_graph *g) {
  for (int changed = 1; changed;) {
    changed = 0;
    for (int i = 0; i < g->nagents; i++) {
      struct maestro_agent *a = g->agents[i];
      a->align = graph_aligned_join(a);
      if (!a->stamp && !a->align) continue;
      for (int p = 0; p < a->n_in; p++)
        for (int k = 0; k < a->in[p].nch; k++) {
          struct maestro_agent *up = a->in[p].ch[k]->prod;
          if (up && !up->stamp) {
            up->stamp = 1;
            changed = 1;
          }
        }
    }
  }
}

/* The rank that owns agent `a` (rank 0 for MAESTRO_RANK_ANY). */
static int agent_rank(const struct maestro_agent *a) {
  return a->affinity.rank == MAESTRO_RANK_ANY ? 0 : a->affinity.rank;
}

static int graph_start_local(maestro_graph_t *g);

int maestro_graph_start(maestro_graph_t *g) {
  if (!g) return err_set(MAESTRO_EINVAL, "maestro_graph_start: g is NULL");
  if (g->state != GRAPH_NEW)
    return err_set(MAESTRO_ESTATE, "maestro_graph_start: graph '%s' has already started", g->name);
  struct maestro_runtime *rt = g->rt;
  if (!rt->dist) return graph_start_local(g);
  /* Across ranks: the ranks agree on the graph first (a graph that differs
   * fails the checks below differently on each rank), then each rank runs
   * the agents it owns; host ends of another rank's agents are refused. */
  int rc = rt->dist->graph_check(g);
  if (rc) return rc;
  for (int i = 0; i < g->nagents; i++)
    g->agents[i]->remote = agent_rank(g->agents[i]) != rt->rank;
  for (struct maestro_input *in = g->inputs; in; in = in->next)
    in->owner = in->a->remote ? agent_rank(in->a) : -1;
  for (struct maestro_output *o = g->outputs; o; o = o->next)
    o->owner = o->c->prod->remote ? agent_rank(o->c->prod) : -1;
  rc = graph_start_local(g);
  if (rc && g->dist) rt->dist->graph_destroy(g);
  if (!rc) rt->dist->graph_run(g);
  if (!rc) serve_started(g);
  return rc;
}

static int graph_start_local(maestro_graph_t *g) {
  for (int i = 0; i < g->nagents; i++) {
    struct maestro_agent *a = g->agents[i];
    for (int p = 0; p < a->n_in; p++)
      if (a->in[p].nch == 0)
        return err_set(MAESTRO_EGRAPH,
                       "maestro_graph_start: graph '%s': input port '%s' of agent '%s' is not "
                       "connected (connect a channel or a host input)",
                       g->name, a->in[p].name, a->name);
  }
  int rc = graph_check_ends(g);
  if (rc) return rc;
  /* Timers: the thread first (nothing to undo if it cannot start). */
  for (int i = 0; i < g->nagents; i++)
    if (g->agents[i]->period_ns && (rc = sched_timer_start(g->rt))) return rc;
  rc = graph_prepare_impls(g);
  if (rc) {
    graph_free_impls(g);
    return rc;
  }
  graph_first_homes(g);
  graph_mark_stamps(g);
  /* Channels across ranks are rewired before the windows are set up: a
   * window reads on the host what goes to another rank. */
  const struct dist_ops *dist = g->dist ? g->rt->dist : NULL;
  if (dist && (rc = dist->graph_start(g))) {
    graph_free_impls(g);
    return rc;
  }
  for (int i = 0; i < g->nagents; i++) {
    struct maestro_agent *a = g->agents[i];
    /* Another rank owns it, but a MAESTRO_RANK_ANY agent fires here too. */
    if (a->remote
            ? win_any_agent(a) && (rc = serve_setup(a, a->prep_rc, a->prep_why))
            : a->n_in > 0 && ((a->flags & MAESTRO_STATELESS) || a->impls) && (rc = win_setup(a))) {
      for (int j = 0; j < g->nagents; j++) {
        win_free(g->agents[j]);
        serve_free(g->agents[j]);
      }
      graph_free_impls(g);
      return rc;
    }
  }
  g->numa = mem_nodes(g->rt) > 1;
  g->tracing = trace_on(g->rt);
  for (int i = 0; g->tracing && i < g->nagents; i++) {
    struct maestro_agent *a = g->agents[i];
    a->trace_name = trace_name(g->rt, a->name);
    a->trace_regular = a->n_in == 0 || (a->n_in == 1 && a->in[0].nch == 1);
  }
  for (int i = 0; i < g->nagents; i++) {
    struct maestro_agent *a = g->agents[i];
    a->plain = !a->sized && !a->stamp && !a->align && !g->tracing &&
               (a->n_in == 0 || (a->n_in == 1 && a->in[0].nch == 1));
  }
  /* Under the list lock: the stats publisher reads started graphs only. */
  pthread_mutex_lock(&g->rt->graphs_lock);
  g->state = GRAPH_STARTED;
  pthread_mutex_unlock(&g->rt->graphs_lock);
  /* Agents of other ranks never fire here: finished from the start. */
  int nremote = 0;
  for (int i = 0; i < g->nagents; i++)
    if (g->agents[i]->remote) {
      g->agents[i]->phase = AG_FINISHED;
      atomic_store_explicit(&g->agents[i]->st.pstate, PROF_AGENT_REMOTE, memory_order_relaxed);
      nremote++;
    }
  if (nremote) {
    pthread_mutex_lock(&g->mu);
    g->nfinished = nremote;
    pthread_mutex_unlock(&g->mu);
  }
  if (g->nagents == nremote && g->nheld == 0) {
    pthread_mutex_lock(&g->mu);
    g->finished = 1;
    pthread_mutex_unlock(&g->mu);
    dl_close(g);
    return MAESTRO_OK;
  }
  for (int i = 0; i < g->nagents; i++)
    if (!g->agents[i]->remote)
      atomic_store_explicit(&g->agents[i]->st.pstate, 2 /* PROF_AGENT_WAITING */,
                            memory_order_relaxed);
  /* A periodic source fires at once, a timeout comes a period from now. */
  uint64_t now = rt_now_ns();
  for (int i = 0; i < g->nagents; i++) {
    struct maestro_agent *a = g->agents[i];
    if (a->period_ns && !a->remote) a->due = a->n_in ? now + a->period_ns : now;
  }
  /* Sources start firing; the others look at their inputs once (a host
   * input may have been closed before start). */
  for (int i = 0; i < g->nagents; i++)
    if (!g->agents[i]->remote) sched_notify(g->rt, &g->agents[i]->task);
  for (struct graph_ext *x = g->exts; x; x = x->next)
    x->start(x->arg);
  return MAESTRO_OK;
}

/* maestro_graph_wait and maestro_graph_wait_for: `fn` names the caller. */
static int graph_wait_ms(maestro_graph_t *g, int timeout_ms, const char *fn) {
  if (!g) return err_set(MAESTRO_EINVAL, "%s: g is NULL", fn);
  if (timeout_ms < -1) return err_set(MAESTRO_EINVAL, "%s: timeout_ms %d < -1", fn, timeout_ms);
  int rc = core_refuse_in_firing(fn, "a firing may not wait for a graph to finish (its own cannot "
                                     "while the firing runs; another may need this worker)");
  if (rc) return rc;
  /* Counted before anything else is read: maestro_graph_destroy wakes the
   * waiters and frees the graph only once they have left. */
  atomic_fetch_add(&g->host_users, 1);
  if (g->state != GRAPH_STARTED) {
    rc = err_set(MAESTRO_ESTATE, "%s: graph '%s' has not started", fn, g->name);
    atomic_fetch_sub(&g->host_users, 1);
    return rc;
  }
  struct timespec until;
  if (timeout_ms > 0) {
    clock_gettime(CLOCK_REALTIME, &until); /* the condition variable's clock */
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
  }
  pthread_mutex_lock(&g->mu);
  int timed_out = 0;
  while (!g->finished && !atomic_load(&g->destroying)) {
    if (timeout_ms == 0 ||
        (timeout_ms > 0 && pthread_cond_timedwait(&g->cv, &g->mu, &until) == ETIMEDOUT &&
         !g->finished && !atomic_load(&g->destroying))) {
      timed_out = 1;
      break;
    }
    if (timeout_ms < 0) pthread_cond_wait(&g->cv, &g->mu);
  }
  /* Across ranks, the outcome is agreed once (collective), by one waiter. */
  while (!timed_out && g->finished && g->dist && !g->settled && !g->destroy_cancelled) {
    if (g->settling) {
      pthread_cond_wait(&g->cv, &g->mu);
      continue;
    }
    g->settling = 1;
    pthread_mutex_unlock(&g->mu);
    g->rt->dist->graph_settle(g);
    pthread_mutex_lock(&g->mu);
    g->settled = 1;
    pthread_cond_broadcast(&g->cv);
  }
  int publish = 0;
  if (timed_out) {
    rc = err_set(MAESTRO_ETIMEDOUT, "%s: graph '%s' has not finished within %d ms", fn, g->name,
                 timeout_ms);
  } else if (g->destroy_cancelled) {
    rc = err_set(MAESTRO_ESTATE, "%s: graph '%s' destroyed while waiting (it had not finished)", fn,
                 g->name);
  } else {
    publish = !g->published;
    g->published = 1;
    if (atomic_load(&g->cancelled))
      rc = err_set(MAESTRO_ECANCELED, "%s: graph '%s' was cancelled", fn, g->name);
    else
      rc = g->failed ? err_set(MAESTRO_EAGENT, "%s", g->fail_msg) : MAESTRO_OK;
  }
  pthread_mutex_unlock(&g->mu);
  /* The last counters, before the graph goes. (Trace records outlive the
   * graph: they are written at runtime destroy, off the graph's time.) */
  if (publish) rt_notify_graph_end(g->rt);
  atomic_fetch_sub(&g->host_users, 1);
  return rc;
}

int maestro_graph_wait(maestro_graph_t *g) {
  return graph_wait_ms(g, -1, "maestro_graph_wait");
}

int maestro_graph_wait_for(maestro_graph_t *g, int timeout_ms) {
  return graph_wait_ms(g, timeout_ms, "maestro_graph_wait_for");
}

int maestro_graph_cancel(maestro_graph_t *g) {
  if (!g) return err_set(MAESTRO_EINVAL, "maestro_graph_cancel: g is NULL");
  atomic_fetch_add(&g->host_users, 1); /* as in graph_wait_ms: destroy waits for us */
  int rc = MAESTRO_OK;
  if (g->state != GRAPH_STARTED || atomic_load(&g->destroying)) {
    rc = err_set(MAESTRO_ESTATE, "maestro_graph_cancel: graph '%s' has not started", g->name);
  } else {
    pthread_mutex_lock(&g->mu);
    /* A finished graph, or one a failure stopped, keeps its outcome. */
    int cancel = !g->finished && !g->failed && !atomic_load(&g->stopped);
    if (cancel) atomic_store(&g->cancelled, 1);
    pthread_mutex_unlock(&g->mu);
    if (cancel) graph_stop(g);
  }
  atomic_fetch_sub(&g->host_users, 1);
  return rc;
}

int maestro_graph_run(maestro_graph_t *g) {
  int rc = core_refuse_in_firing("maestro_graph_run",
                                 "a firing may not wait for a graph to finish (another graph "
                                 "may need this worker); the graph was not started");
  if (rc) return rc;
  rc = maestro_graph_start(g);
  return rc ? rc : maestro_graph_wait(g);
}

void graph_agent_finished(struct maestro_graph *g) {
  pthread_mutex_lock(&g->mu);
  int all = ++g->nfinished == g->nagents + g->nheld;
  if (all) g->finished = 1;
  pthread_mutex_unlock(&g->mu);
  if (all) {
    dl_close(g);
    pthread_mutex_lock(&g->mu);
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
  }
}

void graph_hold(struct maestro_graph *g) {
  g->nheld++;
}

int graph_add_ext(struct maestro_graph *g, const struct graph_ext *e) {
  struct graph_ext *x = malloc(sizeof *x);
  if (!x) return err_set(MAESTRO_ENOMEM, "graph '%s': out of memory", g->name);
  *x = *e;
  x->next = g->exts;
  g->exts = x;
  return MAESTRO_OK;
}

void graph_stop(struct maestro_graph *g) {
  int zero = 0;
  if (!atomic_compare_exchange_strong(&g->stopped, &zero, 1)) return;
  for (struct maestro_input *in = g->inputs; in; in = in->next)
    host_input_cancel(in);
  if (g->state == GRAPH_STARTED)
    for (int i = 0; i < g->nagents; i++)
      if (!g->agents[i]->remote) sched_notify(g->rt, &g->agents[i]->task);
  if (g->dist && g->state == GRAPH_STARTED) g->rt->dist->graph_stopped(g);
}

int graph_fail_remote(struct maestro_graph *g, int status, int cancelled, const char *msg) {
  pthread_mutex_lock(&g->mu);
  int take = !g->failed && !atomic_load(&g->cancelled) && !g->finished;
  if (take && cancelled) {
    atomic_store(&g->cancelled, 1);
  } else if (take) {
    g->failed = 1;
    g->fail_status = status;
    snprintf(g->fail_msg, sizeof g->fail_msg, "%s", msg);
  }
  pthread_mutex_unlock(&g->mu);
  if (take) graph_stop(g);
  return take;
}

void graph_fail(struct maestro_graph *g, struct maestro_agent *a, int status, const char *why) {
  pthread_mutex_lock(&g->mu);
  if (!g->failed) {
    g->failed = 1;
    g->fail_status = status;
    int has_why = why && why[0];
    char on[32] = "";
    if (g->dist)
      snprintf(on, sizeof on, " on rank %d", a->fail_rank >= 0 ? a->fail_rank : g->rt->rank);
    snprintf(g->fail_msg, sizeof g->fail_msg,
             "graph '%s': agent '%s'%s failed with status %d (%s)%s%s; its supervisor stopped the "
             "graph",
             g->name, a->name, on, status, maestro_strerror(status), has_why ? ": " : "",
             has_why ? why : "");
  }
  pthread_mutex_unlock(&g->mu);
  graph_stop(g);
}

const char *graph_keep_reason(struct maestro_graph *g, struct maestro_agent *a, int status,
                              const char *why) {
  char own[256];
  if (!why || !why[0]) {
    snprintf(own, sizeof own, "agent '%s' failed with status %d (%s)", a->name, status,
             maestro_strerror(status));
    why = own;
  }
  size_t len = strlen(why);
  pthread_mutex_lock(&g->dl.mu);
  /* A run of failures for the same reason (SKIP on many bad messages) keeps one copy. */
  struct reason *r = g->reasons;
  if (!r || strcmp(r->text, why) != 0) {
    r = malloc(sizeof *r + len + 1);
    if (r) {
      memcpy(r->text, why, len + 1);
      r->next = g->reasons;
      g->reasons = r;
    }
  }
  pthread_mutex_unlock(&g->dl.mu);
  return r ? r->text : NULL;
}

/* Ends the extensions' threads (bundled I/O agents). They push and close
 * host ends, which wakes agents: joined before destroy waits for the
 * workers to be done with the graph, no wake-up comes after that wait. */
static void graph_exts_fini(struct maestro_graph *g) {
  for (struct graph_ext *x = g->exts, *n; x; x = n) {
    n = x->next;
    x->fini(x->arg);
    free(x);
  }
  g->exts = NULL;
}

static void graph_free(struct maestro_graph *g) {
  graph_exts_fini(g);
  for (struct chan *c = g->chans, *n; c; c = n) {
    n = c->next;
    chan_free(c);
  }
  for (struct maestro_input *in = g->inputs, *n; in; in = n) {
    n = in->next;
    host_input_free(in);
  }
  for (struct maestro_output *o = g->outputs, *n; o; o = n) {
    n = o->next;
    host_output_free(o);
    free(o);
  }
  host_output_free(&g->dl);
  for (struct reason *r = g->reasons, *n; r; r = n) {
    n = r->next;
    free(r);
  }
  for (int i = 0; i < g->nagents; i++)
    agent_free(g->agents[i]);
  free(g->agents);
  pthread_mutex_destroy(&g->mu);
  pthread_cond_destroy(&g->cv);
  free(g->name);
  free(g);
}

void maestro_graph_destroy(maestro_graph_t *g) {
  if (!g) return;
  /* Destroying a started graph waits for its workers: from a firing of its
   * own that never ends, and another's may need this worker. Left as it is. */
  if (core_firing && (core_firing->g == g || g->state == GRAPH_STARTED)) {
    core_refuse_in_firing("maestro_graph_destroy",
                          core_firing->g == g
                              ? "a firing may not destroy its own graph; the graph is left running"
                              : "a firing may not destroy a started graph (it would wait for its "
                                "workers); the graph is left running");
    return;
  }
  struct maestro_runtime *rt = g->rt;
  pthread_mutex_lock(&rt->graphs_lock);
  for (struct maestro_graph **pp = &rt->graphs; *pp; pp = &(*pp)->next)
    if (*pp == g) {
      *pp = g->next;
      break;
    }
  pthread_mutex_unlock(&rt->graphs_lock);
  /* Threads in maestro_graph_wait leave now, told whether the graph had finished. */
  pthread_mutex_lock(&g->mu);
  g->destroy_cancelled = g->state == GRAPH_STARTED && !g->finished;
  atomic_store(&g->destroying, 1);
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
  if (g->state == GRAPH_STARTED) {
    graph_stop(g);
    pthread_mutex_lock(&g->mu);
    while (!g->finished)
      pthread_cond_wait(&g->cv, &g->mu);
    /* Across ranks: the other ranks agree on its outcome with this one. */
    int settle = g->dist && !g->settled && !g->settling;
    g->settling = 1;
    pthread_mutex_unlock(&g->mu);
    if (settle) g->rt->dist->graph_settle(g);
    graph_exts_fini(g);
  } else {
    /* Never started: end every stream so that no host thread waits on it. */
    graph_stop(g);
    for (struct maestro_output *o = g->outputs; o; o = o->next)
      host_output_cancel(o);
    dl_close(g);
  }
  /* Threads woken above (closed inputs, ended outputs, waiters) leave their
   * calls first, then workers the runs those calls (or the last firings)
   * queued: a call queues its run before it leaves. */
  struct timespec nap = {0, 50000};
  while (atomic_load(&g->host_users) > 0)
    nanosleep(&nap, NULL);
  while (atomic_load(&g->active) > 0)
    nanosleep(&nap, NULL);
  if (g->dist) g->rt->dist->graph_destroy(g);
  graph_free(g);
}

void graph_destroy_all(struct maestro_runtime *rt) {
  for (;;) {
    pthread_mutex_lock(&rt->graphs_lock);
    struct maestro_graph *g = rt->graphs;
    pthread_mutex_unlock(&rt->graphs_lock);
    if (!g) return;
    maestro_graph_destroy(g);
  }
}
