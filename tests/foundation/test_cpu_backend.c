/* The CPU backend (runtime/backend/cpu) as one more implementation of the
 * two tables: its place operations describe exactly topo's usable cores
 * (cfg.ncpu limits them), each with a non-empty architecture; its host
 * memory node is node 0, where the pools take their bytes from, and its
 * replica operations round-trip a buffer's bytes exactly. */
#include <stdint.h>
#include <string.h>

#include "backend/cpu/cpu.h"
#include "base/runtime.h"
#include "common.h"
#include "mem/buf.h"
#include "mem/node.h"
#include "sched/place.h"
#include "testmain.h"
#include "topo/topo.h"

static maestro_runtime_t *rt;

static int setup(void) {
  clear_maestro_env();
  return make_runtime("none", 0, &rt) == MAESTRO_OK ? 0 : 1;
}

static int teardown(void) {
  maestro_runtime_destroy(rt);
  return 0;
}

/* One CPU place per usable core, as topo describes it, each with the
 * architecture topo names. */
static void test_places(void) {
  int n = maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU);
  CU_ASSERT_EQUAL(n, topo_ncores(rt));
  CU_ASSERT_EQUAL(rt->ncpu, n);
  const struct cpu_backend *c = place_backend_get(rt, &cpu_backend_ops);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL(c->n, n);
  CU_ASSERT_PTR_EQUAL(c->rt, rt);
  for (int i = 0; i < n; i++) {
    maestro_place_info_t p, t;
    CU_ASSERT_EQUAL_FATAL(maestro_runtime_place_info(rt, MAESTRO_PLACE_CPU, i, &p), MAESTRO_OK);
    CU_ASSERT_EQUAL_FATAL(topo_core_info(rt, i, &t), MAESTRO_OK);
    CU_ASSERT_EQUAL(p.kind, MAESTRO_PLACE_CPU);
    CU_ASSERT_EQUAL(p.index, i);
    CU_ASSERT_EQUAL(p.os_index, t.os_index);
    CU_ASSERT_EQUAL(p.numa_node, t.numa_node);
    CU_ASSERT_STRING_EQUAL(p.name, t.name);
    const char *arch = place_cpu_arch(rt, i);
    char want[CPU_ARCH_LEN];
    CU_ASSERT_EQUAL(topo_cpu_arch(rt, i, want, sizeof want), MAESTRO_OK);
    CU_ASSERT_STRING_EQUAL(arch, want);
    CU_ASSERT_TRUE(strlen(arch) > strlen("cpu:"));
    CU_ASSERT_EQUAL(strncmp(arch, "cpu:", 4), 0);
    CU_ASSERT_STRING_EQUAL(cpu_backend_ops.arch((void *)c, i), arch);
  }
  CU_ASSERT_STRING_EQUAL(place_cpu_arch(rt, n), "");
  CU_ASSERT_STRING_EQUAL(place_cpu_arch(rt, -1), "");
  /* It brings no device place, and no device backend asked for one here. */
  CU_ASSERT_EQUAL(maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE), 0);
}

/* Binding goes through the backend: each place, then a refused index. */
static void test_bind(void) {
  int n = rt->ncpu;
  for (int i = 0; i < n; i++)
    CU_ASSERT_EQUAL(place_bind_cpu(rt, i), MAESTRO_OK);
  CU_ASSERT_EQUAL(place_bind_cpu(rt, n), MAESTRO_ENODEV);
  CU_ASSERT_EQUAL(place_bind_cpu(rt, -1), MAESTRO_ENODEV);
}

/* cfg.ncpu takes the first cores; more than there are is refused. */
static void test_ncpu_limit(void) {
  maestro_runtime_t *one = NULL, *too_many = NULL;
  CU_ASSERT_EQUAL_FATAL(make_runtime("none", 1, &one), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_runtime_nplaces(one, MAESTRO_PLACE_CPU), 1);
  const struct cpu_backend *c = place_backend_get(one, &cpu_backend_ops);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_EQUAL(c->n, 1);
  maestro_runtime_destroy(one);
  CU_ASSERT_EQUAL(make_runtime("none", topo_ncores(rt) + 1, &too_many), MAESTRO_ENODEV);
  CU_ASSERT_PTR_NULL(too_many);
  CU_ASSERT_TRUE(last_error_has("MAESTRO_NCPU"));
}

static void fill(unsigned char *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++)
    p[i] = (unsigned char)(i * 131u + seed);
}

/* Node 0 is the backend's; its pool memory is aligned and usable. */
static void test_host_node_memory(void) {
  const struct mem_node *host = mem_node_host(rt);
  CU_ASSERT_PTR_NOT_NULL_FATAL(host);
  CU_ASSERT_PTR_EQUAL(host->ops, &cpu_node_ops);
  CU_ASSERT_PTR_EQUAL(host->ctx, place_backend_get(rt, &cpu_backend_ops));
  CU_ASSERT_EQUAL(host->flags, MEM_NODE_ZERO_COPY | MEM_NODE_HOST_COHERENT);
  CU_ASSERT_PTR_NULL(mem_node_get(rt, MEM_HOST)); /* mem_node_get is for the others */
  /* A second host node is refused. */
  CU_ASSERT_EQUAL(mem_node_add_host(rt, &cpu_node_ops, host->ctx, 0), MAESTRO_ESTATE);
  size_t sizes[] = {1, 128, 4096, 1 << 20};
  int numa[] = {-1, rt->cpu_info[0].numa_node};
  for (int k = 0; k < 2; k++)
    for (int s = 0; s < 4; s++) {
      unsigned char *p = host->ops->host_alloc(host->ctx, sizes[s], numa[k]);
      CU_ASSERT_PTR_NOT_NULL_FATAL(p);
      CU_ASSERT_EQUAL((uintptr_t)p % MEM_HOST_ALIGN, 0);
      fill(p, sizes[s], 7);
      CU_ASSERT_EQUAL(p[sizes[s] - 1], (unsigned char)((sizes[s] - 1) * 131u + 7));
      host->ops->host_free(host->ctx, p, sizes[s]);
    }
  /* The buffers' own bytes come from there. */
  maestro_buf_t *b;
  CU_ASSERT_EQUAL_FATAL(maestro_buf_create(rt, 3000, &b), MAESTRO_OK);
  CU_ASSERT_EQUAL((uintptr_t)maestro_buf_data(b) % MEM_HOST_ALIGN, 0);
  maestro_buf_release(b);
}

