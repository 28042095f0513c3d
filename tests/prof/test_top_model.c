/* maestro-top's model (tools/top/model.c) on snapshots a foreign or
 * garbage segment can produce: the fuzzer's findings, kept as tests. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "testmain.h"

/* A snapshot of agents with the given states, named a0, a1, ... */
static void agents_with_states(struct prof_snapshot *s, const int32_t *states, int n) {
  memset(s, 0, sizeof *s);
  s->n_agents = n;
  s->live.n_agents = (uint64_t)n;
  s->agents = calloc((size_t)n + 1, sizeof *s->agents);
  s->places = calloc(1, sizeof *s->places);
  s->chans = calloc(1, sizeof *s->chans);
  for (int i = 0; i < n; i++) {
    s->agents[i].name[0] = 'a';
    s->agents[i].name[1] = (char)('0' + i);
    s->agents[i].state = states[i];
    s->agents[i].place_index = -1;
  }
}

/* Sorting by state compared states by subtraction: INT32_MIN - 33554432
 * overflowed (undefined; it wrapped to a positive number here, so
 * INT32_MIN sorted above 33554432 and the order depended on qsort's
 * path). */
static void test_sort_state_extremes(void) {
  const int32_t states[] = {33554432, INT32_MIN, 0, INT32_MAX, -1};
  struct prof_snapshot s;
  agents_with_states(&s, states, 5);
  struct top_view v;
  memset(&v, 0, sizeof v);
  view_update(&v, &s);
  CU_ASSERT_EQUAL_FATAL(v.n_agents, 5);
  view_sort_agents(&v, COL_STATE, 0);
  const int32_t up[] = {INT32_MIN, -1, 0, 33554432, INT32_MAX};
  for (int i = 0; i < 5; i++)
    CU_ASSERT_EQUAL(v.agents[i].r->state, up[i]);
  view_sort_agents(&v, COL_STATE, 1);
  for (int i = 0; i < 5; i++)
    CU_ASSERT_EQUAL(v.agents[i].r->state, up[4 - i]);
  view_free(&v);
}

void register_suites(void) {
  ADD_SUITE("top_model", NULL, NULL, {"sort_state_extremes", test_sort_state_extremes});
}
