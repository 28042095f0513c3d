/* runtime/ocl's private state: platforms, devices, queues, the program cache,
 * per-device memory accounting and per-buffer replicas. Only the files of runtime/ocl
 * include this (it pulls in CL/cl.h). */
#ifndef MAESTRO_OCL_INT_H
#define MAESTRO_OCL_INT_H

#include <CL/cl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "base/runtime.h"
#include "base/stats_rec.h"
#include "backend/opencl/ocl.h"
#include "mem/buf.h"
#include "mem/node.h"

typedef struct ocl_platform {
  cl_platform_id id;
  cl_context ctx; /* one context for the selected devices of this platform */
  char name[64];
} ocl_platform_t;

struct ocl_dev;
/* One firing in flight on a device (a kernel launch, kagent.c, or a .cl
 * firing, clfire.c), in the device's completion FIFO: the completion thread
 * calls finish() in FIFO order, which waits for it, counts d->inflight down
 * and hands the outputs on. */
typedef struct ocl_pending {
  struct ocl_pending *next;
  void (*finish)(struct ocl_dev *d, struct ocl_pending *p);
} ocl_pending_t;
struct ocl_rep;
#define OCL_WRAPS_KEPT 32 /* per device: ocl_dev_t.wraps */

typedef struct ocl_dev {
  struct maestro_runtime *rt;
  int index;        /* device place index */
  int node;         /* its memory node (mem/node.h) */
  int plat;         /* index into ocl->plat */
  int global_index; /* index over all devices of all platforms (MAESTRO_DEVICES) */
  cl_device_id id;
  cl_context ctx; /* the platform's context (shared by its devices) */
  int own_ctx;    /* MAESTRO_OCL_CONTEXTS=device: ctx is this device's own */
  /* In-order queues: host->device transfers, kernels, device->host reads.
   * Separate queues let the next message's transfer overlap this kernel. */
  cl_command_queue q_h2d, q_exec, q_d2h;
  int unified;   /* shares host memory */
  int zero_copy; /* host-pointer buffers + map/unmap instead of copies */
  /* A CPU device running on host memory: a host-pointer buffer IS the host
   * bytes, so results need no map/unmap and a host write needs no new
   * buffer (PoCL, Intel CPU runtime). */
  int host_coherent;
  cl_uint base_align; /* CL_DEVICE_MEM_BASE_ADDR_ALIGN in bytes */
  size_t max_wg;
  cl_ulong max_alloc, global_mem;
  char name[128];
  char version[128]; /* driver version, for the on-disk program cache key */
  char arch[160];    /* "opencl:<device name>": the performance model's key */

  /* Device clock -> host clock: host_ns = device_ns + clock_off_ns. */
  int64_t clock_off_ns;
  /* Link model for ocl_transfer_cost_ns (defaults until measured). */
  double h2d_ns_per_byte, d2h_ns_per_byte;
  uint64_t h2d_lat_ns, d2h_lat_ns;

  /* Counters (only grow). */
  _Atomic uint64_t bytes_h2d, bytes_d2h, bytes_d2d, transfers, launches, wraps_made;

  /* Device memory: allocated bytes (in use + pooled) against a limit, a free
   * list of cl_mem by size, and the LRU list of replicas that hold memory. */
  pthread_mutex_t mem_lock;
  pthread_cond_t mem_cond; /* signalled when a launch completes (memory unpinned) */
  uint64_t mem_limit, mem_used;
  struct ocl_free_mem *free_list;
  struct ocl_rep *lru_head, *lru_tail; /* head = least recently used */
  /* Zero-copy wraps of pooled host bytes on a host-coherent device, kept
   * (under mem_lock) for the next buffer at the same address (node.c):
   * creating and releasing one costs more than the rest of a small
   * message's launch. Oldest first. */
  struct ocl_rep *wraps[OCL_WRAPS_KEPT];
  int nwraps;
  uint64_t evictions;
  int evict_busy; /* the last eviction pass skipped a busy buffer */
  /* One launch at a time takes device memory: two half-built launches must
   * never hold memory while each waits for the other's. */
  pthread_mutex_t launch_lock;

  /* Completion: a FIFO of launches in flight, waited on in order by a thread. */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  ocl_pending_t *fifo_head, *fifo_tail;
  int inflight;
  int stop;
  pthread_t thread;
  int thread_up;
} ocl_dev_t;

