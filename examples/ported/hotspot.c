/* hotspot: Rodinia's hotspot stencil (hotspot.cl, ported: see its header)
 * as an agent written against OpenCL (<maestro/opencl.h>): each message is
 * a chip's temperature grid and its power map (2-D, a different size every
 * message, the shape carried by the messages); one firing enqueues all of
 * the message's time steps on the firing's queue, ping-ponging between the
 * runtime-allocated output and a device temporary, and the firing ends
 * after the last step's event. Nothing blocks the device's worker.
 *
 *   grids (CPU) --temp-->  hotspot (device: `steps` launches) --out--> host
 *               --power-->
 *
 * The host checks every result against the same steps computed on the CPU
 * in float: within 1e-4 of the grid's largest temperature (the device may
 * contract a * b + c into one rounding, the CPU does not).
 *
 * Usage: hotspot [messages] [steps] (default 8 messages of 20 steps); exits
 * 0 when every grid is within tolerance, 1 otherwise, 77 without a device.
 * hotspot --bench n [messages] [steps]: n x n grids (default 24 messages of
 * 20 steps) through the graph against a raw OpenCL loop on device 0 doing
 * the same, 4 messages in flight each, interleaved rounds, best of 3. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_util.h" /* now_s, cpu_s, read_text, example_device_runtime */
#include "maestro.h"
#include "maestro/opencl.h" /* first: it sets the OpenCL version the headers target */
#include "raw_ocl.h"        /* OpenCL set-up by hand: the kernel, and the raw loop of --bench */

enum { BLOCK = 16, INFLIGHT = 4, MAXDEV = 8 };

/* Rodinia hotspot's chip: 16 mm x 16 mm, 0.5 mm thick, ambient 80. */
#define T_CHIP       0.0005
#define CHIP_HEIGHT  0.016
#define CHIP_WIDTH   0.016
#define AMB_TEMP     80.0f
#define FACTOR_CHIP  0.5
#define SPEC_HEAT_SI 1.75e6
#define K_SI         100.0
#define MAX_PD       3.0e6
#define PRECISION    0.001

/* columns, rows */
static const size_t shapes[][2] = {{64, 64}, {100, 37}, {256, 128}, {33, 200}, {512, 512}, {17, 1}};
enum { NSHAPES = sizeof shapes / sizeof shapes[0] };

/* The step's coefficients of a rows x cols grid, as Rodinia derives them. */
typedef struct {
  float step_div_cap, rx_1, ry_1, rz_1;
} coef_t;

static coef_t coef_of(size_t cols, size_t rows) {
  double gh = CHIP_HEIGHT / (double)rows, gw = CHIP_WIDTH / (double)cols;
  double cap = FACTOR_CHIP * SPEC_HEAT_SI * T_CHIP * gw * gh;
  double rx = gw / (2.0 * K_SI * T_CHIP * gh), ry = gh / (2.0 * K_SI * T_CHIP * gw);
  double rz = T_CHIP / (K_SI * gh * gw);
  double step = PRECISION / (MAX_PD / (FACTOR_CHIP * T_CHIP * SPEC_HEAT_SI));
  return (coef_t){(float)(step / cap), (float)(1.0 / rx), (float)(1.0 / ry), (float)(1.0 / rz)};
}

/* Message seq's starting temperatures and power map. */
static float temp_at(uint64_t seq, size_t r, size_t c) {
  return 323.0f + (float)((r * 13 + c * 7 + seq * 5) % 29);
}
static float power_at(uint64_t seq, size_t r, size_t c) {
  return 0.25f * (float)((r / 8 + c / 8 + seq) % 5);
}

/* ---- the source ---- */

typedef struct {
  int msgs;
  size_t n; /* --bench: n x n; 0: the shapes above */
} source_t;

static void shape_of(const source_t *s, uint64_t seq, size_t *cols, size_t *rows) {
  *cols = s->n ? s->n : shapes[seq % NSHAPES][0];
  *rows = s->n ? s->n : shapes[seq % NSHAPES][1];
}

static void fill(float *x, size_t cols, size_t rows, uint64_t seq,
                 float (*at)(uint64_t, size_t, size_t)) {
  for (size_t r = 0; r < rows; r++)
    for (size_t c = 0; c < cols; c++)
      x[r * cols + c] = at(seq, r, c);
}

