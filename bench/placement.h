/* The work of the placement benchmarks (bench/placement.c on Maestro,
 * bench/placement_starpu.c on StarPU): the same tasks, the same sizes.
 *
 * One task maps each element x of a message of u32 to LCG^T(x), the linear
 * congruential step v = v * A + C applied T times (exact integers, so the
 * sink checks every element). A side's cost is set by its work factor w >= 1:
 * before the T steps it runs (w - 1) * T / 2 steps forward and as many
 * backward (the LCG is invertible mod 2^32, AINV = A^-1), which leaves the
 * value unchanged but costs about w times the plain work. The same code runs
 * on the CPU side (C, one core) and on the device side (OpenCL C, one
 * work-item per element), so a profile is a pair of work factors.
 *
 * The four graphs (each a chain source -> h1 -> h2 -> sink of two hybrid
 * agents of one profile):
 *  - cpufast:   CPU w = 1, device w = DEV_SLOW (the device side much slower);
 *  - devfast:   CPU w = CPU_SLOW, device w = 1 (the CPU side much slower);
 *  - crossover: both w = 1, message sizes alternating SMALL_N / LARGE_N
 *               elements: small ones are cheaper on the CPU (no launch), large
 *               ones on the device (vectorised across work-items);
 *  - coldstart: CPU w = COLD_W for the agent's first COLD_FIRES CPU firings,
 *               then 1; device w = 4. */
#ifndef MAESTRO_BENCH_PLACEMENT_H
#define MAESTRO_BENCH_PLACEMENT_H

#include <stdint.h>
#include <stdlib.h>

#define PL_A    1664525u
#define PL_C    1013904223u
#define PL_AINV 4276115653u /* PL_A * PL_AINV == 1 mod 2^32 */

#define PL_DEV_SLOW   8
#define PL_CPU_SLOW   8
#define PL_COLD_W     64
#define PL_COLD_FIRES 8
#define PL_COLD_DEV_W 4

enum { PL_CPUFAST, PL_DEVFAST, PL_CROSSOVER, PL_COLDSTART, PL_NGRAPHS };

static const char *const pl_graph_names[PL_NGRAPHS] = {"cpufast", "devfast", "crossover",
                                                       "coldstart"};

/* Sizes: msgs messages of n elements (crossover alternates n / 64 and
 * n * 4, starting small), T steps per element. */
typedef struct {
  int msgs;
  size_t n;
  unsigned iters;
} pl_size_t;

static inline size_t pl_msg_elems(int graph, const pl_size_t *sz, uint64_t seq) {
  if (graph != PL_CROSSOVER) return sz->n;
  return (seq & 1) ? sz->n * 4 : (sz->n / 64 ? sz->n / 64 : 1);
}

/* The pad steps of work factor w (forward, then as many backward). */
static inline unsigned pl_pad(unsigned w, unsigned iters) {
  return (w - 1) * iters / 2;
}

/* Work factors of one graph's CPU and device sides; `cpu_fire` is the
 * agent's CPU firing count before this one (the cold start). */
static inline unsigned pl_cpu_w(int graph, unsigned long cpu_fire) {
  switch (graph) {
  case PL_DEVFAST: return PL_CPU_SLOW;
  case PL_COLDSTART: return cpu_fire < PL_COLD_FIRES ? PL_COLD_W : 1;
  default: return 1;
  }
}

static inline unsigned pl_dev_w(int graph) {
  switch (graph) {
  case PL_CPUFAST: return PL_DEV_SLOW;
  case PL_COLDSTART: return PL_COLD_DEV_W;
  default: return 1;
  }
}

/* The CPU side of one task. An empty asm between the pad loops keeps the
 * compiler from folding the forward and backward steps away. */
static inline void pl_cpu_task(const uint32_t *x, uint32_t *y, size_t n, unsigned iters,
                               unsigned pad) {
  for (size_t i = 0; i < n; i++) {
    uint32_t v = x[i];
    for (unsigned p = 0; p < pad; p++)
      v = v * PL_A + PL_C;
    __asm__ volatile("" : "+r"(v));
    for (unsigned p = 0; p < pad; p++)
      v = (v - PL_C) * PL_AINV;
    __asm__ volatile("" : "+r"(v));
    for (unsigned p = 0; p < iters; p++)
      v = v * PL_A + PL_C;
    y[i] = v;
  }
}

#define PL_KERNEL_SRC                                                                              \
  "__kernel void pl_work(__global const uint *x, __global uint *y, uint n, uint iters,\n"          \
  "                      uint pad) {\n"                                                            \
  "  size_t i = get_global_id(0);\n"                                                               \
  "  if (i >= n) return;\n"                                                                        \
  "  uint v = x[i];\n"                                                                             \
  "  for (uint p = 0; p < pad; p++) v = v * 1664525u + 1013904223u;\n"                             \
  "  for (uint p = 0; p < pad; p++) v = (v - 1013904223u) * 4276115653u;\n"                        \
  "  for (uint p = 0; p < iters; p++) v = v * 1664525u + 1013904223u;\n"                           \
  "  y[i] = v;\n"                                                                                  \
  "}\n"

/* The source's element j of message seq. */
static inline uint32_t pl_input(uint64_t seq, size_t j) {
  return (uint32_t)(seq * 2654435761u + j * 40503u + 1u);
}

/* LCG^k is affine, x -> a * x + c: the sink checks an element in O(1). */
typedef struct {
  uint32_t a, c;
} pl_affine_t;

static inline pl_affine_t pl_power(unsigned k) {
  pl_affine_t m = {1u, 0u};
  for (unsigned s = 0; s < k; s++)
    m = (pl_affine_t){m.a * PL_A, m.c * PL_A + PL_C};
  return m;
}

static inline uint32_t pl_expect(pl_affine_t m, uint32_t x) {
  return m.a * x + m.c;
}

#endif
