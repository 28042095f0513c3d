/* Writes the fuzz targets' seed inputs under argv[1]/<target>/: a few
 * valid inputs each, so that the fuzzers start past the first checks.
 * Segments come from the real writer (prof_seg_create with small slot
 * counts), so the seeds follow the layout when it changes. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backend/opencl/cache_entry.h"
#include "base/hash.h"
#include "prof/segment.h"

#define KCACHE_KEY 0x6d61657374726f21ull /* as fuzz_kcache.c */

static const char *root;

static void put(const char *target, const char *name, const void *data, size_t n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", root, target);
  if (mkdir(path, 0755) != 0 && errno != EEXIST) {
    perror(path);
    exit(1);
  }
  snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
    perror(path);
    exit(1);
  }
}

static struct prof_place_rec place(int i) {
  struct prof_place_rec p = {.kind = i > 0, .index = i > 0 ? i - 1 : i, .agents = 2};
  snprintf(p.name, sizeof p.name, i > 0 ? "device %d: pthread" : "cpu %d", i);
  p.busy_ns = 1000000ull * (uint64_t)(i + 1);
  p.fires = 100u * (uint64_t)(i + 1);
  p.bytes_h2d = i > 0 ? 4096 : 0;
  p.bytes_d2h = i > 0 ? 2048 : 0;
  return p;
}

static struct prof_agent_rec agent(int i, uint64_t scale) {
  struct prof_agent_rec a = {.place_kind = i == 2,
                             .place_index = i == 1 ? -1 : 0,
                             .state = i % 7,
                             .queue_depth = (uint32_t)i};
  /* Layout 3: where it is placed; agent 2 is a hybrid with estimates. */
  if (i != 1) {
    a.flags = PROF_AGENT_F_CPU_PLACED;
    a.cpu_place = i;
  }
  if (i == 2) {
    a.flags |= PROF_AGENT_F_DEV_PLACED | PROF_AGENT_F_HYBRID;
    a.dev_place = 0;
    a.n_est = PROF_EST_PLACES;
    const int64_t est[PROF_EST_PLACES] = {250, 4000, -1, -2, -2};
    memcpy(a.est_ns, est, sizeof est);
    a.est_bytes = 4096;
  }
  a.served_for = -1;
  /* Layout 4: agent 0 fires on 3 ranks (this one owns it), agent 3 serves
   * another rank's. */
  if (i == 0) {
    a.flags |= PROF_AGENT_F_ANY_OWNER | PROF_AGENT_F_ANY_FINAL;
    a.nranks = 3;
    a.rank_fires[0] = 10 * scale;
    a.rank_fires[1] = 7 * scale;
    a.rank_fires[2] = 3 * scale;
  }
  if (i == 3) {
    a.flags |= PROF_AGENT_F_ANY_SERVED;
    a.served_for = 0;
    a.served = 5 * scale;
  }
  snprintf(a.name, sizeof a.name, "agent%d", i);
  snprintf(a.graph, sizeof a.graph, "g");
  a.fires = 10 * scale * (uint64_t)(i + 1);
  a.msgs_in = a.msgs_out = a.fires;
  a.bytes_in = a.bytes_out = 64 * a.fires;
  a.busy_ns = 1000 * a.fires;
  a.failures = (uint64_t)i;
  return a;
}

static struct prof_chan_rec chan(int i, uint64_t scale) {
  struct prof_chan_rec c = {.capacity = 16, .depth = (uint32_t)i};
  snprintf(c.graph, sizeof c.graph, "g");
  snprintf(c.from, sizeof c.from, i ? "agent%d.out" : "host", i);
  snprintf(c.to, sizeof c.to, "agent%d.in", i + 1);
  c.msgs = 10 * scale;
  c.bytes = 640 * scale;
  c.bytes_h2d = i ? 64 * scale : 0;
  return c;
}

/* A segment from the writer: `np`, `na`, `nc` records in slots of
 * `ps`, `as`, `cs`. */
static void segment(const char *name, uint32_t ps, uint32_t as, uint32_t cs, int np, int na,
                    int nc) {
  struct prof_seg_params p = {.ncpu = 1,
                              .ndev = 1,
                              .place_slots = ps,
                              .agent_slots = as,
                              .chan_slots = cs,
                              .start_mono_ns = 1000,
                              .program = "seed"};
  struct prof_seg *s;
  char err[256];
  if (prof_seg_create(&p, &s, err, sizeof err) != 0) {
    fprintf(stderr, "fuzz_seeds: %s\n", err);
    exit(1);
  }
  for (int i = 0; i < np; i++) {
    struct prof_place_rec r = place(i);
    prof_seg_write_place(s, (uint32_t)i, &r);
  }
  for (int i = 0; i < na; i++) {
    struct prof_agent_rec r = agent(i, 1);
    prof_seg_write_agent(s, (uint32_t)i, &r);
  }
  for (int i = 0; i < nc; i++) {
    struct prof_chan_rec r = chan(i, 1);
    prof_seg_write_chan(s, (uint32_t)i, &r);
  }
  struct prof_seg_live l = {.n_places = (uint64_t)np,
                            .n_agents = (uint64_t)na,
                            .n_chans = (uint64_t)nc,
                            .agents_total = (uint64_t)na,
                            .chans_total = (uint64_t)nc,
                            .n_graphs = 1,
                            .publishes = 3,
                            .publish_mono_ns = 5000000,
                            .flags = PROF_SEG_F_TRACING};
  prof_seg_write_live(s, &l);
  struct prof_seg_header *h = prof_seg_header(s);
  put("fuzz_segment", name, h, (size_t)h->total_size);
  prof_seg_destroy(s);
}