static int grid(maestro_fire_t *f, size_t cols, size_t rows, uint64_t seq,
                float (*at)(uint64_t, size_t, size_t), int port) {
  maestro_buf_t *b;
  int rc = maestro_fire_alloc(f, cols * rows * sizeof(float), &b);
  if (rc) return rc;
  fill(maestro_buf_data(b), cols, rows, seq, at);
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
  size_t cols, rows;
  shape_of(s, seq, &cols, &rows);
  int rc = grid(f, cols, rows, seq, temp_at, 0);
  return rc ? rc : grid(f, cols, rows, seq, power_at, 1);
}

/* ---- the device agent: `steps` launches per firing ---- */

typedef struct {
  int steps;
  int ndev;
  cl_device_id dev[MAXDEV];
  cl_program prog[MAXDEV];
  cl_kernel kern[MAXDEV]; /* one per device: only that device's worker sets its arguments */
  /* The ping-pong temporary of each device, kept from one firing to the
   * next (a fresh 4 MiB buffer per firing costs its page faults every
   * time): firings on a device run on its worker, their commands in order
   * on its queue, so one is enough; replaced when a larger grid comes. */
  cl_mem tmp[MAXDEV];
  size_t tmp_bytes[MAXDEV];
} hot_t;

/* Enqueues `steps` launches of k on q from `in` into `out` (the last step
 * writes it), ping-ponging through `tmp`; *last gets the last one's event. */
static cl_int enqueue_steps(cl_command_queue q, cl_kernel k, int steps, cl_mem power, cl_mem in,
                            cl_mem out, cl_mem tmp, int cols, int rows, cl_event *last) {
  coef_t co = coef_of((size_t)cols, (size_t)rows);
  float amb = AMB_TEMP;
  const size_t gl[2] = {((size_t)cols + BLOCK - 1) / BLOCK * BLOCK,
                        ((size_t)rows + BLOCK - 1) / BLOCK * BLOCK},
               lo[2] = {BLOCK, BLOCK};
  cl_int e = clSetKernelArg(k, 0, sizeof(cl_mem), &power);
  e |= clSetKernelArg(k, 3, sizeof(int), &cols);
  e |= clSetKernelArg(k, 4, sizeof(int), &rows);
  e |= clSetKernelArg(k, 5, sizeof(float), &co.step_div_cap);
  e |= clSetKernelArg(k, 6, sizeof(float), &co.rx_1);
  e |= clSetKernelArg(k, 7, sizeof(float), &co.ry_1);
  e |= clSetKernelArg(k, 8, sizeof(float), &co.rz_1);
  e |= clSetKernelArg(k, 9, sizeof(float), &amb);
  cl_mem src = in;
  for (int i = 0; i < steps && e == CL_SUCCESS; i++) {
    cl_mem dst = (steps - 1 - i) % 2 == 0 ? out : tmp;
    e = clSetKernelArg(k, 1, sizeof(cl_mem), &src);
    e |= clSetKernelArg(k, 2, sizeof(cl_mem), &dst);
    if (e == CL_SUCCESS)
      e = clEnqueueNDRangeKernel(q, k, 2, NULL, gl, lo, 0, NULL, i == steps - 1 ? last : NULL);
    src = dst;
  }
  return e;
}

static int hotspot_cl(maestro_clfire_t *f) {
  hot_t *s = maestro_clfire_state(f);
  maestro_buf_t *tb = maestro_clfire_in_buf(f, 0), *pb = maestro_clfire_in_buf(f, 1);
  size_t dt[3], dp[3];
  if (maestro_buf_shape(tb, dt) != 2 || maestro_buf_shape(pb, dp) != 2 || dt[0] != dp[0] ||
      dt[1] != dp[1])
    return MAESTRO_EINVAL; /* not a grid and its power map */
  int d = 0;
  while (d < s->ndev && s->dev[d] != maestro_clfire_device(f))
    d++;
  if (d == s->ndev) return MAESTRO_ENODEV;
  size_t bytes = maestro_buf_size(tb);
  cl_mem out, tmp = NULL;
  int rc = maestro_clfire_out(f, 0, bytes, &out);
  if (rc) return rc;
  cl_int e = CL_SUCCESS;
  if (s->steps > 1 && s->tmp_bytes[d] < bytes) {
    /* The old one may still be in use by commands enqueued earlier:
     * OpenCL frees it when they end. */
    if (s->tmp[d]) clReleaseMemObject(s->tmp[d]);
    s->tmp_bytes[d] = 0;
    s->tmp[d] = clCreateBuffer(maestro_clfire_context(f), CL_MEM_READ_WRITE, bytes, NULL, &e);
    if (!s->tmp[d]) return MAESTRO_ENOMEM;
    s->tmp_bytes[d] = bytes;
  }
  tmp = s->tmp[d];
  cl_event ev = NULL;
  e = enqueue_steps(maestro_clfire_queue(f), s->kern[d], s->steps, maestro_clfire_in(f, 1),
                    maestro_clfire_in(f, 0), out, tmp, (int)dt[0], (int)dt[1], &ev);
  if (e != CL_SUCCESS) {
    if (ev) clReleaseEvent(ev);
    return MAESTRO_ECL;
  }
  rc = maestro_clfire_done_after(f, ev);
  clReleaseEvent(ev);
  return rc;
}