struct ocl_prog; /* program.c */

/* The backend's state in one runtime, kept in the place table
 * (place_backend_get: ocl_state below), set as soon as discovery begins. */
struct ocl {
  struct maestro_runtime *rt;
  int nplat;
  ocl_platform_t *plat;
  int ndev; /* the backend's devices: device places 0 .. ndev - 1 (it is discovered first) */
  ocl_dev_t *dev;
  maestro_place_info_t *info; /* ndev, handed to place_add */
  const char *why;            /* why ndev is 0 (a static string) */
  int total_devices;          /* over all platforms, before selection */

  pthread_mutex_t prog_lock;
  struct ocl_prog *progs;
  _Atomic uint64_t builds, cache_hits, disk_hits;
  int disk_cache;        /* 0 when cfg.kernel_cache is "" */
  const char *cache_dir; /* rt->cfg.kernel_cache */

  struct ocl_lib *lib; /* libs.c: CLBlast / clFFT set-up, made on first use (under prog_lock) */
};

/* One device's replica of a buffer: the handle of a memory node's replica
 * (mem/replica.h keeps whether it is valid and pinned). */
typedef struct ocl_rep {
  cl_mem mem;         /* NULL for a 0-byte buffer */
  size_t cap;         /* bytes of `mem` (pool size class; a wrap: the host bytes' capacity) */
  void *host;         /* a wrap: the host bytes it wraps */
  int wraps_host;     /* zero-copy: `mem` wraps the buffer's host bytes */
  cl_event ready;     /* the command that makes it valid, or NULL when done */
  cl_event busy;      /* the last copy reading it for another device, or NULL */
  uint64_t last_use;  /* LRU stamp */
  maestro_buf_t *buf; /* back pointer for eviction */
  int dev;
  int in_lru;
  struct ocl_rep *prev, *next;
} ocl_rep_t;

/* The backend's state in `rt` (NULL before its discovery). */
static inline struct ocl *ocl_state(const struct maestro_runtime *rt) {
  return place_backend_get(rt, &ocl_backend_ops);
}

static inline ocl_dev_t *ocl_dev(const struct maestro_runtime *rt, int dev) {
  return &ocl_state(rt)->dev[dev];
}

/* "CL_OUT_OF_RESOURCES" for an OpenCL status. */
const char *ocl_strerror(cl_int e);
/* err_set(MAESTRO_ECL, "<what>: <CL error>"). */
int ocl_fail(cl_int e, const char *what);

/* discover.c / clock */
uint64_t ocl_dev_to_host_ns(const ocl_dev_t *d, cl_ulong dev_ns);

/* program.c */
/* counters.c: the devices' stats collector, registered by discovery. */
extern const struct stats_collector ocl_stats_collector;

int ocl_prog_init(struct maestro_runtime *rt);
void ocl_prog_fini(struct maestro_runtime *rt);
/* A built program for `source` + `options` on device `dev` (a new reference
 * the caller releases with clReleaseProgram). `agent` names the culprit. */
int ocl_prog_get(struct maestro_runtime *rt, int dev, const char *agent, const char *source,
                 const char *options, cl_program *out);
/* What the compiler said of argument `i` of kernel `kernel` in `prog` (a
 * program from ocl_prog_get): its address qualifier (CL_KERNEL_ARG_ADDRESS_*)
 * and its type name as OpenCL spells it ("uint", "float*"), kept with the
 * program and its cache entry because a program made from a binary reports
 * neither. MAESTRO_OK, or -1 when the driver did not describe it. */
int ocl_prog_arg_info(struct maestro_runtime *rt, cl_program prog, const char *kernel, cl_uint i,
                      cl_kernel_arg_address_qualifier *aq, char *type, size_t type_len);

/* memory.c: device memory with a limit, LRU eviction. */
/* A cl_mem of at least `bytes` on `dev`, evicting replicas valid elsewhere
 * when the pool limit is reached (pinned replicas are never evicted); waits
 * for launches in flight when all that is left is pinned. */
