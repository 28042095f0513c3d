/* clblast_gemm: a library called from an agent through OpenCL interop
 * (<maestro/opencl.h>, docs/opencl.md). A CPU source agent sends pairs of
 * matrices A (m x k) and B (k x n) of a different size in every message,
 * each carrying its shape; a device agent whose .cl implementation calls
 * CLBlast's SGEMM on the firing's queue, with the firing's input cl_mem and
 * an output allocated by the runtime, computes C = A x B; the host pops
 * every C and checks it against a CPU reference, exactly (the entries are
 * small integers, so every sum is exact in float whatever the order).
 *
 *   matrices (CPU) --a--> gemm (device: CLBlastSgemm) --c--> host
 *                  --b-->
 *
 * Usage: clblast_gemm [messages] (default 12). Exits 0 when every product
 * is exact, 1 otherwise; 77 (skipped) when the runtime has no device.
 * clblast_gemm --bench n [messages]: n x n products (default 40 messages)
 * through the graph against a raw loop doing the same on device 0 (fill,
 * write, CLBlastSgemm, blocking read), interleaved, best of 3 rounds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_util.h" /* now_s, cpu_s, example_device_runtime */
#include "maestro.h"
#include "maestro/opencl.h" /* first: it sets the OpenCL version the headers target */
#include "raw_clblast.h"    /* the raw loop of --bench */
#include "raw_ocl.h"        /* raw_ocl_queue */
#include <clblast_c.h>

/* The shapes cycled through: m, n, k (a different size every message). */
static const size_t shapes[][3] = {{64, 64, 64},  {100, 37, 81},   {128, 256, 64},
                                   {33, 17, 200}, {256, 256, 256}, {1, 300, 7}};
enum { NSHAPES = sizeof shapes / sizeof shapes[0] };

/* Entries of message `seq`: small integers, products and sums exact. */
static float a_at(uint64_t seq, size_t i, size_t l) {
  return (float)((int)((i * 7 + l * 3 + seq) % 11) - 5);
}
static float b_at(uint64_t seq, size_t l, size_t j) {
  return (float)((int)((l * 5 + j + 2 * seq) % 9) - 4);
}

/* ---- the source: A and B, row-major, shapes {columns, rows} ---- */

typedef struct {
  int msgs;
  size_t n; /* --bench: every message n x n x n; 0: the shapes above in turn */
} source_t;

/* Message seq's m, n, k. */
static void mnk_of(const source_t *s, uint64_t seq, size_t mnk[3]) {
  for (int i = 0; i < 3; i++)
    mnk[i] = s->n ? s->n : shapes[seq % NSHAPES][i];
}

static int matrix(maestro_fire_t *f, size_t rows, size_t cols, uint64_t seq,
                  float (*at)(uint64_t, size_t, size_t), int port) {
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, rows * cols * sizeof(float), &b);
  if (rc) return rc;
  float *x = maestro_buf_data(b);
  for (size_t r = 0; r < rows; r++)
    for (size_t c = 0; c < cols; c++)
      x[r * cols + c] = at(seq, r, c);
  /* dims[0] is the fastest-varying dimension: a row-major matrix's columns. */
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

/* ---- the device agent: C = A x B by CLBlast, on the firing's queue ---- */

static int gemm_cl(maestro_clfire_t *f) {
  size_t da[3], db[3];
  if (maestro_buf_shape(maestro_clfire_in_buf(f, 0), da) != 2 ||
      maestro_buf_shape(maestro_clfire_in_buf(f, 1), db) != 2 || da[0] != db[1])
    return MAESTRO_EINVAL; /* not two matrices that multiply */
  size_t m = da[1], k = da[0], n = db[0];
  cl_mem c;
  int rc = maestro_clfire_out(f, 0, m * n * sizeof(float), &c);
  if (rc) return rc;
  cl_command_queue q = maestro_clfire_queue(f);
  cl_event ev = NULL;
  /* CLBlast enqueues its kernels on q and returns (the device's worker
   * must not block); the firing ends when the last of them does. */
  CLBlastStatusCode st = CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo,
                                      m, n, k, 1.0f, maestro_clfire_in(f, 0), 0, k,
                                      maestro_clfire_in(f, 1), 0, n, 0.0f, c, 0, n, &q, &ev);
  if (st != CLBlastSuccess) {
    fprintf(stderr, "CLBlastSgemm (%zu x %zu x %zu) failed: %d\n", m, n, k, (int)st);
    return MAESTRO_ECL;
  }
  rc = maestro_clfire_done_after(f, ev);
  clReleaseEvent(ev);
  return rc;
}