static char *g_src;

/* Builds the kernel once per device, before the graph starts (a build
 * would block the device's worker). */
static int build(maestro_runtime_t *rt, hot_t *s) {
  for (int d = 0; d < s->ndev; d++) {
    cl_context ctx;
    if (maestro_runtime_cl_device(rt, d, &ctx, &s->dev[d]) ||
        !(s->kern[d] = raw_ocl_kernel(ctx, s->dev[d], g_src, "hotspot", &s->prog[d])))
      return 1;
  }
  return 0;
}

static void unbuild(hot_t *s) {
  for (int d = 0; d < s->ndev; d++) {
    if (s->tmp[d]) clReleaseMemObject(s->tmp[d]);
    if (s->kern[d]) clReleaseKernel(s->kern[d]);
    if (s->prog[d]) clReleaseProgram(s->prog[d]);
  }
}

/* The CPU reference: `steps` steps of message seq's grid, in float, in the
 * kernel's order of operations; returns the largest difference from `got`
 * relative to the grid's largest temperature (all rows, or with `sample`
 * only the first 64 rows, for --bench). */
static double rel_error(uint64_t seq, size_t cols, size_t rows, int steps, const float *got,
                        int sample) {
  size_t n = cols * rows;
  float *t = malloc(n * sizeof *t), *u = malloc(n * sizeof *u), *p = malloc(n * sizeof *p);
  fill(t, cols, rows, seq, temp_at);
  fill(p, cols, rows, seq, power_at);
  coef_t co = coef_of(cols, rows);
  for (int k = 0; k < steps; k++) {
    for (size_t r = 0; r < rows; r++)
      for (size_t c = 0; c < cols; c++) {
        size_t i = r * cols + c;
        float x = t[i], nn = t[r > 0 ? i - cols : i], ss = t[r < rows - 1 ? i + cols : i];
        float w = t[c > 0 ? i - 1 : i], e = t[c < cols - 1 ? i + 1 : i];
        u[i] = x + co.step_div_cap * (p[i] + (ss + nn - 2.0f * x) * co.ry_1 +
                                      (e + w - 2.0f * x) * co.rx_1 + (AMB_TEMP - x) * co.rz_1);
      }
    float *sw = t;
    t = u;
    u = sw;
  }
  double err = 0.0, top = 0.0;
  size_t upto = sample && rows > 64 ? 64 * cols : n;
  for (size_t i = 0; i < upto; i++) {
    err = fmax(err, fabs((double)got[i] - (double)t[i]));
    top = fmax(top, fabs((double)t[i]));
  }
  free(t);
  free(u);
  free(p);
  return top > 0.0 ? err / top : err;
}

