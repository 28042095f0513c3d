/* logpipe: the first-hour log pipeline (issue 12) against the plain C loop.
 *
 *   file (lines, 64 KiB) --> parse (stateless, one record per line) --> tally
 *
 * A synthetic web-server access log of about `mib` MiB is written to a
 * temporary file, then read back `rounds` times by each side in turn:
 * - the plain loop: fread 64 KiB blocks, split lines, parse, tally, in one
 *   thread (what a user writes first);
 * - the graph: maestro_file_source (lines, 64 KiB messages, its own I/O
 *   thread), `parse` (MAESTRO_STATELESS: fired on every core, outputs kept in
 *   input order) sends one MAESTRO_RECORD per line, `tally` adds them up.
 * Both tallies (requests and bytes per status, hits per path) must be equal,
 * or the benchmark fails. It prints each side's best time and the ratio
 * plain / graph (> 1: the graph is faster).
 *
 *   logpipe [mib] [rounds]      (default 50 3) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"

#define NPATH   4096
#define NSTATUS 600
#define BLOCK   (64u * 1024u)

/* What one line says. */
struct hit {
  uint32_t path, status, bytes;
};

struct tally {
  uint64_t lines, bad;
  uint64_t req[NSTATUS], bytes[NSTATUS];
  uint64_t path[NPATH];
};

static void tally_add(struct tally *t, const struct hit *h) {
  t->lines++;
  if (h->status >= NSTATUS || h->path >= NPATH) {
    t->bad++;
    return;
  }
  t->req[h->status]++;
  t->bytes[h->status] += h->bytes;
  t->path[h->path]++;
}

static uint32_t parse_u32(const char **p, const char *end) {
  uint32_t v = 0;
  while (*p < end && **p >= '0' && **p <= '9')
    v = v * 10 + (uint32_t)(*(*p)++ - '0');
  return v;
}

/* Parses one line (without its '\n'):
 * 10.1.2.3 - - [03/Dec/2026:04:05:06 +0000] "GET /p/123 HTTP/1.1" 200 5120
 * A line that does not parse gives status NSTATUS (counted as bad). */
static struct hit parse_line(const char *p, const char *end) {
  struct hit h = {NPATH, NSTATUS, 0};
  const char *q = memchr(p, '"', (size_t)(end - p));
  if (!q) return h;
  q = memchr(q, ' ', (size_t)(end - q)); /* after the method */
  if (!q || end - q < 4 || memcmp(q, " /p/", 4) != 0) return h;
  q += 4;
  h.path = parse_u32(&q, end);
  q = memchr(q, '"', (size_t)(end - q)); /* end of the request */
  if (!q || end - q < 2) return h;
  q += 2;
  h.status = parse_u32(&q, end);
  if (q < end && *q == ' ') q++;
  h.bytes = parse_u32(&q, end);
  return h;
}

/* ---- the plain loop ---- */

static int plain_run(const char *path, struct tally *t) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  static char buf[2 * BLOCK + 4096];
  size_t have = 0, n;
  while ((n = fread(buf + have, 1, BLOCK, f)) > 0) {
    have += n;
    const char *p = buf, *end = buf + have, *nl;
    while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
      struct hit h = parse_line(p, nl);
      tally_add(t, &h);
      p = nl + 1;
    }
    have = (size_t)(end - p);
    memmove(buf, p, have);
    if (have > BLOCK + 4096) break; /* a line longer than the buffer: not in our log */
  }
  if (have) {
    struct hit h = parse_line(buf, buf + have);
    tally_add(t, &h);
  }
  fclose(f);
  return 0;
}

/* ---- the graph ---- */

/* A message of whole lines in, one record per line out: the output is
 * allocated for the most lines the message could hold (one per byte), then
 * truncated to the lines it had: one pass over the text, not two. */
static int parse(maestro_fire_t *f) {
  maestro_buf_t *in = maestro_fire_in(f, 0);
  const char *p = maestro_buf_cdata(in), *end = p + maestro_buf_size(in);
  maestro_buf_t *out;
  int rc = maestro_fire_alloc(f, ((size_t)(end - p) + 1) * sizeof(struct hit), &out);
  if (rc != MAESTRO_OK) return rc;
  struct hit *h = maestro_buf_data(out), *h0 = h;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) nl = end;
    *h++ = parse_line(p, nl);
    p = nl + 1;
  }
  maestro_buf_truncate(out, (size_t)(h - h0) * sizeof *h);
  return maestro_fire_out(f, 0, out);
}

static int tally(maestro_fire_t *f) {
  struct tally *t = maestro_fire_state(f);
  maestro_buf_t *in = maestro_fire_in(f, 0);
  const struct hit *h = maestro_buf_cdata(in);
  size_t n = maestro_buf_size(in) / sizeof *h;
  for (size_t i = 0; i < n; i++)
    tally_add(t, &h[i]);
  return MAESTRO_OK;
}

