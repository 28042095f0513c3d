/* The OpenCL backend (every OpenCL call is inside runtime/backend/opencl/).
 * The engine reaches it only through its tables of operations
 * (ocl_backend_ops: sched/place.h; ocl_node_ops: mem/node.h); what this
 * header adds is for the backend's own files, tests, benchmarks and the
 * tools' entry points. A second backend (CUDA, Level Zero) is a folder of
 * its own with its own tables. */
#ifndef MAESTRO_OCL_H
#define MAESTRO_OCL_H

#include <stddef.h>
#include <stdint.h>

#include "maestro.h"
#include "sched/place.h"

struct maestro_runtime;

/* ---- discovery (ocl/discover.c) ---- */

/* Finds the platforms and devices through the ICD loader, keeps those that
 * rt->cfg.devices selects, makes the backend's state (devices, their place
 * info; kept in the place table: place_backend_get(rt, &ocl_backend_ops))
 * and creates one context and queues per device. No platform at all is not
 * an error: ndev = 0 and `why` says why. Called by the backend's discover
 * (backend.c), when device places are first needed. */
int ocl_init(struct maestro_runtime *rt);
/* The backend's state, discovering the device places first if nobody has
 * yet (entry points that tools and tests call directly). NULL if discovery
 * failed. */
struct ocl *ocl_get(struct maestro_runtime *rt);
void ocl_fini(struct maestro_runtime *rt);

/* What ocl_measure_link found for one device (maestro-info --bench). */
typedef struct ocl_link {
  size_t bytes;                    /* transfer size used for the bandwidth figures */
  double h2d_gbps, d2h_gbps;       /* clEnqueueWrite/ReadBuffer of `bytes`, best of 5 (GB/s) */
  uint64_t h2d_lat_ns, d2h_lat_ns; /* a blocking 4-byte write / read */
  uint64_t map_ns;                 /* map + unmap of a `bytes` host-pointer buffer */
  int zero_copy;                   /* 1 when the runtime uses the zero-copy path there */
} ocl_link_t;

/* Measures host->device and device->host bandwidth (with `bytes`-sized
 * copies, at least 4 KiB, 0 for 64 MiB) and latency of device place `dev`,
 * and feeds the figures to ocl_transfer_cost_ns. Blocks for a few tens of
 * milliseconds. MAESTRO_ENODEV for a bad index. */
int ocl_measure_link(struct maestro_runtime *rt, int dev, size_t bytes, ocl_link_t *out);

/* The OpenCL backend's operations (backend.c), listed in runtime/backends.c. */
extern const struct backend_ops ocl_backend_ops;

/* ---- library agents' device side (ocl/libs.c; kern/lib.c has the rest) ---- */

/* The .cl function of library agent `which` (MAESTRO_BUNDLED_LIB_*), NULL
 * when this build lacks its library. */
maestro_cl_fn ocl_lib_cl(maestro_bundled_t which);
/* The library `which` lacks here ("CLBlast", "clFFT"), NULL when none. */
const char *ocl_lib_missing(maestro_bundled_t which);
/* What the device side needs of kern/lib.c, filled by runtime/backends.c
 * (a backend never names kern): the one check of a firing's shapes. */
struct ocl_lib_hooks {
  int (*sizes)(const maestro_bundled_agent_t *ba, maestro_buf_t *const *in, size_t dims[3],
               char *why, size_t why_len);
};
extern const struct ocl_lib_hooks ocl_lib_hooks;
/* What the runtime keeps for library agents (tests): clFFT plans made, and
 * (device, routine) pairs CLBlast was set up on. */
void ocl_lib_counts(struct maestro_runtime *rt, int *fft_plans, int *clblast_setups);

/* ---- kernel agents (ocl/kagent.c) ---- */

/* An agent's kernel, built for every device place. */
typedef struct ocl_kagent ocl_kagent_t;

/* Builds `k` for every device (cached per device, source hash and options).
 * MAESTRO_EBUILD with the full build log in maestro_last_error(), naming
 * `agent`. */
int ocl_kagent_create(struct maestro_runtime *rt, const char *agent, const maestro_kernel_t *k,
                      const maestro_port_t *in, int n_in, const maestro_port_t *out, int n_out,
                      ocl_kagent_t **ka);
