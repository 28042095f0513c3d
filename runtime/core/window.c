/* The windowed runner, for agents whose firings may overlap: stateless
 * agents (several CPU workers fire them at once) and agents with a kernel
 * (several launches in flight per device, completing asynchronously).
 *
 * Firings take their inputs in order under the agent's lock, each into a
 * slot of a bounded window (WIN_SLOTS); they run without the lock; whoever
 * holds the lock next emits the finished slots in input order. So outputs
 * keep input order whatever the firing times, and at most WIN_SLOTS firings
 * are between take and emit.
 *
 * Lanes: the agent's own task is CPU lane 0 (producers notify it); a
 * stateless agent has more CPU lanes, woken while input is waiting; an agent
 * with a kernel has one lane per device, run by that device's worker
 * (maestro-devN), which launches and emits. Placement is decided per firing
 * (choose_place): explicit affinity, then earliest expected finish from a
 * per-(agent, place kind, size bucket) history plus the transfer cost. */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "core/run.h"
#include "base/runtime.h"
#include "mem/buf.h"
#include "mem/replica.h"
#include "core/trace.h"
#include "base/stats_rec.h"
#include "sched/perf.h"
#include "sched/place.h"
#include "core/dist.h"

#define WIN_SLOTS         64
#define WIN_DEV_INFLIGHT  4
#define WIN_MAX_CPU_LANES 16
/* choose_place: no place for the next firing yet (a completion decides). */
#define WIN_WAIT        (-2)
#define WIN_ANY_CREDITS DIST_ANY_CREDITS /* firings in flight to one other rank, at most */

enum { SLOT_FREE = 0, SLOT_BUSY, SLOT_DONE, SLOT_FALLBACK, SLOT_FAILOVER };

struct slot {
  struct maestro_agent *a;
  int state, status;
  int kind, index; /* where it fired */
  int rank;        /* MAESTRO_RANK_ANY: the other rank it was sent to, else -1 */
  uint64_t seq, bytes, flow_in;
  uint64_t t0, t1;    /* when it ran (host clock), for the trace */
  maestro_buf_t **in; /* n_in */
  uint64_t *inseq;    /* n_in: each message's sequence on its port */
  struct chan **inch; /* n_in: the channel each came from */
  uint64_t stale;     /* bit p: input p was not valid on the launch's device */
  uint64_t tried;     /* device places this firing failed on (failover) */
  int failover_dev;   /* SLOT_FAILOVER: the device place that takes it next */
  struct staged *out;
  int nout;
  char *why; /* a failed firing's message, read where it failed (emit may run elsewhere) */
  struct staged inl[FIRE_INLINE_OUT];
  struct trace_choice ch; /* traced: how its place was chosen (ch.n 0: not hybrid) */
};

struct lane {
  struct sched_task task;
};

struct window {
  pthread_mutex_t mu;
  uint64_t next_emit; /* the next slot sequence to emit */
  int *dev_inflight;  /* per device */
  int fallbacks;      /* slots waiting for a CPU fallback */
  int failovers;      /* slots waiting for another device (SLOT_FAILOVER) */
  int finished;
  struct slot slots[WIN_SLOTS];
  struct lane *cpu_lanes; /* extra CPU lanes (stateless) */
  int ncpu_lanes, next_lane;
  struct lane *dev_lanes;        /* one per device, NULL without a kernel */
  int cpu_ok, dev_ok, dev_fixed; /* dev_fixed: the one device allowed, or -1 */
  uint64_t dev_mask;             /* device places its implementations run on */
  int serial;            /* stateful, and a device place runs its CPU code: one firing at a time */
  unsigned host_out;     /* bit j: output j is read on the host (place_submit) */
  struct chan **host_ch; /* n_out: the channel whose d2h bytes output j's read counts */
  int eager;
  atomic_int cpu_inflight; /* CPU firings running (its CPU queue, for placement) */
  /* Performance models (sched/perf.h): the CPU implementation's, and each
   * device place's (shared by places of one architecture). */
  struct perf_hist *ph_cpu;
  struct perf_hist **ph_dev; /* rt->ndev, NULL where it cannot run */
  uint64_t lane_runs;        /* win_task_run calls, every lane (the lock held) */
  /* MAESTRO_RANK_ANY on rank 0 (win_any_agent): per rank, its firings sent
   * and not back yet, at most its credits, and its measured time per
   * firing there (0 until one came back). */
  int any;
  int *r_inflight, *r_credits;
  double *r_ns;
  double *r_free; /* rt_now_ns() when a place of that rank is expected free */
  /* Per rank, the measured way there and back of a firing (its round trip
   * less its wait for a place there and its run there: the links, both
   * progress threads' passes, the serving rank's wake-up), 0 until one came
   * back: the links' latency measured at start misses all but the first. */
  double *r_trip;
  uint64_t *r_fires;     /* answered (maestro_agent_rank_fires) */
  uint64_t *r_dev_fires; /* of those, the ones that ran on a device there */
  double pick_free;      /* choose_rank: r_free of the rank it chose, once sent */
};

/* A copy of this thread's message for a failed firing, or NULL when empty. */
static char *keep_error(void) {
  const char *m = maestro_last_error();
  return m[0] ? strdup(m) : NULL;
}

/* The performance model of agent `a`'s implementation on a place (NULL on
 * a bad place or out of memory: placement then treats it as unmeasured). */
struct perf_hist *win_model(struct maestro_agent *a, maestro_place_kind_t kind, int index) {
  struct maestro_runtime *rt = a->g->rt;
  char arch[PERF_NAME_MAX];
  if (perf_place_arch(rt, kind, index, arch, sizeof arch) != MAESTRO_OK) return NULL;
  /* One key per agent: the architecture tells its implementations apart
   * (a CPU core, an OpenCL device, another backend's place), and the places
   * not chosen are those of the same key (perf_should_explore). */
  return perf_hist_get(rt->perf, a->name, arch);
}

static void win_destroy(struct maestro_agent *a, struct window *w);

/* A window for `a` (its slots, lanes, device queues and models), or NULL
 * with the error set. */
