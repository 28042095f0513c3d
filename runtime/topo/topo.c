/* Machine topology with hwloc: CPU places, thread binding, NUMA memory.
 * The only file in Maestro that calls hwloc.
 *
 * CPU places are the cores this process may use: every core of the machine
 * whose PUs intersect both the topology's allowed cpuset (cgroups) and the
 * process's current binding (taskset, sched_setaffinity). A place keeps only
 * the usable PUs of its core, so binding never leaves the allowed set. */
#include "topo/topo.h"

#include <errno.h>
#include <hwloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "base/error.h"
#include "base/json.h"
#include "base/runtime.h"

struct topo {
  hwloc_topology_t t;
  hwloc_bitmap_t usable;   /* PUs this process may run on */
  hwloc_bitmap_t *cpusets; /* per CPU place: the usable PUs of its core */
  int ncores_total;        /* cores in the machine, usable or not */
  int ncores_usable;       /* cores with at least one usable PU */
  hwloc_obj_t *cores;      /* those cores, in topology order */
  int nnuma;               /* NUMA nodes (>= 1) */
  int membind;             /* 1: several nodes and hwloc can bind memory here */
};

/* The PUs this process may run on: the allowed cpuset intersected with the
 * union of the bindings of the process's threads. */
static hwloc_bitmap_t usable_pus(hwloc_topology_t t) {
  hwloc_bitmap_t set = hwloc_bitmap_dup(hwloc_topology_get_allowed_cpuset(t));
  hwloc_bitmap_t bound = hwloc_bitmap_alloc();
  if (!set || !bound) {
    hwloc_bitmap_free(set);
    hwloc_bitmap_free(bound);
    return NULL;
  }
  /* PROCESS reads every thread's binding and can fail when one exits
   * meanwhile: then the calling thread's binding is the best guess. */
  if ((hwloc_get_cpubind(t, bound, HWLOC_CPUBIND_PROCESS) == 0 ||
       hwloc_get_cpubind(t, bound, HWLOC_CPUBIND_THREAD) == 0) &&
      !hwloc_bitmap_iszero(bound))
    hwloc_bitmap_and(set, set, bound);
  hwloc_bitmap_free(bound);
  return set;
}

/* OS index of the first NUMA node near `core`, and that node's memory. */
static void core_numa(hwloc_topology_t t, hwloc_obj_t core, int *node, uint64_t *mem) {
  *node = -1;
  *mem = 0;
  if (!core->nodeset || hwloc_bitmap_iszero(core->nodeset)) return;
  int os = hwloc_bitmap_first(core->nodeset);
  hwloc_obj_t n = hwloc_get_numanode_obj_by_os_index(t, (unsigned)os);
  if (!n) return;
  *node = (int)n->os_index;
  *mem = n->attr ? n->attr->numanode.local_memory : 0;
}

static const char *cpu_model(hwloc_topology_t t, hwloc_obj_t core) {
  hwloc_obj_t pkg = hwloc_get_ancestor_obj_by_type(t, HWLOC_OBJ_PACKAGE, core);
  const char *m = pkg ? hwloc_obj_get_info_by_name(pkg, "CPUModel") : NULL;
  if (!m) m = hwloc_obj_get_info_by_name(hwloc_get_root_obj(t), "CPUModel");
  return m ? m : "";
}

static void topo_free_state(struct topo *tp) {
  if (!tp) return;
  if (tp->cpusets) {
    /* hwloc_bitmap_free(NULL) is a no-op: partially filled arrays are fine. */
    for (int i = 0; tp->cpusets[i]; i++)
      hwloc_bitmap_free(tp->cpusets[i]);
    free(tp->cpusets);
  }
  free(tp->cores);
  hwloc_bitmap_free(tp->usable);
  if (tp->t) hwloc_topology_destroy(tp->t);
  free(tp);
}

/* Fills one CPU place from its core. */
static void fill_place(const struct topo *tp, maestro_place_info_t *p, int index,
                       hwloc_obj_t core) {
  memset(p, 0, sizeof *p);
  p->kind = MAESTRO_PLACE_CPU;
  p->index = index;
  snprintf(p->name, sizeof p->name, "cpu %d", index);
  snprintf(p->vendor, sizeof p->vendor, "%s", cpu_model(tp->t, core));
  p->os_index = hwloc_bitmap_first(tp->cpusets[index]);
  core_numa(tp->t, core, &p->numa_node, &p->mem_bytes);
  p->unified = 1;
  p->device_type = MAESTRO_DEVICE_NONE;
  p->compute_units = 1;
  p->max_alloc = 0;
}

