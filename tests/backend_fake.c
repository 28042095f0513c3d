/* A test-only backend: one fake "device" place whose memory node is host
 * memory allocated apart from the buffers' own bytes, and whose firings run
 * the agent's CPU function on the device's own thread. It plugs into the
 * engine through the two tables of operations (sched/place.h,
 * mem/node.h) and nothing else: registering it is one line
 * (fake_backend_register), and no file of the engine names it.
 *
 * A firing here reads its inputs from the fake memory (copied in through
 * the node's copy_in, which mem/replica.c chose), runs the CPU function on
 * fresh host buffers filled from that memory, and moves its outputs into
 * the fake memory, where they are the only valid replica: a CPU consumer's
 * read brings them back through copy_out. So every message crosses the
 * boundary both ways, as with a discrete GPU. */
#include "backend_fake.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/runtime.h"
#include "mem/buf.h"
#include "mem/node.h"
#include "mem/replica.h"
#include "sched/place.h"

struct fake_mem {
  void *bytes; /* the "device" copy */
  size_t size;
};

struct fake_job {
  struct fake_impl *impl;
  maestro_buf_t **in; /* borrowed until done */
  uint64_t seq;
  place_done_fn done;
  void *ctx;
  struct fake_job *next;
};

struct fake_impl {
  struct fake_dev *dev;
  char *name;
  int n_in, n_out;
  int (*fire_cpu)(void *agent, maestro_buf_t *const *in, uint64_t seq, int dev, maestro_buf_t **out,
                  struct place_msg **more, int *n_more);
  void *agent;
};

struct fake_dev {
  struct maestro_runtime *rt;
  int node, place;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  struct fake_job *head, *tail;
  int stop;
  int second; /* the device of fake_backend_register_second */
};

/* fake_refuse_first: the first fake device refuses every launch. */
static atomic_int refuse_first;
static atomic_ullong refused;

static struct {
  atomic_ullong copies_in, copies_out, bytes_in, bytes_out, firings;
  atomic_llong live;
} stats;

void fake_stats_get(struct fake_stats *s) {
  s->copies_in = atomic_load(&stats.copies_in);
  s->copies_out = atomic_load(&stats.copies_out);
  s->bytes_in = atomic_load(&stats.bytes_in);
  s->bytes_out = atomic_load(&stats.bytes_out);
  s->firings = atomic_load(&stats.firings);
  s->live = atomic_load(&stats.live);
  s->refused = atomic_load(&refused);
}

/* ---- the memory node ---- */

static int node_alloc(void *node, maestro_buf_t *b, int wrap, void **h) {
  (void)node;
  *h = NULL;
  if (wrap) return MAESTRO_OK; /* memory of its own, never the host's */
  struct fake_mem *m = calloc(1, sizeof *m);
  if (!m || !(m->bytes = malloc(b->size ? b->size : 1))) {
    free(m);
    return err_set(MAESTRO_ENOMEM, "fake device: out of memory");
  }
  m->size = b->size;
  atomic_fetch_add(&stats.live, 1);
  *h = m;
  return MAESTRO_OK;
}

static void node_free(void *node, maestro_buf_t *b, void *h, int wrapped) {
  (void)node, (void)b, (void)wrapped;
  struct fake_mem *m = h;
  free(m->bytes);
  free(m);
  atomic_fetch_sub(&stats.live, 1);
}

static int node_copy_in(void *node, void *dh, void *src, void *sh, maestro_buf_t *b, void *use) {
  (void)node, (void)sh, (void)use;
  if (src) return err_set(MAESTRO_EINVAL, "fake device: no direct copies");
  struct fake_mem *m = dh;
  memcpy(m->bytes, b->host, b->size);
  atomic_fetch_add(&stats.copies_in, 1);
  atomic_fetch_add(&stats.bytes_in, b->size);
  return MAESTRO_OK;
}

static int node_copy_out(void *node, void *h, maestro_buf_t *b, int wrapped) {
  (void)node, (void)wrapped;
  struct fake_mem *m = h;
  memcpy(b->host, m->bytes, b->size);
  atomic_fetch_add(&stats.copies_out, 1);
  atomic_fetch_add(&stats.bytes_out, b->size);
  return MAESTRO_OK;
}

static uint64_t node_cost_ns(void *node, int dir, size_t bytes) {
  (void)node, (void)dir;
  return 2000 + bytes / 4;
}

static const struct mem_node_ops fake_node_ops = {
    .alloc = node_alloc,
    .free = node_free,
    .copy_in = node_copy_in,
    .copy_out = node_copy_out,
    .cost_ns = node_cost_ns,
};

