/* maestro_runtime_create / destroy: validates the configuration, then brings
 * the subsystems up in order, then the modules above the engine (rt_modules,
 * runtime/modules.c; see base/runtime.h), and all down in reverse. */
#include "base/runtime.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/config_parse.h"
#include "core/dist.h"
#include "core/graph.h"
#include "base/error.h"
#include "mem/buf.h"
#include "mem/node.h"
#include "sched/perf.h"
#include "sched/place.h"
#include "sched/sched.h"
#include "topo/topo.h"

/* Tears graphs down before the workers stop (runtime/core/graph.c). */
void graph_destroy_all(struct maestro_runtime *rt);

const char *maestro_version(void) {
  return MAESTRO_VERSION_STRING;
}

/* maestro_config_t's string fields and their defaults (NULL: stays NULL,
 * as trace does when it is NULL or empty). The runtime keeps its own copy of
 * each (rt->cfg_str), so that the caller's strings may go. */
static const struct {
  size_t off;
  const char *dflt;
} cfg_strings[] = {
    {offsetof(maestro_config_t, devices), "all"},
    {offsetof(maestro_config_t, sched), "dmda"},
    {offsetof(maestro_config_t, trace), NULL},
    {offsetof(maestro_config_t, kernel_cache), ""},
    {offsetof(maestro_config_t, perf_dir), ""},
    {offsetof(maestro_config_t, dist), "none"},
    {offsetof(maestro_config_t, ocl_contexts), "platform"},
};
enum { NCFG_STRINGS = sizeof cfg_strings / sizeof cfg_strings[0] };
_Static_assert(NCFG_STRINGS <= RT_CFG_MAX_STRINGS, "rt->cfg_str is too small");

static const char **cfg_field(maestro_config_t *cfg, int i) {
  return (const char **)((char *)cfg + cfg_strings[i].off);
}

/* Replaces rt->cfg's string fields by copies (NULL by the default; an empty
 * trace path means no trace, as an empty MAESTRO_TRACE does). */
static int copy_strings(struct maestro_runtime *rt) {
  for (int i = 0; i < NCFG_STRINGS; i++) {
    const char **f = cfg_field(&rt->cfg, i);
    const char *v = *f ? *f : cfg_strings[i].dflt;
    if (!cfg_strings[i].dflt && v && !*v) v = NULL;
    *f = NULL;
    if (!v) continue;
    if (!(rt->cfg_str[i] = strdup(v))) return MAESTRO_ENOMEM;
    *f = rt->cfg_str[i];
  }
  return MAESTRO_OK;
}

/* sched_init with the function its workers run tasks with. */
static int sched_up(struct maestro_runtime *rt) {
  return sched_init(rt, core_task_run);
}

typedef struct {
  int (*init)(struct maestro_runtime *);
  void (*fini)(struct maestro_runtime *);
} subsystem_t;

static const subsystem_t subsystems[] = {
    {topo_init, topo_fini},   {perf_init, perf_fini}, {mem_node_table_init, mem_node_table_fini},
    {place_init, place_fini}, {mem_init, mem_fini},   {sched_up, sched_fini},
};
enum { NSUB = sizeof subsystems / sizeof subsystems[0] };

/* The i-th layer up: the subsystems, then the modules above the engine. */
static int layer_init(struct maestro_runtime *rt, int i) {
  return i < NSUB ? subsystems[i].init(rt) : rt_modules[i - NSUB].init(rt);
}
static void layer_fini(struct maestro_runtime *rt, int i) {
  if (i < NSUB)
    subsystems[i].fini(rt);
  else
    rt_modules[i - NSUB].fini(rt);
}

static void runtime_free(struct maestro_runtime *rt, int up) {
  if (rt->dist) rt->dist->fini(rt);
  for (int i = up - 1; i >= 0; i--)
    layer_fini(rt, i);
  for (int i = 0; i < RT_CFG_MAX_STRINGS; i++)
    free(rt->cfg_str[i]);
  pthread_mutex_destroy(&rt->graphs_lock);
  free(rt);
}

/* Across ranks each rank writes its own trace: "t.json" becomes "t.rank2.json". */
static int trace_per_rank(struct maestro_runtime *rt) {
  int i = 0;
  while (cfg_strings[i].off != offsetof(maestro_config_t, trace))
    i++;
  const char *t = rt->cfg_str[i], *dot = strrchr(t, '.'), *slash = strrchr(t, '/');
  size_t stem = dot && (!slash || dot > slash) ? (size_t)(dot - t) : strlen(t);
  size_t n = strlen(t) + 32;
  char *s = malloc(n);
  if (!s) return err_set(MAESTRO_ENOMEM, "maestro_runtime_create: out of memory");
  snprintf(s, n, "%.*s.rank%d%s", (int)stem, t, rt->rank, t + stem);
  free(rt->cfg_str[i]);
  rt->cfg_str[i] = s;
  rt->cfg.trace = s;
  return MAESTRO_OK;
}

