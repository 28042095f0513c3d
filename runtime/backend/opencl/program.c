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
#include "base/fs.h"
#include "base/hash.h"
#include "backend/opencl/cache_entry.h"
#include "backend/opencl/ocl_int.h"

typedef struct ocl_prog {
  struct ocl_prog *next;
  int dev;
  uint64_t hash; /* of source and options */
  size_t src_len;
  char *options;
  cl_program prog;
  char *meta; /* collect_meta's text, or NULL: the driver described no argument */
} ocl_prog_t;

int ocl_prog_init(struct maestro_runtime *rt) {
  struct ocl *o = ocl_state(rt);
  /* The runtime owns the string (base/runtime.h); its length is bounded by
   * maestro_runtime_create (CONFIG_DIR_MAX). */
  o->cache_dir = rt->cfg.kernel_cache;
  o->disk_cache = o->cache_dir[0] != '\0';
  return MAESTRO_OK;
}

void ocl_prog_fini(struct maestro_runtime *rt) {
  struct ocl *o = ocl_state(rt);
  ocl_prog_t *p = o->progs;
  while (p) {
    ocl_prog_t *n = p->next;
    clReleaseProgram(p->prog);
    free(p->options);
    free(p->meta);
    free(p);
    p = n;
  }
  o->progs = NULL;
}

/* The on-disk name: everything that makes a binary valid for a device. */
static uint64_t disk_key(struct ocl *o, const ocl_dev_t *d, uint64_t hash) {
  uint64_t h = hash_fnv1a(hash, d->name, strlen(d->name));
  h = hash_fnv1a(h, d->version, strlen(d->version));
  return hash_fnv1a(h, o->plat[d->plat].name, strlen(o->plat[d->plat].name));
}

static void disk_path(struct ocl *o, uint64_t key, char *out, size_t len) {
  snprintf(out, len, "%s/%016llx.bin", o->cache_dir, (unsigned long long)key);
}

/* A cache entry (cache_entry.h): a header, the device binary, then the
 * kernels' argument descriptions (see collect_meta). A file cut short by a
 * crash, a full disk or another writer, or altered afterwards, fails the
 * length or checksum test and counts as a miss: a truncated binary handed
 * to the driver crashes it (PoCL reads past the end). */

/* A growing text buffer; `failed` once an allocation failed. */
typedef struct {
  char *s;
  size_t len, cap;
  int failed;
} meta_buf_t;

static void meta_add(meta_buf_t *m, const char *text, size_t n) {
  if (m->failed) return;
  if (m->len + n + 1 > m->cap) {
    size_t cap = m->cap ? m->cap : 256;
    while (cap < m->len + n + 1)
      cap *= 2;
    char *s = realloc(m->s, cap);
    if (!s) {
      m->failed = 1;
      return;
    }
    m->s = s;
    m->cap = cap;
  }
  memcpy(m->s + m->len, text, n);
  m->len += n;
  m->s[m->len] = 0;
}

/* What the compiler says of every kernel's arguments (built with
 * -cl-kernel-arg-info), one line per kernel then one per argument:
 *   K<TAB>name<TAB>nargs\n  A<TAB>address qualifier<TAB>type name\n
 * Kept because a program made from a binary reports none of it (PoCL:
 * CL_KERNEL_ARG_INFO_NOT_AVAILABLE), so a disk hit takes it from the cache
 * entry. A kernel the driver does not describe gets no line. NULL when
 * there is nothing (or no memory): the argument check is then skipped. */