static struct window *win_new(struct maestro_agent *a) {
  struct maestro_runtime *rt = a->g->rt;
  struct window *w = calloc(1, sizeof *w);
  if (!w) {
    err_set(MAESTRO_ENOMEM, "maestro_graph_start: out of memory");
    return NULL;
  }
  pthread_mutex_init(&w->mu, NULL);
  w->eager = rt->cfg.sched && strcmp(rt->cfg.sched, "eager") == 0;
  w->dev_mask = place_impls_places(a->impls);
  w->dev_ok = w->dev_mask != 0 && a->affinity.pref != MAESTRO_ON_CPU && rt->ndev > 0;
  w->serial = !(a->flags & MAESTRO_STATELESS) && place_impls_run_cpu_code(a->impls);
  w->cpu_ok = a->cpu != NULL && (a->affinity.pref != MAESTRO_ON_DEVICE || !w->dev_ok);
  w->dev_fixed =
      a->affinity.pref == MAESTRO_ON_DEVICE && a->affinity.index >= 0 ? a->affinity.index : -1;
  int oom = 0;
  for (int i = 0; i < WIN_SLOTS && !oom; i++) {
    struct slot *s = &w->slots[i];
    s->a = a;
    s->in = calloc((size_t)a->n_in + 1, sizeof *s->in);
    s->inseq = calloc((size_t)a->n_in + 1, sizeof *s->inseq);
    s->inch = calloc((size_t)a->n_in + 1, sizeof *s->inch);
    oom = !s->in || !s->inseq || !s->inch;
  }
  if (!oom && w->dev_ok) {
    /* Outputs whose consumer can only run on a CPU, or is the host: the
     * launch reads them back right behind the kernel. */
    w->host_ch = calloc((size_t)a->n_out + 1, sizeof *w->host_ch);
    oom = !w->host_ch;
    for (int j = 0; !oom && j < a->n_out; j++)
      for (int k = 0; k < a->out[j].nch && !w->host_ch[j]; k++) {
        struct chan *c = a->out[j].ch[k];
        if (c->cons && c->cons->impls) continue; /* it may run on a device */
        w->host_ch[j] = c;
        if (j < 32) w->host_out |= 1u << j;
      }
  }
  if (!oom && w->dev_ok) {
    w->dev_inflight = calloc((size_t)rt->ndev, sizeof *w->dev_inflight);
    w->dev_lanes = calloc((size_t)rt->ndev, sizeof *w->dev_lanes);
    oom = !w->dev_inflight || !w->dev_lanes;
    for (int d = 0; !oom && d < rt->ndev; d++) {
      struct sched_task *t = &w->dev_lanes[d].task;
      atomic_init(&t->state, TASK_IDLE);
      t->owner = a;
      t->dev = d;
      t->pin = -1;
      t->home = 0;
      t->active = &a->g->active;
    }
  }
  if (!oom && w->cpu_ok && (a->flags & MAESTRO_STATELESS) && rt->ncpu > 1) {
    w->ncpu_lanes = rt->ncpu - 1 < WIN_MAX_CPU_LANES ? rt->ncpu - 1 : WIN_MAX_CPU_LANES;
    w->cpu_lanes = calloc((size_t)w->ncpu_lanes, sizeof *w->cpu_lanes);
    oom = !w->cpu_lanes;
    for (int i = 0; !oom && i < w->ncpu_lanes; i++) {
      struct sched_task *t = &w->cpu_lanes[i].task;
      atomic_init(&t->state, TASK_IDLE);
      t->owner = a;
      t->dev = -1;
      t->pin = a->task.pin;
      t->home = (a->task.home + 1 + i) % rt->ncpu;
      t->active = &a->g->active;
    }
  }
  if (!oom && win_any_agent(a) && rt->rank == 0 && a->g->links) {
    w->any = 1;
    w->r_inflight = calloc((size_t)rt->nranks, sizeof *w->r_inflight);
    w->r_credits = calloc((size_t)rt->nranks, sizeof *w->r_credits);
    w->r_ns = calloc((size_t)rt->nranks, sizeof *w->r_ns);
    w->r_free = calloc((size_t)rt->nranks, sizeof *w->r_free);
    w->r_trip = calloc((size_t)rt->nranks, sizeof *w->r_trip);
    w->r_fires = calloc((size_t)rt->nranks, sizeof *w->r_fires);
    w->r_dev_fires = calloc((size_t)rt->nranks, sizeof *w->r_dev_fires);
    oom = !w->r_inflight || !w->r_credits || !w->r_ns || !w->r_free || !w->r_trip || !w->r_fires ||
          !w->r_dev_fires;
    /* Credits: enough to keep every place of a rank busy while the next
     * firings travel, few enough that its memory stays bounded. Four per
     * place: the next firings are sent only when a lane of this agent runs
     * here, after its own firing, so a rank's queue must last a firing here
     * and the way back; choose_rank sends no more than would end first. */
    for (int r = 0; !oom && r < rt->nranks; r++) {
      int c = 4 * a->g->links[r].lanes;
      w->r_credits[r] = r == rt->rank ? 0 : c < 4 ? 4 : c > WIN_ANY_CREDITS ? WIN_ANY_CREDITS : c;
    }
  }
  /* Performance models, looked up once (perf_hist_get may read a file). */
  if (!oom && w->cpu_ok) w->ph_cpu = win_model(a, MAESTRO_PLACE_CPU, 0);
  if (!oom && w->dev_ok) {
    w->ph_dev = calloc((size_t)rt->ndev, sizeof *w->ph_dev);
    oom = !w->ph_dev;
    for (int d = 0; !oom && d < rt->ndev; d++)
      if (w->dev_mask >> d & 1) w->ph_dev[d] = win_model(a, MAESTRO_PLACE_DEVICE, d);
  }
  if (oom) {
    win_destroy(a, w);
    err_set(MAESTRO_ENOMEM, "maestro_graph_start: out of memory");
    return NULL;
  }
  return w;
}

int win_setup(struct maestro_agent *a) {
  struct window *w = win_new(a);
  if (!w) return MAESTRO_ENOMEM;
  a->win = w;
  return MAESTRO_OK;
}

void win_free(struct maestro_agent *a) {
  win_destroy(a, a->win);
  a->win = NULL;
}

static void win_destroy(struct maestro_agent *a, struct window *w) {
  if (!w) return;
  for (int i = 0; i < WIN_SLOTS; i++) {
    struct slot *s = &w->slots[i];
    if (s->in && s->state != SLOT_FREE) {
      for (int p = 0; p < a->n_in; p++)
        maestro_buf_release(s->in[p]);
      for (int k = 0; k < s->nout; k++)
        maestro_buf_release(s->out[k].b);
      if (s->out && s->out != s->inl) free(s->out);
    }
    free(s->why);
    free(s->in);
    free(s->inseq);
    free(s->inch);
  }
  free(w->host_ch);
  free(w->dev_inflight);
  free(w->dev_lanes);
  free(w->ph_dev);
  free(w->cpu_lanes);
  free(w->r_inflight);
  free(w->r_credits);
  free(w->r_ns);
  free(w->r_free);
  free(w->r_trip);
  free(w->r_fires);
  free(w->r_dev_fires);
  pthread_mutex_destroy(&w->mu);
  free(w);
}

/* How many times as long as the chosen place's a place's estimate is (1
 * when either is unknown). */
static double slower(double place_ns, double chosen_ns) {
  return place_ns > 0 && chosen_ns > 0 ? place_ns / chosen_ns : 1.0;
}

/* h's model for `bytes` is calibrated, or far slower than another place's
 * (perf_settled): it need not be measured more before it is trusted. */
static int settled(struct window *w, int ndev, struct perf_hist *h, uint64_t bytes) {
  if (perf_settled(h, bytes, w->ph_cpu)) return 1;
  for (int d = 0; d < ndev; d++)
    if ((w->dev_mask >> d & 1) && perf_settled(h, bytes, w->ph_dev[d])) return 1;
  return 0;
}

/* Where the next firing should go: -1 for a CPU lane, a device, or
 * WIN_WAIT (the lock held). */
static int pick_place(struct maestro_agent *a, struct window *w, int my_dev, uint64_t bytes,
                      maestro_buf_t *const *peek);

static int choose_place(struct maestro_agent *a, struct window *w, int my_dev) {
  if (!w->dev_ok) return -1;
  if (w->dev_fixed >= 0) return w->dev_fixed;
  maestro_buf_t *peek[8] = {0};
  uint64_t bytes = 0;
  if (w->cpu_ok && !w->eager)
    for (int p = 0; p < a->n_in; p++) {
      struct chan *c = run_port_peek(&a->in[p]);
      maestro_buf_t *b = c ? ring_peek(&c->ring) : NULL;
      if (!b) continue;
      if (p < 8) peek[p] = b;
      bytes += b->size;
    }
  return pick_place(a, w, my_dev, bytes, peek);
}

