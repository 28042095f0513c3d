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
  /** dimension `v.dim` (0, 1, 2) of input port `port`'s message shape, as
   *  cl_uint (maestro_buf_set_shape); dimensions past the shape's are 1, and
   *  a message without a shape counts as one dimension of its elements */
  MAESTRO_KARG_KIND_DIM,
  /** any by-value argument (a double, a long, a struct): the `v.data.n`
   *  bytes at `v.data.ptr`, copied when the agent is added */
  MAESTRO_KARG_KIND_BYTES,
  /** a constant buffer `v.buf` bound once (__global const or __constant):
   *  the agent holds a reference from maestro_agent_add until it is
   *  destroyed, and the buffer's replica stays on the device between
   *  firings (copied there once, not per firing) */
  MAESTRO_KARG_KIND_BUF,
  /** read-write (a __global pointer): input port `port`'s message becomes
   *  output port `v.out`'s message, written in place when the firing holds
   *  the input alone, else into a copy made on the device first (the
   *  other holders keep what they had). The output has the input's size
   *  and shape. */
  MAESTRO_KARG_KIND_INOUT,
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
    unsigned dim; /**< MAESTRO_KARG_DIM */
    struct {
      const void *ptr; /**< MAESTRO_KARG_BYTES: the value's bytes */
      size_t n;        /**< and their count */
    } data;
    struct maestro_buf *buf; /**< MAESTRO_KARG_BUF */
    int out;                 /**< MAESTRO_KARG_INOUT: the output port */
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

#define MAESTRO_KARG_DIM(p, d)                                                                     \
  {                                                                                                \
    .kind = MAESTRO_KARG_KIND_DIM, .port = (p), .v = {.dim = (d) }                                 \
  }
/** Any by-value argument: the `n` bytes at `ptr` (a double, a cl_long, a
 *  struct laid out as the kernel declares it), copied at maestro_agent_add.
 *  A built-in type's size is checked against `n` at maestro_graph_start. */
#define MAESTRO_KARG_BYTES(ptr, n)                                                                 \
  {                                                                                                \
    .kind = MAESTRO_KARG_KIND_BYTES, .port = -1, .v = {.data = {(ptr), (n)} }                      \
  }

/** A constant buffer bound once (a table, weights): maestro_agent_add takes
 *  a reference; do not write to `b` afterwards (it is shared). */
#define MAESTRO_KARG_BUF(b)                                                                        \
  {                                                                                                \
    .kind = MAESTRO_KARG_KIND_BUF, .port = -1, .v = {.buf = (b) }                                  \
  }

#define MAESTRO_KARG_INOUT(in, o)                                                                  \
  {                                                                                                \
    .kind = MAESTRO_KARG_KIND_INOUT, .port = (in), .v = {.out = (o) }                              \
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
 * One firing's launch, given to maestro_kernel_t.prepare before anything
 * is enqueued. Every field it may set comes preset with what the launch
 * would do without it.
 */
typedef struct maestro_klaunch {
  const char *agent;   /**< the agent's name */
  const char *kernel;  /**< the kernel's .name */
  void *arg;           /**< the kernel's .prepare_arg */
  int n_in;            /**< input ports */
  const size_t *bytes; /**< bytes of each input port's message */
  /** each input message's shape (unused dimensions 1) and its number of
   *  dimensions (0 = the message has none) */
  const size_t (*shape)[3];
  const int *ndim;
  /** Dimensions of the launch (1 to 3), work-items per dimension (rounded
   *  up to whole work-groups after the hook: kernels guard against the
   *  extra ones), and the work-group size (0 in a dimension = the runtime's
   *  choice; it must match a reqd_work_group_size the kernel declares). */
  unsigned work_dim;
  size_t global[3], local[3];
  int n_out;         /**< output ports */
  size_t *out_bytes; /**< bytes of each output message: set them */
  /** the shape each output message gets (out_ndim 0 = none): preset as
   *  maestro_kernel_t says; a shape set must hold exactly out_bytes */
  size_t (*out_shape)[3];
  int *out_ndim;
  /** This firing's copy of .args: set the values of scalar arguments
   *  (v.i32, v.u32, v.f32, or the n bytes at v.data.ptr, which here point
   *  to this firing's own copy, writable). Kinds, ports and sizes must stay
   *  as they are. */
  maestro_karg_t *args;
  int n_args;
  char *why;      /**< on refusal, say why (NUL-terminated) */
  size_t why_len; /**< room in `why`, terminating NUL included */
} maestro_klaunch_t;

/**
 * A kernel's per-firing preparation: it may change the launch's geometry,
 * its outputs' sizes and shapes, and its scalar arguments, from the
 * firing's inputs. MAESTRO_OK, or a negative status with the reason in
 * `l->why`: nothing is enqueued and the firing fails with that status and
 * "agent 'A': kernel 'K': <why>" (maestro_last_error, the dead letter's
 * reason), handled by the agent's supervisor like any failed firing. It
 * runs on the host, after .check, on the thread that launches, for every
 * firing on a device, and must not block; firings of a MAESTRO_STATELESS
 * agent may call it concurrently.
 */
typedef int (*maestro_kprep_fn)(maestro_klaunch_t *l);

/**
 * An OpenCL kernel as an agent implementation. A 1-D launch runs the
 * element count of input port `range_port`'s message (or .global[0], or
 * .global_count) rounded up to a work-group multiple the device likes
 * (kernels guard with their count). A 2-D or 3-D launch (.work_dim) runs
 * .global, or where .global[d] is 0 dimension d of the range port
 * message's shape (maestro_buf_set_shape; a message without enough
 * dimensions is refused), each rounded up to whole work-groups.
 *
 * Each output message gets the range port message's shape when it holds
 * as many elements, else the launch's global range (before rounding) when
 * that does, else no shape; .prepare may set it.
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
  /** Dimensions of the launch: 0 or 1 = 1-D, 2, 3. A kernel declaring a
   *  reqd_work_group_size with more dimensions than the launch (y or z
   *  above 1) is refused at maestro_graph_start. */
  unsigned work_dim;
  /** Work-items per dimension before rounding up to whole work-groups;
   *  0 = from the range port (see above). */
  size_t global[3];
  /** Work-group size per dimension: all 0 = the kernel's
   *  reqd_work_group_size (read when it is built), or where it declares
   *  none the runtime's choice; else every dimension of the launch set.
   *  One that differs from the kernel's reqd_work_group_size is refused at
   *  maestro_graph_start, naming the agent and the kernel. For a 1-D launch
   *  .local_size is the same as .local[0]. */
  size_t local[3];
  /** Optional: called for each firing before its launch (maestro_kprep_fn). */
  maestro_kprep_fn prepare;
  /** Passed to `prepare` as `l->arg`. */
  void *prepare_arg;
} maestro_kernel_t;

#ifdef __cplusplus
}
#endif
#endif
