/* image_pipeline: the Maestro demo.
 *
 *   generate (CPU) -> blur (3x3, device) -> edges (3x3, device) -> histogram (CPU) -> host
 *
 * A source agent draws synthetic grey images; two bundled convolution agents
 * blur them and find their edges on the OpenCL device (the second reads the
 * first one's device replica: no bytes cross the boundary between them); a
 * bundled histogram agent counts the edge strengths on a CPU core; the host
 * reads one 256-bin histogram per image. The whole pipeline then runs again
 * pinned to the CPU, and the two results must agree bit for bit (the bundled
 * kernels compute exactly what their CPU implementations compute).
 *
 * Without any OpenCL device the demo says so and runs on the CPU alone.
 *
 *   image_pipeline [WIDTH HEIGHT FRAMES]      (default 512 512 8)
 */
#include <maestro.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

/* The source's private state. */
typedef struct gen_state {
  uint32_t width, height;
  int frames;
} gen_state_t;

/* Frame f: a soft gradient, a ring that grows with f, and a square. */
static int generate(maestro_fire_t *f) {
  gen_state_t *s = maestro_fire_state(f);
  uint64_t frame = maestro_fire_seq(f);
  if (frame >= (uint64_t)s->frames) return MAESTRO_DONE;
  maestro_buf_t *img;
  int st = maestro_fire_alloc(f, (size_t)s->width * s->height * sizeof(float), &img);
  if (st != MAESTRO_OK) return st;
  float *px = maestro_buf_data(img);
  float cx = 0.5f * (float)s->width, cy = 0.5f * (float)s->height;
  float r = (0.15f + 0.04f * (float)frame) * (float)(s->width < s->height ? s->width : s->height);
  for (uint32_t y = 0; y < s->height; y++)
    for (uint32_t x = 0; x < s->width; x++) {
      float v = 0.25f * (float)x / (float)s->width;
      float d = hypotf((float)x - cx, (float)y - cy);
      if (fabsf(d - r) < 3.0f) v += 0.6f;
      if (x > s->width / 8 && x < s->width / 4 && y > s->height / 8 && y < s->height / 4) v += 0.4f;
      px[(size_t)y * s->width + x] = v;
    }
  return maestro_fire_out(f, 0, img);
}

static const maestro_port_t img_out[] = {{"out", MAESTRO_F32, 0}};

/* Everything one run of the pipeline owns. */
typedef struct pipeline {
  gen_state_t gen;
  maestro_bundled_agent_t blur, edges, hist;
  maestro_agent_t *a_gen, *a_blur, *a_edges, *a_hist;
  maestro_graph_t *g;
} pipeline_t;

static int fail(const char *what, int st) {
  fprintf(stderr, "image_pipeline: %s: %s (%s)\n", what, maestro_strerror(st),
          maestro_last_error());
  return st;
}

