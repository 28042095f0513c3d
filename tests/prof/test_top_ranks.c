/* maestro-top on MAESTRO_RANK_ANY agents (tools/top/model.c, output.c): the
 * firings per rank on the owning rank, the firings served on another rank,
 * in the agents table (a line under the agent's row) and in --json, read
 * back from a real segment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "model.h"
#include "output.h"
#include "prof/segment.h"
#include "testmain.h"

static void owner(struct prof_agent_rec *r, const char *name, int nranks) {
  memset(r, 0, sizeof *r);
  snprintf(r->name, sizeof r->name, "%s", name);
  snprintf(r->graph, sizeof r->graph, "g");
  r->state = PROF_AGENT_FINISHED;
  r->flags = PROF_AGENT_F_CPU_PLACED | PROF_AGENT_F_ANY_OWNER;
  r->nranks = nranks;
  r->served_for = -1;
}

static void test_ranks_str(void) {
  struct prof_agent_rec r;
  char buf[TOP_RANKS_LEN];
  owner(&r, "any", 3);
  r.rank_fires[0] = 812;
  r.rank_fires[1] = 790;
  r.rank_fires[2] = 398;
  agent_ranks_str(&r, buf, sizeof buf);
  CU_ASSERT_STRING_EQUAL(buf, "ranks: r0 812 (40.6%), r1 790 (39.5%), r2 398 (19.9%)");
  /* 18 ranks: 16 one by one, then the rest together. */
  owner(&r, "wide", PROF_RANK_FIRES + 2);
  for (int k = 0; k < PROF_RANK_FIRES; k++)
    r.rank_fires[k] = 10;
  r.rank_fires_rest = 40;
  agent_ranks_str(&r, buf, sizeof buf);
  CU_ASSERT_PTR_NOT_NULL(strstr(buf, "ranks: r0 10 (5.0%), r1 10 (5.0%), "));
  CU_ASSERT_PTR_NOT_NULL(strstr(buf, ", r15 10 (5.0%), r16+ 40 (20.0%)"));
  CU_ASSERT_EQUAL(buf[strlen(buf) - 1], ')');
  /* Nothing answered yet. */
  owner(&r, "any", 2);
  agent_ranks_str(&r, buf, sizeof buf);
  CU_ASSERT_STRING_EQUAL(buf, "ranks: r0 0 (0.0%), r1 0 (0.0%)");
  /* Values a segment may hold: any nranks; a short buffer. */
  r.nranks = -7;
  agent_ranks_str(&r, buf, sizeof buf);
  CU_ASSERT_STRING_EQUAL(buf, "");
  r.nranks = 1 << 30;
  agent_ranks_str(&r, buf, sizeof buf);
  CU_ASSERT_PTR_NOT_NULL(strstr(buf, "r16+ 0"));
  char small[12];
  agent_ranks_str(&r, small, sizeof small);
  CU_ASSERT_STRING_EQUAL(small, "ranks: r0 0");
  /* A serving rank. */
  memset(&r, 0, sizeof r);
  r.flags = PROF_AGENT_F_ANY_SERVED;
  r.served = 790;
  agent_ranks_str(&r, buf, sizeof buf);
  CU_ASSERT_STRING_EQUAL(buf, "served for rank 0: 790");
  /* Any other agent. */
  r.flags = PROF_AGENT_F_CPU_PLACED;
  agent_ranks_str(&r, buf, sizeof buf);
  CU_ASSERT_STRING_EQUAL(buf, "");
}

/* ---- from a segment, through the reader, to the table and JSON ---- */

struct lines {
  int n;
  char text[16][1024];
};

static void keep_line(void *ctx, enum line_style style, const char *line) {
  (void)style;
  struct lines *l = ctx;
  if (l->n < 16) snprintf(l->text[l->n++], sizeof l->text[0], "%s", line);
}

/* A segment holding the owner's record of "any" (3 ranks), a serving
 * rank's record of "other" and a plain agent, read into a view. */
