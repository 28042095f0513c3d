/* The SPMD check at maestro_graph_start: every rank must have declared the
 * same graph (names, ports, channels, affinities, flags). Each rank writes
 * its graph as text, one line per agent, channel and host end; the ranks
 * compare a hash of it, and when the hashes differ rank 0's text is sent to
 * all so that each names its first line that differs; every rank then
 * refuses with the message of the lowest rank that differs. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/mpi/mpi_int.h"
#include "base/error.h"

struct text {
  char *s;
  size_t len, cap;
  int oom;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...) {
  if (t->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
      t->oom = 1;
      return;
    }
    if ((size_t)n < t->cap - t->len) {
      t->len += (size_t)n;
      return;
    }
    size_t cap = (t->cap + (size_t)n + 1) * 2;
    char *s = realloc(t->s, cap);
    if (!s) {
      t->oom = 1;
      return;
    }
    t->s = s;
    t->cap = cap;
  }
}

static void ports(struct text *t, const char *what, int n, const char *const *names,
                  const maestro_type_t *types, const size_t *sizes) {
  put(t, " %s=", what);
  for (int p = 0; p < n; p++)
    put(t, "%s%s:%s:%zu", p ? "," : "", names[p], maestro_type_name(types[p]), sizes[p]);
}

/* The graph as text, one line each, in declaration order. */
static int describe(struct maestro_graph *g, struct text *t) {
  put(t, "graph '%s' with %d agents\n", g->name, g->nagents);
  for (int i = 0; i < g->nagents; i++) {
    struct maestro_agent *a = g->agents[i];
    put(t, "agent '%s':", a->name);
    int n = a->n_in > a->n_out ? a->n_in : a->n_out;
    const char **names = calloc((size_t)n + 1, sizeof *names);
    maestro_type_t *types = calloc((size_t)n + 1, sizeof *types);
    size_t *sizes = calloc((size_t)n + 1, sizeof *sizes);
    if (!names || !types || !sizes) {
      free(names), free(types), free(sizes);
      return MAESTRO_ENOMEM;
    }
    for (int p = 0; p < a->n_in; p++)
      names[p] = a->in[p].name, types[p] = a->in[p].type, sizes[p] = a->in[p].esize;
    ports(t, "in", a->n_in, names, types, sizes);
    for (int p = 0; p < a->n_out; p++)
      names[p] = a->out[p].name, types[p] = a->out[p].type, sizes[p] = a->out[p].esize;
    ports(t, "out", a->n_out, names, types, sizes);
    free(names), free(types), free(sizes);
    put(t, " affinity=%d/%d rank=%d flags=%#x impl=%s%s%s\n", (int)a->affinity.pref,
        a->affinity.index, a->affinity.rank, a->flags, a->cpu ? "cpu" : "",
        a->kernel ? "+kernel" : "", a->cl ? "+cl" : "");
  }
  /* The channel list is newest first, on every rank alike. */
  int k = 0;
  for (struct chan *c = g->chans; c; c = c->next, k++) {
    put(t, "channel %d: ", k);
    if (c->prod)
      put(t, "'%s'.%s", c->prod->name, c->prod->out[c->prod_port].name);
    else
      put(t, "host");
    put(t, " -> ");
    if (c->cons)
      put(t, "'%s'.%s", c->cons->name, c->cons->in[c->cons_port].name);
    else
      put(t, "host");
    put(t, " capacity %d\n", c->capacity);
  }
  return t->oom ? MAESTRO_ENOMEM : MAESTRO_OK;
}

