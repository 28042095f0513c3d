/**
 * @file maestro/kernel.h
 * OpenCL implementations of agents: a kernel and how its arguments are bound
 * to the agent's ports.
 */
#ifndef MAESTRO_KERNEL_H
#define MAESTRO_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** What one kernel argument is bound to. */
typedef enum maestro_karg_kind {
  MAESTRO_KARG_KIND_IN = 1, /**< the message on input port `port` (__global const) */
  MAESTRO_KARG_KIND_OUT,    /**< the message produced on output port `port` (__global) */
  MAESTRO_KARG_KIND_COUNT,  /**< element count of input port `port`'s message, as cl_uint */
  MAESTRO_KARG_KIND_I32,    /**< a constant int */
  MAESTRO_KARG_KIND_U32,    /**< a constant uint */
  MAESTRO_KARG_KIND_F32,    /**< a constant float */
  MAESTRO_KARG_KIND_LOCAL,  /**< __local memory of `bytes` bytes */
  /** a __global scratch buffer of `bytes` bytes on the launch's device,
   *  zero-filled before the kernel, private to that launch (work-group
   *  partial results, counters for a "last group finishes" reduction) */
  MAESTRO_KARG_KIND_SCRATCH,
} maestro_karg_kind_t;

/** One kernel argument. Build them with the MAESTRO_KARG_* macros. */
typedef struct maestro_karg {
  maestro_karg_kind_t kind;
  int port;
  union {
    int32_t i32;
    uint32_t u32;
    float f32;
    size_t bytes;
  } v;
} maestro_karg_t;

#define MAESTRO_KARG_IN(p)                                                                         \
  { .kind = MAESTRO_KARG_KIND_IN, .port = (p) }
#define MAESTRO_KARG_OUT(p)                                                                        \
  { .kind = MAESTRO_KARG_KIND_OUT, .port = (p) }
#define MAESTRO_KARG_COUNT(p)                                                                      \
  { .kind = MAESTRO_KARG_KIND_COUNT, .port = (p) }
#define MAESTRO_KARG_I32(x)                                                                        \
  {                                                                                                \
    .kind = MAESTRO_KARG_KIND_I32, .port = -1, .v = {.i32 = (x) }                                  \
  }
#define MAESTRO_KARG_U32(x)                                                                        \
  {                                                                                                \
    .kind = MAESTRO_KARG_KIND_U32, .port = -1, .v = {.u32 = (x) }                                  \
  }
#define MAESTRO_KARG_F32(x)                                                                        \
  {                                                                                                \
    .kind = MAESTRO_KARG_KIND_F32, .port = -1, .v = {.f32 = (x) }                                  \
  }
#define MAESTRO_KARG_LOCAL(n)                                                                      \
  {                                                                                                \
    .kind = MAESTRO_KARG_KIND_LOCAL, .port = -1, .v = {.bytes = (n) }                              \
  }

#define MAESTRO_KARG_SCRATCH(n)                                                                    \
  {                                                                                                \
    .kind = MAESTRO_KARG_KIND_SCRATCH, .port = -1, .v = {.bytes = (n) }                            \
  }

/**
 * An OpenCL kernel as an agent implementation. The global range is the
 * element count of input port `range_port`'s message, rounded up to a
 * work-group multiple the device likes (kernels guard with their count).
 */
typedef struct maestro_kernel {
  const char *source;  /**< OpenCL C source; NULL = the bundled kernels (kernels/) */
  const char *name;    /**< kernel function name */
  const char *options; /**< build options, or NULL */
  const maestro_karg_t *args;
  int n_args;
  int range_port; /**< input port whose element count sets the range */
  /** Optional, indexed by output port: elements of each output message;
   *  0 or a NULL array = the range port's count. */
  const size_t *out_count;
  /** Optional: fixed work-group size (0 = the runtime chooses). */
  size_t local_size;
  /** Optional: work-items to launch before rounding up to the work-group
   *  size (SGEMM: m * n); 0 = the range port's element count. */
  size_t global_count;
} maestro_kernel_t;

#ifdef __cplusplus
}
#endif
#endif