/* fuzz_top_model's layout (see fuzz_top_model.c), one snapshot. */
static size_t snapshot(unsigned char *out, int np, int na, int nc, uint8_t sort, uint64_t scale,
                       uint64_t publish_ns) {
  size_t n = 0;
  out[n++] = (unsigned char)np;
  out[n++] = (unsigned char)na;
  out[n++] = (unsigned char)nc;
  out[n++] = sort;
  struct prof_seg_live l = {.n_graphs = 1,
                            .agents_total = (uint64_t)na,
                            .chans_total = (uint64_t)nc,
                            .publishes = scale,
                            .publish_mono_ns = publish_ns};
  uint64_t taken = publish_ns + 1000, start = 1000;
  memcpy(out + n, &l, sizeof l), n += sizeof l;
  memcpy(out + n, &taken, sizeof taken), n += sizeof taken;
  memcpy(out + n, &start, sizeof start), n += sizeof start;
  for (int i = 0; i < np; i++) {
    struct prof_place_rec r = place(i);
    r.busy_ns *= scale;
    memcpy(out + n, &r, sizeof r), n += sizeof r;
  }
  for (int i = 0; i < na; i++) {
    struct prof_agent_rec r = agent(i, scale);
    memcpy(out + n, &r, sizeof r), n += sizeof r;
  }
  for (int i = 0; i < nc; i++) {
    struct prof_chan_rec r = chan(i, scale);
    memcpy(out + n, &r, sizeof r), n += sizeof r;
  }
  return n;
}

/* fuzz_kcache's input: flags, argument, type length, kernel name, then a
 * cache entry as program.c writes it. */
static void kcache(const char *name, unsigned flags, unsigned arg, const char *kernel,
                   const char *meta) {
  static unsigned char buf[4096];
  const char bin[] = "\x7f"
                     "ELF pretend device binary";
  size_t n = 0;
  buf[n++] = (unsigned char)flags;
  buf[n++] = (unsigned char)arg;
  buf[n++] = 63;
  memcpy(buf + n, kernel, strlen(kernel) + 1), n += strlen(kernel) + 1;
  ocl_cache_header_t h = {.version = OCL_CACHE_VERSION,
                          .header_bytes = sizeof h,
                          .key = KCACHE_KEY,
                          .bin_bytes = sizeof bin,
                          .meta_bytes = strlen(meta)};
  memcpy(h.magic, ocl_cache_magic, sizeof h.magic);
  h.checksum = hash_fnv1a(hash_fnv1a(HASH_FNV_SEED, bin, sizeof bin), meta, strlen(meta));
  memcpy(buf + n, &h, sizeof h), n += sizeof h;
  memcpy(buf + n, bin, sizeof bin), n += sizeof bin;
  memcpy(buf + n, meta, strlen(meta)), n += strlen(meta);
  put("fuzz_kcache", name, buf, n);
}

static void config(const char *name, const char *text) {
  put("fuzz_config", name, text, strlen(text));
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fuzz_seeds DIR\n");
    return 2;
  }
  root = argv[1];
  if (mkdir(root, 0755) != 0 && errno != EEXIST) {
    perror(root);
    return 1;
  }
  segment("empty", 1, 1, 1, 0, 0, 0);
  segment("full", 2, 3, 2, 2, 3, 2);
  segment("partial", 2, 4, 4, 1, 2, 1);

  static unsigned char buf[16384];
  size_t n = snapshot(buf, 2, 3, 2, 4, 1, 1000000000);
  put("fuzz_top_model", "one", buf, n);
  n += snapshot(buf + n, 2, 3, 2, 4, 2, 2000000000);
  put("fuzz_top_model", "two", buf, n);
  n += snapshot(buf + n, 1, 2, 0, 0x85, 1, 3000000000); /* counters went backwards */
  put("fuzz_top_model", "three", buf, n);

  const char *meta = "K\tscale\t3\nA\t4507\tfloat*\nA\t4507\tfloat*\nA\t0\tuint\n"
                     "K\tcopy\t2\nA\t4506\tuchar*\nA\t4507\tuchar*\n";
  kcache("entry", 0, 2, "scale", meta);
  kcache("entry-fixup", 3, 1, "copy", meta);
  kcache("no-meta", 0, 0, "k", "");

  config("defaults", "MAESTRO_STATS=1\n");
  config("all", "MAESTRO_NCPU=4\nMAESTRO_DEVICES=0,2\nMAESTRO_SCHED=eager\n"
                "MAESTRO_TRACE=/tmp/t.json\nMAESTRO_STATS=off\nMAESTRO_DEVICE_MEM=512MiB\n"
                "MAESTRO_ZERO_COPY=auto\nMAESTRO_KERNEL_CACHE_DIR=/tmp/k\n"
                "MAESTRO_KERNEL_CACHE=no\nMAESTRO_STATS_INTERVAL_MS=250\n"
                "MAESTRO_PERF_DIR=/tmp/perf\nMAESTRO_DIST=none\n"
                "MAESTRO_OCL_CONTEXTS=device\nMAESTRO_TRACE_BUFFER_MB=16\n"
                "MAESTRO_TRACE_PREFAULT_MB=0\n");
  config("bad", "MAESTRO_NCPU=-3\nMAESTRO_DEVICES=banana\nMAESTRO_STATS= \n"
                "MAESTRO_DEVICE_MEM=99999999999999999999G\nMAESTRO_DIST=mpi\n"
                "MAESTRO_KERNEL_CACHE= /x\n");
  config("home", "HOME=/home/u\nXDG_CACHE_HOME=relative\nMAESTRO_KERNEL_CACHE=yes\n"
                 "MAESTRO_PERF_DIR=on\n");
  return 0;
}