static int run_graph(maestro_runtime_t *rt, hot_t *hs, int msgs, size_t n, double *secs) {
  static const maestro_port_t grids[] = {{"temp", MAESTRO_F32, 0}, {"power", MAESTRO_F32, 0}};
  static const maestro_port_t res[] = {{"out", MAESTRO_F32, 0}};
  source_t src = {msgs, n};
  maestro_graph_t *g = NULL;
  maestro_agent_t *s, *h;
  maestro_output_t *out = NULL;
  double t0 = now_s();
  if (maestro_graph_create(rt, "hotspot", &g) ||
      maestro_agent_add(g,
                        &(maestro_agent_desc_t){.name = "grids",
                                                .out = grids,
                                                .n_out = 2,
                                                .cpu = source,
                                                .state = &src,
                                                .affinity = {.pref = MAESTRO_ON_CPU, .index = -1}},
                        &s) ||
      maestro_agent_add(
          g,
          &(maestro_agent_desc_t){.name = "hotspot",
                                  .in = grids,
                                  .n_in = 2,
                                  .out = res,
                                  .n_out = 1,
                                  .cl = hotspot_cl,
                                  .state = hs,
                                  .affinity = {.pref = MAESTRO_ON_DEVICE, .index = -1}},
          &h) ||
      maestro_connect(g, s, "temp", h, "temp", INFLIGHT) ||
      maestro_connect(g, s, "power", h, "power", INFLIGHT) ||
      maestro_graph_output(g, h, "out", &out) || maestro_graph_start(g)) {
    fprintf(stderr, "graph: %s\n", maestro_last_error());
    maestro_graph_destroy(g);
    return -1;
  }
  int good = 0;
  uint64_t seq = 0;
  maestro_buf_t *b;
  while (maestro_output_pop(out, &b, -1) == MAESTRO_OK) {
    size_t cols, rows;
    shape_of(&src, seq, &cols, &rows);
    double err = maestro_buf_size(b) == cols * rows * sizeof(float)
                     ? rel_error(seq, cols, rows, hs->steps, maestro_buf_cdata(b), n != 0)
                     : INFINITY;
    if (!(err <= 1e-4))
      printf("message %llu (%zu x %zu): error %g of the largest temperature\n",
             (unsigned long long)seq, cols, rows, err);
    good += err <= 1e-4;
    maestro_buf_release(b);
    seq++;
  }
  int rc = maestro_graph_wait(g);
  *secs = now_s() - t0;
  maestro_agent_stats_t st;
  maestro_agent_stats(h, &st);
  if (rc) fprintf(stderr, "graph: %s\n", maestro_last_error());
  if (st.device_fires != (uint64_t)msgs)
    fprintf(stderr, "hotspot fired %llu times on a device, not %d\n",
            (unsigned long long)st.device_fires, msgs);
  maestro_graph_destroy(g);
  return rc == MAESTRO_OK && st.device_fires == (uint64_t)msgs ? good : -1;
}

/* The same work by hand on device 0, INFLIGHT messages in flight (one set
 * of host and device buffers each; a slot's read is waited for when the
 * slot comes round again). */
static int run_raw(maestro_runtime_t *rt, hot_t *hs, int msgs, size_t n, double *secs) {
  cl_context ctx;
  cl_device_id dev;
  cl_command_queue q = raw_ocl_queue(rt, 0, &ctx, &dev);
  if (!q) return -1;
  size_t bytes = n * n * sizeof(float);
  cl_int e;
  struct {
    cl_mem t, p, o, tmp;
    float *ht, *hp, *ho;
    cl_event read;
    int seq;
  } slot[INFLIGHT];
  for (int i = 0; i < INFLIGHT; i++) {
    slot[i].t = clCreateBuffer(ctx, CL_MEM_READ_ONLY, bytes, NULL, &e);
    slot[i].p = clCreateBuffer(ctx, CL_MEM_READ_ONLY, bytes, NULL, &e);
    slot[i].o = clCreateBuffer(ctx, CL_MEM_READ_WRITE, bytes, NULL, &e);
    slot[i].tmp = clCreateBuffer(ctx, CL_MEM_READ_WRITE, bytes, NULL, &e);
    slot[i].ht = malloc(bytes);
    slot[i].hp = malloc(bytes);
    slot[i].ho = malloc(bytes);
    slot[i].read = NULL;
  }
  int good = 0;
  double t0 = now_s();
  for (int i = 0; i < msgs + INFLIGHT; i++) {
    int s = i % INFLIGHT;
    if (raw_ocl_wait(&slot[s].read))
      good += rel_error((uint64_t)slot[s].seq, n, n, hs->steps, slot[s].ho, 1) <= 1e-4;
    if (i >= msgs) continue;
    slot[s].seq = i;
    fill(slot[s].ht, n, n, (uint64_t)i, temp_at);
    fill(slot[s].hp, n, n, (uint64_t)i, power_at);
    clEnqueueWriteBuffer(q, slot[s].t, CL_FALSE, 0, bytes, slot[s].ht, 0, NULL, NULL);
    clEnqueueWriteBuffer(q, slot[s].p, CL_FALSE, 0, bytes, slot[s].hp, 0, NULL, NULL);
    enqueue_steps(q, hs->kern[0], hs->steps, slot[s].p, slot[s].t, slot[s].o, slot[s].tmp, (int)n,
                  (int)n, NULL);
    clEnqueueReadBuffer(q, slot[s].o, CL_FALSE, 0, bytes, slot[s].ho, 0, NULL, &slot[s].read);
    clFlush(q);
  }
  *secs = now_s() - t0;
  for (int i = 0; i < INFLIGHT; i++) {
    clReleaseMemObject(slot[i].t);
    clReleaseMemObject(slot[i].p);
    clReleaseMemObject(slot[i].o);
    clReleaseMemObject(slot[i].tmp);
    free(slot[i].ht);
    free(slot[i].hp);
    free(slot[i].ho);
  }
  clReleaseCommandQueue(q);
  return good;
}

