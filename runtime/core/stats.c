/* Agent counters, the records the live stats publisher asks for, and DOT. */
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "core/dist.h"
#include "core/graph.h"
#include "base/runtime.h"
#include "base/stats_rec.h"

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

int maestro_agent_stats(const maestro_agent_t *a, maestro_agent_stats_t *s) {
  if (!a || !s) return err_set(MAESTRO_EINVAL, "maestro_agent_stats: %s is NULL", a ? "s" : "a");
  const struct agent_counters *c = &a->st;
  memset(s, 0, sizeof *s);
  s->place_kind = (maestro_place_kind_t)LOAD(c->place_kind);
  s->place_index = LOAD(c->place_index);
  s->fires = LOAD(c->fires);
  s->msgs_in = LOAD(c->msgs_in);
  s->msgs_out = LOAD(c->msgs_out);
  s->bytes_in = LOAD(c->bytes_in);
  s->bytes_out = LOAD(c->bytes_out);
  s->busy_ns = LOAD(c->busy_ns);
  s->failures = LOAD(c->failures);
  s->retries = LOAD(c->retries);
  s->dead_letters = LOAD(c->dead_letters);
  s->fallbacks = LOAD(c->fallbacks);
  s->device_fires = LOAD(c->device_fires);
  s->cpu_fires = LOAD(c->cpu_fires);
  s->failovers = LOAD(c->failovers);
  s->remote_fires = LOAD(c->remote_fires);
  s->remote_device_fires = LOAD(c->remote_device_fires);
  s->served = LOAD(c->served);
  return MAESTRO_OK;
}

int maestro_agent_rank_fires(const maestro_agent_t *a, int rank, uint64_t *fires) {
  if (!a || !fires)
    return err_set(MAESTRO_EINVAL, "maestro_agent_rank_fires: %s is NULL", a ? "fires" : "a");
  const struct maestro_runtime *rt = a->g->rt;
  if (rank < 0 || rank >= rt->nranks)
    return err_set(MAESTRO_EINVAL, "maestro_agent_rank_fires: agent '%s': rank %d of %d", a->name,
                   rank, rt->nranks);
  *fires = rank == rt->rank ? LOAD(a->st.fires) : win_rank_fires(a, rank);
  return MAESTRO_OK;
}

static uint32_t agent_queue_depth(const struct maestro_agent *a) {
  size_t n = 0;
  for (int i = 0; i < a->n_in; i++)
    for (int k = 0; k < a->in[i].nch; k++)
      n += ring_count(&a->in[i].ch[k]->ring);
  return (uint32_t)n;
}

/* An agent with a CPU function and a kernel (or .cl): placed per firing. */
static int agent_hybrid(const struct maestro_agent *a) {
  return a->cpu && (a->kernel || a->cl) && a->affinity.pref == MAESTRO_ANYWHERE;
}

/* Where `a` is placed: the CPU place and the device place it fires on (a
 * hybrid agent has both); before its first firing there, the place its
 * affinity names. */
static void agent_placed(const struct maestro_agent *a, int *cpu, int *dev) {
  *cpu = LOAD(a->st.cpu_place);
  *dev = LOAD(a->st.dev_place);
  if (*cpu < 0 && a->affinity.pref == MAESTRO_ON_CPU && a->affinity.index >= 0)
    *cpu = a->affinity.index;
  if (*dev < 0 && a->affinity.pref == MAESTRO_ON_DEVICE && a->affinity.index >= 0)
    *dev = a->affinity.index;
}

/* The state shown: from the running and blocked flags the engine keeps,
 * and the queue: an agent that is not firing with messages queued waits
 * for a core ("ready"), not for input. */
static int32_t agent_state(const struct maestro_agent *a, uint32_t queued) {
  int32_t st = LOAD(a->st.pstate);
  if (st == PROF_AGENT_WAITING && queued > 0) return PROF_AGENT_READY;
  return st;
}