/* The same, built only for the devices whose bit is set in `devices`
 * (bit i = device place i; OCL_ALL_DEVICES for all): an agent pinned to one
 * device (affinity) need not be compiled for the others. Launching it on a
 * device it was not built for is MAESTRO_ENODEV. */
#define OCL_ALL_DEVICES (~(uint64_t)0)
int ocl_kagent_create_on(struct maestro_runtime *rt, const char *agent, const maestro_kernel_t *k,
                         const maestro_port_t *in, int n_in, const maestro_port_t *out, int n_out,
                         uint64_t devices, ocl_kagent_t **ka);
void ocl_kagent_destroy(ocl_kagent_t *ka);

/* What one launch did, handed to its completion callback: the place
 * result of sched/place.h (busy_ns is the kernel time from OpenCL event
 * profiling). Called once per launch, from any thread (often an OpenCL
 * callback thread). */
typedef struct place_result ocl_launch_result_t;
typedef place_done_fn ocl_done_fn;

/* Enqueues one firing of `ka` on device `dev` without blocking: makes each
 * input's replica valid on the device, allocates the outputs, runs the
 * kernel. `done` receives the output buffers (one reference each, device
 * replica valid; the array itself is only valid during the call) or a
 * failure (r->status < 0, every out[j] NULL). Inputs are borrowed until
 * `done` is called. Calls to `done` for one device come in launch order, from
 * that device's completion thread (maestro-oclN); `done` must not block long.
 * A non-OK return means nothing was enqueued and `done` will not be called
 * (a hybrid agent falls back to its CPU implementation); among them
 * MAESTRO_EINVAL from the input check, made on the calling thread before
 * anything else: a message that is not a whole number of its port's
 * elements, or that the kernel's .check refuses (wrong size for its
 * parameters), with maestro_last_error() naming the agent, the port,
 * expected and got. It blocks only when
 * the device memory limit is reached and launches in flight must end first. */
int ocl_launch(ocl_kagent_t *ka, int dev, maestro_buf_t *const *in, ocl_done_fn done, void *ctx);

/* ocl_launch, plus: bit j of `host_outputs` says output j will be read on
 * the host (its consumer is a CPU agent or a graph output). Its read is then
 * enqueued right behind the kernel and done() comes once it is in host
 * memory (host replica valid; r->bytes_d2h counts it), saving the separate
 * read and its round trip later. Nothing changes on devices that share host
 * memory with the zero-copy path. */
int ocl_launch_ex(ocl_kagent_t *ka, int dev, maestro_buf_t *const *in, unsigned host_outputs,
                  ocl_done_fn done, void *ctx);

/* Programs built and found in the cache since the runtime started. */
typedef struct ocl_prog_stats {
  uint64_t builds;     /* compiled from source */
  uint64_t cache_hits; /* found built in this runtime */
  uint64_t disk_hits;  /* loaded from the on-disk binary cache */
} ocl_prog_stats_t;
void ocl_prog_stats(const struct maestro_runtime *rt, ocl_prog_stats_t *s);

/* Per-device counters (tests, benchmarks, maestro-info). */
typedef struct ocl_dev_stats {
  uint64_t bytes_h2d, bytes_d2h, bytes_d2d, transfers, launches, evictions;
  uint64_t mem_used, mem_limit; /* device memory held by the pool / its limit */
  int inflight;                 /* launches enqueued and not yet done */
  int zero_copy;                /* 1 when the device uses the zero-copy path */
  uint64_t wraps;               /* zero-copy wraps of host bytes created (kept ones serve again) */
} ocl_dev_stats_t;
int ocl_dev_stats(const struct maestro_runtime *rt, int dev, ocl_dev_stats_t *s);

/* ---- a device's view of buffers (node.c; tests and tools) ---- */

/* 1 when device `dev` holds a valid replica of `b`. */
int ocl_buf_valid_on(const maestro_buf_t *b, int dev);
/* Expected time to move `bytes` host -> device `dev` (0 on a zero-copy
 * device): the link model ocl_measure_link feeds. */
uint64_t ocl_transfer_cost_ns(const struct maestro_runtime *rt, int dev, size_t bytes);

#endif