static char *collect_meta(cl_program p, size_t *len) {
  *len = 0;
  cl_uint nk = 0;
  if (clCreateKernelsInProgram(p, 0, NULL, &nk) != CL_SUCCESS || nk == 0) return NULL;
  cl_kernel *ks = calloc(nk, sizeof *ks);
  if (!ks) return NULL;
  if (clCreateKernelsInProgram(p, nk, ks, NULL) != CL_SUCCESS) {
    free(ks);
    return NULL;
  }
  meta_buf_t m = {0};
  for (cl_uint k = 0; k < nk; k++) {
    char name[256], line[600];
    cl_uint nargs = 0;
    if (clGetKernelInfo(ks[k], CL_KERNEL_FUNCTION_NAME, sizeof name, name, NULL) != CL_SUCCESS ||
        clGetKernelInfo(ks[k], CL_KERNEL_NUM_ARGS, sizeof nargs, &nargs, NULL) != CL_SUCCESS)
      continue;
    meta_buf_t one = {0};
    int n = snprintf(line, sizeof line, "K\t%s\t%u\n", name, nargs);
    meta_add(&one, line, (size_t)n);
    int known = 1;
    for (cl_uint i = 0; i < nargs && known; i++) {
      cl_kernel_arg_address_qualifier aq = 0;
      char type[256];
      known = clGetKernelArgInfo(ks[k], i, CL_KERNEL_ARG_ADDRESS_QUALIFIER, sizeof aq, &aq, NULL) ==
                  CL_SUCCESS &&
              clGetKernelArgInfo(ks[k], i, CL_KERNEL_ARG_TYPE_NAME, sizeof type, type, NULL) ==
                  CL_SUCCESS &&
              !strpbrk(type, "\t\n");
      if (!known) break;
      n = snprintf(line, sizeof line, "A\t%u\t%s\n", (unsigned)aq, type);
      meta_add(&one, line, (size_t)n);
    }
    if (known && !one.failed) meta_add(&m, one.s, one.len);
    free(one.s);
  }
  for (cl_uint k = 0; k < nk; k++)
    clReleaseKernel(ks[k]);
  free(ks);
  if (m.failed || !m.len) {
    free(m.s);
    return NULL;
  }
  *len = m.len;
  return m.s;
}

/* A program from a valid cache entry, and its argument descriptions; NULL
 * for a miss: no file, a bad header, length or checksum, or a binary the
 * driver refuses. */
static cl_program load_binary(struct ocl *o, const ocl_dev_t *d, uint64_t hash, const char *options,
                              char **meta, size_t *meta_len) {
  char path[PATH_MAX];
  uint64_t key = disk_key(o, d, hash);
  disk_path(o, key, path, sizeof path);
  *meta = NULL;
  *meta_len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  unsigned char *data = NULL;
  long n = 0;
  size_t sz = 0, mlen = 0;
  const size_t hsz = sizeof(ocl_cache_header_t);
  int ok = fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= (long)hsz &&
           fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)n + 1)) &&
           fread(data, 1, (size_t)n, f) == (size_t)n &&
           ocl_cache_entry_check(data, (size_t)n, key, &sz, &mlen);
  fclose(f);
  if (!ok) {
    free(data);
    return NULL;
  }
  const unsigned char *bins[1] = {data + hsz};
  cl_int st, e;
  cl_program p = clCreateProgramWithBinary(d->ctx, 1, &d->id, &sz, bins, &st, &e);
  if (e != CL_SUCCESS || st != CL_SUCCESS) {
    if (p) clReleaseProgram(p);
    free(data);
    return NULL;
  }
  if (clBuildProgram(p, 1, &d->id, options, NULL, NULL) != CL_SUCCESS) {
    clReleaseProgram(p);
    free(data);
    return NULL;
  }
  if (mlen) {
    /* The descriptions, NUL-terminated, moved to the front of the block. */
    memmove(data, data + hsz + sz, mlen);
    data[mlen] = 0;
    *meta = (char *)data;
    *meta_len = mlen;
  } else {
    free(data);
  }
  return p;
}

/* Writes the entry to a temporary file of its own, then renames it over
 * the old one: a concurrent reader sees the old entry or the new, never
 * half of one. */