/* The model's current estimates for a hybrid agent, for its average input. */
static void agent_estimates(const struct maestro_agent *a, const maestro_agent_stats_t *s,
                            struct prof_agent_rec *p) {
  struct maestro_runtime *rt = a->g->rt;
  p->est_bytes = s->fires ? s->bytes_in / s->fires : 0;
  p->n_est = PROF_EST_PLACES;
  for (int i = 0; i < PROF_EST_PLACES; i++) {
    double ns = -1;
    int d = i - 1;
    if (i > 0 && d >= rt->ndev) {
      p->est_ns[i] = -2;
      continue;
    }
    /* ENODEV: no implementation there (or no such place). */
    int rc = maestro_agent_estimate(a, i ? MAESTRO_PLACE_DEVICE : MAESTRO_PLACE_CPU, i ? d : 0,
                                    p->est_bytes, &ns);
    p->est_ns[i] = rc != MAESTRO_OK ? -2 : ns < 0 ? -1 : (int64_t)ns;
  }
}

/* A MAESTRO_RANK_ANY agent across ranks: on rank 0, which owns it, the
 * firings each rank answered (maestro_agent_rank_fires); on another rank,
 * those it served for rank 0. `settled`: the ranks agreed the graph ended. */
static void agent_ranks(const struct maestro_agent *a, const maestro_agent_stats_t *s, int settled,
                        struct prof_agent_rec *p) {
  const struct maestro_runtime *rt = a->g->rt;
  if (!win_any_agent(a)) return;
  if (settled) p->flags |= PROF_AGENT_F_ANY_FINAL;
  if (a->remote) {
    p->flags |= PROF_AGENT_F_ANY_SERVED;
    p->served_for = 0; /* rank 0 owns every MAESTRO_RANK_ANY agent */
    p->served = s->served;
    return;
  }
  p->flags |= PROF_AGENT_F_ANY_OWNER;
  p->nranks = rt->nranks;
  for (int r = 0; r < rt->nranks; r++) {
    uint64_t n = 0;
    maestro_agent_rank_fires(a, r, &n);
    if (r < PROF_RANK_FIRES)
      p->rank_fires[r] = n;
    else
      p->rank_fires_rest += n;
  }
}

static int collect_agents(struct maestro_runtime *rt, struct prof_agent_rec *r, int cap) {
  int n = 0;
  pthread_mutex_lock(&rt->graphs_lock);
  for (struct maestro_graph *g = rt->graphs; g; g = g->next) {
    if (g->state != GRAPH_STARTED) continue;
    int settled = 0; /* across ranks: its outcome agreed, its counts final */
    if (g->dist) {
      pthread_mutex_lock(&g->mu);
      settled = g->settled;
      pthread_mutex_unlock(&g->mu);
    }
    for (int i = 0; i < g->nagents; i++, n++) {
      if (n >= cap) continue;
      const struct maestro_agent *a = g->agents[i];
      struct prof_agent_rec *p = &r[n];
      maestro_agent_stats_t s;
      maestro_agent_stats(a, &s);
      memset(p, 0, sizeof *p);
      snprintf(p->name, sizeof p->name, "%s", a->name);
      snprintf(p->graph, sizeof p->graph, "%s", g->name);
      p->place_kind = (int32_t)s.place_kind;
      p->place_index = s.place_index;
      p->queue_depth = agent_queue_depth(a);
      p->state = agent_state(a, p->queue_depth);
      int cpu, dev;
      agent_placed(a, &cpu, &dev);
      p->cpu_place = cpu;
      p->dev_place = dev;
      p->flags =
          (cpu >= 0 ? PROF_AGENT_F_CPU_PLACED : 0) | (dev >= 0 ? PROF_AGENT_F_DEV_PLACED : 0);
      if (agent_hybrid(a)) {
        p->flags |= PROF_AGENT_F_HYBRID;
        agent_estimates(a, &s, p);
      }
      p->served_for = -1;
      agent_ranks(a, &s, settled, p);
      p->fires = s.fires;
      p->msgs_in = s.msgs_in;
      p->msgs_out = s.msgs_out;
      p->bytes_in = s.bytes_in;
      p->bytes_out = s.bytes_out;
      p->busy_ns = s.busy_ns;
      p->failures = s.failures;
      p->retries = s.retries;
      p->dead_letters = s.dead_letters;
      p->fallbacks = s.fallbacks;
      p->device_fires = s.device_fires;
      p->cpu_fires = s.cpu_fires;
      p->failovers = s.failovers;
    }
  }
  pthread_mutex_unlock(&rt->graphs_lock);
  return n;
}