static int bench(maestro_runtime_t *rt, hot_t *hs, size_t n, int msgs) {
  double best_g = 1e30, best_r = 1e30, cpu_g = 1e30, cpu_r = 1e30, t = 0, c0;
  int ok = 1;
  for (int round = 0; round < 3; round++) {
    c0 = cpu_s();
    ok &= run_raw(rt, hs, msgs, n, &t) == msgs;
    cpu_r = fmin(cpu_r, cpu_s() - c0);
    best_r = fmin(best_r, t);
    c0 = cpu_s();
    ok &= run_graph(rt, hs, msgs, n, &t) == msgs;
    cpu_g = fmin(cpu_g, cpu_s() - c0);
    best_g = fmin(best_g, t);
  }
  printf("hotspot --bench: %zu x %zu grid (%.2f MiB), %d steps a message, %d messages, %d in "
         "flight, best of 3\n",
         n, n, (double)(n * n * sizeof(float)) / (1 << 20), hs->steps, msgs, INFLIGHT);
  printf("raw loop (write, %d launches, read):  %8.1f msgs/s\n", hs->steps, msgs / best_r);
  printf("graph (source -> .cl agent -> host): %8.1f msgs/s  ratio %.2fx of raw\n", msgs / best_g,
         best_r / best_g);
  printf("CPU per message, raw / graph: %.2f / %.2f ms\n", cpu_r / msgs * 1e3, cpu_g / msgs * 1e3);
  return ok;
}

int main(int argc, char **argv) {
  int msgs = 8, steps = 20, a = 1;
  size_t bench_n = 0;
  if (argc > 2 && !strcmp(argv[1], "--bench")) {
    bench_n = (size_t)atoi(argv[2]);
    msgs = 24;
    a = 3;
  }
  if (argc > a) msgs = atoi(argv[a]);
  if (argc > a + 1) steps = atoi(argv[a + 1]);
  if (msgs < 1 || steps < 1 || (a == 3 && bench_n < 1)) {
    fprintf(stderr, "usage: hotspot [messages [steps]] | --bench n [messages [steps]]\n");
    return 2;
  }
  if (!(g_src = read_text(HOTSPOT_CL))) {
    fprintf(stderr, "hotspot: cannot read %s\n", HOTSPOT_CL);
    return 1;
  }
  maestro_runtime_t *rt;
  hot_t hs = {.steps = steps};
  int st = example_device_runtime("hotspot", &rt, &hs.ndev);
  if (st) {
    free(g_src);
    return st;
  }
  if (hs.ndev > MAXDEV) hs.ndev = MAXDEV;
  int ok = 0;
  if (build(rt, &hs)) {
    fprintf(stderr, "hotspot: building %s failed\n", HOTSPOT_CL);
  } else if (bench_n) {
    ok = bench(rt, &hs, bench_n, msgs);
  } else {
    double secs;
    int good = run_graph(rt, &hs, msgs, 0, &secs);
    printf("hotspot: %d of %d grids within 1e-4 of the CPU reference, %d steps each (%d firings "
           "on a device)\n",
           good, msgs, steps, good < 0 ? 0 : msgs);
    ok = good == msgs;
  }
  unbuild(&hs);
  maestro_runtime_destroy(rt);
  free(g_src);
  return ok ? 0 : 1;
}
