/* matrixmul: the tiled matrixMul kernel of NVIDIA's SDK sample
 * (matrixmul.cl: written anew from its algorithm, see its header) as a
 * kernel agent: a 2-D launch whose work-group size comes from the kernel's
 * reqd_work_group_size(16, 16, 1), with a .prepare hook that
 * sets each firing's range, output size and shape, and the widths wA, wB
 * from the shapes the messages carry (a different product every message).
 *
 *   matrices (CPU) --a--> matrixMul (device kernel) --c--> host
 *                  --b-->
 *
 * The host checks every C against a CPU reference, exactly (small integer
 * entries: every sum is exact in float whatever the order).
 *
 * Usage: matrixmul [messages] (default 12); exits 0 when every product is
 * exact, 1 otherwise, 77 (skipped) without a device.
 * matrixmul --refuse: a 40-row A among good messages; exits 0 when
 * .prepare refused it and the graph stopped with that reason.
 * matrixmul --bench n [messages]: n x n products (n a multiple of 16,
 * default 40 messages) through the graph against a raw OpenCL loop on
 * device 0 doing the same (fill, write, kernel, read), interleaved rounds,
 * best of 3. The raw loop keeps `inflight` (4) messages in flight, as the
 * graph's channels of capacity 4 do. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_util.h" /* now_s, cpu_s, read_text, example_device_runtime */
#include "maestro.h"
#include "maestro/opencl.h" /* only for the raw loop of --bench */
#include "raw_ocl.h"

enum { BLOCK = 16, INFLIGHT = 4 };

/* m (rows of A, C), n (columns of B, C), k: multiples of BLOCK. */
static const size_t shapes[][3] = {{64, 64, 64},  {128, 32, 80},   {16, 256, 48},
                                   {208, 96, 16}, {256, 256, 256}, {32, 16, 512}};
enum { NSHAPES = sizeof shapes / sizeof shapes[0] };

static float a_at(uint64_t seq, size_t i, size_t l) {
  return (float)((int)((i * 7 + l * 3 + seq) % 11) - 5);
}
static float b_at(uint64_t seq, size_t l, size_t j) {
  return (float)((int)((l * 5 + j + 2 * seq) % 9) - 4);
}

/* ---- the source ---- */

typedef struct {
  int msgs;
  size_t n; /* --bench: n x n x n; 0: the shapes above */
  int bad;  /* --refuse: message 1 is 40 x 32 x 80 (40 is not a multiple of 16) */
} source_t;

static void mnk_of(const source_t *s, uint64_t seq, size_t mnk[3]) {
  for (int i = 0; i < 3; i++)
    mnk[i] = s->n ? s->n : shapes[seq % NSHAPES][i];
  if (s->bad && seq == 1) mnk[0] = 40;
}

static void fill(float *x, size_t rows, size_t cols, uint64_t seq,
                 float (*at)(uint64_t, size_t, size_t)) {
  for (size_t r = 0; r < rows; r++)
    for (size_t c = 0; c < cols; c++)
      x[r * cols + c] = at(seq, r, c);
}

static int matrix(maestro_fire_t *f, size_t rows, size_t cols, uint64_t seq,
                  float (*at)(uint64_t, size_t, size_t), int port) {
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, rows * cols * sizeof(float), &b);
  if (rc) return rc;
  fill(maestro_buf_data(b), rows, cols, seq, at);
  if ((rc = maestro_buf_set_shape(b, 2, (size_t[]){cols, rows}))) {
    maestro_buf_release(b);
    return rc;
  }
  return maestro_fire_out(f, port, b);
}

static int source(maestro_fire_t *f) {
  source_t *s = maestro_fire_state(f);
  uint64_t seq = maestro_fire_seq(f);
  if (seq >= (uint64_t)s->msgs) return MAESTRO_DONE;
  size_t mnk[3];
  mnk_of(s, seq, mnk);
  int rc = matrix(f, mnk[0], mnk[2], seq, a_at, 0);
  return rc ? rc : matrix(f, mnk[2], mnk[1], seq, b_at, 1);
}

/* ---- the kernel agent's per-firing geometry ---- */

/* A is {wA, hA}, B is {wB, wA}: C = A x B is {wB, hA}, one work-item per
 * entry; the kernel (like NVIDIA's) needs every dimension a multiple of its
 * 16 x 16 tile. Arguments: C, A, B, As, Bs, wA (5), wB (6). */