static void save_binary(struct ocl *o, const ocl_dev_t *d, uint64_t hash, cl_program p,
                        const char *meta, size_t meta_len) {
  size_t sz = 0;
  if (clGetProgramInfo(p, CL_PROGRAM_BINARY_SIZES, sizeof sz, &sz, NULL) != CL_SUCCESS || !sz)
    return;
  unsigned char *bin = malloc(sz);
  if (!bin) return;
  unsigned char *bins[1] = {bin};
  if (clGetProgramInfo(p, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) == CL_SUCCESS &&
      fs_mkdir_p(o->cache_dir) == 0) {
    char path[PATH_MAX], tmp[PATH_MAX + 16];
    ocl_cache_header_t h = {.version = OCL_CACHE_VERSION,
                            .header_bytes = sizeof h,
                            .key = disk_key(o, d, hash),
                            .bin_bytes = sz,
                            .meta_bytes = meta_len};
    memcpy(h.magic, ocl_cache_magic, sizeof h.magic);
    h.checksum = hash_fnv1a(hash_fnv1a(HASH_FNV_SEED, bin, sz), meta, meta_len);
    disk_path(o, h.key, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (fd >= 0 && !f) {
      close(fd);
      unlink(tmp);
    }
    if (f) {
      int ok = fwrite(&h, sizeof h, 1, f) == 1 && fwrite(bin, 1, sz, f) == sz &&
               (!meta_len || fwrite(meta, 1, meta_len, f) == meta_len);
      ok = (fclose(f) == 0) && ok;
      if (!ok || rename(tmp, path) != 0) unlink(tmp);
    }
  }
  free(bin);
}

static int build_source(struct maestro_runtime *rt, ocl_dev_t *d, const char *agent,
                        const char *source, const char *options, cl_program *out) {
  cl_int e;
  size_t len = strlen(source);
  /* -cl-kernel-arg-info: the argument types, checked against the bindings. */
  static const char arg_info[] = " -cl-kernel-arg-info";
  char *opts = malloc(strlen(options) + sizeof arg_info);
  if (!opts) return err_set(MAESTRO_ENOMEM, "agent '%s': out of memory building its kernel", agent);
  strcpy(opts, options);
  strcat(opts, arg_info);
  cl_program p = clCreateProgramWithSource(d->ctx, 1, &source, &len, &e);
  if (e != CL_SUCCESS) {
    free(opts);
    return ocl_fail(e, "clCreateProgramWithSource");
  }
  e = clBuildProgram(p, 1, &d->id, opts, NULL, NULL);
  free(opts);
  atomic_fetch_add(&ocl_state(rt)->builds, 1);
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
  struct ocl *o = ocl_state(rt);
  ocl_dev_t *d = ocl_dev(rt, dev);
  const char *opt = options ? options : "";
  size_t src_len = strlen(source);
  uint64_t h = hash_fnv1a(HASH_FNV_SEED, source, src_len);
  h = hash_fnv1a(h, "\0", 1);
  h = hash_fnv1a(h, opt, strlen(opt));

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
  char *meta = NULL;
  size_t meta_len = 0;
  cl_program prog = o->disk_cache ? load_binary(o, d, h, opt, &meta, &meta_len) : NULL;
  int rc = MAESTRO_OK;
  if (prog) {
    atomic_fetch_add(&o->disk_hits, 1);
  } else {
    /* A miss, or an entry that failed its checks: built again, and the
     * entry written over. */
    rc = build_source(rt, d, agent, source, opt, &prog);
    if (rc == MAESTRO_OK) meta = collect_meta(prog, &meta_len);
    if (rc == MAESTRO_OK && o->disk_cache) save_binary(o, d, h, prog, meta, meta_len);
  }
  ocl_prog_t *e = rc == MAESTRO_OK ? calloc(1, sizeof *e) : NULL;
  if (rc == MAESTRO_OK && (!e || !(e->options = strdup(opt)))) {
    free(e);
    free(meta);
    clReleaseProgram(prog);
    rc = err_set(MAESTRO_ENOMEM, "agent '%s': out of memory caching its program", agent);
  }
  if (rc == MAESTRO_OK) {
    e->dev = dev;
    e->hash = h;
    e->src_len = src_len;
    e->prog = prog;
    e->meta = meta;
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
  s->builds = atomic_load(&ocl_state(rt)->builds);
  s->cache_hits = atomic_load(&ocl_state(rt)->cache_hits);
  s->disk_hits = atomic_load(&ocl_state(rt)->disk_hits);
}

int ocl_prog_arg_info(struct maestro_runtime *rt, cl_program prog, const char *kernel, cl_uint i,
                      cl_kernel_arg_address_qualifier *aq, char *type, size_t type_len) {
  struct ocl *o = ocl_state(rt);
  pthread_mutex_lock(&o->prog_lock);
  const ocl_prog_t *p = o->progs;
  while (p && p->prog != prog)
    p = p->next;
  /* Entries live until the runtime ends, their text never changes. */
  unsigned q = 0;
  int found = p && p->meta && ocl_cache_meta_arg(p->meta, kernel, i, &q, type, type_len);
  pthread_mutex_unlock(&o->prog_lock);
  if (found) *aq = q;
  return found ? MAESTRO_OK : -1;
}