/* The places collector (base/stats_rec.h): adds to each place's record the
 * agents of running graphs placed there (agent_placed: a hybrid agent on its
 * CPU place and on its device place). The records come CPU places
 * first, then devices (found by their kind and index). */
static int collect_places(struct maestro_runtime *rt, struct prof_place_rec *r, int cap) {
  pthread_mutex_lock(&rt->graphs_lock);
  int ncpu = rt->ncpu;
  for (struct maestro_graph *g = rt->graphs; g; g = g->next) {
    if (g->state != GRAPH_STARTED) continue;
    for (int i = 0; i < g->nagents; i++) {
      const struct maestro_agent *a = g->agents[i];
      int pstate = LOAD(a->st.pstate);
      if (pstate == PROF_AGENT_FINISHED || pstate == PROF_AGENT_FAILED) continue;
      /* Where it is placed, not where it last fired: a hybrid agent
       * counts on its CPU place and on its device place. */
      int cpu, dev;
      agent_placed(a, &cpu, &dev);
      if (cpu >= 0 && cpu < ncpu && cpu < cap && r[cpu].kind == MAESTRO_PLACE_CPU &&
          r[cpu].index == cpu)
        r[cpu].agents++;
      int k = ncpu + dev;
      if (dev >= 0 && k < cap && r[k].kind == MAESTRO_PLACE_DEVICE && r[k].index == dev)
        r[k].agents++;
    }
  }
  pthread_mutex_unlock(&rt->graphs_lock);
  return 0; /* it only adds to the places the publisher laid out */
}

static void end_name(char *dst, size_t n, const struct maestro_agent *a, const char *port) {
  if (a)
    snprintf(dst, n, "%s.%s", a->name, port);
  else
    snprintf(dst, n, "host");
}

static int collect_channels(struct maestro_runtime *rt, struct prof_chan_rec *r, int cap) {
  int n = 0;
  pthread_mutex_lock(&rt->graphs_lock);
  for (struct maestro_graph *g = rt->graphs; g; g = g->next) {
    if (g->state != GRAPH_STARTED) continue;
    for (struct chan *c = g->chans; c; c = c->next, n++) {
      if (n >= cap) continue;
      struct prof_chan_rec *p = &r[n];
      memset(p, 0, sizeof *p);
      snprintf(p->graph, sizeof p->graph, "%s", g->name);
      end_name(p->from, sizeof p->from, c->prod, c->prod ? c->prod->out[c->prod_port].name : "");
      end_name(p->to, sizeof p->to, c->cons, c->cons ? c->cons->in[c->cons_port].name : "");
      /* A channel across ranks: its other end is named by its rank. */
      if (c->remote) snprintf(c->prod ? p->to : p->from, sizeof p->to, "rank %d", c->remote_rank);
      p->capacity = (uint32_t)c->capacity;
      p->depth = (uint32_t)ring_count(&c->ring);
      p->msgs = LOAD(c->msgs);
      p->bytes = LOAD(c->bytes);
      p->bytes_h2d = LOAD(c->h2d);
      p->bytes_d2h = LOAD(c->d2h);
      p->bytes_d2d = LOAD(c->d2d);
    }
  }
  pthread_mutex_unlock(&rt->graphs_lock);
  return n;
}

static const struct stats_collector core_collector = {.name = "core",
                                                      .places = collect_places,
                                                      .agents = collect_agents,
                                                      .channels = collect_channels};

int core_stats_register(struct maestro_runtime *rt) {
  return stats_register(rt, &core_collector);
}

/* ---- DOT ---- */