/* CLBlast compiles its kernels the first time a context uses them (seconds
 * on a CPU device): done here once per device, before the graph starts, so
 * that no firing blocks the device's worker for that long. */
static int warm_up(maestro_runtime_t *rt, int ndev) {
  for (int i = 0; i < ndev; i++) {
    cl_context ctx;
    cl_device_id dev;
    cl_command_queue q = raw_ocl_queue(rt, i, &ctx, &dev);
    if (!q) return 1;
    cl_int e;
    cl_mem m = clCreateBuffer(ctx, CL_MEM_READ_WRITE, sizeof(float), NULL, &e);
    CLBlastStatusCode st =
        m ? CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeNo, 1, 1, 1,
                         1.0f, m, 0, 1, m, 0, 1, 0.0f, m, 0, 1, &q, NULL)
          : CLBlastInvalidMemObject;
    clFinish(q);
    if (m) clReleaseMemObject(m);
    clReleaseCommandQueue(q);
    if (st != CLBlastSuccess) {
      fprintf(stderr, "CLBlast on device %d: status %d\n", i, (int)st);
      return 1;
    }
  }
  return 0;
}

/* The number of entries of message `seq`'s C (m x n x k) that differ from
 * A x B computed here: all of them, or (`corners`, for --bench) its first
 * and last. */
static size_t check(uint64_t seq, const size_t mnk[3], const float *c, int corners) {
  const size_t m = mnk[0], n = mnk[1], k = mnk[2];
  size_t wrong = 0;
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) {
      if (corners && !(i == 0 && j == 0) && !(i == m - 1 && j == n - 1)) continue;
      float r = 0.0f;
      for (size_t l = 0; l < k; l++)
        r += a_at(seq, i, l) * b_at(seq, l, j);
      wrong += c[i * n + j] != r;
    }
  return wrong;
}

/* Runs `msgs` messages through matrices -> gemm -> host; returns the exact
 * products (-1 when the graph could not run), the seconds it took in *secs. */
static int run_graph(maestro_runtime_t *rt, int msgs, size_t n, double *secs) {
  static const maestro_port_t mats[] = {{"a", MAESTRO_F32, 0}, {"b", MAESTRO_F32, 0}};
  static const maestro_port_t prod[] = {{"c", MAESTRO_F32, 0}};
  source_t src = {msgs, n};
  maestro_graph_t *g = NULL;
  maestro_agent_t *s, *mm;
  maestro_output_t *out = NULL;
  double t0 = now_s();
  if (maestro_graph_create(rt, "clblast_gemm", &g) ||
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
          &(maestro_agent_desc_t){.name = "gemm",
                                  .in = mats,
                                  .n_in = 2,
                                  .out = prod,
                                  .n_out = 1,
                                  .cl = gemm_cl,
                                  .affinity = {.pref = MAESTRO_ON_DEVICE, .index = -1}},
          &mm) ||
      maestro_connect(g, s, "a", mm, "a", 4) || maestro_connect(g, s, "b", mm, "b", 4) ||
      maestro_graph_output(g, mm, "c", &out) || maestro_graph_start(g)) {
    fprintf(stderr, "graph: %s\n", maestro_last_error());
    maestro_graph_destroy(g);
    return -1;
  }
  int exact = 0;
  uint64_t seq = 0;
  maestro_buf_t *c;
  while (maestro_output_pop(out, &c, -1) == MAESTRO_OK) {
    size_t mnk[3];
    mnk_of(&src, seq, mnk);
    size_t wrong = maestro_buf_size(c) == mnk[0] * mnk[1] * sizeof(float)
                       ? check(seq, mnk, maestro_buf_cdata(c), n != 0)
                       : mnk[0] * mnk[1];
    if (wrong)
      printf("message %llu (%zu x %zu x %zu): %zu of %zu entries wrong\n", (unsigned long long)seq,
             mnk[0], mnk[1], mnk[2], wrong, mnk[0] * mnk[1]);
    exact += wrong == 0;
    maestro_buf_release(c);
    seq++;
  }
  int rc = maestro_graph_wait(g);
  *secs = now_s() - t0;
  maestro_agent_stats_t st;
  maestro_agent_stats(mm, &st);
  if (rc) fprintf(stderr, "graph: %s\n", maestro_last_error());
  if (st.device_fires != (uint64_t)msgs)
    fprintf(stderr, "gemm fired %llu times on a device, not %d\n",
            (unsigned long long)st.device_fires, msgs);
  maestro_graph_destroy(g);
  return rc == MAESTRO_OK && st.device_fires == (uint64_t)msgs ? exact : -1;
}

