/* Places, brought by backends (runtime/sched/place.c).
 *
 * A backend is a table of operations held as data (struct backend_ops), so
 * that several backends live in one process and the engine names none of
 * them: the CPU backend (runtime/backend/cpu) is one, the OpenCL backend
 * (runtime/backend/opencl) another, a test-only backend in tests/ a third.
 * The built-in ones are listed in runtime/backends.c; a program (a test)
 * may add a device backend with place_backend_register before it creates a
 * runtime.
 *
 * One backend brings the CPU places (backend_ops.cpu_places: the CPU
 * backend, the first built-in one). It is discovered when the runtime is
 * created (place_init), since the workers start on its places, and it
 * registers the host memory node. Its places are only described here
 * (place_add_cpu, place_bind_cpu, place_cpu_arch): the sched workers fire
 * CPU agents inline, through no table.
 *
 * A device backend's places are discovered when first needed, not when the
 * runtime is created: a graph with an agent the backend can run
 * (backend_ops.wants) starts, maestro_runtime_nplaces(rt,
 * MAESTRO_PLACE_DEVICE) or place info asks, or an agent asks for a device.
 * Discovery of every device backend happens together, in registration
 * order, so the places of earlier backends come first in the runtime's
 * device place numbering (the OpenCL backend is the first built-in device
 * backend: its device i is device place i).
 *
 * The memory a place reads and writes is a memory node (runtime/mem); the
 * backend names it for each place it adds. */
#ifndef MAESTRO_SCHED_PLACE_H
#define MAESTRO_SCHED_PLACE_H

#include <stdint.h>

#include "maestro.h"

struct maestro_runtime;

/* Device places one runtime can hold, over all backends (a bit mask of
 * places is a uint64_t). */
#define PLACE_MAX_DEVICES 64
/* Backends one runtime can hold: the built-in ones and the registered ones. */
#define PLACE_MAX_BACKENDS 16

/* A message a firing sent beyond the first on its port. */
struct place_msg {
  int port;
  maestro_buf_t *b;
};

/* What one submitted firing did, handed to its completion. */
struct place_result {
  int status;          /* MAESTRO_OK or a negative status (message set on the calling thread) */
  uint64_t busy_ns;    /* time the place was busy with it */
  uint64_t t_start_ns; /* when it ran, on the host clock (rt_now_ns) */
  uint64_t t_end_ns;
  uint64_t bytes_h2d; /* bytes this firing moved host -> place */
  uint64_t bytes_d2h;
  uint64_t bytes_d2d;
  /* With status < 0: the agent's own code ran there and failed (after its
   * supervisor's retries, counted): no fallback to another place, the
   * failure goes to its supervisor. 0: the place could not run it (a
   * build, an enqueue, memory): a hybrid agent falls back to its CPU. */
  int impl_failed;
  /* Messages beyond the first on a port (a CPU function may send several),
   * in the order sent; done() takes their references too. */
  const struct place_msg *more;
  int n_more;
};

/* A firing's completion: `out` holds one reference per output port (NULL
 * for a port that sent nothing; the array is valid during the call only), or
 * the failure in r->status (every out[j] NULL). From any thread. */
typedef void (*place_done_fn)(void *ctx, maestro_buf_t **out, const struct place_result *r);

/* What a backend sees of an agent when it prepares an implementation. The
 * pointers are the agent's own copies, valid until unprepare. */
struct place_agent_desc {
  const char *name;
  maestro_cpu_fn cpu;             /* NULL when none */
  const maestro_kernel_t *kernel; /* NULL when none */
  maestro_cl_fn cl;               /* NULL when none (maestro/opencl.h) */
  void *state;
  unsigned flags;
  maestro_affinity_t affinity;
  const maestro_port_t *in, *out;
  int n_in, n_out;
  /* For a backend whose places run CPU code (a host-offload thread, the
   * test backend): fires the agent's CPU implementation once on `in`, on
   * the calling thread, as a firing of device place `dev` numbered `seq`.
   * out[j] (n_out of them) gets port j's first message, NULL when it sent
   * none; *more (malloc'd, NULL when none) the others, *n_more of them, in
   * the order sent. The supervisor's retries happen here (counted in the
   * agent's stats). Returns MAESTRO_OK or the firing's final failure
   * (nothing sent then; report it with place_result.impl_failed). */
  int (*fire_cpu)(void *agent, maestro_buf_t *const *in, uint64_t seq, int dev, maestro_buf_t **out,
                  struct place_msg **more, int *n_more);
  void *agent; /* fire_cpu's first argument */
};