/* choose_place for a firing of `bytes` input bytes, `peek` its first 8
 * inputs (NULL where unknown): also where a serving rank places a firing
 * sent to it (win_serve_place). */
static int pick_place(struct maestro_agent *a, struct window *w, int my_dev, uint64_t bytes,
                      maestro_buf_t *const *peek) {
  struct maestro_runtime *rt = a->g->rt;
  /* Read once: the loops below fill and read arrays of this many. */
  const int ndev = atomic_load_explicit(&rt->ndev, memory_order_relaxed);
  if (!w->cpu_ok) { /* device only: the least loaded device, this lane's own on a tie */
    int best = my_dev >= 0 && (w->dev_mask >> my_dev & 1) ? my_dev : -1;
    for (int d = 0; d < ndev; d++)
      if ((w->dev_mask >> d & 1) && (best < 0 || w->dev_inflight[d] < w->dev_inflight[best]))
        best = d;
    return best;
  }
  if (w->eager) {
    for (int k = 0; k < ndev; k++) {
      int d = my_dev >= 0 ? (my_dev + k) % ndev : k;
      if ((w->dev_mask >> d & 1) && w->dev_inflight[d] < WIN_DEV_INFLIGHT) return d;
    }
    return -1;
  }
  /* dmda: the earliest expected finish over every place, each counting its
   * queue (this agent's firings there not done yet) and the cost of moving
   * every input that is not valid there. A place whose model is not
   * calibrated yet gets a firing whenever it has none running, so that it
   * is measured one firing at a time (an unknown place might be 8x slower:
   * filling its queue before the first result would pay that 8x several
   * times over), and is compared on the samples it has meanwhile; one
   * found far slower than another place stops early (perf_settled). Now and
   * then a place not chosen is measured again (perf_should_explore), so
   * that a wrong model (a slow first firing) does not stay wrong. */
  double cpu_ns, dev_ns[PLACE_MAX_DEVICES];
  int dev_cal[PLACE_MAX_DEVICES];
  int cpu_queue = atomic_load_explicit(&w->cpu_inflight, memory_order_relaxed);
  int cpu_cal = perf_estimate(w->ph_cpu, bytes, &cpu_ns), all_cal = cpu_cal;
  for (int d = 0; d < ndev; d++) {
    dev_ns[d] = -1;
    dev_cal[d] = 1;
    if (w->dev_mask >> d & 1)
      all_cal &= dev_cal[d] = perf_estimate(w->ph_dev[d], bytes, &dev_ns[d]);
  }
  if (!all_cal) {
    /* Of the places to measure that have nothing running, the one with the
     * fewest samples: the places are measured in turn, so that the early
     * stop can compare them soon. On a tie, the one that looks faster
     * (the CPU when neither is measured): a place is dismissed on one far
     * slower sample once another has two (perf_settled), so the faster one
     * gets its second sample first and the slower one no second at all.
     * Devices of one architecture share a model: while one of them runs a
     * firing, another one's first firing would only measure it again. */
    int pick = -2;
    uint64_t fewest = UINT64_MAX;
    double pick_ns = 0;
    if (!cpu_cal && !settled(w, ndev, w->ph_cpu, bytes) && cpu_queue == 0) {
      pick = -1;
      fewest = perf_samples(w->ph_cpu, bytes);
      pick_ns = cpu_ns;
    }
    for (int d = 0; d < ndev; d++) {
      if (!(w->dev_mask >> d & 1) || dev_cal[d]) continue;
      uint64_t n = perf_samples(w->ph_dev[d], bytes);
      int busy = 0;
      for (int e = 0; e < ndev && !busy; e++)
        busy = (w->dev_mask >> e & 1) && w->ph_dev[e] == w->ph_dev[d] && w->dev_inflight[e] > 0;
      if (busy || n > fewest || (n == fewest && !(dev_ns[d] >= 0 && dev_ns[d] < pick_ns)) ||
          settled(w, ndev, w->ph_dev[d], bytes))
        continue;
      pick = d;
      fewest = n;
      pick_ns = dev_ns[d];
    }
    if (pick != -2) return pick;
  }
  /* Places not measured at all (each has its first firing running) are
   * left out; when that is every place, the next completion decides. */
  double best_cost = cpu_ns >= 0 ? (cpu_queue + 1) * cpu_ns : -1;
  int best = -1;
  for (int d = 0; d < ndev; d++) {
    if (!(w->dev_mask >> d & 1) || dev_ns[d] < 0) continue;
    /* A busy device still counts: waiting for it may beat a slow CPU. */
    double cost = (w->dev_inflight[d] + 1) * dev_ns[d];
    for (int p = 0; p < a->n_in && p < 8; p++)
      if (peek[p]) cost += (double)mem_cost_to_node(peek[p], place_node(rt, d));
    if (best_cost < 0 || cost < best_cost) {
      best_cost = cost;
      best = d;
    }
  }
  if (best_cost < 0) return WIN_WAIT;
  /* A place re-measured costs its own time instead of the best one's: the
   * slower the models say it is, the less often it is explored, so that
   * exploring costs about the same share of the run whatever the gap
   * between places (perf_should_explore_at). */
  double chosen_ns = best < 0 ? cpu_ns : dev_ns[best];
  if (best >= 0 &&
      perf_should_explore_at(w->ph_cpu,
                             perf_explore_stretch(w->ph_cpu, bytes, slower(cpu_ns, chosen_ns))))
    return -1;
  for (int d = 0; d < ndev; d++)
    if (d != best && (w->dev_mask >> d & 1) && w->dev_inflight[d] < WIN_DEV_INFLIGHT &&
        perf_should_explore_at(
            w->ph_dev[d], perf_explore_stretch(w->ph_dev[d], bytes, slower(dev_ns[d], chosen_ns))))
      return d;
  return best;
}

/* The trace's account of a hybrid firing's place `where` (-1 the CPU):
 * the model's estimate and the expected finish of every place, for the
 * bytes it took, as choose_place weighs them (its queue counted, inputs
 * not valid there moved), and why the place won. Only while tracing, with
 * the lock held, before the slot counts in the queue of its place. */
static void choice_note(struct maestro_agent *a, struct window *w, int where, struct slot *s) {
  struct maestro_runtime *rt = a->g->rt;
  struct trace_choice *ch = &s->ch;
  ch->n = 0;
  if (!w->cpu_ok || !w->dev_ok || w->dev_fixed >= 0) return;
  int ndev = rt->ndev < TRACE_CHOICE_PLACES - 1 ? rt->ndev : TRACE_CHOICE_PLACES - 1;
  double ns;
  perf_estimate(w->ph_cpu, s->bytes, &ns);
  int chosen_cal = settled(w, rt->ndev, where < 0 ? w->ph_cpu : w->ph_dev[where], s->bytes);
  int cpu_queue = atomic_load_explicit(&w->cpu_inflight, memory_order_relaxed);
  ch->est[0] = ns < 0 ? -1 : (int64_t)ns;
  ch->cost[0] = ns < 0 ? -1 : (int64_t)((cpu_queue + 1) * ns);
  int64_t best = ch->cost[0];
  for (int d = 0; d < ndev; d++) {
    ch->est[1 + d] = ch->cost[1 + d] = -2;
    if (!(w->dev_mask >> d & 1)) continue;
    perf_estimate(w->ph_dev[d], s->bytes, &ns);
    ch->est[1 + d] = ns < 0 ? -1 : (int64_t)ns;
    double cost = (w->dev_inflight[d] + 1) * (ns > 0 ? ns : 0);
    for (int p = 0; p < a->n_in; p++)
      cost += (double)mem_cost_to_node(s->in[p], place_node(rt, d));
    ch->cost[1 + d] = ns < 0 ? -1 : (int64_t)cost;
    if (ns >= 0 && (best < 0 || ch->cost[1 + d] < best)) best = ch->cost[1 + d];
  }
  ch->n = 1 + ndev;
  ch->chosen = where;
  int64_t mine = ch->cost[where < 0 ? 0 : 1 + where];
  ch->why = w->eager      ? TRACE_WHY_EAGER
            : !chosen_cal ? TRACE_WHY_CALIBRATING
            : mine > best ? TRACE_WHY_EXPLORING
                          : TRACE_WHY_EARLIEST;
}

