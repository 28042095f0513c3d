/* The bundled kernel library, inside the runtime: the CPU equivalents of
 * kernels/ (.cl files) as plain functions (compute.c), the kernel side of a bundled
 * agent (bundled.c) and the maestro_cpu_fn wrappers (cpu.c). Tests compare
 * the OpenCL kernels against the plain functions. */
#ifndef MAESTRO_KERN_KERN_H
#define MAESTRO_KERN_KERN_H

#include <stddef.h>
#include <stdint.h>

#include "maestro.h"

/* kernels/embed_run.cmake */
extern const char maestro_bundled_kernels[];
extern const size_t maestro_bundled_kernels_len;

/* ---- plain CPU implementations (compute.c) ---- */
void kern_saxpy(const float *x, const float *y, float *out, size_t n, float a);
void kern_scale(const float *x, float *out, size_t n, float a);
void kern_add(const float *x, const float *y, float *out, size_t n);
float kern_reduce(maestro_bundled_t which, const float *x, size_t n); /* REDUCE_SUM/MIN/MAX */
void kern_scan_sum(const float *x, float *y, size_t n);
void kern_histogram_u8(const uint8_t *x, size_t n, uint32_t hist[256]);
void kern_histogram_f32(const float *x, size_t n, float lo, float scale, uint32_t hist[256]);
void kern_transpose(const float *in, float *out, uint32_t w, uint32_t h);
void kern_sgemm(const float *a, const float *b, float *c, uint32_t m, uint32_t n, uint32_t k);
void kern_conv(const float *in, float *out, uint32_t w, uint32_t h, int radius,
               const float *weights);

/* ---- input sizes (check.c): one validation for both sides ---- */

/* Checks one firing's input sizes (bytes[i] of input port i) against `ba`'s
 * operation and parameters; fills count[i] (elements). MAESTRO_OK, or
 * MAESTRO_EINVAL with the reason in `why` (port, expected and got). Used by
 * the CPU implementation and by the kernel's input check alike. */
int kern_check_inputs(const maestro_bundled_agent_t *ba, const size_t *bytes, size_t *count,
                      char *why, size_t why_len);

/* maestro_kernel_t.check of every bundled agent (.check_arg = the agent). */
int kern_kernel_check(maestro_kcheck_t *c);

/* ---- descriptions (bundled.c) ---- */

/* Fills `ba` (which, params, kernel, args, out_count, hist_scale) but not
 * the CPU side: maestro_bundled_agent() adds that. Validates `p`. */
int kern_bundled_kernel(maestro_bundled_t which, const maestro_bundled_params_t *p,
                        maestro_bundled_agent_t *ba);

/* Input / output ports of `which`. */
int kern_bundled_ports(maestro_bundled_t which, const maestro_port_t **in, int *n_in,
                       const maestro_port_t **out, int *n_out);

/* ---- library agents (lib.c): MAESTRO_BUNDLED_LIB_FIRST .. LIB_END - 1 ---- */

struct maestro_runtime;

int kern_is_lib(maestro_bundled_t which);
/* The library routine of the device side ("CLBlastSgemm"), NULL if not a library agent. */
const char *kern_lib_routine(maestro_bundled_t which);
int kern_lib_ports(maestro_bundled_t which, const maestro_port_t **in, int *n_in,
                   const maestro_port_t **out, int *n_out);
/* One firing's sizes from its input messages' shapes (and the agent's
 * parameters for unshaped GEMM messages): GEMM (m, n, k), FFT (n, 1, 1).
 * MAESTRO_OK, or MAESTRO_EINVAL with the reason in `why` (port, what it
 * holds, what it needs). Both sides call it: the CPU side here, the device
 * side through ocl_lib_hooks (runtime/backends.c). */
int kern_lib_sizes(const maestro_bundled_agent_t *ba, maestro_buf_t *const *in, size_t dims[3],
                   char *why, size_t why_len);
/* The CPU implementation of a library agent; NULL without its library. */
maestro_cpu_fn kern_lib_cpu(maestro_bundled_t which);
/* maestro_bundled_agent() for a library agent. */
int kern_lib_agent(maestro_bundled_t which, const char *name, const maestro_bundled_params_t *p,
                   maestro_bundled_agent_t *out);
/* The runtime's FFTW plans (the "kern" module of runtime/modules.c). */
int kern_lib_init(struct maestro_runtime *rt);
void kern_lib_fini(struct maestro_runtime *rt);
/* FFTW plans the runtime holds (tests). */
int kern_lib_plans(struct maestro_runtime *rt);

/* The device side of library agents, given by the OpenCL backend
 * (runtime/backends.c fills it: kern never names a backend). */
struct kern_dev_lib {
  maestro_cl_fn (*cl)(maestro_bundled_t which);    /* NULL without the library */
  const char *(*missing)(maestro_bundled_t which); /* "CLBlast", "clFFT" or NULL */
};
extern const struct kern_dev_lib kern_dev_lib;

#endif