int topo_init(struct maestro_runtime *rt) {
  struct topo *tp = calloc(1, sizeof *tp);
  if (!tp) return err_set(MAESTRO_ENOMEM, "maestro_runtime_create: out of memory (topology)");
  if (hwloc_topology_init(&tp->t) != 0) {
    free(tp);
    return err_set(MAESTRO_ESYS, "maestro_runtime_create: hwloc_topology_init: %s",
                   strerror(errno));
  }
  if (hwloc_topology_set_flags(tp->t, HWLOC_TOPOLOGY_FLAG_IS_THISSYSTEM) != 0 ||
      hwloc_topology_load(tp->t) != 0) {
    int e = errno;
    topo_free_state(tp);
    return err_set(MAESTRO_ESYS, "maestro_runtime_create: hwloc cannot load the topology: %s",
                   strerror(e));
  }
  tp->nnuma = hwloc_get_nbobjs_by_type(tp->t, HWLOC_OBJ_NUMANODE);
  if (tp->nnuma < 1) tp->nnuma = 1;
  /* A topology that is not this system (HWLOC_SYNTHETIC, XML) has dummy
   * memory hooks: plain malloc, no alignment. Bind only where it is real. */
  const struct hwloc_topology_support *sup = hwloc_topology_get_support(tp->t);
  tp->membind = tp->nnuma > 1 && sup && sup->membind && sup->membind->alloc_membind;

  /* Cores; a machine whose topology has no core objects uses its PUs. */
  hwloc_obj_type_t unit = HWLOC_OBJ_CORE;
  int n = hwloc_get_nbobjs_by_type(tp->t, unit);
  if (n <= 0) {
    unit = HWLOC_OBJ_PU;
    n = hwloc_get_nbobjs_by_type(tp->t, unit);
  }
  tp->ncores_total = n;
  tp->usable = usable_pus(tp->t);
  tp->cpusets = calloc((size_t)(n > 0 ? n : 0) + 1, sizeof *tp->cpusets);
  if (!tp->usable || !tp->cpusets) {
    topo_free_state(tp);
    return err_set(MAESTRO_ENOMEM, "maestro_runtime_create: out of memory (topology)");
  }

  hwloc_obj_t *cores = calloc((size_t)(n > 0 ? n : 1), sizeof *cores);
  if (!cores) {
    topo_free_state(tp);
    return err_set(MAESTRO_ENOMEM, "maestro_runtime_create: out of memory (topology)");
  }
  int nusable = 0;
  for (int i = 0; i < n; i++) {
    hwloc_obj_t core = hwloc_get_obj_by_type(tp->t, unit, (unsigned)i);
    if (!core || !core->cpuset || !hwloc_bitmap_intersects(core->cpuset, tp->usable)) continue;
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set) {
      free(cores);
      topo_free_state(tp);
      return err_set(MAESTRO_ENOMEM, "maestro_runtime_create: out of memory (topology)");
    }
    hwloc_bitmap_and(set, core->cpuset, tp->usable);
    tp->cpusets[nusable] = set;
    cores[nusable++] = core;
  }
  if (nusable == 0) {
    free(cores);
    topo_free_state(tp);
    return err_set(MAESTRO_ENODEV, "maestro_runtime_create: this process may run on no core");
  }

  tp->ncores_usable = nusable;
  tp->cores = cores;
  rt->topo = tp;
  return MAESTRO_OK;
}

void topo_fini(struct maestro_runtime *rt) {
  topo_free_state(rt->topo);
  rt->topo = NULL;
}

int topo_ncores(const struct maestro_runtime *rt) {
  return rt && rt->topo ? rt->topo->ncores_usable : 0;
}