/* ---- MAESTRO_RANK_ANY: firings on other ranks (core/dist.h) ---- */

int win_any_agent(const struct maestro_agent *a) {
  const struct maestro_runtime *rt = a->g->rt;
  return a->affinity.rank == MAESTRO_RANK_ANY && (a->flags & MAESTRO_STATELESS) && a->cpu &&
         a->n_in > 0 && a->affinity.pref != MAESTRO_ON_DEVICE && a->g->dist && rt->nranks > 1;
}

/* The other rank where the next firing is expected to end first, or -1
 * when here is at least as early (the lock held). Here, the firing goes to
 * `where` (what choose_place chose: -1 a CPU lane, else a device): on a
 * CPU lane it waits for `busy` firings (those running on this agent's
 * lanes, and `reserved` more this lane took) to free one of its lanes; on
 * a device, for the launches in flight there; then it runs for that
 * place's model's time. On rank r it travels (latency, its input bytes at
 * the measured bandwidth; half its measured way there and back once one
 * came back), starts when a place of r is expected free (after the firings
 * sent there before it), runs for the time measured there (the time of the
 * place chosen here until one came back), and its outputs travel back.
 * A model not calibrated yet keeps firings here: they measure it. */
static int choose_rank(struct maestro_agent *a, struct window *w, int reserved, int where) {
  struct maestro_runtime *rt = a->g->rt;
  const struct dist_link *L = a->g->links;
  uint64_t bytes = 0;
  for (int p = 0; p < a->n_in; p++) {
    struct chan *c = run_port_peek(&a->in[p]);
    maestro_buf_t *b = c ? ring_peek(&c->ring) : NULL;
    if (b) bytes += b->size;
  }
  double here_ns;
  struct perf_hist *h = where < 0 ? w->ph_cpu : w->ph_dev[where];
  if (perf_estimate(h, bytes, &here_ns) == 0 || here_ns <= 0) return -1;
  double now = (double)rt_now_ns(), here_end;
  if (where < 0) {
    int busy = atomic_load_explicit(&w->cpu_inflight, memory_order_relaxed) + reserved;
    int rounds = busy / (1 + w->ncpu_lanes); /* whole rounds of the lanes ahead of this firing */
    here_end = now + here_ns * (double)(1 + rounds);
  } else {
    here_end = now + here_ns * (double)(1 + w->dev_inflight[where]);
  }
  double best_end = here_end;
  int best = -1;
  for (int r = 0; r < rt->nranks; r++) {
    if (w->r_inflight[r] >= w->r_credits[r]) continue; /* its credits are spent (or it is here) */
    double ns = w->r_ns[r] > 0 ? w->r_ns[r] : here_ns;
    double way = w->r_trip[r] > 0 ? w->r_trip[r] / 2 : L[r].lat_ns;
    double start = now + way + (w->r_trip[r] > 0 ? 0 : (double)bytes * L[r].ns_per_byte);
    if (w->r_inflight[r] && w->r_free[r] > start) start = w->r_free[r];
    double end = start + ns + way;
    /* This lane is about to run a firing (`reserved`) and sends nothing
     * more until it ends: a rank whose places would run dry before what it
     * sends then arrives is fed now, even if the firing would end a little
     * later there than here (the window holds the outputs in order), but
     * not twice as late: a cheap firing's way there and back would hold up
     * the outputs of many firings here. */
    int feed = reserved && start < now + here_ns + way && end - now < 2 * (here_end - now);
    if (end >= best_end && !feed && !w->r_inflight[r]) {
      /* Idle and not chosen: its figures, from samples that may have been
       * unlucky (a core taken away, a start still under way there), come
       * slowly back to the link's and this rank's, so that it is tried
       * again and measured anew. */
      double floor = 2 * L[r].lat_ns;
      if (w->r_trip[r] > floor) w->r_trip[r] = floor + (w->r_trip[r] - floor) * 0.99;
      if (w->r_ns[r] > here_ns) w->r_ns[r] = here_ns + (w->r_ns[r] - here_ns) * 0.99;
    }
    if (end < best_end || (best < 0 && feed)) {
      best_end = end;
      best = r;
      /* Its places (CPU places and devices) take firings one after
       * another, that many at a time. */
      int places = L[r].lanes + L[r].devs;
      w->pick_free = start + ns / (places > 0 ? places : 1);
    }
  }
  return best;
}

/* Takes the next input set into a slot and sends it to rank `r` (the lock
 * held, inputs ready, room in the window): the slot completes when its
 * outputs come back (win_any_done). */
static void send_remote(struct maestro_agent *a, struct window *w, int r) {
  struct maestro_graph *g = a->g;
  struct slot *s = &w->slots[a->seq % WIN_SLOTS];
  s->seq = a->seq++;
  s->state = SLOT_BUSY;
  s->t0 = rt_now_ns(); /* its round trip (win_any_done) */
  s->t1 = 0;           /* not traced here: it ran on rank r */
  s->ch.n = 0;
  s->tried = 0;
  run_take(a, s->in, s->inseq, s->inch, &s->flow_in);
  s->bytes = 0;
  for (int p = 0; p < a->n_in; p++)
    s->bytes += s->in[p]->size;
  s->rank = r;
  s->kind = MAESTRO_PLACE_CPU;
  s->index = -1;
  w->r_inflight[r]++;
  w->r_free[r] = w->pick_free;
  int rc = g->rt->dist->any_submit(g, a, r, s->seq, s->in);
  if (rc) { /* not sent: a failed firing, for the supervisor */
    w->r_inflight[r]--;
    s->status = rc;
    s->out = NULL;
    s->nout = 0;
    free(s->why);
    s->why = keep_error();
    s->state = SLOT_DONE;
  }
}

/* A running average in which one slow sample (the system took a core
 * away) counts at most twice the average: a rank that looked slow once
 * would otherwise get no firing again, and no sample to correct it. */
static double any_average(double old, double ns) {
  return old > 0 ? (3 * old + (ns < 2 * old ? ns : 2 * old)) / 4 : ns;
}

uint64_t win_rank_fires(const struct maestro_agent *a, int rank) {
  struct window *w = a->win;
  if (!w || !w->any || rank < 0 || rank >= a->g->rt->nranks) return 0;
  pthread_mutex_lock(&w->mu);
  uint64_t n = w->r_fires[rank];
  pthread_mutex_unlock(&w->mu);
  return n;
}

