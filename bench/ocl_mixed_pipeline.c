/* mixed_pipeline: CPU produce (1 MiB of f32) -> OpenCL transform (y = 2x)
 * -> CPU verify, messages per second, against a hand-written serial OpenCL
 * loop doing the same work (fill, write, kernel, blocking read, verify).
 * Two runtime sides: "graph" is the real thing (a CPU source agent -> a
 * kernel agent on device 0 -> a CPU verify agent, channels of 4); "kernel
 * agent direct" drives the OpenCL layer alone (a producer thread calls
 * ocl_launch, up to 4 in flight, the main thread verifies in order).
 * Each side's minor page faults in its timed loop (getrusage: the process's,
 * the raw loop's in the same run) show whether the pools reuse memory that
 * is already faulted in: the serial loop reuses two buffers and takes none.
 * Usage: mixed_pipeline [--tiny] [--mib N] (message size, default 1 MiB) */
#include <math.h>
#include <stdatomic.h>
#include <semaphore.h>
#include <sys/resource.h>

#include "ocl_common.h"

enum { DEPTH = 4 };
static size_t N_FLOATS = (size_t)1 << 18; /* --mib: 1 MiB of f32 by default */

static long faults_now(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

/* The faults each side took in the last round (every side is warmed up
 * first: the first round shows the pools filling, not the steady state).
 * The raw loop's count leaves out its setup (buffers created, freed at the
 * end); the others' include everything the round does (the graph sides
 * create and destroy their graph). */
static long flt_raw, flt_zc, flt_cp, flt_gz, flt_gc;
static void flt_note(long *last, long f0) {
  *last = faults_now() - f0;
}

static void produce(float *x, size_t n, unsigned seq) {
  for (size_t j = 0; j < n; j++)
    x[j] = (float)((seq + j) & 1023);
}

static int verify(const float *y, size_t n, unsigned seq) {
  for (size_t j = 0; j < n; j++)
    if (y[j] != 2.0f * (float)((seq + j) & 1023)) return 0;
  return 1;
}

typedef struct {
  maestro_runtime_t *rt;
  ocl_kagent_t *ka;
  done_q_t *q;
  sem_t *slots;
  int msgs;
  maestro_buf_t *ins[DEPTH * 2];
} producer_t;

static void *producer(void *arg) {
  producer_t *p = arg;
  for (int i = 0; i < p->msgs; i++) {
    sem_wait(p->slots);
    maestro_buf_t *in;
    if (maestro_buf_create(p->rt, N_FLOATS * sizeof(float), &in)) exit(1);
    produce(maestro_buf_data(in), N_FLOATS, (unsigned)i);
    p->ins[i % (DEPTH * 2)] = in;
    if (ocl_launch_ex(p->ka, 0, &in, 1u, done_q_cb, p->q)) { /* the host verifies it */
      fprintf(stderr, "launch: %s\n", maestro_last_error());
      exit(1);
    }
  }
  return NULL;
}

static double pipeline(maestro_runtime_t *rt, ocl_kagent_t *ka, int msgs, int *bad) {
  done_q_t q;
  done_q_init(&q);
  sem_t slots;
  sem_init(&slots, 0, DEPTH);
  producer_t p = {rt, ka, &q, &slots, msgs, {0}};
  double t0 = now_s();
  pthread_t th;
  pthread_create(&th, NULL, producer, &p);
  for (int i = 0; i < msgs; i++) {
    maestro_buf_t *out = done_q_pop(&q, NULL);
    if (!verify(maestro_buf_cdata(out), N_FLOATS, (unsigned)i)) (*bad)++;
    maestro_buf_release(out);
    maestro_buf_release(p.ins[i % (DEPTH * 2)]);
    sem_post(&slots);
  }
  pthread_join(th, NULL);
  double t = now_s() - t0;
  sem_destroy(&slots);
  return msgs / t;
}

static double serial_raw(raw_cl_t *r, int msgs, int *bad) {
  cl_int e;
  size_t bytes = N_FLOATS * sizeof(float);
  float *x = malloc(bytes), *y = malloc(bytes);
  cl_mem bx = clCreateBuffer(r->ctx, CL_MEM_READ_ONLY, bytes, NULL, &e);
  cl_mem by = clCreateBuffer(r->ctx, CL_MEM_WRITE_ONLY, bytes, NULL, &e);
  cl_uint cn = (cl_uint)N_FLOATS;
  float a = 2.0f;
  size_t local = 256, global = N_FLOATS;
  clSetKernelArg(r->k, 0, sizeof bx, &bx);
  clSetKernelArg(r->k, 1, sizeof by, &by);
  clSetKernelArg(r->k, 2, sizeof cn, &cn);
  clSetKernelArg(r->k, 3, sizeof a, &a);
  /* The first message pays for the buffers' first touch: the loop's faults
   * are counted from the second on. */
  long f0 = 0;
  double t0 = now_s();
  for (int i = 0; i < msgs; i++) {
    if (i == 1) f0 = faults_now();
    produce(x, N_FLOATS, (unsigned)i);
    clEnqueueWriteBuffer(r->q, bx, CL_FALSE, 0, bytes, x, 0, NULL, NULL);
    clEnqueueNDRangeKernel(r->q, r->k, 1, NULL, &global, &local, 0, NULL, NULL);
    clEnqueueReadBuffer(r->q, by, CL_TRUE, 0, bytes, y, 0, NULL, NULL);
    if (!verify(y, N_FLOATS, (unsigned)i)) (*bad)++;
  }
  double t = now_s() - t0;
  flt_note(&flt_raw, f0);
  clReleaseMemObject(bx);
  clReleaseMemObject(by);
  free(x);
  free(y);
  return msgs / t;
}

/* ---- the same through a graph: produce (CPU) -> x2 (device) -> verify (CPU) ---- */

typedef struct {
  int msgs;
  atomic_int bad;
} graph_state_t;

static int g_produce(maestro_fire_t *f) {
  graph_state_t *st = maestro_fire_state(f);
  uint64_t seq = maestro_fire_seq(f);
  if (seq >= (uint64_t)st->msgs) return MAESTRO_DONE;
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, N_FLOATS * sizeof(float), &b);
  if (rc) return rc;
  produce(maestro_buf_data(b), N_FLOATS, (unsigned)seq);
  return maestro_fire_out(f, 0, b);
}