int topo_core_info(const struct maestro_runtime *rt, int cpu, maestro_place_info_t *info) {
  if (!rt || !rt->topo || !info) return err_set(MAESTRO_EINVAL, "topo_core_info: bad argument");
  if (cpu < 0 || cpu >= rt->topo->ncores_usable)
    return err_set(MAESTRO_ENODEV, "topo_core_info: no usable core %d (this process has %d)", cpu,
                   rt->topo->ncores_usable);
  fill_place(rt->topo, info, cpu, rt->topo->cores[cpu]);
  return MAESTRO_OK;
}

int topo_usable_pus(const struct maestro_runtime *rt, char *buf, size_t len) {
  if (!rt || !rt->topo || !buf || len == 0)
    return err_set(MAESTRO_EINVAL, "topo_usable_pus: bad argument");
  if (hwloc_bitmap_list_snprintf(buf, len, rt->topo->usable) < 0)
    return err_set(MAESTRO_ESYS, "topo_usable_pus: cannot format the PU list");
  return MAESTRO_OK;
}

int topo_bind_thread(struct maestro_runtime *rt, int cpu) {
  if (!rt || !rt->topo) return err_set(MAESTRO_EINVAL, "topo_bind_thread: no topology");
  if (cpu < 0 || cpu >= rt->topo->ncores_usable)
    return err_set(MAESTRO_ENODEV, "topo_bind_thread: no CPU place %d (this process has %d cores)",
                   cpu, rt->topo->ncores_usable);
  if (hwloc_set_cpubind(rt->topo->t, rt->topo->cpusets[cpu], HWLOC_CPUBIND_THREAD) != 0)
    return err_set(MAESTRO_ESYS, "topo_bind_thread: cannot pin to CPU place %d (PU %d): %s", cpu,
                   hwloc_bitmap_first(rt->topo->cpusets[cpu]), strerror(errno));
  return MAESTRO_OK;
}

int topo_cpu_pus(const struct maestro_runtime *rt, int cpu, char *buf, size_t len) {
  if (!rt || !rt->topo || !buf || len == 0)
    return err_set(MAESTRO_EINVAL, "topo_cpu_pus: bad argument");
  if (cpu < 0 || cpu >= rt->topo->ncores_usable)
    return err_set(MAESTRO_ENODEV, "topo_cpu_pus: no CPU place %d (this process has %d cores)", cpu,
                   rt->topo->ncores_usable);
  if (hwloc_bitmap_list_snprintf(buf, len, rt->topo->cpusets[cpu]) < 0)
    return err_set(MAESTRO_ESYS, "topo_cpu_pus: cannot format the PU list");
  return MAESTRO_OK;
}

int topo_cpu_arch(const struct maestro_runtime *rt, int cpu, char *buf, size_t len) {
  if (!rt || !rt->topo || !buf || len == 0)
    return err_set(MAESTRO_EINVAL, "topo_cpu_arch: bad argument");
  if (cpu < 0 || cpu >= rt->topo->ncores_usable)
    return err_set(MAESTRO_ENODEV, "topo_cpu_arch: no CPU place %d (this process has %d cores)",
                   cpu, rt->topo->ncores_usable);
  hwloc_topology_t t = rt->topo->t;
  hwloc_const_bitmap_t set = rt->topo->cpusets[cpu];
  hwloc_obj_t pu = hwloc_get_pu_obj_by_os_index(t, (unsigned)hwloc_bitmap_first(set));
  const char *model = pu ? cpu_model(t, pu) : "";
  struct utsname u;
  if (!model[0]) model = uname(&u) == 0 ? u.machine : "unknown";
  /* Performance and efficiency cores of one model run code at different
   * speeds: their kind keeps their models apart. */
  const char *type = NULL;
  char kind[32];
  if (hwloc_cpukinds_get_nr(t, 0) > 1) {
    int k = hwloc_cpukinds_get_by_cpuset(t, set, 0);
    struct hwloc_info_s *infos = NULL;
    unsigned ninfos = 0;
    if (k >= 0 && hwloc_cpukinds_get_info(t, (unsigned)k, NULL, NULL, &ninfos, &infos, 0) == 0)
      for (unsigned i = 0; i < ninfos && !type; i++)
        if (strcmp(infos[i].name, "CoreType") == 0) type = infos[i].value;
    if (!type && k >= 0) {
      snprintf(kind, sizeof kind, "kind %d", k);
      type = kind;
    }
  }
  if (type)
    snprintf(buf, len, "cpu:%s (%s)", model, type);
  else
    snprintf(buf, len, "cpu:%s", model);
  return MAESTRO_OK;
}