int win_any_done(struct maestro_agent *a, uint64_t seq, int rank, int status,
                 const struct staged *out, int nout, const char *why, uint64_t busy_ns,
                 uint64_t wait_ns, int on_dev) {
  struct window *w = a->win;
  struct slot *s = &w->slots[seq % WIN_SLOTS];
  pthread_mutex_lock(&w->mu);
  int ours = w->any && rank >= 0 && rank < a->g->rt->nranks && s->seq == seq &&
             s->state == SLOT_BUSY && s->rank == rank;
  pthread_mutex_unlock(&w->mu);
  if (!ours) { /* not a firing in flight to that rank */
    for (int k = 0; k < nout; k++)
      maestro_buf_release(out[k].b);
    return -1;
  }
  struct staged *o = s->inl;
  if (nout > FIRE_INLINE_OUT && !(o = malloc((size_t)nout * sizeof *o))) {
    for (int k = 0; k < nout; k++)
      maestro_buf_release(out[k].b);
    status = err_set(MAESTRO_ENOMEM, "agent '%s': out of memory for %d messages from rank %d",
                     a->name, nout, rank);
    why = maestro_last_error();
    nout = 0;
    o = s->inl;
  }
  if (nout) memcpy(o, out, (size_t)nout * sizeof *o);
  char *msg = status < 0 ? strdup(why && why[0] ? why : "") : NULL;
  pthread_mutex_lock(&w->mu);
  s->out = o;
  s->nout = nout;
  s->status = status;
  free(s->why);
  s->why = msg;
  s->state = SLOT_DONE;
  w->r_inflight[rank]--;
  if (status >= 0) {
    w->r_fires[rank]++;
    atomic_fetch_add_explicit(&a->st.remote_fires, 1, memory_order_relaxed);
    if (on_dev) {
      w->r_dev_fires[rank]++;
      atomic_fetch_add_explicit(&a->st.remote_device_fires, 1, memory_order_relaxed);
    }
    if (trace_on(a->g->rt)) /* on the track of that rank: its round trip from here */
      trace_fire_rank(a->g->rt, rank, a->trace_name, seq, s->bytes, s->t0, rt_now_ns());
    double old = w->r_ns[rank], here;
    if (old <= 0 && perf_estimate(w->ph_cpu, s->bytes, &here) && here > 0) old = here;
    w->r_ns[rank] = any_average(old, (double)busy_ns);
    /* The first sample is weighed against the link's latency: the first
     * firings also wait for the graph to start there. */
    double trip = (double)(rt_now_ns() - s->t0) - (double)busy_ns - (double)wait_ns;
    double old_trip = w->r_trip[rank] > 0 ? w->r_trip[rank] : 2 * a->g->links[rank].lat_ns;
    w->r_trip[rank] = any_average(old_trip, trip > 0 ? trip : 1);
  }
  pthread_mutex_unlock(&w->mu);
  sched_notify(a->g->rt, &a->task);
  return 0;
}

/* Takes one input set into slot `s` (the lock held, inputs ready). */
static void take_inputs(struct maestro_agent *a, struct slot *s) {
  s->rank = -1;
  run_take(a, s->in, s->inseq, s->inch, &s->flow_in);
  s->bytes = 0;
  for (int p = 0; p < a->n_in; p++)
    s->bytes += s->in[p]->size;
}

/* Emits finished slots in order (the lock held). */
static void emit(struct maestro_agent *a, struct window *w, struct run_stats *rs) {
  while (a->seq > w->next_emit) {
    struct slot *s = &w->slots[w->next_emit % WIN_SLOTS];
    if (s->state != SLOT_DONE) break;
    if (s->status >= 0 && s->t1 && trace_on(a->g->rt)) {
      /* Traced here, where the id of the first message it sends is known. */
      struct maestro_fire f = {.out = s->out, .nout = s->nout};
      if (s->ch.n)
        trace_fire_choice(a->g->rt, (maestro_place_kind_t)s->kind, s->index, a->trace_name, s->seq,
                          s->bytes, s->t0, s->t1, s->flow_in, run_flow_out(a, &f), &s->ch);
      else
        trace_fire_ns(a->g->rt, (maestro_place_kind_t)s->kind, s->index, a->trace_name, s->seq,
                      s->bytes, s->t0, s->t1, s->flow_in, run_flow_out(a, &f));
    }
    if (s->status >= 0) {
      if (a->stamp) run_stamp(a, s->in, s->seq, s->out, s->nout);
      run_deliver(a, s->in, s->status, s->out, s->nout, rs);
    } else {
      a->fail_rank = s->rank; /* graph_fail names where it failed */
      run_failed(a, s->in, s->inseq, s->status, s->why, rs);
      a->fail_rank = -1;
    }
    free(s->why);
    s->why = NULL;
    if (s->out != s->inl) free(s->out);
    s->out = NULL;
    s->nout = 0;
    s->state = SLOT_FREE;
    w->next_emit++;
  }
}

/* Runs the CPU implementation on slot `s` (without the lock); the slot's
 * state becomes SLOT_DONE under the lock. */
static void exec_cpu(struct maestro_agent *a, struct window *w, struct slot *s, int cpu,
                     struct run_stats *rs) {
  struct maestro_runtime *rt = a->g->rt;
  struct maestro_fire f;
  run_fire_init(&f, a, s->in, s->seq, MAESTRO_PLACE_CPU, cpu);
  atomic_fetch_add_explicit(&w->cpu_inflight, 1, memory_order_relaxed);
  uint64_t t0 = rt_now_ns();
  int bad = a->sized ? run_misfit(a, s->in) : -1;
  int st;
  if (__builtin_expect(bad >= 0, 0)) {
    /* Not fired on: emission hands it to the supervisor (run_failed). */
    st = run_misfit_error(a, s->in, bad);
    rs->failures++;
  } else {
    st = run_fire_exec(a, &f, rs);
  }
  uint64_t t1 = rt_now_ns();
  atomic_fetch_sub_explicit(&w->cpu_inflight, 1, memory_order_relaxed);
  s->t0 = t0;
  s->t1 = t1;
  s->status = st;
  s->kind = MAESTRO_PLACE_CPU;
  s->index = cpu;
  free(s->why); /* a failed launch's message: the CPU's outcome replaces it */
  s->why = st < 0 ? keep_error() : NULL;
  if (f.out == f.inl) {
    memcpy(s->inl, f.inl, (size_t)f.nout * sizeof *f.inl);
    s->out = s->inl;
  } else {
    s->out = f.out;
  }
  s->nout = f.nout;
  /* Its cost decides whether the agent's lanes are worth moving to other cores. */
  sched_task_cost(&a->task, t1 - t0, 1);
  for (int i = 0; i < w->ncpu_lanes; i++)
    atomic_store_explicit(&w->cpu_lanes[i].task.fire_ns,
                          atomic_load_explicit(&a->task.fire_ns, memory_order_relaxed),
                          memory_order_relaxed);
  /* Counted before the slot is done (see win_unlock). */
  run_stats_flush(a, rs, t1 - t0, MAESTRO_PLACE_CPU, cpu);
  sched_account(rt, MAESTRO_PLACE_CPU, cpu, t1 - t0, rs->fires);
  memset(rs, 0, sizeof *rs);
  pthread_mutex_lock(&w->mu);
  perf_record(w->ph_cpu, s->bytes, t1 - t0);
  s->state = SLOT_DONE;
  pthread_mutex_unlock(&w->mu);
}

/* Publishes what this lane counted and releases the lock. Counting before
 * every unlock means that whoever finishes the agent next (under the lock)
 * does so after every count of it is visible: maestro_graph_wait then sees
 * complete stats. */
