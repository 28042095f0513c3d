/* Programs: built once per (device, source hash, options) for the life of
 * the runtime, so a second agent or graph with the same source does not
 * rebuild; optionally cached on disk as device binaries in the directory
 * rt->cfg.kernel_cache ("" = no disk cache). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "backend/opencl/ocl_int.h"

typedef struct ocl_prog {
  struct ocl_prog *next;
  int dev;
  uint64_t hash; /* of source and options */
  size_t src_len;
  char *options;
  cl_program prog;
} ocl_prog_t;

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
  const unsigned char *s = p;
  for (size_t i = 0; i < n; i++) {
    h ^= s[i];
    h *= 0x100000001b3ull;
  }
  return h;
}
#define FNV_SEED 0xcbf29ce484222325ull

static int mkdir_p(const char *dir) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s", dir);
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    int r = mkdir(path, 0700);
    *p = '/';
    if (r && errno != EEXIST) return -1;
  }
  return mkdir(path, 0700) && errno != EEXIST ? -1 : 0;
}

int ocl_prog_init(struct maestro_runtime *rt) {
  struct ocl *o = rt->ocl;
  /* The runtime owns the string (base/runtime.h); its length is bounded by
   * maestro_runtime_create (CONFIG_DIR_MAX). */
  o->cache_dir = rt->cfg.kernel_cache;
  o->disk_cache = o->cache_dir[0] != '\0';
  return MAESTRO_OK;
}

void ocl_prog_fini(struct maestro_runtime *rt) {
  struct ocl *o = rt->ocl;
  ocl_prog_t *p = o->progs;
  while (p) {
    ocl_prog_t *n = p->next;
    clReleaseProgram(p->prog);
    free(p->options);
    free(p);
    p = n;
  }
  o->progs = NULL;
}

/* The on-disk name: everything that makes a binary valid for a device. */
static void disk_path(struct ocl *o, const ocl_dev_t *d, uint64_t hash, char *out, size_t len) {
  uint64_t h = fnv1a(hash, d->name, strlen(d->name));
  h = fnv1a(h, d->version, strlen(d->version));
  h = fnv1a(h, o->plat[d->plat].name, strlen(o->plat[d->plat].name));
  snprintf(out, len, "%s/%016llx.bin", o->cache_dir, (unsigned long long)h);
}

static cl_program load_binary(struct ocl *o, const ocl_dev_t *d, uint64_t hash,
                              const char *options) {
  char path[PATH_MAX];
  disk_path(o, d, hash, path, sizeof path);
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  unsigned char *bin = NULL;
  long n = 0;
  if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
      (bin = malloc((size_t)n)) && fread(bin, 1, (size_t)n, f) != (size_t)n) {
    free(bin);
    bin = NULL;
  }
  fclose(f);
  if (!bin) return NULL;
  size_t sz = (size_t)n;
  const unsigned char *bins[1] = {bin};
  cl_int st, e;
  cl_program p = clCreateProgramWithBinary(d->ctx, 1, &d->id, &sz, bins, &st, &e);
  free(bin);
  if (e != CL_SUCCESS || st != CL_SUCCESS) {
    if (p) clReleaseProgram(p);
    return NULL;
  }
  if (clBuildProgram(p, 1, &d->id, options, NULL, NULL) != CL_SUCCESS) {
    clReleaseProgram(p);
    return NULL;
  }
  return p;
}

static void save_binary(struct ocl *o, const ocl_dev_t *d, uint64_t hash, cl_program p) {
  size_t sz = 0;
  if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof sz, &sz, NULL) != CL_SUCCESS || !sz)
    return;
  unsigned char *bin = malloc(sz);
  if (!bin) return;
  unsigned char *bins[1] = {bin};
  if (clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) == CL_SUCCESS &&
      mkdir_p(o->cache_dir) == 0) {
    char path[PATH_MAX], tmp[PATH_MAX + 32];
    disk_path(o, d, hash, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (f) {
      int ok = fwrite(bin, 1, sz, f) == sz;
      ok = (fclose(f) == 0) && ok;
      /* rename is atomic: a concurrent reader sees the old file or the new. */
      if (!ok || rename(tmp, path) != 0) unlink(tmp);
    }
  }
  free(bin);
}