/* Builds the graph; `device` pins blur and edges to the device, else to the CPU. */
static int build(maestro_runtime_t *rt, pipeline_t *p, uint32_t w, uint32_t h, int frames,
                 int device) {
  memset(p, 0, sizeof *p);
  p->gen = (gen_state_t){w, h, frames};
  maestro_bundled_params_t blur = {.width = w,
                                   .height = h,
                                   .weights = {1 / 16.f, 2 / 16.f, 1 / 16.f, 2 / 16.f, 4 / 16.f,
                                               2 / 16.f, 1 / 16.f, 2 / 16.f, 1 / 16.f}};
  maestro_bundled_params_t lap = {.width = w, .height = h, .weights = {0, 1, 0, 1, -4, 1, 0, 1, 0}};
  maestro_bundled_params_t hist = {.lo = -0.5f, .hi = 0.5f};
  int st;
  if ((st = maestro_bundled_agent(MAESTRO_BUNDLED_CONV3X3, "blur", &blur, &p->blur)) ||
      (st = maestro_bundled_agent(MAESTRO_BUNDLED_CONV3X3, "edges", &lap, &p->edges)) ||
      (st = maestro_bundled_agent(MAESTRO_BUNDLED_HISTOGRAM_F32, "histogram", &hist, &p->hist)))
    return fail("bundled agent", st);
  maestro_affinity_t on = {device ? MAESTRO_ON_DEVICE : MAESTRO_ON_CPU, -1, 0};
  p->blur.desc.affinity = on;
  p->edges.desc.affinity = on;
  p->hist.desc.affinity = (maestro_affinity_t){MAESTRO_ON_CPU, -1, 0};

  if ((st = maestro_graph_create(rt, device ? "image_pipeline" : "image_pipeline_cpu", &p->g)))
    return fail("graph", st);
  maestro_agent_desc_t gen = {.name = "generate",
                              .out = img_out,
                              .n_out = 1,
                              .cpu = generate,
                              .state = &p->gen,
                              .affinity = {MAESTRO_ON_CPU, -1, 0}};
  if ((st = maestro_agent_add(p->g, &gen, &p->a_gen)) ||
      (st = maestro_agent_add(p->g, &p->blur.desc, &p->a_blur)) ||
      (st = maestro_agent_add(p->g, &p->edges.desc, &p->a_edges)) ||
      (st = maestro_agent_add(p->g, &p->hist.desc, &p->a_hist)))
    return fail("agent", st);
  if ((st = maestro_connect(p->g, p->a_gen, "out", p->a_blur, "in", 4)) ||
      (st = maestro_connect(p->g, p->a_blur, "out", p->a_edges, "in", 4)) ||
      (st = maestro_connect(p->g, p->a_edges, "out", p->a_hist, "in", 4)))
    return fail("connect", st);
  return MAESTRO_OK;
}

/* Runs the graph and adds every histogram into `total`; `sum` gets an FNV-1a
 * checksum of the histograms in order. */
static int run(pipeline_t *p, uint64_t total[256], uint64_t *sum) {
  maestro_output_t *out;
  int st;
  if ((st = maestro_graph_output(p->g, p->a_hist, "out", &out))) return fail("output", st);
  if ((st = maestro_graph_start(p->g))) return fail("start", st);
  uint64_t h = 1469598103934665603ull;
  maestro_buf_t *b;
  while ((st = maestro_output_pop(out, &b, -1)) == MAESTRO_OK) {
    const uint32_t *bins = maestro_buf_cdata(b);
    if (bins && maestro_buf_size(b) == 256 * sizeof(uint32_t))
      for (int i = 0; i < 256; i++) {
        total[i] += bins[i];
        for (int byte = 0; byte < 4; byte++)
          h = (h ^ ((bins[i] >> (8 * byte)) & 0xffu)) * 1099511628211ull;
      }
    maestro_buf_release(b);
  }
  *sum = h;
  if ((st = maestro_graph_wait(p->g))) return fail("run", st);
  return MAESTRO_OK;
}

static void report_agent(maestro_agent_t *a) {
  maestro_agent_stats_t s;
  if (maestro_agent_stats(a, &s) != MAESTRO_OK) return;
  char place[32];
  snprintf(place, sizeof place, "%s %d", s.place_kind == MAESTRO_PLACE_DEVICE ? "device" : "cpu",
           s.place_index);
  printf("  %-10s on %-9s  %3llu firings (%llu on a device, %llu fell back)  busy %.2f ms\n",
         maestro_agent_name(a), place, (unsigned long long)s.fires,
         (unsigned long long)s.device_fires, (unsigned long long)s.fallbacks,
         (double)s.busy_ns * 1e-6);
}