/* --bench's raw loop (raw_clblast_sgemm): message seq's A and B (n x n),
 * and whether its C is right (its corners). */
static void fill_ab(float *a, float *b, size_t n, size_t seq) {
  for (size_t r = 0; r < n; r++)
    for (size_t col = 0; col < n; col++) {
      a[r * n + col] = a_at((uint64_t)seq, r, col);
      b[r * n + col] = b_at((uint64_t)seq, r, col);
    }
}
static int corners_right(const float *c, size_t n, size_t seq) {
  return check((uint64_t)seq, (const size_t[]){n, n, n}, c, 1) == 0;
}

/* --bench n msgs: the graph against the raw loop, interleaved rounds, best
 * of each; with the process's CPU time per message (on a CPU device such as
 * PoCL the products themselves are CPU time). */
static int bench(maestro_runtime_t *rt, size_t n, int msgs) {
  double best_g = 1e30, best_r = 1e30, cpu_g = 1e30, cpu_r = 1e30, t = 0, c0;
  int ok = 1;
  for (int round = 0; round < 3; round++) {
    c0 = cpu_s();
    ok &= raw_clblast_sgemm(rt, n, msgs, fill_ab, corners_right, &t) == msgs;
    cpu_r = fmin(cpu_r, cpu_s() - c0);
    best_r = fmin(best_r, t);
    c0 = cpu_s();
    ok &= run_graph(rt, msgs, n, &t) == msgs;
    cpu_g = fmin(cpu_g, cpu_s() - c0);
    best_g = fmin(best_g, t);
  }
  printf("clblast_gemm --bench: %zu x %zu SGEMM (%.2f MiB a matrix), %d messages, best of 3\n", n,
         n, (double)(n * n * sizeof(float)) / (1 << 20), msgs);
  printf("raw loop (write, CLBlastSgemm, blocking read): %8.1f msgs/s  cpu %7.2f ms/msg\n",
         msgs / best_r, cpu_r / msgs * 1e3);
  printf("graph (source -> .cl agent -> host):          %8.1f msgs/s  cpu %7.2f ms/msg  ratio "
         "%.2fx of raw\n",
         msgs / best_g, cpu_g / msgs * 1e3, best_r / best_g);
  return ok;
}

int main(int argc, char **argv) {
  int msgs = 12;
  size_t bench_n = 0;
  if (argc > 2 && !strcmp(argv[1], "--bench")) {
    bench_n = (size_t)atoi(argv[2]);
    msgs = argc > 3 ? atoi(argv[3]) : 40;
  } else if (argc > 1) {
    msgs = atoi(argv[1]);
  }
  if (msgs < 1 || (argc > 1 && !strcmp(argv[1], "--bench") && bench_n < 1)) {
    fprintf(stderr, "usage: clblast_gemm [messages] | --bench n [messages]\n");
    return 2;
  }
  maestro_runtime_t *rt;
  int ndev, st = example_device_runtime("clblast_gemm", &rt, &ndev);
  if (st) return st;
  if (warm_up(rt, ndev)) {
    maestro_runtime_destroy(rt);
    return 1;
  }
  int ok;
  if (bench_n) {
    ok = bench(rt, bench_n, msgs);
  } else {
    double secs;
    int exact = run_graph(rt, msgs, 0, &secs);
    printf("clblast_gemm: %d of %d products exact (%d firings on a device)\n", exact, msgs,
           exact < 0 ? 0 : msgs);
    ok = exact == msgs;
  }
  maestro_runtime_destroy(rt);
  return ok ? 0 : 1;
}