/* ---- the place ---- */

/* Replaces host buffer *b by one whose only valid replica is in the
 * device's memory, with the same bytes. */
static int to_device(struct fake_dev *d, maestro_buf_t **b) {
  maestro_buf_t *res;
  void *h;
  size_t n = maestro_buf_size(*b);
  int rc = mem_rep_new_output(d->rt, d->node, n, 0, &res, &h);
  if (rc) return rc;
  if (n) memcpy(((struct fake_mem *)h)->bytes, maestro_buf_cdata(*b), n);
  mem_rep_unpin(res, d->node);
  maestro_buf_release(*b);
  *b = res;
  return MAESTRO_OK;
}

/* Runs one job on the device thread; returns its result through done(). */
static void run_job(struct fake_dev *d, struct fake_job *j) {
  struct fake_impl *im = j->impl;
  struct place_result r = {.status = MAESTRO_OK};
  maestro_buf_t *local[16] = {0}, *out[16] = {0};
  r.t_start_ns = rt_now_ns();
  /* The function reads what is in the device's memory. */
  for (int p = 0; p < im->n_in && r.status == MAESTRO_OK; p++) {
    maestro_buf_t *b = j->in[p];
    struct fake_mem *m = mem_rep_handle(b, d->node);
    r.status = maestro_buf_create(d->rt, b->size, &local[p]);
    if (r.status == MAESTRO_OK && b->size) memcpy(maestro_buf_data(local[p]), m->bytes, b->size);
  }
  struct place_msg *more = NULL;
  int n_more = 0;
  if (r.status == MAESTRO_OK) {
    r.status = im->fire_cpu(im->agent, local, j->seq, d->place, out, &more, &n_more);
    r.impl_failed = r.status < 0;
  }
  for (int p = 0; p < im->n_in; p++) {
    maestro_buf_release(local[p]);
    mem_rep_unpin(j->in[p], d->node);
  }
  /* Results move into the device's memory: their only valid replica. */
  for (int k = 0; k < im->n_out + n_more && r.status >= 0; k++) {
    maestro_buf_t **slot = k < im->n_out ? &out[k] : &more[k - im->n_out].b;
    int rc = *slot ? to_device(d, slot) : MAESTRO_OK;
    if (rc) r.status = rc; /* the place's failure, not the agent's: it may fall back */
  }
  if (r.status < 0) {
    for (int k = 0; k < im->n_out; k++) {
      maestro_buf_release(out[k]);
      out[k] = NULL;
    }
    for (int k = 0; k < n_more; k++)
      maestro_buf_release(more[k].b);
    n_more = 0;
  }
  r.more = more;
  r.n_more = n_more;
  r.t_end_ns = rt_now_ns();
  r.busy_ns = r.t_end_ns - r.t_start_ns;
  atomic_fetch_add(&stats.firings, 1);
  j->done(j->ctx, out, &r);
  free(more);
  free(j->in);
  free(j);
}

static void *dev_main(void *arg) {
  struct fake_dev *d = arg;
  pthread_mutex_lock(&d->lock);
  for (;;) {
    while (!d->head && !d->stop)
      pthread_cond_wait(&d->cond, &d->lock);
    struct fake_job *j = d->head;
    if (!j) break; /* stopping, nothing left */
    d->head = j->next;
    if (!d->head) d->tail = NULL;
    pthread_mutex_unlock(&d->lock);
    run_job(d, j);
    pthread_mutex_lock(&d->lock);
  }
  pthread_mutex_unlock(&d->lock);
  return NULL;
}

static int wants(const struct place_agent_desc *a) {
  return a->fire_cpu && a->n_in > 0 && a->n_in <= 16 && a->n_out <= 16 &&
         a->affinity.pref != MAESTRO_ON_CPU;
}

static int discover_dev(struct maestro_runtime *rt, void **be, int second) {
  struct fake_dev *d = calloc(1, sizeof *d);
  if (!d) return err_set(MAESTRO_ENOMEM, "fake device: out of memory");
  d->rt = rt;
  d->second = second;
  pthread_mutex_init(&d->lock, NULL);
  pthread_cond_init(&d->cond, NULL);
  d->node = mem_node_add(rt, &fake_node_ops, d, 0);
  maestro_place_info_t info = {.kind = MAESTRO_PLACE_DEVICE, .os_index = -1, .numa_node = -1};
  strcpy(info.name, "fake device");
  strcpy(info.platform, "tests");
  d->place = d->node < 0 ? d->node : place_add(rt, &info, d->node);
  if (d->place < 0 || pthread_create(&d->thread, NULL, dev_main, d) != 0) {
    int rc = d->place < 0 ? d->place : err_set(MAESTRO_ESYS, "fake device: no thread");
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->cond);
    free(d);
    return rc;
  }
  *be = d;
  return MAESTRO_OK;
}