static void win_unlock(struct maestro_agent *a, struct window *w, struct run_stats *rs) {
  run_stats_flush(a, rs, 0, MAESTRO_PLACE_CPU, -1);
  memset(rs, 0, sizeof *rs);
  pthread_mutex_unlock(&w->mu);
}

static struct sched_task *main_task(struct maestro_agent *a) {
  return &a->task;
}

/* Adds `part` of `total` (rounded down; the last share takes the rest). */
static uint64_t share(uint64_t amount, uint64_t part, uint64_t total, uint64_t *left, int last) {
  uint64_t v = last || !total ? *left : (uint64_t)((double)amount * (double)part / (double)total);
  if (v > *left) v = *left;
  *left -= v;
  return v;
}

/* Per-channel bytes across the boundary from one launch's totals: h2d and
 * d2d to the input channels whose message was not on the device yet (by
 * size), d2h to the channels of the outputs read back for the host. */
static void count_transfers(struct maestro_agent *a, struct window *w, struct slot *s,
                            maestro_buf_t **out, const struct place_result *r) {
  if (r->bytes_h2d || r->bytes_d2d) {
    uint64_t total = 0, h2d = r->bytes_h2d, d2d = r->bytes_d2d;
    int nstale = 0, seen = 0;
    for (int p = 0; p < a->n_in && p < 64; p++)
      if (s->stale >> p & 1) total += s->in[p]->size, nstale++;
    for (int p = 0; p < a->n_in && p < 64; p++) {
      if (!(s->stale >> p & 1)) continue;
      int last = ++seen == nstale;
      uint64_t sz = s->in[p]->size;
      uint64_t hv = share(r->bytes_h2d, sz, total, &h2d, last);
      uint64_t dv = share(r->bytes_d2d, sz, total, &d2d, last);
      if (hv) atomic_fetch_add_explicit(&s->inch[p]->h2d, hv, memory_order_relaxed);
      if (dv) atomic_fetch_add_explicit(&s->inch[p]->d2d, dv, memory_order_relaxed);
    }
  }
  if (r->bytes_d2h && w->host_ch) {
    uint64_t total = 0, left = r->bytes_d2h;
    int n = 0, seen = 0;
    for (int j = 0; j < a->n_out && j < 32; j++)
      if ((w->host_out >> j & 1) && out[j]) total += out[j]->size, n++;
    for (int j = 0; j < a->n_out && j < 32; j++) {
      if (!(w->host_out >> j & 1) || !out[j]) continue;
      uint64_t v = share(r->bytes_d2h, out[j]->size, total, &left, ++seen == n);
      if (v) atomic_fetch_add_explicit(&w->host_ch[j]->d2h, v, memory_order_relaxed);
    }
  }
}

/* Another device place with an implementation for slot s, which failed on
 * device d: one it has not failed on yet (the lock held), or -1. */
static int failover_target(struct maestro_agent *a, struct window *w, struct slot *s, int d) {
  s->tried |= 1ull << d;
  for (int k = 0; k < a->g->rt->ndev && k < 64; k++)
    if ((w->dev_mask >> k & 1) && !(s->tried >> k & 1)) return k;
  return -1;
}

/* Completion of a launch, on the device's completion thread. */
static void launch_done(void *ctx, maestro_buf_t **out, const struct place_result *r) {
  struct slot *s = ctx;
  struct maestro_agent *a = s->a;
  struct maestro_graph *g = a->g;
  struct maestro_runtime *rt = g->rt;
  struct window *w = a->win;
  int d = s->index;
  int fallback = 0, next = -1;
  int st = r->status;
  int nmsg = a->n_out + (st >= 0 ? r->n_more : 0);
  if (st >= 0 && nmsg > FIRE_INLINE_OUT) {
    /* More messages than the slot holds inline: every one is delivered. */
    s->out = malloc((size_t)nmsg * sizeof *s->out);
    if (!s->out) {
      for (int j = 0; j < a->n_out; j++)
        maestro_buf_release(out[j]);
      for (int k = 0; k < r->n_more; k++)
        maestro_buf_release(r->more[k].b);
      st = err_set(MAESTRO_ENOMEM, "agent '%s': out of memory for %d messages", a->name, nmsg);
    }
  } else {
    s->out = s->inl;
  }
  /* The launch's message was set on this thread just before done(). */
  char *why = st < 0 && (!a->cpu || r->impl_failed) ? keep_error() : NULL;
  if (st >= 0) {
    count_transfers(a, w, s, out, r);
    s->nout = 0;
    for (int j = 0; j < a->n_out; j++)
      if (out[j]) s->out[s->nout++] = (struct staged){j, out[j]};
    for (int k = 0; k < r->n_more; k++) /* after its port's first: the order sent */
      s->out[s->nout++] = (struct staged){r->more[k].port, r->more[k].b};
    s->status = st; /* MAESTRO_DONE closes the agent once emitted */
    atomic_fetch_add_explicit(&a->st.device_fires, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->st.fires, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->st.msgs_in, (uint64_t)a->n_in, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->st.bytes_in, s->bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->st.busy_ns, r->busy_ns, memory_order_relaxed);
    atomic_store_explicit(&a->st.place_kind, MAESTRO_PLACE_DEVICE, memory_order_relaxed);
    atomic_store_explicit(&a->st.place_index, d, memory_order_relaxed);
    atomic_store_explicit(&a->st.dev_place, d, memory_order_relaxed);
    sched_account(rt, MAESTRO_PLACE_DEVICE, d, r->busy_ns, 1);
    s->t0 = r->t_start_ns;
    s->t1 = r->t_end_ns > r->t_start_ns ? r->t_end_ns : r->t_start_ns + 1;
  } else {
    s->out = NULL;
    s->nout = 0;
  }
  pthread_mutex_lock(&w->mu);
  w->dev_inflight[d]--;
  if (st >= 0) {
    uint64_t ns = r->t_end_ns > r->t_start_ns ? r->t_end_ns - r->t_start_ns : r->busy_ns;
    perf_record(w->ph_dev[d], s->bytes, ns);
    s->state = SLOT_DONE;
  } else if (!r->impl_failed && (next = failover_target(a, w, s, d)) >= 0) {
    /* The device failed it after taking it (device lost, out of resources
     * at run time): another device's lane launches it (not from here, a
     * backend's completion thread). */
    s->state = SLOT_FAILOVER;
    s->failover_dev = next;
    w->failovers++;
  } else if (a->cpu && !r->impl_failed) {
    s->state = SLOT_FALLBACK; /* a CPU lane runs it */
    w->fallbacks++;
    fallback = 1;
  } else {
    s->status = st;
    s->why = why;
    why = NULL;
    s->state = SLOT_DONE;
    if (r->impl_failed) { /* it ran: its failures were counted where it did */
      atomic_fetch_add_explicit(&a->st.fires, 1, memory_order_relaxed);
      atomic_fetch_add_explicit(&a->st.device_fires, 1, memory_order_relaxed);
      atomic_fetch_add_explicit(&a->st.msgs_in, (uint64_t)a->n_in, memory_order_relaxed);
      atomic_fetch_add_explicit(&a->st.bytes_in, s->bytes, memory_order_relaxed);
    } else
      atomic_fetch_add_explicit(&a->st.failures, 1, memory_order_relaxed);
  }
  pthread_mutex_unlock(&w->mu);
  free(why);
  if (fallback) sched_notify(rt, main_task(a));
  if (next >= 0) sched_notify(rt, &w->dev_lanes[next].task);
  sched_notify(rt, &w->dev_lanes[d].task);
  atomic_fetch_sub(&g->active, 1); /* taken at launch: the graph may go now */
}

