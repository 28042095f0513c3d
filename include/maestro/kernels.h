/**
 * @file maestro/kernels.h
 * The bundled kernel library: ready-made agents (an OpenCL kernel from
 * kernels/ and the equivalent CPU implementation), so that a hybrid agent
 * over a common operation needs no user code. See docs/kernels.md.
 *
 * @code
 * maestro_bundled_agent_t blur;                    // must outlive the graph
 * maestro_bundled_params_t p = {.width = 640, .height = 480,
 *                               .weights = {1/16.f, 2/16.f, 1/16.f, 2/16.f, 4/16.f,
 *                                           2/16.f, 1/16.f, 2/16.f, 1/16.f}};
 * maestro_bundled_agent(MAESTRO_BUNDLED_CONV3X3, "blur", &p, &blur);
 * blur.desc.affinity = (maestro_affinity_t){MAESTRO_ON_DEVICE, -1, 0};  // optional
 * maestro_agent_add(g, &blur.desc, &a);
 * @endcode
 */
#ifndef MAESTRO_KERNELS_H
#define MAESTRO_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "kernel.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The bundled operations. Ports are named in docs/kernels.md. */
typedef enum maestro_bundled {
  MAESTRO_BUNDLED_SAXPY = 0,     /**< out = a * x + y (f32) */
  MAESTRO_BUNDLED_SCALE,         /**< out = a * in (f32) */
  MAESTRO_BUNDLED_ADD,           /**< out = x + y (f32) */
  MAESTRO_BUNDLED_REDUCE_SUM,    /**< out = one f32: the sum of in */
  MAESTRO_BUNDLED_REDUCE_MIN,    /**< out = one f32: the smallest of in (+inf when empty) */
  MAESTRO_BUNDLED_REDUCE_MAX,    /**< out = one f32: the largest of in (-inf when empty) */
  MAESTRO_BUNDLED_SCAN_SUM,      /**< out[i] = in[0] + ... + in[i] (f32) */
  MAESTRO_BUNDLED_HISTOGRAM_U8,  /**< out = u32[256]: counts of each byte value of in (u8) */
  MAESTRO_BUNDLED_HISTOGRAM_F32, /**< out = u32[256]: counts of in (f32) over [lo, hi) */
  MAESTRO_BUNDLED_TRANSPOSE,     /**< in: height x width f32 matrix -> out: width x height */
  MAESTRO_BUNDLED_SGEMM,         /**< c = a * b (f32, row-major: a m x k, b k x n) */
  MAESTRO_BUNDLED_CONV3X3,       /**< 3x3 convolution of a width x height f32 image */
  MAESTRO_BUNDLED_CONV5X5,       /**< 5x5 convolution of a width x height f32 image */
  MAESTRO_BUNDLED_COUNT
} maestro_bundled_t;

/** Parameters of a bundled agent; each operation reads only its own. */
typedef struct maestro_bundled_params {
  float a;           /**< SAXPY, SCALE: the factor */
  uint32_t width;    /**< TRANSPOSE, CONV*: columns of the row-major matrix / image */
  uint32_t height;   /**< TRANSPOSE, CONV*: rows */
  uint32_t m, n, k;  /**< SGEMM: a is m x k, b is k x n, c is m x n */
  float lo, hi;      /**< HISTOGRAM_F32: the range split into 256 equal bins */
  float weights[25]; /**< CONV3X3 (first 9) / CONV5X5: row-major taps, applied as a
                          correlation (weights[0] is the top-left neighbour) */
} maestro_bundled_params_t;

/** Most kernel arguments a bundled agent uses (CONV5X5: 5 + 25). */
#define MAESTRO_BUNDLED_MAX_ARGS 32

/**
 * A bundled agent: its description and everything the description points
 * to. Filled by maestro_bundled_agent(); `desc` points into the struct
 * itself, so keep it in place (do not copy or move it) and alive until the
 * graph using it is destroyed. Change `desc.affinity`, `desc.supervisor` or
 * `desc.flags` freely before maestro_agent_add(); treat the rest as private.
 */
typedef struct maestro_bundled_agent {
  maestro_agent_desc_t desc; /**< pass &desc to maestro_agent_add() */
  maestro_bundled_t which;
  maestro_bundled_params_t params;
  maestro_kernel_t kernel;
  maestro_karg_t args[MAESTRO_BUNDLED_MAX_ARGS];
  size_t out_count[1];
  float hist_scale; /**< HISTOGRAM_F32: 256 / (hi - lo), shared by CPU and kernel */
} maestro_bundled_agent_t;

/**
 * Fills `out` with a hybrid agent named `name` (the string must outlive the
 * agent's description) for the bundled operation `which`: its ports, the
 * bundled OpenCL kernel (`.source = NULL`), the CPU implementation, and
 * `p`'s parameters (copied). The agent is MAESTRO_STATELESS, runs
 * MAESTRO_ANYWHERE unless you change `out->desc.affinity`.
 * @return MAESTRO_OK; MAESTRO_EINVAL (unknown `which`, NULL name or out,
 *         missing or bad parameters: zero width/height/m/n/k, hi <= lo).
 */
int maestro_bundled_agent(maestro_bundled_t which, const char *name,
                          const maestro_bundled_params_t *p, maestro_bundled_agent_t *out);

/** The OpenCL kernel function name of `which` ("maestro_saxpy"), NULL if unknown. */
const char *maestro_bundled_kernel_name(maestro_bundled_t which);

/** The CPU implementation of `which` (its .state must be the maestro_bundled_agent_t). */
maestro_cpu_fn maestro_bundled_cpu(maestro_bundled_t which);

/** The bundled OpenCL C source (every .cl file of kernels/, NUL-terminated). */
const char *maestro_bundled_source(void);

#ifdef __cplusplus
}
#endif
#endif