static int discover(struct maestro_runtime *rt, void **be) {
  return discover_dev(rt, be, 0);
}

static int discover_second(struct maestro_runtime *rt, void **be) {
  return discover_dev(rt, be, 1);
}

static void fini(struct maestro_runtime *rt, void *be) {
  (void)rt;
  struct fake_dev *d = be;
  pthread_mutex_lock(&d->lock);
  d->stop = 1;
  pthread_cond_signal(&d->cond);
  pthread_mutex_unlock(&d->lock);
  pthread_join(d->thread, NULL);
  pthread_mutex_destroy(&d->lock);
  pthread_cond_destroy(&d->cond);
  free(d);
}

static int prepare(void *be, const struct place_agent_desc *a, uint64_t places, void **impl) {
  *impl = NULL;
  if (!(places & 1)) return MAESTRO_OK;
  struct fake_impl *im = calloc(1, sizeof *im);
  if (!im || !(im->name = strdup(a->name))) {
    free(im);
    return err_set(MAESTRO_ENOMEM, "fake device: agent '%s': out of memory", a->name);
  }
  im->dev = be;
  im->n_in = a->n_in;
  im->n_out = a->n_out;
  im->fire_cpu = a->fire_cpu;
  im->agent = a->agent;
  *impl = im;
  return MAESTRO_OK;
}

static void unprepare(void *be, void *impl) {
  (void)be;
  struct fake_impl *im = impl;
  free(im->name);
  free(im);
}

static int submit(void *be, void *impl, int place, maestro_buf_t *const *in, uint64_t seq,
                  unsigned host_outputs, place_done_fn done, void *ctx) {
  (void)place, (void)host_outputs;
  struct fake_dev *d = be;
  struct fake_impl *im = impl;
  if (!d->second && atomic_load(&refuse_first)) {
    atomic_fetch_add(&refused, 1);
    return err_set(MAESTRO_ENOMEM, "fake device: agent '%s': launch refused (test switch)",
                   im->name);
  }
  struct fake_job *j = calloc(1, sizeof *j);
  maestro_buf_t **copy = calloc((size_t)im->n_in, sizeof *copy);
  if (!j || !copy) {
    free(j);
    free(copy);
    return err_set(MAESTRO_ENOMEM, "fake device: agent '%s': out of memory", im->name);
  }
  /* The inputs are made valid in the device's memory now (a copy in when
   * they are not there yet), pinned until the firing ends. */
  for (int p = 0; p < im->n_in; p++) {
    int rc = mem_rep_acquire(in[p], d->node, NULL);
    if (rc) {
      while (p-- > 0)
        mem_rep_unpin(in[p], d->node);
      free(j);
      free(copy);
      return rc;
    }
    copy[p] = in[p];
  }
  *j = (struct fake_job){.impl = im, .in = copy, .seq = seq, .done = done, .ctx = ctx};
  pthread_mutex_lock(&d->lock);
  if (d->tail)
    d->tail->next = j;
  else
    d->head = j;
  d->tail = j;
  pthread_cond_signal(&d->cond);
  pthread_mutex_unlock(&d->lock);
  return MAESTRO_OK;
}

static const char *arch(void *be, int place) {
  (void)be, (void)place;
  return "fake:test device";
}

static const struct backend_ops fake_backend_ops = {
    .name = "fake",
    .runs_cpu_code = 1,
    .wants = wants,
    .discover = discover,
    .fini = fini,
    .prepare = prepare,
    .unprepare = unprepare,
    .submit = submit,
    .arch = arch,
};

int fake_backend_register(void) {
  static int done;
  if (done) return MAESTRO_OK;
  done = 1;
  return place_backend_register(&fake_backend_ops);
}

/* A second fake device, of a backend of its own (one device per backend). */
static struct backend_ops fake_second_ops;

int fake_backend_register_second(void) {
  static int done;
  if (done) return MAESTRO_OK;
  done = 1;
  fake_second_ops = fake_backend_ops;
  fake_second_ops.name = "fake2";
  fake_second_ops.discover = discover_second;
  return place_backend_register(&fake_second_ops);
}

void fake_refuse_first(int on) {
  atomic_store(&refuse_first, on);
}
