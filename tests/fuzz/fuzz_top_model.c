/* libFuzzer target: maestro-top's model and output. The input describes up
 * to four successive snapshots, each as the segment reader could return it
 * (any counters, states, kinds and indices; names terminated, as the reader
 * guarantees); each is handed to view_update, then the rows are sorted by
 * every column both ways and rendered as text and JSON. Layout, read with
 * zeros past the end of the input:
 *   per snapshot: u8 places, u8 agents, u8 chans, u8 sort (column, reverse),
 *                 struct prof_seg_live, u64 taken_mono_ns, u64 start_mono_ns,
 *                 then the place, agent and channel records. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "output.h"

struct cursor {
  const uint8_t *p;
  size_t left;
};

static void take(struct cursor *c, void *dst, size_t n) {
  size_t k = n < c->left ? n : c->left;
  memcpy(dst, c->p, k);
  memset((char *)dst + k, 0, n - k);
  c->p += k;
  c->left -= k;
}

static uint8_t take8(struct cursor *c) {
  uint8_t b;
  take(c, &b, 1);
  return b;
}

static void terminate(char *s, size_t n) {
  s[n - 1] = '\0';
}

static int lines;
static void count_line(void *ctx, enum line_style style, const char *line) {
  (void)ctx;
  (void)style;
  if (!line) abort();
  lines++;
}

static FILE *devnull;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!devnull) devnull = fopen("/dev/null", "w");
  struct cursor c = {data, size};
  struct top_view v;
  memset(&v, 0, sizeof v);
  for (int round = 0; round < 4 && c.left; round++) {
    struct prof_snapshot s;
    memset(&s, 0, sizeof s);
    s.n_places = take8(&c) % 9;
    s.n_agents = take8(&c) % 17;
    s.n_chans = take8(&c) % 17;
    uint8_t sort = take8(&c);
    take(&c, &s.live, sizeof s.live);
    take(&c, &s.taken_mono_ns, sizeof s.taken_mono_ns);
    take(&c, &s.info.start_mono_ns, sizeof s.info.start_mono_ns);
    s.live.n_places = (uint64_t)s.n_places;
    s.live.n_agents = (uint64_t)s.n_agents;
    s.live.n_chans = (uint64_t)s.n_chans;
    snprintf(s.info.program, sizeof s.info.program, "fuzz");
    s.places = calloc((size_t)s.n_places + 1, sizeof *s.places);
    s.agents = calloc((size_t)s.n_agents + 1, sizeof *s.agents);
    s.chans = calloc((size_t)s.n_chans + 1, sizeof *s.chans);
    if (!s.places || !s.agents || !s.chans) abort();
    for (int i = 0; i < s.n_places; i++) {
      take(&c, &s.places[i], sizeof s.places[i]);
      terminate(s.places[i].name, sizeof s.places[i].name);
    }
    for (int i = 0; i < s.n_agents; i++) {
      take(&c, &s.agents[i], sizeof s.agents[i]);
      terminate(s.agents[i].name, sizeof s.agents[i].name);
      terminate(s.agents[i].graph, sizeof s.agents[i].graph);
    }
    for (int i = 0; i < s.n_chans; i++) {
      take(&c, &s.chans[i], sizeof s.chans[i]);
      terminate(s.chans[i].graph, sizeof s.chans[i].graph);
      terminate(s.chans[i].from, sizeof s.chans[i].from);
      terminate(s.chans[i].to, sizeof s.chans[i].to);
    }
    view_update(&v, &s);
    if (s.places || s.agents || s.chans) abort(); /* taken over */
    if (v.n_agents != v.cur.n_agents || v.n_places != v.cur.n_places || v.n_chans != v.cur.n_chans)
      abort();
    for (int col = 0; col < COL_COUNT; col++) {
      for (int rev = 0; rev < 2; rev++) {
        view_sort_agents(&v, col, rev);
        for (int i = 1; i < v.n_agents; i++) /* a permutation: no row lost */
          if (!v.agents[i].r || v.agents[i].r == v.agents[i - 1].r) abort();
      }
    }
    view_sort_agents(&v, sort % COL_COUNT, sort / COL_COUNT % 2);
    lines = 0;
    render_header(&v, sort & 0x80 ? "paused" : NULL, count_line, NULL);
    render_places(&v, count_line, NULL);
    render_agents(&v, sort % COL_COUNT, sort & 0x40 ? 3 : -1, count_line, NULL);
    render_chans(&v, -1, count_line, NULL);
    /* Two summary lines, then a heading and a line per row of each table;
     * a MAESTRO_RANK_ANY agent has one more under its row. The agents get
     * at most 3 lines with 0x40. */
    int limit = sort & 0x40 ? 3 : -1, shown = 0;
    for (int i = 0; i < v.n_agents && (limit < 0 || shown < limit); i++)
      shown += 1 + (v.agents[i].ranks[0] && (limit < 0 || shown + 1 < limit));
    if (lines != 2 + 1 + v.n_places + 1 + shown + 1 + v.n_chans) abort();
    if (devnull) write_json(devnull, &v);
  }
  view_free(&v);
  return 0;
}