static int graph_run(maestro_runtime_t *rt, const char *path, struct tally *t) {
  static const maestro_port_t lines_in[] = {{"in", MAESTRO_BYTES, 0}};
  static const maestro_port_t hits_out[] = {{"out", MAESTRO_RECORD, sizeof(struct hit)}};
  static const maestro_port_t hits_in[] = {{"in", MAESTRO_RECORD, sizeof(struct hit)}};
  maestro_graph_t *g;
  maestro_agent_t *read, *p, *sum;
  int rc = maestro_graph_create(rt, "logpipe", &g);
  if (rc != MAESTRO_OK) return rc;
  if ((rc = maestro_file_source(g, "read", path, MAESTRO_IO_LINES, BLOCK, &read)) ||
      (rc = maestro_agent_add(g,
                              &(maestro_agent_desc_t){.name = "parse",
                                                      .in = lines_in,
                                                      .n_in = 1,
                                                      .out = hits_out,
                                                      .n_out = 1,
                                                      .cpu = parse,
                                                      .flags = MAESTRO_STATELESS},
                              &p)) ||
      (rc = maestro_agent_add(
           g,
           &(maestro_agent_desc_t){
               .name = "tally", .in = hits_in, .n_in = 1, .cpu = tally, .state = t},
           &sum)) ||
      (rc = maestro_connect(g, read, "out", p, "in", 0)) ||
      (rc = maestro_connect(g, p, "out", sum, "in", 0)) || (rc = maestro_graph_run(g))) {
    fprintf(stderr, "logpipe: %s\n", maestro_last_error());
  }
  maestro_graph_destroy(g);
  return rc;
}

/* ---- the log ---- */

static int write_log(const char *path, size_t bytes) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  static const char *const method[] = {"GET", "GET", "GET", "POST", "HEAD"};
  static const uint32_t status[] = {200, 200, 200, 200, 304, 404, 500, 301};
  uint64_t x = 88172645463325252ull;
  size_t written = 0;
  for (unsigned i = 0; written < bytes; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    int n = fprintf(
        f, "10.%u.%u.%u - - [03/Dec/2026:%02u:%02u:%02u +0000] \"%s /p/%u HTTP/1.1\" %u %u\n",
        (unsigned)(x & 255), (unsigned)(x >> 8 & 255), (unsigned)(x >> 16 & 255), i / 3600 % 24,
        i / 60 % 60, i % 60, method[x >> 24 & 3], (unsigned)(x >> 28 % NPATH) % NPATH,
        status[x >> 40 & 7], (unsigned)(x >> 44 & 0xfffff));
    if (n < 0) break;
    written += (size_t)n;
  }
  return fclose(f);
}

int main(int argc, char **argv) {
  size_t mib = (size_t)bench_arg(argc, argv, 1, 50);
  int rounds = (int)bench_arg(argc, argv, 2, 3);
  char path[] = "/tmp/maestro-logpipe-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return 1;
  close(fd);
  if (write_log(path, mib << 20) != 0) {
    fprintf(stderr, "logpipe: cannot write %s\n", path);
    unlink(path);
    return 1;
  }
  maestro_runtime_t *rt = bench_runtime(0);
  bench_print_config(rt);
  static struct tally tp, tg;
  uint64_t best_plain = UINT64_MAX, best_graph = UINT64_MAX;
  int fail = 0;
  for (int r = 0; r < rounds && !fail; r++) {
    memset(&tp, 0, sizeof tp);
    memset(&tg, 0, sizeof tg);
    uint64_t t0 = bench_now_ns();
    fail |= plain_run(path, &tp) != 0;
    uint64_t t1 = bench_now_ns();
    fail |= graph_run(rt, path, &tg) != MAESTRO_OK;
    uint64_t t2 = bench_now_ns();
    if (t1 - t0 < best_plain) best_plain = t1 - t0;
    if (t2 - t1 < best_graph) best_graph = t2 - t1;
    if (memcmp(&tp, &tg, sizeof tp) != 0 || tp.lines == 0 || tp.bad != 0) {
      fprintf(stderr, "logpipe: tallies differ (plain %llu lines, graph %llu, bad %llu)\n",
              (unsigned long long)tp.lines, (unsigned long long)tg.lines,
              (unsigned long long)tp.bad);
      fail = 1;
    }
  }
  maestro_runtime_destroy(rt);
  unlink(path);
  if (fail) return 1;
  double mb = (double)(mib << 20) / 1e6;
  printf("logpipe: %zu MiB, %llu lines, best of %d, %d cores\n", mib, (unsigned long long)tp.lines,
         rounds, bench_ncores());
  printf("  plain C loop (fread 64 KiB, one thread): %8.1f ms  %7.1f MB/s\n", best_plain / 1e6,
         mb / (best_plain / 1e9));
  printf("  graph (file source -> stateless parse -> tally): %8.1f ms  %7.1f MB/s\n",
         best_graph / 1e6, mb / (best_graph / 1e9));
  printf("  ratio plain / graph: %.2f (> 1: the graph is faster)\n",
         (double)best_plain / (double)best_graph);
  return 0;
}