/* Launches slot `s` on device `d` (without the lock). */
static void launch(struct maestro_agent *a, struct window *w, struct slot *s, int d, int cpu_index,
                   struct run_stats *rs) {
  struct maestro_graph *g = a->g;
  s->kind = MAESTRO_PLACE_DEVICE;
  s->index = d;
  s->stale = 0;
  for (int p = 0; p < a->n_in && p < 64; p++)
    if (!mem_buf_valid_on(s->in[p], place_node(g->rt, d))) s->stale |= 1ull << p;
  atomic_fetch_add(&g->active, 1);
  int rc = place_submit(g->rt, a->impls, d, s->in, s->seq, w->host_out, launch_done, s);
  if (rc == MAESTRO_OK) return;
  atomic_fetch_sub(&g->active, 1);
  /* Failover: the device refused the launch (build, enqueue, out of
   * resources); another device place with an implementation and room takes
   * it before the CPU implementation does or the firing fails. */
  for (;;) {
    int next = -1;
    pthread_mutex_lock(&w->mu);
    w->dev_inflight[d]--;
    s->tried |= 1ull << d;
    for (int k = 0; k < g->rt->ndev && k < 64 && next < 0; k++)
      if ((w->dev_mask >> k & 1) && !(s->tried >> k & 1) && w->dev_inflight[k] < WIN_DEV_INFLIGHT)
        next = k;
    if (next >= 0) w->dev_inflight[next]++;
    pthread_mutex_unlock(&w->mu);
    if (next < 0) break;
    d = next;
    s->index = d;
    s->stale = 0;
    for (int p = 0; p < a->n_in && p < 64; p++)
      if (!mem_buf_valid_on(s->in[p], place_node(g->rt, d))) s->stale |= 1ull << p;
    atomic_fetch_add(&g->active, 1);
    if (place_submit(g->rt, a->impls, d, s->in, s->seq, w->host_out, launch_done, s) ==
        MAESTRO_OK) {
      atomic_fetch_add_explicit(&a->st.failovers, 1, memory_order_relaxed);
      return;
    }
    atomic_fetch_sub(&g->active, 1);
  }
  if (a->cpu && !(a->flags & MAESTRO_STATELESS)) {
    /* A stateful agent fires its CPU function one firing at a time: not
     * here (a device worker, beside its own CPU lane) but on its CPU lane,
     * which runs fallbacks oldest first. */
    pthread_mutex_lock(&w->mu);
    s->state = SLOT_FALLBACK;
    w->fallbacks++;
    pthread_mutex_unlock(&w->mu);
    sched_notify(g->rt, main_task(a));
    return;
  }
  if (a->cpu) { /* stateless: any worker may fire it */
    rs->fallbacks++;
    exec_cpu(a, w, s, cpu_index, rs);
    return;
  }
  rs->failures++;
  s->status = rc;
  s->why = keep_error(); /* the backend's refusal, set on this thread */
  run_stats_flush(a, rs, 0, MAESTRO_PLACE_CPU, -1);
  memset(rs, 0, sizeof *rs);
  pthread_mutex_lock(&w->mu);
  s->state = SLOT_DONE;
  pthread_mutex_unlock(&w->mu);
}

/* Launches the oldest slot waiting to fail over to this lane's device
 * `dev` (the lock held on entry and on return). Returns 0 when there was
 * none, or the device has no room (its completions wake this lane). */
static int run_failover(struct maestro_agent *a, struct window *w, int dev, struct run_stats *rs) {
  struct slot *s = NULL;
  if (w->dev_inflight[dev] >= WIN_DEV_INFLIGHT) return 0;
  for (uint64_t q = w->next_emit; q < a->seq && !s; q++) {
    struct slot *c = &w->slots[q % WIN_SLOTS];
    if (c->state == SLOT_FAILOVER && c->failover_dev == dev) s = c;
  }
  if (!s) return 0;
  s->state = SLOT_BUSY;
  w->failovers--;
  w->dev_inflight[dev]++;
  win_unlock(a, w, rs);
  atomic_fetch_add_explicit(&a->st.failovers, 1, memory_order_relaxed);
  launch(a, w, s, dev, 0, rs);
  pthread_mutex_lock(&w->mu);
  return 1;
}

/* Runs the oldest slot waiting for a CPU fallback (the lock held on entry
 * and on return). Returns 0 when there was none. */
static int run_fallback(struct maestro_agent *a, struct window *w, int cpu_index,
                        struct run_stats *rs) {
  struct slot *s = NULL;
  for (uint64_t q = w->next_emit; q < a->seq && !s; q++)
    if (w->slots[q % WIN_SLOTS].state == SLOT_FALLBACK) s = &w->slots[q % WIN_SLOTS];
  if (!s) return 0;
  s->state = SLOT_BUSY;
  w->fallbacks--;
  win_unlock(a, w, rs);
  atomic_fetch_add_explicit(&a->st.fallbacks, 1, memory_order_relaxed);
  exec_cpu(a, w, s, cpu_index, rs);
  pthread_mutex_lock(&w->mu);
  return 1;
}

