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

/* PLACE says where an agent is placed: both places of a hybrid agent (it
 * flipped between them, showing where it last fired); a record of an older
 * writer (no flags) still shows where it last fired. */
static void test_place_and_estimates(void) {
  struct prof_agent_rec r;
  char buf[64];
  memset(&r, 0, sizeof r);
  r.place_index = -1;
  agent_place_str(&r, buf, sizeof buf);
  CU_ASSERT_STRING_EQUAL(buf, "-");
  r.place_kind = 1;
  r.place_index = 0;
  agent_place_str(&r, buf, sizeof buf);
  CU_ASSERT_STRING_EQUAL(buf, "device 0");
  r.flags = PROF_AGENT_F_CPU_PLACED | PROF_AGENT_F_DEV_PLACED | PROF_AGENT_F_HYBRID;
  r.cpu_place = 12;
  r.dev_place = 3;
  agent_place_str(&r, buf, sizeof buf);
  CU_ASSERT_STRING_EQUAL(buf, "cpu 12+dev 3");
  r.flags = PROF_AGENT_F_CPU_PLACED;
  agent_place_str(&r, buf, sizeof buf);
  CU_ASSERT_STRING_EQUAL(buf, "cpu 12");
  agent_est_str(&r, buf, sizeof buf);
  CU_ASSERT_STRING_EQUAL(buf, ""); /* not hybrid */
  r.flags = PROF_AGENT_F_HYBRID;
  r.n_est = PROF_EST_PLACES;
  const int64_t est[PROF_EST_PLACES] = {258, 2500, -1, -2, -2};
  memcpy(r.est_ns, est, sizeof est);
  agent_est_str(&r, buf, sizeof buf);
  CU_ASSERT_STRING_EQUAL(buf, "cpu 258ns dev0 2.50us dev1 -");
  r.n_est = 1000; /* from the segment: any value */
  agent_est_str(&r, buf, sizeof buf);
  CU_ASSERT_STRING_EQUAL(buf, "cpu 258ns dev0 2.50us dev1 -");
  char small[8];
  agent_est_str(&r, small, sizeof small);
  CU_ASSERT_EQUAL(strlen(small), 7u);
  CU_ASSERT_STRING_EQUAL(prof_agent_state_name(PROF_AGENT_READY), "ready");
}

void register_suites(void) {
  ADD_SUITE("top_model", NULL, NULL, {"STATE sort with extreme values", test_state_sort_extremes},
            {"PLACE and ESTIMATES of an agent", test_place_and_estimates});
}