static int g_verify(maestro_fire_t *f) {
  graph_state_t *st = maestro_fire_state(f);
  if (!verify(maestro_buf_cdata(maestro_fire_in(f, 0)), N_FLOATS, (unsigned)maestro_fire_seq(f)))
    atomic_fetch_add(&st->bad, 1);
  return MAESTRO_OK;
}

static double graph_pipeline(maestro_runtime_t *rt, int msgs, int *bad) {
  static const maestro_port_t in[] = {{"in", MAESTRO_F32, 0}};
  static const maestro_port_t out[] = {{"out", MAESTRO_F32, 0}};
  static const maestro_karg_t args[] = {MAESTRO_KARG_IN(0), MAESTRO_KARG_OUT(0),
                                        MAESTRO_KARG_COUNT(0), MAESTRO_KARG_F32(2.0f)};
  static const maestro_kernel_t k = {
      .source = SCALE_SRC, .name = "scale", .args = args, .n_args = 4, .range_port = 0};
  graph_state_t st = {msgs, 0};
  maestro_graph_t *g;
  maestro_agent_t *a, *b, *c;
  if (maestro_graph_create(rt, "mixed", &g) ||
      maestro_agent_add(g,
                        &(maestro_agent_desc_t){.name = "produce",
                                                .out = out,
                                                .n_out = 1,
                                                .cpu = g_produce,
                                                .state = &st,
                                                .affinity = {MAESTRO_ON_CPU, -1, 0}},
                        &a) ||
      maestro_agent_add(g,
                        &(maestro_agent_desc_t){.name = "x2",
                                                .in = in,
                                                .n_in = 1,
                                                .out = out,
                                                .n_out = 1,
                                                .kernel = &k,
                                                .affinity = {MAESTRO_ON_DEVICE, 0, 0}},
                        &b) ||
      maestro_agent_add(g,
                        &(maestro_agent_desc_t){.name = "verify",
                                                .in = in,
                                                .n_in = 1,
                                                .cpu = g_verify,
                                                .state = &st,
                                                .affinity = {MAESTRO_ON_CPU, -1, 0}},
                        &c) ||
      maestro_connect(g, a, "out", b, "in", DEPTH) ||
      maestro_connect(g, b, "out", c, "in", DEPTH)) {
    fprintf(stderr, "graph: %s\n", maestro_last_error());
    exit(1);
  }
  double t0 = now_s();
  if (maestro_graph_run(g)) {
    fprintf(stderr, "graph run: %s\n", maestro_last_error());
    exit(1);
  }
  double t = now_s() - t0;
  *bad += atomic_load(&st.bad);
  maestro_agent_stats_t s;
  maestro_agent_stats(c, &s);
  if (s.fires != (uint64_t)msgs) {
    fprintf(stderr, "graph: verify fired %llu times, expected %d\n", (unsigned long long)s.fires,
            msgs);
    (*bad)++;
  }
  maestro_graph_destroy(g);
  return msgs / t;
}

