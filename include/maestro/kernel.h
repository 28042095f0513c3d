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
 * What a kernel's input check (maestro_kernel_t.check) is given: one
 * firing's input messages, before anything is sent to the device.
 */
typedef struct maestro_kcheck {
  const char *agent;        /**< the agent's name */
  const char *kernel;       /**< the kernel's .name */
  void *arg;                /**< the kernel's .check_arg (e.g. the agent's .state) */
  int n_in;                 /**< input ports */
  const char *const *ports; /**< their names */
  const size_t *bytes;      /**< bytes of each input port's message */
  const size_t *count;      /**< its elements (bytes / the port's element size, a whole number) */
  char *why;                /**< say what is wrong here: port, expected and got (NUL-terminated) */
  size_t why_len;           /**< room in `why`, terminating NUL included */
} maestro_kcheck_t;

/**
 * A kernel's input check: MAESTRO_OK when the inputs fit the kernel, else a
 * negative status (MAESTRO_EINVAL for a wrong size) with the reason written
 * to `c->why`, e.g. "input 0 'in' holds 15 elements, expected 16 (width *
 * height = 4 * 4)". It runs on the host, on the thread that launches, for
 * every firing on a device, and must not block. On failure nothing is
 * enqueued, the output is never made, and the firing fails with that status
 * and the message "agent 'A': kernel 'K': <why>" (a hybrid agent falls back
 * to its CPU implementation, which should refuse the same inputs: share one
 * validation function between the two, as the bundled agents do).
 */
typedef int (*maestro_kcheck_fn)(maestro_kcheck_t *c);

/**
 * An OpenCL kernel as an agent implementation. The global range is the
 * element count of input port `range_port`'s message, rounded up to a
 * work-group multiple the device likes (kernels guard with their count).
 */
typedef struct maestro_kernel {
  const char *source;  /**< OpenCL C source; NULL = the bundled kernels (kernels/) */
  const char *name;    /**< kernel function name */
  const char *options; /**< build options, or NULL */
  /** One binding per kernel parameter, checked at maestro_graph_start
   *  against the parameters the compiler reports (MAESTRO_EINVAL naming
   *  the argument and both types on a mismatch; not checked where the
   *  driver reports nothing, or for typedef and struct parameter types). */
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
  /** Optional: checks each firing's inputs before the launch (see
   *  maestro_kcheck_fn). Before calling it, the runtime itself refuses with
   *  MAESTRO_EINVAL a message whose byte size is not a whole number of its
   *  port's elements, or whose count does not fit a cl_uint. */
  maestro_kcheck_fn check;
  /** Passed to `check` as `c->arg`. */
  void *check_arg;
} maestro_kernel_t;

#ifdef __cplusplus
}
#endif
#endif