/* A replica on the host node: copy in, spoil the host bytes, copy out:
 * exactly the bytes that went in. A wrap is the host bytes themselves. */
static void test_host_node_replica(void) {
  const struct mem_node *host = mem_node_host(rt);
  CU_ASSERT_PTR_NOT_NULL_FATAL(host);
  const struct mem_node_ops *ops = host->ops;
  size_t sizes[] = {1, 1000, 65536, (1 << 20) + 3};
  for (int s = 0; s < 4; s++) {
    size_t n = sizes[s];
    maestro_buf_t *b;
    CU_ASSERT_EQUAL_FATAL(maestro_buf_create(rt, n, &b), MAESTRO_OK);
    unsigned char *want = malloc(n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(want);
    fill(want, n, (unsigned)s);
    memcpy(maestro_buf_data(b), want, n);

    void *h = NULL;
    CU_ASSERT_EQUAL_FATAL(ops->alloc(host->ctx, b, 0, &h), MAESTRO_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    CU_ASSERT_EQUAL(ops->copy_in(host->ctx, h, NULL, NULL, b, NULL), MAESTRO_OK);
    memset(b->host, 0, n);
    CU_ASSERT_EQUAL(ops->copy_out(host->ctx, h, b, 0), MAESTRO_OK);
    CU_ASSERT_EQUAL(memcmp(b->host, want, n), 0);

    /* A direct copy from one replica of the node to another. */
    void *h2 = NULL;
    CU_ASSERT_EQUAL(ops->direct(host->ctx, host->ctx), 1);
    CU_ASSERT_EQUAL_FATAL(ops->alloc(host->ctx, b, 0, &h2), MAESTRO_OK);
    CU_ASSERT_EQUAL(ops->copy_in(host->ctx, h2, host->ctx, h, b, NULL), MAESTRO_OK);
    memset(b->host, 0xff, n);
    CU_ASSERT_EQUAL(ops->copy_out(host->ctx, h2, b, 0), MAESTRO_OK);
    CU_ASSERT_EQUAL(memcmp(b->host, want, n), 0);
    ops->free(host->ctx, b, h2, 0);
    ops->free(host->ctx, b, h, 0);

    /* Wrapped: the handle is the host bytes; copying out moves nothing. */
    void *w = NULL;
    CU_ASSERT_EQUAL(ops->alloc(host->ctx, b, 1, &w), MAESTRO_OK);
    CU_ASSERT_PTR_EQUAL(w, b->host);
    CU_ASSERT_EQUAL(ops->copy_out(host->ctx, w, b, 1), MAESTRO_OK);
    CU_ASSERT_EQUAL(memcmp(b->host, want, n), 0);
    ops->free(host->ctx, b, w, 1);

    free(want);
    maestro_buf_release(b);
  }
  /* The cost of a copy: a latency plus the bytes at memcpy speed. */
  const struct cpu_backend *c = host->ctx;
  CU_ASSERT_EQUAL(ops->cost_ns(host->ctx, MEM_TO_NODE, 0), c->copy_lat_ns);
  CU_ASSERT_EQUAL(ops->cost_ns(host->ctx, MEM_FROM_NODE, 1 << 20),
                  c->copy_lat_ns + 1024ull * c->copy_ns_per_kib);
}

static int no_wants(const struct place_agent_desc *d) {
  (void)d;
  return 0;
}
static int no_discover(struct maestro_runtime *r, void **be) {
  (void)r;
  *be = NULL;
  return MAESTRO_OK;
}
static int no_prepare(void *be, const struct place_agent_desc *d, uint64_t places, void **impl) {
  (void)be, (void)d, (void)places;
  *impl = NULL;
  return MAESTRO_OK;
}
static int no_submit(void *be, void *impl, int place, maestro_buf_t *const *in, uint64_t seq,
                     unsigned host_outputs, place_done_fn done, void *ctx) {
  (void)be, (void)impl, (void)place, (void)in, (void)seq, (void)host_outputs, (void)done, (void)ctx;
  return MAESTRO_ENODEV;
}

/* The CPU places have one backend: a second one is refused at once. */
static void test_one_cpu_backend(void) {
  static const struct backend_ops second = {.name = "second-cpu",
                                            .cpu_places = 1,
                                            .wants = no_wants,
                                            .discover = no_discover,
                                            .prepare = no_prepare,
                                            .submit = no_submit};
  CU_ASSERT_EQUAL(place_backend_register(&second), MAESTRO_EINVAL);
  CU_ASSERT_TRUE(last_error_has("'second-cpu' brings CPU places"));
}

void register_suites(void) {
  ADD_SUITE("CPU backend", setup, teardown, {"places are topo's cores", test_places},
            {"bind through the backend", test_bind}, {"ncpu limit", test_ncpu_limit},
            {"host node memory", test_host_node_memory},
            {"host node replica round trip", test_host_node_replica},
            {"one CPU backend", test_one_cpu_backend});
}