static int mm_prepare(maestro_klaunch_t *l) {
  const size_t *a = l->shape[0], *b = l->shape[1];
  if (l->ndim[0] != 2 || l->ndim[1] != 2 || a[0] != b[1]) {
    snprintf(l->why, l->why_len, "a (%zu x %zu) and b (%zu x %zu) do not multiply", a[1], a[0],
             b[1], b[0]);
    return MAESTRO_EINVAL;
  }
  if (a[0] % BLOCK || a[1] % BLOCK || b[0] % BLOCK) {
    snprintf(l->why, l->why_len, "a %zu x %zu, b %zu x %zu: not multiples of %d", a[1], a[0], b[1],
             b[0], BLOCK);
    return MAESTRO_EINVAL;
  }
  l->global[0] = b[0];
  l->global[1] = a[1];
  l->out_bytes[0] = a[1] * b[0] * sizeof(float);
  l->out_shape[0][0] = b[0];
  l->out_shape[0][1] = a[1];
  l->out_shape[0][2] = 1;
  l->out_ndim[0] = 2;
  l->args[5].v.i32 = (int32_t)a[0];
  l->args[6].v.i32 = (int32_t)b[0];
  return MAESTRO_OK;
}

/* Entries of C (m x n x k, message seq) that differ from the reference:
 * all, or (`corners`) the first and last rows. */
static size_t check(uint64_t seq, const size_t mnk[3], const float *c, int corners) {
  size_t wrong = 0;
  for (size_t i = 0; i < mnk[0]; i++) {
    if (corners && i != 0 && i != mnk[0] - 1) continue;
    for (size_t j = 0; j < mnk[1]; j++) {
      float r = 0.0f;
      for (size_t l = 0; l < mnk[2]; l++)
        r += a_at(seq, i, l) * b_at(seq, l, j);
      wrong += c[i * mnk[1] + j] != r;
    }
  }
  return wrong;
}

static char *g_src;
static char g_err[512]; /* the graph's error, kept past its destruction */

static int run_graph(maestro_runtime_t *rt, int msgs, size_t n, int bad, double *secs) {
  static const maestro_port_t mats[] = {{"a", MAESTRO_F32, 0}, {"b", MAESTRO_F32, 0}};
  static const maestro_port_t prod[] = {{"c", MAESTRO_F32, 0}};
  const maestro_karg_t args[] = {MAESTRO_KARG_OUT(0),
                                 MAESTRO_KARG_IN(0),
                                 MAESTRO_KARG_IN(1),
                                 MAESTRO_KARG_LOCAL(BLOCK * BLOCK * sizeof(float)),
                                 MAESTRO_KARG_LOCAL(BLOCK * BLOCK * sizeof(float)),
                                 MAESTRO_KARG_I32(0),
                                 MAESTRO_KARG_I32(0)};
  const maestro_kernel_t k = {.source = g_src,
                              .name = "matrixMul",
                              .args = args,
                              .n_args = 7,
                              .work_dim = 2, /* .local from reqd_work_group_size */
                              .prepare = mm_prepare};
  source_t src = {msgs, n, bad};
  maestro_graph_t *g = NULL;
  maestro_agent_t *s, *mm;
  maestro_output_t *out = NULL;
  double t0 = now_s();
  if (maestro_graph_create(rt, "matrixmul", &g) ||
      maestro_agent_add(g,
                        &(maestro_agent_desc_t){.name = "matrices",
                                                .out = mats,
                                                .n_out = 2,
                                                .cpu = source,
                                                .state = &src,
                                                .affinity = {.pref = MAESTRO_ON_CPU, .index = -1}},
                        &s) ||
      maestro_agent_add(
          g,
          &(maestro_agent_desc_t){.name = "matrixMul",
                                  .in = mats,
                                  .n_in = 2,
                                  .out = prod,
                                  .n_out = 1,
                                  .kernel = &k,
                                  .affinity = {.pref = MAESTRO_ON_DEVICE, .index = -1}},
          &mm) ||
      maestro_connect(g, s, "a", mm, "a", INFLIGHT) ||
      maestro_connect(g, s, "b", mm, "b", INFLIGHT) || maestro_graph_output(g, mm, "c", &out) ||
      maestro_graph_start(g)) {
    fprintf(stderr, "graph: %s\n", maestro_last_error());
    maestro_graph_destroy(g);
    return -1;
  }
  int exact = 0;
  uint64_t seq = 0;
  maestro_buf_t *c;
  while (maestro_output_pop(out, &c, -1) == MAESTRO_OK) {
    size_t mnk[3], d[3];
    mnk_of(&src, seq, mnk);
    size_t wrong = maestro_buf_size(c) == mnk[0] * mnk[1] * sizeof(float) &&
                           maestro_buf_shape(c, d) == 2 && d[0] == mnk[1] && d[1] == mnk[0]
                       ? check(seq, mnk, maestro_buf_cdata(c), n != 0)
                       : mnk[0] * mnk[1];
    if (wrong)
      printf("message %llu (%zu x %zu x %zu): %zu entries wrong\n", (unsigned long long)seq, mnk[0],
             mnk[1], mnk[2], wrong);
    exact += wrong == 0;
    maestro_buf_release(c);
    seq++;
  }
  int rc = maestro_graph_wait(g);
  *secs = now_s() - t0;
  maestro_agent_stats_t st;
  maestro_agent_stats(mm, &st);
  if (rc) {
    snprintf(g_err, sizeof g_err, "%s", maestro_last_error());
    if (!bad) fprintf(stderr, "graph: %s\n", g_err);
  }
  if (!bad && st.device_fires != (uint64_t)msgs)
    fprintf(stderr, "matrixMul fired %llu times on a device, not %d\n",
            (unsigned long long)st.device_fires, msgs);
  maestro_graph_destroy(g);
  return rc == MAESTRO_OK && st.device_fires == (uint64_t)msgs ? exact : -1;
}