int win_task_run(struct maestro_agent *a, struct sched_task *t, int place) {
  struct window *w = a->win;
  struct maestro_graph *g = a->g;
  struct maestro_runtime *rt = g->rt;
  int my_dev = t->dev;
  int cpu_index = my_dev >= 0 ? -1 : place;
  struct run_stats rs = {0};
  int yield = 0;
  struct sched_task *wake_main = NULL;
  /* The last firing looked at was given a place: handed to the lane that
   * runs it, left for the device chosen to have room (its completions wake
   * its lane, and no other lane can do better), or waiting for a place to
   * be measured (WIN_WAIT). */
  int placed = 0;
  pthread_mutex_lock(&w->mu);
  if (a->phase == AG_FINISHED) {
    win_unlock(a, w, &rs);
    return TASK_WAIT;
  }
  atomic_store_explicit(&a->st.pstate, PROF_AGENT_RUNNING, memory_order_relaxed);
  w->lane_runs++;
  int n;
  for (n = 0; n < AGENT_BATCH; n++) {
    /* Device firings that failed run here on a CPU lane (in their slots),
     * oldest first and before new input: the agent's own CPU lane is the
     * only place a stateful agent's CPU function runs. */
    if (my_dev < 0 && w->fallbacks > 0 && run_fallback(a, w, cpu_index, &rs)) continue;
    if (my_dev >= 0 && w->failovers > 0 && run_failover(a, w, my_dev, &rs)) continue;
    emit(a, w, &rs);
    run_note_stop(a);
    if (a->phase != AG_RUN) break;
    if (!run_outputs_free(a, &rs)) break;
    if (a->seq - w->next_emit >= WIN_SLOTS) break;  /* window full: emission wakes us */
    if (w->serial && a->seq != w->next_emit) break; /* one at a time: its emission wakes us */
    if (!run_can_take(a)) break;
    int where = choose_place(a, w, my_dev);
    if (where == WIN_WAIT) {
      placed = 1; /* every place has a firing running: its completion runs a lane */
      break;
    }
    int r;
    /* Another rank, if the firing would end there before it would here
     * (on the CPU or on the device chosen). */
    if (w->any && (r = choose_rank(a, w, 0, where)) >= 0) {
      send_remote(a, w, r);
      continue;
    }
    struct sched_task *hand = NULL;
    if (where < 0 && (my_dev >= 0 || !w->cpu_ok))
      hand = main_task(a); /* a CPU firing, but this is a device lane */
    else if (where >= 0 && where != my_dev)
      hand = &w->dev_lanes[where].task;
    if (where >= 0 && w->dev_inflight[where] >= WIN_DEV_INFLIGHT) {
      /* Waking that device's lane now would find it full and hand the
       * firing back (the lanes would wake each other until a launch ends). */
      placed = 1;
      break;
    }
    if (hand) {
      if (hand != t) {
        win_unlock(a, w, &rs);
        sched_notify(rt, hand);
        pthread_mutex_lock(&w->mu);
      }
      placed = 1;
      break;
    }
    struct slot *s = &w->slots[a->seq % WIN_SLOTS];
    s->seq = a->seq++;
    s->state = SLOT_BUSY;
    s->t1 = 0;
    take_inputs(a, s);
    s->tried = 0;
    if (a->g->tracing) choice_note(a, w, where, s); /* else ch.n stays 0 */
    if (where >= 0) w->dev_inflight[where]++;
    perf_chosen(where >= 0 ? w->ph_dev[where] : w->ph_cpu);
    /* Before this lane runs the firing it took (for a while), the next ones
     * go to other ranks as long as they would end there first. */
    while (where < 0 && w->any && a->seq - w->next_emit < WIN_SLOTS && run_can_take(a) &&
           (r = choose_rank(a, w, 1, -1)) >= 0)
      send_remote(a, w, r);
    /* More waiting: let another CPU lane fire it at the same time. */
    struct sched_task *more = NULL;
    if (where < 0 && w->ncpu_lanes && run_inputs_ready(a, NULL) &&
        a->seq - w->next_emit < WIN_SLOTS) {
      more = &w->cpu_lanes[w->next_lane].task;
      w->next_lane = (w->next_lane + 1) % w->ncpu_lanes;
      if (more == t) more = NULL;
    }
    win_unlock(a, w, &rs);
    if (more) sched_notify(rt, more);
    if (where >= 0)
      launch(a, w, s, where, cpu_index >= 0 ? cpu_index : 0, &rs);
    else
      exec_cpu(a, w, s, cpu_index, &rs);
    pthread_mutex_lock(&w->mu);
  }
  if (n == AGENT_BATCH) yield = 1;
  emit(a, w, &rs);
  /* Closing waits for every slot taken to be emitted. */
  int finished_now = run_wind_down(a, a->seq == w->next_emit && w->fallbacks == 0, &rs);
  if (finished_now && w->any) g->rt->dist->any_over(g, a); /* nothing of it in flight */
  run_end_of_run(a);
  /* Work this lane cannot do (a CPU firing after a device lane emitted).
   * Not when the next firing already has its place: the main lane would
   * only choose the same place and hand it back, and while that device is
   * full the two would wake each other without end. */
  if (!finished_now && !placed && t != main_task(a) && a->phase == AG_RUN && !a->blocked &&
      a->seq - w->next_emit < WIN_SLOTS && run_inputs_ready(a, NULL))
    wake_main = main_task(a);
  int blocked = a->blocked;
  win_unlock(a, w, &rs);
  if (wake_main) sched_notify(rt, wake_main);
  /* Busy time and firings were counted per firing (exec_cpu, launch_done). */
  return run_task_end(a, finished_now, blocked, yield);
}

uint64_t win_lane_runs(struct maestro_agent *a) {
  struct window *w = a->win;
  if (!w) return 0;
  pthread_mutex_lock(&w->mu);
  uint64_t n = w->lane_runs;
  pthread_mutex_unlock(&w->mu);
  return n;
}

int maestro_agent_estimate(const maestro_agent_t *a, maestro_place_kind_t kind, int index,
                           size_t bytes, double *ns) {
  if (!a || !ns)
    return err_set(MAESTRO_EINVAL, "maestro_agent_estimate: %s is NULL", a ? "ns" : "a");
  struct maestro_agent *ag = (struct maestro_agent *)a;
  struct maestro_runtime *rt = ag->g->rt;
  *ns = -1;
  if (kind == MAESTRO_PLACE_CPU) {
    if (index < 0 || index >= rt->ncpu)
      return err_set(MAESTRO_ENODEV, "maestro_agent_estimate: agent '%s': no CPU place %d (%d)",
                     ag->name, index, rt->ncpu);
    if (!ag->cpu)
      return err_set(MAESTRO_ENODEV, "maestro_agent_estimate: agent '%s' has no CPU implementation",
                     ag->name);
  } else if (kind == MAESTRO_PLACE_DEVICE) {
    int n = maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE);
    if (index < 0 || index >= n)
      return err_set(MAESTRO_ENODEV, "maestro_agent_estimate: agent '%s': no device place %d (%d)",
                     ag->name, index, n < 0 ? 0 : n);
    if (ag->g->state == GRAPH_STARTED && !(place_impls_places(ag->impls) >> index & 1))
      return err_set(MAESTRO_ENODEV,
                     "maestro_agent_estimate: agent '%s' has no implementation for device place %d",
                     ag->name, index);
  } else {
    return err_set(MAESTRO_EINVAL, "maestro_agent_estimate: unknown place kind %d", (int)kind);
  }
  struct perf_hist *h = win_model(ag, kind, index);
  if (!h) return MAESTRO_OK; /* no model could be had: not measured */
  perf_estimate(h, bytes, ns);
  return MAESTRO_OK;
}

/* ---- a serving rank's places (core/dist.h) ---- */

struct window *win_serve_new(struct maestro_agent *a) {
  return win_new(a);
}

void win_serve_free(struct maestro_agent *a, struct window *w) {
  win_destroy(a, w);
}

int win_serve_place(struct maestro_agent *a, struct window *w, maestro_buf_t *const *in) {
  maestro_buf_t *peek[8] = {0};
  uint64_t bytes = 0;
  for (int p = 0; p < a->n_in; p++) {
    if (p < 8) peek[p] = in[p];
    bytes += in[p]->size;
  }
  pthread_mutex_lock(&w->mu);
  int where = w->dev_ok ? pick_place(a, w, -1, bytes, peek) : -1;
  if (where >= 0 && w->dev_inflight[where] >= WIN_DEV_INFLIGHT) where = WIN_WAIT;
  if (where >= 0) {
    w->dev_inflight[where]++;
    perf_chosen(w->ph_dev[where]);
  } else if (where == -1) {
    atomic_fetch_add_explicit(&w->cpu_inflight, 1, memory_order_relaxed);
    perf_chosen(w->ph_cpu);
  }
  pthread_mutex_unlock(&w->mu);
  return where == WIN_WAIT ? WIN_SERVE_WAIT : where;
}

void win_serve_ran(struct window *w, int where, uint64_t bytes, uint64_t ns, int ok) {
  pthread_mutex_lock(&w->mu);
  if (where >= 0) {
    w->dev_inflight[where]--;
    if (ok) perf_record(w->ph_dev[where], bytes, ns);
  } else {
    atomic_fetch_sub_explicit(&w->cpu_inflight, 1, memory_order_relaxed);
    if (ok) perf_record(w->ph_cpu, bytes, ns);
  }
  pthread_mutex_unlock(&w->mu);
}
