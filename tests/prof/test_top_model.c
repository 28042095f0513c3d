/* maestro-top's model (tools/top/model.c) on its own: sorting the agent
 * table with the values a segment may hold (any int32 state: found by
 * fuzzing, a difference overflowed). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "testmain.h"

enum { N = 8 };

static void sort_states(const int32_t *states, int reverse, int32_t *out) {
  struct prof_agent_rec recs[N];
  struct agent_row rows[N];
  memset(recs, 0, sizeof recs);
  memset(rows, 0, sizeof rows);
  for (int i = 0; i < N; i++) {
    snprintf(recs[i].name, sizeof recs[i].name, "a%d", i);
    recs[i].state = states[i];
    rows[i].r = &recs[i];
  }
  struct top_view v;
  memset(&v, 0, sizeof v);
  v.n_agents = N;
  v.agents = rows;
  view_sort_agents(&v, COL_STATE, reverse);
  for (int i = 0; i < N; i++)
    out[i] = v.agents[i].r->state;
}

static void test_state_sort_extremes(void) {
  const int32_t states[N] = {INT32_MAX,          INT32_MIN,     0, -1,
                             PROF_AGENT_RUNNING, INT32_MIN + 1, 1, INT32_MAX - 1};
  const int32_t up[N] = {INT32_MIN, INT32_MIN + 1, -1, 0, 1, 1, INT32_MAX - 1, INT32_MAX};
  int32_t got[N];
  sort_states(states, 0, got);
  for (int i = 0; i < N; i++)
    CU_ASSERT_EQUAL(got[i], up[i]);
  sort_states(states, 1, got);
  for (int i = 0; i < N; i++)
    CU_ASSERT_EQUAL(got[i], up[N - 1 - i]);
}

void register_suites(void) {
  ADD_SUITE("top_model", NULL, NULL, {"STATE sort with extreme values", test_state_sort_extremes});
}