/* The same work by hand on device 0: INFLIGHT slots, each with its own
 * host and device buffers; fill, write, launch, read (non-blocking), and
 * wait for a slot's read only when it comes round again. */
static int run_raw(maestro_runtime_t *rt, int msgs, size_t n, double *secs) {
  cl_context ctx;
  cl_device_id dev;
  cl_program p = NULL;
  cl_command_queue q = raw_ocl_queue(rt, 0, &ctx, &dev);
  cl_kernel k = q ? raw_ocl_kernel(ctx, dev, g_src, "matrixMul", &p) : NULL;
  if (!k) return -1;
  size_t bytes = n * n * sizeof(float);
  cl_int e;
  struct {
    cl_mem a, b, c;
    float *ha, *hb, *hc;
    cl_event read;
    int seq;
  } slot[INFLIGHT];
  for (int i = 0; i < INFLIGHT; i++) {
    slot[i].a = clCreateBuffer(ctx, CL_MEM_READ_ONLY, bytes, NULL, &e);
    slot[i].b = clCreateBuffer(ctx, CL_MEM_READ_ONLY, bytes, NULL, &e);
    slot[i].c = clCreateBuffer(ctx, CL_MEM_WRITE_ONLY, bytes, NULL, &e);
    slot[i].ha = malloc(bytes);
    slot[i].hb = malloc(bytes);
    slot[i].hc = malloc(bytes);
    slot[i].read = NULL;
  }
  int exact = 0, wa = (int)n;
  const size_t gl[2] = {n, n}, lo[2] = {BLOCK, BLOCK};
  double t0 = now_s();
  for (int i = 0; i < msgs + INFLIGHT; i++) {
    int s = i % INFLIGHT;
    if (raw_ocl_wait(&slot[s].read))
      exact += check((uint64_t)slot[s].seq, (const size_t[]){n, n, n}, slot[s].hc, 1) == 0;
    if (i >= msgs) continue;
    slot[s].seq = i;
    fill(slot[s].ha, n, n, (uint64_t)i, a_at);
    fill(slot[s].hb, n, n, (uint64_t)i, b_at);
    clEnqueueWriteBuffer(q, slot[s].a, CL_FALSE, 0, bytes, slot[s].ha, 0, NULL, NULL);
    clEnqueueWriteBuffer(q, slot[s].b, CL_FALSE, 0, bytes, slot[s].hb, 0, NULL, NULL);
    clSetKernelArg(k, 0, sizeof(cl_mem), &slot[s].c);
    clSetKernelArg(k, 1, sizeof(cl_mem), &slot[s].a);
    clSetKernelArg(k, 2, sizeof(cl_mem), &slot[s].b);
    clSetKernelArg(k, 3, BLOCK * BLOCK * sizeof(float), NULL);
    clSetKernelArg(k, 4, BLOCK * BLOCK * sizeof(float), NULL);
    clSetKernelArg(k, 5, sizeof(int), &wa);
    clSetKernelArg(k, 6, sizeof(int), &wa);
    clEnqueueNDRangeKernel(q, k, 2, NULL, gl, lo, 0, NULL, NULL);
    clEnqueueReadBuffer(q, slot[s].c, CL_FALSE, 0, bytes, slot[s].hc, 0, NULL, &slot[s].read);
    clFlush(q);
  }
  *secs = now_s() - t0;
  for (int i = 0; i < INFLIGHT; i++) {
    clReleaseMemObject(slot[i].a);
    clReleaseMemObject(slot[i].b);
    clReleaseMemObject(slot[i].c);
    free(slot[i].ha);
    free(slot[i].hb);
    free(slot[i].hc);
  }
  clReleaseKernel(k);
  clReleaseProgram(p);
  clReleaseCommandQueue(q);
  return exact;
}