int ocl_mem_get(ocl_dev_t *d, size_t bytes, cl_mem *out, size_t *cap);
void ocl_mem_put(ocl_dev_t *d, cl_mem m, size_t cap);
void ocl_mem_fini(ocl_dev_t *d);
/* node.c: releases the zero-copy wraps a device keeps (before its context goes). */
void ocl_wraps_fini(ocl_dev_t *d);
void ocl_lru_touch(ocl_dev_t *d, ocl_rep_t *r);
void ocl_lru_remove(ocl_dev_t *d, ocl_rep_t *r);

/* kagent.c: appends `p` to d's completion FIFO (d->inflight++). */
void ocl_pending_push(ocl_dev_t *d, ocl_pending_t *p);

/* clfire.c: .cl implementations (maestro/opencl.h), the backend's impl for
 * an agent with a .cl function. */
typedef struct ocl_clagent ocl_clagent_t;
int ocl_clagent_create(struct maestro_runtime *rt, const struct place_agent_desc *d,
                       ocl_clagent_t **out);
void ocl_clagent_destroy(ocl_clagent_t *ca);
int ocl_clagent_submit(ocl_clagent_t *ca, int dev, maestro_buf_t *const *in, place_done_fn done,
                       void *ctx);
/* Inside a .cl function: output `port`'s message once allocated (NULL
 * before), the firing's device place and the backend's state. */
maestro_buf_t *ocl_clfire_out_buf(maestro_clfire_t *f, int port);
int ocl_clfire_dev(const maestro_clfire_t *f);
struct ocl *ocl_clfire_ocl(const maestro_clfire_t *f);

/* libs.c: the library agents' device side. Prepares agent `d` (its .cl
 * function one of ocl_lib_cl's) on the devices of `places`: CLBlast's
 * kernels compiled there once per runtime. Others: nothing, MAESTRO_OK. */
int ocl_lib_prepare(struct ocl *o, const struct place_agent_desc *d, uint64_t places);
/* Destroys the clFFT plans and CLBlast's cache of this runtime's contexts
 * (before the contexts go). */
void ocl_lib_fini(struct ocl *o);

/* kagent.c: a launch (kernel or .cl firing) on `d` is over: counted, no
 * longer in flight, and its device memory unpinned for waiting launches. */
void ocl_dev_launch_ended(ocl_dev_t *d);

/* node.c: the memory node operations of a device, and the launch's view
 * of a buffer's replica on it (through mem/replica.h). */
extern const struct mem_node_ops ocl_node_ops;
/* Drops what a replica handle holds once the commands using it are done. */
void ocl_rep_wait_idle(ocl_rep_t *r);

/* What making one input valid on a device did. */
typedef struct ocl_xfer {
  cl_mem mem;       /* the replica to pass to the kernel (NULL for 0 bytes) */
  cl_event wait;    /* the kernel must wait for it, or NULL (a reference) */
  cl_event ev;      /* the transfer enqueued, or NULL (a reference, for timing) */
  const char *kind; /* "h2d" or "d2d" when ev is set */
  size_t bytes;
} ocl_xfer_t;

/* Makes b's replica on `dev` valid without blocking on the device (an
 * enqueued transfer the kernel waits for), pins it against eviction and
 * counts the bytes on the device. Zero-copy devices wrap the host bytes. */
int ocl_rep_acquire(maestro_buf_t *b, int dev, ocl_xfer_t *x);
/* A fresh buffer of `bytes` whose only valid replica is on `d` (pinned);
 * the command writing it is set with ocl_rep_set_ready. */
int ocl_rep_new_output(ocl_dev_t *d, size_t bytes, maestro_buf_t **out);
void ocl_rep_set_ready(maestro_buf_t *b, int dev, cl_event ev);
/* b's (acquired) replica on `dev` is written in place: the others go stale. */
void ocl_rep_write_on(maestro_buf_t *b, int dev);
void ocl_rep_unpin(maestro_buf_t *b, int dev);
cl_mem ocl_rep_mem(maestro_buf_t *b, int dev);
/* 1 when b's valid replica on `dev` wraps its host bytes. */
int ocl_rep_wraps_host(maestro_buf_t *b, int dev);

#endif