static struct prof_seg *publish(struct top_view *v) {
  struct prof_seg_params p = {.ncpu = 1,
                              .place_slots = 1,
                              .agent_slots = 4,
                              .chan_slots = 1,
                              .start_mono_ns = rt_now_ns(),
                              .program = "test_top_ranks"};
  struct prof_seg *s = NULL;
  char err[256];
  CU_ASSERT_EQUAL_FATAL(prof_seg_create(&p, &s, err, sizeof err), 0);
  struct prof_agent_rec a;
  owner(&a, "any", 3);
  a.fires = 812;
  a.flags |= PROF_AGENT_F_ANY_FINAL; /* the serving rank's below is not (yet) */
  a.rank_fires[0] = 812;
  a.rank_fires[1] = 790;
  a.rank_fires[2] = 398;
  prof_seg_write_agent(s, 0, &a);
  memset(&a, 0, sizeof a);
  snprintf(a.name, sizeof a.name, "other");
  snprintf(a.graph, sizeof a.graph, "g");
  a.state = PROF_AGENT_REMOTE;
  a.flags = PROF_AGENT_F_CPU_PLACED | PROF_AGENT_F_ANY_SERVED;
  a.served = 790;
  a.fires = 791;
  prof_seg_write_agent(s, 1, &a);
  memset(&a, 0, sizeof a);
  snprintf(a.name, sizeof a.name, "plain");
  snprintf(a.graph, sizeof a.graph, "g");
  a.served_for = -1;
  a.fires = 5;
  prof_seg_write_agent(s, 2, &a);
  struct prof_seg_live l = {.n_agents = 3, .publish_mono_ns = rt_now_ns()};
  prof_seg_write_live(s, &l);
  struct prof_reader *r;
  CU_ASSERT_EQUAL_FATAL(prof_reader_open_name(prof_seg_name(s), &r, err, sizeof err), PROF_READ_OK);
  struct prof_snapshot snap;
  CU_ASSERT_EQUAL_FATAL(prof_reader_snapshot(r, &snap, err, sizeof err), PROF_READ_OK);
  prof_reader_close(r);
  memset(v, 0, sizeof *v);
  view_update(v, &snap);
  view_sort_agents(v, COL_NAME, 0);
  return s;
}

static void test_table(void) {
  struct top_view v;
  struct prof_seg *s = publish(&v);
  struct lines l = {0};
  render_agents(&v, COL_NAME, -1, keep_line, &l);
  CU_ASSERT_EQUAL_FATAL(l.n, 6); /* heading, any + its line, other + its line, plain */
  CU_ASSERT_EQUAL(strncmp(l.text[1], "any ", 4), 0);
  CU_ASSERT_STRING_EQUAL(l.text[2], "  ranks: r0 812 (40.6%), r1 790 (39.5%), r2 398 (19.9%)");
  CU_ASSERT_EQUAL(strncmp(l.text[3], "other ", 6), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(l.text[3], "remote"));
  CU_ASSERT_STRING_EQUAL(l.text[4], "  served for rank 0: 790");
  CU_ASSERT_EQUAL(strncmp(l.text[5], "plain ", 6), 0);
  /* Rows and these lines share the room given (the curses screen). */
  for (int rows = 0; rows <= 6; rows++) {
    struct lines k = {0};
    render_agents(&v, COL_NAME, rows, keep_line, &k);
    CU_ASSERT_EQUAL(k.n, 1 + (rows < 5 ? rows : 5));
  }
  view_free(&v);
  prof_seg_destroy(s);
}

static void test_json(void) {
  struct top_view v;
  struct prof_seg *s = publish(&v);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  write_json(f, &v);
  fclose(f);
  CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"hybrid\":false,\"nranks\":3,\"rank_fires\":[812,790,398],"
                                     "\"counts_final\":true}"));
  CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"state\":\"remote\",\"fires\":791,"));
  CU_ASSERT_PTR_NOT_NULL(
      strstr(buf, "\"hybrid\":false,\"served_for\":0,\"served\":790,\"counts_final\":false}"));
  /* Once each: the plain agent has neither. */
  CU_ASSERT_PTR_NULL(strstr(strstr(buf, "rank_fires") + 1, "rank_fires"));
  CU_ASSERT_PTR_NULL(strstr(strstr(buf, "\"served\"") + 1, "\"served\""));
  CU_ASSERT_PTR_NULL(strstr(buf, "rank_fires_rest"));
  CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"version\":4,"));
  free(buf);
  view_free(&v);
  prof_seg_destroy(s);

  /* More ranks than the record keeps one by one: the rest summed. */
  struct prof_agent_rec a;
  owner(&a, "wide", PROF_RANK_FIRES + 3);
  for (int k = 0; k < PROF_RANK_FIRES; k++)
    a.rank_fires[k] = (uint64_t)k;
  a.rank_fires_rest = 99;
  struct agent_row row = {.r = &a, .place = "cpu 0"};
  struct prof_agent_rec none = {0};
  struct top_view w = {.n_agents = 1, .agents = &row, .cur = {.agents = &none}};
  f = open_memstream(&buf, &len);
  write_json(f, &w);
  fclose(f);
  CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"nranks\":19,\"rank_fires\":[0,1,2,3,4,5,6,7,8,9,10,11,12,"
                                     "13,14,15],\"rank_fires_rest\":99,\"counts_final\":false}"));
  free(buf);
}

void register_suites(void) {
  ADD_SUITE("top_ranks", NULL, NULL, {"the ranks line of an agent", test_ranks_str},
            {"ranks in the agents table, from a segment", test_table},
            {"ranks in --json, from a segment", test_json});
}
