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
  MAESTRO_BUNDLED_COUNT,         /**< the number of kernel operations above (not an operation) */

  /* Library agents: a range of their own, after the kernel operations (a
   * loop up to MAESTRO_BUNDLED_COUNT does not meet them). Their device side
   * calls CLBlast / clFFT on the firing's queue, their CPU side OpenBLAS /
   * FFTW; sizes come from each message's shape (maestro_buf_shape), so they
   * may change from one message to the next. Built when CMake finds the
   * libraries: maestro_bundled_missing() says which are not. */
  MAESTRO_BUNDLED_LIB_FIRST = 256,
  /** c = a * b (f32, row-major): a of shape {k, m} (k columns, m rows), b
   *  {n, k}; c gets shape {n, m}. CLBlastSgemm / cblas_sgemm. */
  MAESTRO_BUNDLED_LIB_SGEMM = MAESTRO_BUNDLED_LIB_FIRST,
  /** The same in f64 (ports of MAESTRO_F64). CLBlastDgemm / cblas_dgemm. */
  MAESTRO_BUNDLED_LIB_DGEMM,
  /** Forward 1-D complex FFT (f32, unscaled): x holds n complex values as
   *  interleaved re, im floats, shape {2, n} (or no shape: n = bytes / 8);
   *  y the same. n >= 1 with no prime factor above 7. clFFT / FFTW (fftw3f). */
  MAESTRO_BUNDLED_LIB_FFT,
  MAESTRO_BUNDLED_LIB_END /**< one past the last library agent (not an operation) */
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
/* LIB_SGEMM / LIB_DGEMM read m, n, k only for a message without a shape
 * (both inputs unshaped: a is m x k, b k x n); 0 there means that messages
 * must carry shapes. LIB_FFT reads no parameter. p may be NULL for all three. */

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
 *
 * A library agent (MAESTRO_BUNDLED_LIB_*) has a .cl device implementation
 * (the library called on the firing's queue, see maestro/opencl.h) instead
 * of a kernel, and the library's CPU routine as .cpu. Each firing reads its
 * sizes from the messages' shapes and refuses messages whose shapes do not
 * fit (MAESTRO_EINVAL naming the agent and the port); on the device such a
 * refusal falls back to the CPU side, which refuses it the same way. The
 * libraries' set-up is made once per runtime: CLBlast compiles its kernels
 * for each device the agent may run on when the graph starts (seconds on a
 * CPU OpenCL device; PoCL keeps them in its disk cache afterwards), clFFT
 * and FFTW make a plan the first time a length is seen on a device / on the
 * CPU and keep it until the runtime is destroyed.
 *
 * @return MAESTRO_OK; MAESTRO_EINVAL (unknown `which`, NULL name or out,
 *         missing or bad parameters: zero width/height/m/n/k, hi <= lo);
 *         MAESTRO_ENOTSUP for a library agent when this build of Maestro
 *         lacks one of its libraries (the message names it).
 */
int maestro_bundled_agent(maestro_bundled_t which, const char *name,
                          const maestro_bundled_params_t *p, maestro_bundled_agent_t *out);

/**
 * The libraries library agent `which` needs and this build lacks, as a
 * static string ("CLBlast, OpenBLAS"); NULL when it has them all (or when
 * `which` is not a library agent).
 */
const char *maestro_bundled_missing(maestro_bundled_t which);

/** The OpenCL kernel function name of `which` ("maestro_saxpy"), NULL if
 *  unknown; for a library agent, the library routine ("CLBlastSgemm"). */
const char *maestro_bundled_kernel_name(maestro_bundled_t which);

/** The CPU implementation of `which` (its .state must be the maestro_bundled_agent_t). */
maestro_cpu_fn maestro_bundled_cpu(maestro_bundled_t which);

/** The bundled OpenCL C source (every .cl file of kernels/, NUL-terminated). */
const char *maestro_bundled_source(void);

#ifdef __cplusplus
}
#endif
#endif