int maestro_runtime_create(const maestro_config_t *cfg, maestro_runtime_t **out) {
  if (!out) return err_set(MAESTRO_EINVAL, "maestro_runtime_create: rt is NULL");
  *out = NULL;
  maestro_config_t defaults;
  if (!cfg) {
    int rc = maestro_config_defaults(&defaults);
    if (rc) return rc;
    cfg = &defaults;
  }
  int rc = config_validate(cfg);
  if (rc) return rc;

  struct maestro_runtime *rt = calloc(1, sizeof *rt);
  if (!rt) return err_set(MAESTRO_ENOMEM, "maestro_runtime_create: out of memory");
  pthread_mutex_init(&rt->graphs_lock, NULL);
  rt->start_ns = rt_now_ns();
  rt->nranks = 1;
  rt->cfg = *cfg;
  /* The runtime keeps its own copies, NULL replaced by the default, so the
   * subsystems read rt->cfg without checking for NULL (trace excepted: NULL
   * is "no trace"). */
  if (copy_strings(rt) != MAESTRO_OK) {
    runtime_free(rt, 0);
    return err_set(MAESTRO_ENOMEM, "maestro_runtime_create: out of memory");
  }
  fault_parse("cfg.faults", cfg->faults, &rt->fault); /* checked by config_validate */
  rt->cfg.faults = NULL;

  /* core's own stats collector; each subsystem registers its own. */
  if ((rc = core_stats_register(rt)) != MAESTRO_OK) {
    runtime_free(rt, 0);
    return rc;
  }
  /* Ranks first: the trace writer names its file and process by rank. */
  if (!strcmp(rt->cfg.dist, "mpi")) {
    if (!dist_builtin) { /* config_validate refused it already; kept for safety */
      runtime_free(rt, 0);
      return err_set(MAESTRO_EINVAL, "maestro_runtime_create: no MPI backend in this build");
    }
    if ((rc = dist_builtin->init(rt)) != MAESTRO_OK) {
      runtime_free(rt, 0);
      return rc;
    }
    rt->dist = dist_builtin;
    if (rt->nranks > 1 && rt->cfg.trace && (rc = trace_per_rank(rt)) != MAESTRO_OK) {
      runtime_free(rt, 0);
      return rc;
    }
  }
  for (int i = 0; i < NSUB + rt_nmodules; i++) {
    if ((rc = layer_init(rt, i)) != MAESTRO_OK) {
      runtime_free(rt, i);
      return rc;
    }
  }
  /* Devices are discovered when first needed, except those asked for by
   * index: a program that names a device wants to hear now that it lacks. */
  if (strcmp(rt->cfg.devices, "all") != 0 && strcmp(rt->cfg.devices, "none") != 0 &&
      (rc = place_discover(rt)) != MAESTRO_OK) {
    runtime_free(rt, NSUB + rt_nmodules); /* the modules are up too */
    return rc;
  }
  *out = rt;
  return MAESTRO_OK;
}

void maestro_runtime_destroy(maestro_runtime_t *rt) {
  if (!rt) return;
  /* It waits for every graph and joins the workers, the firing's own included. */
  if (core_refuse_in_firing("maestro_runtime_destroy",
                            "a firing may not destroy a runtime; the runtime is left running"))
    return;
  graph_destroy_all(rt);
  sched_timer_fini(rt); /* no graph left: no timer armed */
  runtime_free(rt, NSUB + rt_nmodules);
}

int maestro_runtime_rank(const maestro_runtime_t *rt) {
  return rt ? rt->rank : 0;
}

int maestro_runtime_nranks(const maestro_runtime_t *rt) {
  return rt ? rt->nranks : 1;
}

int maestro_runtime_nplaces(const maestro_runtime_t *rt, maestro_place_kind_t kind) {
  if (!rt) return err_set(MAESTRO_EINVAL, "maestro_runtime_nplaces: rt is NULL");
  switch (kind) {
  case MAESTRO_PLACE_CPU: return rt->ncpu;
  case MAESTRO_PLACE_DEVICE: {
    /* Asking for devices is what discovers them (sched/place.h). */
    int rc = place_discover((struct maestro_runtime *)rt);
    return rc ? rc : rt->ndev;
  }
  default:
    return err_set(MAESTRO_EINVAL,
                   "maestro_runtime_nplaces: kind %d is neither "
                   "MAESTRO_PLACE_CPU nor MAESTRO_PLACE_DEVICE",
                   (int)kind);
  }
}

int maestro_runtime_place_info(const maestro_runtime_t *rt, maestro_place_kind_t kind, int index,
                               maestro_place_info_t *info) {
  if (!rt || !info)
    return err_set(MAESTRO_EINVAL, "maestro_runtime_place_info: %s is NULL", rt ? "info" : "rt");
  int n = maestro_runtime_nplaces(rt, kind);
  if (n < 0) return n;
  if (index < 0 || index >= n)
    return err_set(MAESTRO_ENODEV,
                   "maestro_runtime_place_info: no %s place %d (this runtime has %d)",
                   kind == MAESTRO_PLACE_CPU ? "CPU" : "device", index, n);
  *info = kind == MAESTRO_PLACE_CPU ? rt->cpu_info[index] : rt->dev_info[index];
  return MAESTRO_OK;
}

const char *maestro_runtime_cpu_only_reason(const maestro_runtime_t *rt) {
  if (rt) place_discover((struct maestro_runtime *)rt);
  return rt && rt->ndev == 0 ? rt->cpu_only_reason : NULL;
}