static const char *const cpu_colors[] = {"#a6cee3", "#b2df8a", "#fdbf6f", "#cab2d6",
                                         "#ffff99", "#fb9a99", "#8dd3c7", "#bebada"};
static const char *const dev_colors[] = {"#e31a1c", "#ff7f00", "#6a3d9a", "#33a02c"};

static const char *place_color(const struct maestro_agent *a, char *label, size_t n) {
  int kind = LOAD(a->st.place_kind), index = LOAD(a->st.place_index);
  if (index < 0) {
    /* Not fired yet: say where it is meant to go. */
    if (a->affinity.pref == MAESTRO_ON_CPU && a->affinity.index >= 0) {
      kind = MAESTRO_PLACE_CPU;
      index = a->affinity.index;
    } else if (a->affinity.pref == MAESTRO_ON_DEVICE && a->affinity.index >= 0) {
      kind = MAESTRO_PLACE_DEVICE;
      index = a->affinity.index;
    }
  }
  if (index < 0) {
    snprintf(label, n, "unplaced");
    return "#ffffff";
  }
  if (kind == MAESTRO_PLACE_DEVICE) {
    snprintf(label, n, "device %d", index);
    return dev_colors[index % 4];
  }
  snprintf(label, n, "cpu %d", index);
  return cpu_colors[index % 8];
}

/* Writes `s` escaped for a DOT double-quoted string. */
static void dot_str(FILE *f, const char *s) {
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') fputc('\\', f);
    fputc(*s, f);
  }
}

int maestro_graph_write_dot(const maestro_graph_t *g, FILE *f) {
  if (!g || !f)
    return err_set(MAESTRO_EINVAL, "maestro_graph_write_dot: %s is NULL", g ? "f" : "g");
  fprintf(f, "digraph \"");
  dot_str(f, g->name);
  fprintf(f, "\" {\n  rankdir=LR;\n  node [shape=record, style=filled, fontname=\"Helvetica\"];\n");
  for (int i = 0; i < g->nagents; i++) {
    const struct maestro_agent *a = g->agents[i];
    char where[32];
    const char *color = place_color(a, where, sizeof where);
    fprintf(f, "  a%d [label=\"{{", i);
    for (int p = 0; p < a->n_in; p++) {
      fprintf(f, "%s<i%d> ", p ? "|" : "", p);
      dot_str(f, a->in[p].name);
      fprintf(f, " : %s", maestro_type_name(a->in[p].type));
    }
    fprintf(f, "}|");
    dot_str(f, a->name);
    fprintf(f, "\\n%s%s%s|{", where,
            (a->kernel || a->cl) ? (a->cpu  ? ", hybrid"
                                    : a->cl ? ", cl"
                                            : ", kernel")
                                 : "",
            (a->flags & MAESTRO_STATELESS) ? ", stateless" : "");
    for (int p = 0; p < a->n_out; p++) {
      fprintf(f, "%s<o%d> ", p ? "|" : "", p);
      dot_str(f, a->out[p].name);
      fprintf(f, " : %s", maestro_type_name(a->out[p].type));
    }
    fprintf(f, "}}\", fillcolor=\"%s\"];\n", color);
  }
  int host = 0;
  for (const struct chan *c = g->chans; c; c = c->next) {
    int id = host++;
    if (!c->prod) fprintf(f, "  hin%d [label=\"host\", shape=cds, fillcolor=\"#eeeeee\"];\n", id);
    if (!c->cons) fprintf(f, "  hout%d [label=\"host\", shape=cds, fillcolor=\"#eeeeee\"];\n", id);
    if (c->prod)
      fprintf(f, "  a%d:o%d -> ", c->prod->id, c->prod_port);
    else
      fprintf(f, "  hin%d -> ", id);
    if (c->cons)
      fprintf(f, "a%d:i%d", c->cons->id, c->cons_port);
    else
      fprintf(f, "hout%d", id);
    fprintf(f, " [label=\"%d\"];\n", c->capacity);
  }
  fprintf(f, "}\n");
  return ferror(f) ? err_set(MAESTRO_ESYS, "maestro_graph_write_dot: write failed") : MAESTRO_OK;
}