struct backend_ops {
  const char *name; /* "cpu", "opencl", ... */
  /* 1 for the backend of the CPU places (one per runtime). Its discover
   * runs in place_init and adds CPU places (place_add_cpu) and the host
   * memory node (mem_node_add_host); it needs bind and arch, and no wants,
   * prepare or submit: CPU agents are fired by the sched workers inline. */
  int cpu_places;
  /* 1 when its firings run the agent's CPU function (fire_cpu), which may
   * touch the agent's state: a stateful agent's firings there then never
   * overlap its others (one firing at a time, as on its CPU lane). */
  int runs_cpu_code;
  /* 1 when this backend has an implementation for the agent, judged from
   * its description alone (no discovery: a CPU-only program pays for no
   * backend it does not use). */
  int (*wants)(const struct place_agent_desc *d);
  /* Finds the backend's places and adds each with place_add (zero is no
   * error: place_set_reason says why). *be is the backend's state. */
  int (*discover)(struct maestro_runtime *rt, void **be);
  void (*fini)(struct maestro_runtime *rt, void *be);
  /* Prepares agent `d` for the backend's places in `places` (bit i = the
   * backend's own place i): builds its kernel there. *impl = NULL with
   * MAESTRO_OK when the backend has nothing to run it with. Errors name the
   * agent (a build log, an argument that does not fit). */
  int (*prepare)(void *be, const struct place_agent_desc *d, uint64_t places, void **impl);
  void (*unprepare)(void *be, void *impl);
  /* Submits firing `seq` of `impl` on the backend's place `place` without
   * blocking. `in` holds one borrowed buffer per input port until done()
   * is called. Bit j of host_outputs: output j will be read on the host.
   * An error return means done() will never be called for it (libuv's
   * rule); otherwise done() is called exactly once, in submission order
   * per place. */
  int (*submit)(void *be, void *impl, int place, maestro_buf_t *const *in, uint64_t seq,
                unsigned host_outputs, place_done_fn done, void *ctx);
  /* The place's architecture, the key of performance models: two places of
   * one model share it ("opencl:NVIDIA H200", "opencl:pthread-AMD EPYC"). */
  const char *(*arch)(void *be, int place);
  /* CPU places only: pins the calling thread to the backend's place `place`. */
  int (*bind)(void *be, int place);
};

/* Adds a device backend for runtimes created from now on (tests; built-in
 * ones are listed in runtime/backends.c). MAESTRO_EINVAL for one that brings
 * CPU places (those have their one backend), MAESTRO_ENOMEM past 8 extra
 * backends. */
int place_backend_register(const struct backend_ops *ops);

/* Runtime life: the place table and the CPU places (the CPU backend's
 * discovery: rt->ncpu, rt->cpu_info, the host memory node; ENODEV when no
 * backend brings CPU places), then every discovered backend's fini. */
int place_init(struct maestro_runtime *rt);
void place_fini(struct maestro_runtime *rt);

/* Discovers every backend now if not yet done (thread-safe, once). */
int place_discover(struct maestro_runtime *rt);
/* 1 when some backend wants `d` (see backend_ops.wants); discovers nothing. */
int place_wanted(const struct maestro_runtime *rt, const struct place_agent_desc *d);

/* For a backend's discover: adds one device place; returns its device place
 * index, or a negative status (PLACE_MAX_DEVICES reached). `node` is the
 * memory node its firings read and write (runtime/mem). */
int place_add(struct maestro_runtime *rt, const maestro_place_info_t *info, int node);
/* For the CPU backend's discover: adds CPU place rt->ncpu (rt->ncpu grows
 * by one; info's kind and index are set here); returns its index or
 * MAESTRO_ENOMEM. */
int place_add_cpu(struct maestro_runtime *rt, const maestro_place_info_t *info);
/* Pins the calling thread to CPU place `cpu` (the CPU backend's bind).
 * MAESTRO_ENODEV for a bad index. */
int place_bind_cpu(struct maestro_runtime *rt, int cpu);
/* The architecture of CPU place `cpu` ("cpu:<model>"; "" for a bad index). */
const char *place_cpu_arch(const struct maestro_runtime *rt, int cpu);

/* The state backend `ops` keeps in this runtime: what its discover stored
 * in *be, or what it set meanwhile with place_backend_set (for its own code
 * that runs during its discovery). NULL when `ops` is not one of this
 * runtime's backends or has no state yet. A backend's entry points call
 * place_discover first. */
void *place_backend_get(const struct maestro_runtime *rt, const struct backend_ops *ops);
/* For a backend's discover (and its fini): sets that state. */
void place_backend_set(struct maestro_runtime *rt, const struct backend_ops *ops, void *state);

/* For a backend's discover: why it found no place (a static string). */
void place_set_reason(struct maestro_runtime *rt, const char *why);

/* An agent's implementations on device places: one per backend that has
 * one. NULL when it has none. */
struct place_impls;

/* Prepares `d` on every backend that wants it, on the device places in
 * `allowed` (bit i = device place i). *out = NULL when none has an
 * implementation. */
int place_prepare(struct maestro_runtime *rt, const struct place_agent_desc *d, uint64_t allowed,
                  struct place_impls **out);
void place_impls_free(struct maestro_runtime *rt, struct place_impls *pi);
/* Device places the implementations can run on (bit i = device place i). */
uint64_t place_impls_places(const struct place_impls *pi);
/* 1 when one of them runs the agent's CPU code (backend_ops.runs_cpu_code). */
int place_impls_run_cpu_code(const struct place_impls *pi);
/* Submits a firing on device place `dev` (see backend_ops.submit). */
int place_submit(struct maestro_runtime *rt, const struct place_impls *pi, int dev,
                 maestro_buf_t *const *in, uint64_t seq, unsigned host_outputs, place_done_fn done,
                 void *ctx);
/* The backend's state of device place `dev` (what its discover set), for
 * the backend's own entry points; NULL for a bad index. */
void *place_backend_state(const struct maestro_runtime *rt, int dev);

/* The memory node of device place `dev`. */
int place_node(const struct maestro_runtime *rt, int dev);
/* The name of device place `dev`'s backend ("" for a bad index). */
const char *place_backend_name(const struct maestro_runtime *rt, int dev);
/* The architecture of device place `dev` ("" for a bad index). */
const char *place_arch(const struct maestro_runtime *rt, int dev);

/* Built-in backends, in discovery order, NULL-terminated (runtime/backends.c). */
extern const struct backend_ops *const place_builtin_backends[];

#endif