int topo_numa_nodes(const struct maestro_runtime *rt) {
  return rt && rt->topo ? rt->topo->nnuma : 1;
}

/* Single-node machines (the common case) use the C heap, which is far
 * cheaper for small buffers than hwloc's mmap-based binding; multi-node
 * machines always use hwloc's allocator (page-aligned mmap on Linux, also
 * when binding fails) so that topo_free can tell which one to call. */
static int uses_hwloc_alloc(const struct maestro_runtime *rt) {
  return rt && rt->topo && rt->topo->membind;
}

void *topo_alloc_on_node(struct maestro_runtime *rt, size_t bytes, int node) {
  if (bytes == 0) bytes = 1;
  if (!uses_hwloc_alloc(rt)) {
    void *p = NULL;
    size_t rounded = (bytes + TOPO_ALIGN - 1) / TOPO_ALIGN * TOPO_ALIGN;
    if (rounded < bytes) return NULL;
    return posix_memalign(&p, TOPO_ALIGN, rounded) == 0 ? p : NULL;
  }
  hwloc_topology_t t = rt->topo->t;
  hwloc_obj_t n = node >= 0 ? hwloc_get_numanode_obj_by_os_index(t, (unsigned)node) : NULL;
  if (!n) return hwloc_alloc(t, bytes);
  /* Not STRICT: hwloc falls back to unbound memory when binding fails. */
  return hwloc_alloc_membind(t, bytes, n->nodeset, HWLOC_MEMBIND_BIND, HWLOC_MEMBIND_BYNODESET);
}

void topo_free(struct maestro_runtime *rt, void *p, size_t bytes) {
  if (!p) return;
  if (!uses_hwloc_alloc(rt)) {
    free(p);
    return;
  }
  hwloc_free(rt->topo->t, p, bytes ? bytes : 1);
}

/* ---- topo_describe: what maestro-info prints ---- */

static const hwloc_obj_type_t cache_types[] = {
    HWLOC_OBJ_L1CACHE, HWLOC_OBJ_L1ICACHE, HWLOC_OBJ_L2CACHE, HWLOC_OBJ_L2ICACHE,
    HWLOC_OBJ_L3CACHE, HWLOC_OBJ_L3ICACHE, HWLOC_OBJ_L4CACHE, HWLOC_OBJ_L5CACHE,
};
enum { NCACHE_TYPES = sizeof cache_types / sizeof cache_types[0] };

static void fmt_bytes(char *out, size_t cap, uint64_t b) {
  if (b >= (1ull << 30) && b % (1ull << 30) == 0)
    snprintf(out, cap, "%llu GiB", (unsigned long long)(b >> 30));
  else if (b >= (1ull << 30))
    snprintf(out, cap, "%.1f GiB", (double)b / (double)(1ull << 30));
  else if (b >= (1ull << 20))
    snprintf(out, cap, "%llu MiB", (unsigned long long)(b >> 20));
  else
    snprintf(out, cap, "%llu KiB", (unsigned long long)(b >> 10));
}

static void write_list(FILE *f, hwloc_const_bitmap_t set) {
  char *s = NULL;
  if (hwloc_bitmap_list_asprintf(&s, set) >= 0 && s)
    fputs(s, f);
  else
    fputs("?", f);
  free(s);
}

static void write_json_list(FILE *f, hwloc_const_bitmap_t set) {
  char *s = NULL;
  if (hwloc_bitmap_list_asprintf(&s, set) >= 0 && s)
    json_write_str(f, s);
  else
    fputs("null", f);
  free(s);
}