static uint64_t fnv(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

/* Line `*line` (0-based) of `s` where `s` and `r` first differ: copies it
 * into out (at most outn), the same from `r` into rout. 1 if they differ. */
static int first_diff(const char *s, const char *r, int *line, char *out, char *rout, size_t outn) {
  int l = 0;
  for (;;) {
    const char *se = strchr(s, '\n'), *re = strchr(r, '\n');
    size_t sn = se ? (size_t)(se - s) : strlen(s), rn = re ? (size_t)(re - r) : strlen(r);
    if (sn != rn || memcmp(s, r, sn) != 0) {
      snprintf(out, outn, "%.*s", (int)sn, s);
      snprintf(rout, outn, "%.*s", (int)rn, r);
      if (!sn) snprintf(out, outn, "(nothing more)");
      if (!rn) snprintf(rout, outn, "(nothing more)");
      *line = l;
      return 1;
    }
    if (!se || !re) return 0;
    s = se + 1;
    r = re + 1;
    l++;
  }
}

int mpi_graph_same(struct mpi_rt *m, struct maestro_graph *g, MPI_Comm comm) {
  struct text t = {0};
  t.cap = 1024;
  t.s = malloc(t.cap);
  if (!t.s) t.oom = 1;
  int rc = t.oom ? MAESTRO_ENOMEM : describe(g, &t);
  /* Every rank takes part in every step, whatever happened here, so that no
   * rank waits for one that left: a local failure travels as a flag. */
  uint64_t mine[2] = {rc ? 0 : fnv(t.s, t.len), rc ? 1u : 0u};
  uint64_t *all = malloc(sizeof(uint64_t) * 2 * (size_t)m->nranks);
  uint64_t dummy[2];
  MPI_Allgather(mine, 2, MPI_UINT64_T, all ? all : dummy, 2, MPI_UINT64_T, comm);
  int same = 1, broken = !all;
  for (int r = 0; all && r < m->nranks; r++) {
    if (all[2 * r + 1]) broken = 1;
    if (all[2 * r] != all[0]) same = 0;
  }
  int bad = broken;
  MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT, MPI_MAX, comm);
  free(all);
  if (bad) {
    free(t.s);
    return rc ? rc
              : err_set(MAESTRO_ENOMEM,
                        "maestro_graph_start: graph '%s': out of memory on some rank", g->name);
  }
  if (same) {
    free(t.s);
    return MAESTRO_OK;
  }
  /* They differ: rank 0's text to all, each finds its first difference. */
  unsigned long long len0 = m->rank == 0 ? t.len : 0;
  MPI_Bcast(&len0, 1, MPI_UNSIGNED_LONG_LONG, 0, comm);
  char *ref = m->rank == 0 ? t.s : malloc(len0 + 1);
  char *scratch = NULL;
  if (!ref) ref = scratch = calloc(1, 1); /* no memory: compared as empty */
  if (m->rank != 0 && ref != scratch) {
    MPI_Bcast(ref, (int)len0, MPI_CHAR, 0, comm);
    ref[len0] = '\0';
  } else if (m->rank != 0) {
    char *sink = malloc(len0 ? len0 : 1);
    MPI_Bcast(sink, (int)len0, MPI_CHAR, 0, comm);
    free(sink);
  } else {
    MPI_Bcast(t.s, (int)len0, MPI_CHAR, 0, comm);
  }
  char msg[1536] = "", a[600], b[600];
  int line, differs = 0;
  if (m->rank != 0 && first_diff(ref, t.s, &line, a, b, sizeof a)) {
    differs = 1;
    snprintf(msg, sizeof msg,
             "maestro_graph_start: graph '%s' differs between ranks (every rank must declare the "
             "same graph): line %d, rank 0 declares \"%s\" where rank %d declares \"%s\"",
             g->name, line + 1, a, m->rank, b);
  }
  if (ref != t.s) free(ref);
  free(t.s);
  int who = differs ? m->rank : m->nranks;
  MPI_Allreduce(MPI_IN_PLACE, &who, 1, MPI_INT, MPI_MIN, comm);
  if (who >= m->nranks) who = 1; /* hashes differ, texts do not: a collision, refused alike */
  MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, who, comm);
  if (!msg[0])
    snprintf(msg, sizeof msg, "maestro_graph_start: graph '%s' differs between ranks", g->name);
  return err_set(MAESTRO_EGRAPH, "%s", msg);
}