static int bench(maestro_runtime_t *rt, size_t n, int msgs) {
  double best_g = 1e30, best_r = 1e30, cpu_g = 1e30, cpu_r = 1e30, t = 0, c0;
  int ok = 1;
  for (int round = 0; round < 3; round++) {
    c0 = cpu_s();
    ok &= run_raw(rt, msgs, n, &t) == msgs;
    cpu_r = fmin(cpu_r, cpu_s() - c0);
    best_r = fmin(best_r, t);
    c0 = cpu_s();
    ok &= run_graph(rt, msgs, n, 0, &t) == msgs;
    cpu_g = fmin(cpu_g, cpu_s() - c0);
    best_g = fmin(best_g, t);
  }
  printf("matrixmul --bench: %zu x %zu matrixMul (%.2f MiB a matrix), %d messages, %d in flight, "
         "best of 3\n",
         n, n, (double)(n * n * sizeof(float)) / (1 << 20), msgs, INFLIGHT);
  printf("raw loop (write, kernel, read):     %8.1f msgs/s\n", msgs / best_r);
  printf("graph (source -> kernel agent -> host): %8.1f msgs/s  ratio %.2fx of raw\n",
         msgs / best_g, best_r / best_g);
  printf("CPU per message, raw / graph: %.2f / %.2f ms\n", cpu_r / msgs * 1e3, cpu_g / msgs * 1e3);
  return ok;
}

int main(int argc, char **argv) {
  int msgs = 12, refuse = 0;
  size_t bench_n = 0;
  if (argc > 1 && !strcmp(argv[1], "--refuse")) {
    refuse = 1;
    msgs = 3;
  } else if (argc > 2 && !strcmp(argv[1], "--bench")) {
    bench_n = (size_t)atoi(argv[2]);
    msgs = argc > 3 ? atoi(argv[3]) : 40;
    if (bench_n < BLOCK || bench_n % BLOCK) msgs = 0;
  } else if (argc > 1) {
    msgs = atoi(argv[1]);
  }
  if (msgs < 1) {
    fprintf(stderr, "usage: matrixmul [messages] | --bench n (a multiple of 16) [messages]\n");
    return 2;
  }
  if (!(g_src = read_text(MATRIXMUL_CL))) {
    fprintf(stderr, "matrixmul: cannot read %s\n", MATRIXMUL_CL);
    return 1;
  }
  maestro_runtime_t *rt;
  int ok, st = example_device_runtime("matrixmul", &rt, NULL);
  if (st) {
    free(g_src);
    return st;
  }
  if (refuse) {
    /* Message 1 does not fit the kernel's 16 x 16 tiles: .prepare refuses
     * it, nothing is launched, and the graph stops (MAESTRO_FAIL_STOP)
     * with the hook's reason. */
    double secs;
    int exact = run_graph(rt, msgs, 0, 1, &secs);
    printf("matrixmul --refuse: %s\n", g_err);
    ok =
        exact < 0 && strstr(g_err, "kernel 'matrixMul': a 40 x 80, b 80 x 32: not multiples of 16");
  } else if (bench_n) {
    ok = bench(rt, bench_n, msgs);
  } else {
    double secs;
    int exact = run_graph(rt, msgs, 0, 0, &secs);
    printf("matrixmul: %d of %d products exact (%d firings on a device)\n", exact, msgs,
           exact < 0 ? 0 : msgs);
    ok = exact == msgs;
  }
  maestro_runtime_destroy(rt);
  free(g_src);
  return ok ? 0 : 1;
}