static void describe_text(const struct topo *tp, FILE *f) {
  hwloc_topology_t t = tp->t;
  int npkg = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PACKAGE);
  int npu = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU);
  char buf[32];
  fprintf(f, "Topology (hwloc %s)\n", HWLOC_VERSION);
  fprintf(f, "  packages    %d\n", npkg);
  for (int i = 0; i < npkg; i++) {
    hwloc_obj_t p = hwloc_get_obj_by_type(t, HWLOC_OBJ_PACKAGE, (unsigned)i);
    const char *m = hwloc_obj_get_info_by_name(p, "CPUModel");
    fprintf(f, "    package %u: %s, PUs ", p->os_index, m ? m : "(unknown model)");
    write_list(f, p->cpuset);
    fputc('\n', f);
  }
  fprintf(f, "  NUMA nodes  %d\n", hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE));
  for (int i = 0; i < hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE); i++) {
    hwloc_obj_t n = hwloc_get_obj_by_type(t, HWLOC_OBJ_NUMANODE, (unsigned)i);
    fmt_bytes(buf, sizeof buf, n->attr->numanode.local_memory);
    fprintf(f, "    node %u: %s, PUs ", n->os_index, buf);
    write_list(f, n->cpuset);
    fputc('\n', f);
  }
  fprintf(f, "  cores       %d (%d usable by this process)\n", tp->ncores_total, tp->ncores_usable);
  fprintf(f, "  PUs         %d (usable: ", npu);
  write_list(f, tp->usable);
  fputs(")\n", f);
  fputs("  caches     ", f);
  int any = 0;
  for (int i = 0; i < NCACHE_TYPES; i++) {
    int n = hwloc_get_nbobjs_by_type(t, cache_types[i]);
    if (n <= 0) continue;
    hwloc_obj_t c = hwloc_get_obj_by_type(t, cache_types[i], 0);
    char name[16];
    hwloc_obj_type_snprintf(name, sizeof name, c, 0);
    fmt_bytes(buf, sizeof buf, c->attr->cache.size);
    fprintf(f, "%s %s %s x%d", any ? "," : "", name, buf, n);
    any = 1;
  }
  fputs(any ? "\n" : " (none reported)\n", f);
}

static void describe_json(const struct topo *tp, FILE *f) {
  hwloc_topology_t t = tp->t;
  fputs("{\"hwloc_version\": ", f);
  json_write_str(f, HWLOC_VERSION);
  fputs(", \"packages\": [", f);
  int npkg = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PACKAGE);
  for (int i = 0; i < npkg; i++) {
    hwloc_obj_t p = hwloc_get_obj_by_type(t, HWLOC_OBJ_PACKAGE, (unsigned)i);
    fprintf(f, "%s{\"os_index\": %u, \"model\": ", i ? ", " : "", p->os_index);
    json_write_str(f, hwloc_obj_get_info_by_name(p, "CPUModel"));
    fputs(", \"pus\": ", f);
    write_json_list(f, p->cpuset);
    fputc('}', f);
  }
  fputs("], \"numa_nodes\": [", f);
  int nn = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
  for (int i = 0; i < nn; i++) {
    hwloc_obj_t n = hwloc_get_obj_by_type(t, HWLOC_OBJ_NUMANODE, (unsigned)i);
    fprintf(f, "%s{\"os_index\": %u, \"mem_bytes\": %llu, \"pus\": ", i ? ", " : "", n->os_index,
            (unsigned long long)n->attr->numanode.local_memory);
    write_json_list(f, n->cpuset);
    fputc('}', f);
  }
  fprintf(f,
          "], \"cores\": %d, \"usable_cores\": %d, \"pus\": %d, \"usable_pus\": ", tp->ncores_total,
          tp->ncores_usable, hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU));
  write_json_list(f, tp->usable);
  fputs(", \"caches\": [", f);
  int any = 0;
  for (int i = 0; i < NCACHE_TYPES; i++) {
    int n = hwloc_get_nbobjs_by_type(t, cache_types[i]);
    if (n <= 0) continue;
    hwloc_obj_t c = hwloc_get_obj_by_type(t, cache_types[i], 0);
    char name[16];
    hwloc_obj_type_snprintf(name, sizeof name, c, 0);
    fprintf(f, "%s{\"name\": ", any ? ", " : "");
    json_write_str(f, name);
    fprintf(f, ", \"level\": %u, \"size\": %llu, \"line\": %u, \"count\": %d}",
            c->attr->cache.depth, (unsigned long long)c->attr->cache.size, c->attr->cache.linesize,
            n);
    any = 1;
  }
  fputs("]}", f);
}

void topo_describe(const struct maestro_runtime *rt, FILE *f, int json) {
  if (!rt || !rt->topo || !f) return;
  if (json)
    describe_json(rt->topo, f);
  else
    describe_text(rt->topo, f);
}