static int build_source(struct maestro_runtime *rt, ocl_dev_t *d, const char *agent,
                        const char *source, const char *options, cl_program *out) {
  cl_int e;
  size_t len = strlen(source);
  cl_program p = clCreateProgramWithSource(d->ctx, 1, &source, &len, &e);
  if (e != CL_SUCCESS) return ocl_fail(e, "clCreateProgramWithSource");
  e = clBuildProgram(p, 1, &d->id, options, NULL, NULL);
  atomic_fetch_add(&rt->ocl->builds, 1);
  if (e != CL_SUCCESS) {
    size_t loglen = 0;
    clGetProgramBuildInfo(p, d->id, CL_PROGRAM_BUILD_LOG, 0, NULL, &loglen);
    char *log = malloc(loglen + 1);
    if (log) {
      log[0] = 0;
      clGetProgramBuildInfo(p, d->id, CL_PROGRAM_BUILD_LOG, loglen, log, NULL);
      log[loglen] = 0;
    }
    int rc = err_set(MAESTRO_EBUILD,
                     "agent '%s': OpenCL build failed on device %d (%s): %s (%d); options '%s'; "
                     "build log:\n",
                     agent, d->index, d->name, ocl_strerror(e), (int)e, options ? options : "");
    err_append("%s", log && *log ? log : "(the compiler gave no log)");
    free(log);
    clReleaseProgram(p);
    return rc;
  }
  *out = p;
  return MAESTRO_OK;
}

int ocl_prog_get(struct maestro_runtime *rt, int dev, const char *agent, const char *source,
                 const char *options, cl_program *out) {
  struct ocl *o = rt->ocl;
  ocl_dev_t *d = ocl_dev(rt, dev);
  const char *opt = options ? options : "";
  size_t src_len = strlen(source);
  uint64_t h = fnv1a(FNV_SEED, source, src_len);
  h = fnv1a(h, "\0", 1);
  h = fnv1a(h, opt, strlen(opt));

  pthread_mutex_lock(&o->prog_lock);
  for (ocl_prog_t *p = o->progs; p; p = p->next) {
    if (p->dev == dev && p->hash == h && p->src_len == src_len && !strcmp(p->options, opt)) {
      clRetainProgram(p->prog);
      *out = p->prog;
      atomic_fetch_add(&o->cache_hits, 1);
      pthread_mutex_unlock(&o->prog_lock);
      return MAESTRO_OK;
    }
  }
  /* Built under the lock: builds happen at graph start, and a second
   * agent with the same source must wait for the first build, not repeat it. */
  cl_program prog = o->disk_cache ? load_binary(o, d, h, opt) : NULL;
  int rc = MAESTRO_OK;
  if (prog) {
    atomic_fetch_add(&o->disk_hits, 1);
  } else {
    rc = build_source(rt, d, agent, source, opt, &prog);
    if (rc == MAESTRO_OK && o->disk_cache) save_binary(o, d, h, prog);
  }
  ocl_prog_t *e = rc == MAESTRO_OK ? calloc(1, sizeof *e) : NULL;
  if (rc == MAESTRO_OK && (!e || !(e->options = strdup(opt)))) {
    free(e);
    clReleaseProgram(prog);
    rc = err_set(MAESTRO_ENOMEM, "agent '%s': out of memory caching its program", agent);
  }
  if (rc == MAESTRO_OK) {
    e->dev = dev;
    e->hash = h;
    e->src_len = src_len;
    e->prog = prog;
    e->next = o->progs;
    o->progs = e;
    clRetainProgram(prog);
    *out = prog;
  }
  pthread_mutex_unlock(&o->prog_lock);
  return rc;
}

void ocl_prog_stats(const struct maestro_runtime *rt, ocl_prog_stats_t *s) {
  if (!ocl_get((struct maestro_runtime *)rt)) {
    *s = (ocl_prog_stats_t){0};
    return;
  }
  s->builds = atomic_load(&rt->ocl->builds);
  s->cache_hits = atomic_load(&rt->ocl->cache_hits);
  s->disk_hits = atomic_load(&rt->ocl->disk_hits);
}