int main(int argc, char **argv) {
  uint32_t w = 512, h = 512;
  int frames = 8;
  if (argc == 4) {
    w = (uint32_t)atoi(argv[1]);
    h = (uint32_t)atoi(argv[2]);
    frames = atoi(argv[3]);
  }
  if (argc != 1 && argc != 4) {
    fprintf(stderr, "usage: image_pipeline [WIDTH HEIGHT FRAMES]\n");
    return 2;
  }
  if (w < 1 || h < 1 || frames < 1) {
    fprintf(stderr, "image_pipeline: width, height and frames must be >= 1\n");
    return 2;
  }
  maestro_runtime_t *rt;
  int st = maestro_runtime_create(NULL, &rt);
  if (st) return fail("runtime", st), 1;
  int ndev = maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE);
  int device = ndev > 0;
  printf("Maestro image pipeline: %d images of %ux%u, %d CPU places, %d OpenCL device(s)\n", frames,
         w, h, maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU), ndev);
  if (device) {
    maestro_place_info_t info;
    maestro_runtime_place_info(rt, MAESTRO_PLACE_DEVICE, 0, &info);
    printf("  device 0: %s (%s)\n", info.name, info.platform);
  } else {
    printf("  no OpenCL device [%s]: every agent runs on the CPU\n",
           maestro_runtime_cpu_only_reason(rt) ? maestro_runtime_cpu_only_reason(rt)
                                               : "none found");
  }

  static pipeline_t dev, cpu;
  uint64_t hist[256] = {0}, ref[256] = {0}, sum = 0, ref_sum = 0;
  if (build(rt, &dev, w, h, frames, device) != MAESTRO_OK) return 1;
  double t0 = now_ms();
  st = run(&dev, hist, &sum);
  if (st != MAESTRO_OK && device) {
    /* e.g. the kernels do not build on this device: say so, go on without it */
    printf("  the device pipeline failed (%s): running on the CPU instead\n", maestro_strerror(st));
    maestro_graph_destroy(dev.g);
    memset(hist, 0, sizeof hist);
    device = 0;
    t0 = now_ms();
    if (build(rt, &dev, w, h, frames, 0) != MAESTRO_OK || run(&dev, hist, &sum) != MAESTRO_OK)
      return 1;
  } else if (st != MAESTRO_OK) {
    return 1;
  }
  double t_dev = now_ms() - t0;
  printf("pipeline: generate -> blur (3x3) -> edges (3x3 Laplacian) -> histogram -> host, "
         "%.1f ms\n",
         t_dev);
  report_agent(dev.a_gen);
  report_agent(dev.a_blur);
  report_agent(dev.a_edges);
  report_agent(dev.a_hist);

  uint64_t pixels = 0, strong = 0;
  int mode = 0, used = 0;
  for (int i = 0; i < 256; i++) {
    pixels += hist[i];
    used += hist[i] != 0;
    if (hist[i] > hist[mode]) mode = i;
    if (i < 112 || i >= 144) /* |edge| >= 1/16 */
      strong += hist[i];
  }
  printf("histogram of edge strength over [-0.5, 0.5): %llu pixels, %d of 256 bins used, "
         "mode bin %d, %.2f%% edge pixels (|laplacian| >= 1/16)\n",
         (unsigned long long)pixels, used, mode,
         pixels ? 100.0 * (double)strong / (double)pixels : 0);

  /* The same pipeline on the CPU alone: the results must be identical. */
  if (build(rt, &cpu, w, h, frames, 0) != MAESTRO_OK) return 1;
  t0 = now_ms();
  if (run(&cpu, ref, &ref_sum) != MAESTRO_OK) return 1;
  double t_cpu = now_ms() - t0;
  int same = sum == ref_sum && memcmp(hist, ref, sizeof hist) == 0 &&
             pixels == (uint64_t)w * h * (uint64_t)frames;
  printf("checksum %016llx, all-CPU run %016llx (%.1f ms): %s\n", (unsigned long long)sum,
         (unsigned long long)ref_sum, t_cpu, same ? "match" : "MISMATCH");
  maestro_graph_destroy(dev.g);
  maestro_graph_destroy(cpu.g);
  maestro_runtime_destroy(rt);
  return same ? 0 : 1;
}