int main(int argc, char **argv) {
  int tiny = 0;
  for (int a = 1; a < argc; a++) {
    if (!strcmp(argv[a], "--tiny")) {
      tiny = 1;
    } else if (!strcmp(argv[a], "--mib") && a + 1 < argc && atoi(argv[a + 1]) > 0) {
      N_FLOATS = (size_t)atoi(argv[++a]) << 18;
    } else {
      fprintf(stderr, "usage: mixed_pipeline [--tiny] [--mib N]\n");
      return 2;
    }
  }
  int msgs = tiny ? 20 : 150, rounds = tiny ? 1 : 8;
  int bad = 0;
  raw_cl_t raw;
  raw_init(&raw, SCALE_SRC, "scale");
  maestro_runtime_t *rt_zc = bench_rt(1);
  ocl_kagent_t *ka_zc = scale_agent(rt_zc, "x2");
  maestro_runtime_t *rt = bench_rt(0);
  ocl_kagent_t *ka = scale_agent(rt, "x2");
  pipeline(rt_zc, ka_zc, tiny ? 4 : 20, &bad); /* warm-up */
  pipeline(rt, ka, tiny ? 4 : 20, &bad);
  serial_raw(&raw, tiny ? 4 : 20, &bad);
  /* Rounds interleaved, best of each: the machine is shared and noisy. */
  graph_pipeline(rt_zc, tiny ? 4 : 20, &bad); /* warm-up (builds the kernel) */
  graph_pipeline(rt, tiny ? 4 : 20, &bad);
  double base = 0, zc = 0, cp = 0, gz = 0, gc = 0;
  for (int round = 0; round < rounds; round++) {
    base = fmax(base, serial_raw(&raw, msgs, &bad));
    long f0 = faults_now();
    zc = fmax(zc, pipeline(rt_zc, ka_zc, msgs, &bad));
    flt_note(&flt_zc, f0);
    f0 = faults_now();
    cp = fmax(cp, pipeline(rt, ka, msgs, &bad));
    flt_note(&flt_cp, f0);
    f0 = faults_now();
    gz = fmax(gz, graph_pipeline(rt_zc, msgs, &bad));
    flt_note(&flt_gz, f0);
    f0 = faults_now();
    gc = fmax(gc, graph_pipeline(rt, msgs, &bad));
    flt_note(&flt_gc, f0);
  }
  double mib = (double)(N_FLOATS * sizeof(float)) / (1 << 20);
  printf("mixed_pipeline: CPU produce %g MiB -> OpenCL x2 -> CPU verify, %d messages per round, "
         "best of %d interleaved rounds; faults: minor page faults in the last round\n",
         mib, msgs, rounds);
  printf("hand-written serial OpenCL loop: %8.0f msgs/s                       faults %ld\n", base,
         flt_raw);
  printf("kernel agent direct, zero-copy:  %8.0f msgs/s  ratio %.2fx of serial  faults %ld\n", zc,
         zc / base, flt_zc);
  printf("kernel agent direct, copies:     %8.0f msgs/s  ratio %.2fx of serial  faults %ld\n", cp,
         cp / base, flt_cp);
  printf("graph, zero-copy (default):      %8.0f msgs/s  ratio %.2fx of serial  faults %ld\n", gz,
         gz / base, flt_gz);
  printf("graph, copies:                   %8.0f msgs/s  ratio %.2fx of serial  faults %ld\n", gc,
         gc / base, flt_gc);
  ocl_kagent_destroy(ka_zc);
  maestro_runtime_destroy(rt_zc);
  ocl_kagent_destroy(ka);
  maestro_runtime_destroy(rt);
  raw_fini(&raw);
  if (bad) fprintf(stderr, "mixed_pipeline: %d wrong results\n", bad);
  return bad ? 1 : 0;
}
