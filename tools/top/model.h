/* maestro-top's model: two snapshots of a segment turned into rows with
 * rates, sorted for display. Shared by the text, JSON and curses output. */
#ifndef MAESTRO_TOP_MODEL_H
#define MAESTRO_TOP_MODEL_H

#include "prof/segment_reader.h"

/* Room for agent_ranks_str: PROF_RANK_FIRES ranks and the rest. */
enum { TOP_RANKS_LEN = 40 * (PROF_RANK_FIRES + 1) + 16 };

/* A rate is unknown (NAN) until two snapshots exist. */
struct agent_row {
  const struct prof_agent_rec *r;
  char place[24]; /* "cpu 1", "device 0", "cpu 1+dev 0" (a hybrid agent), "-" */
  char est[64];   /* a hybrid agent's estimates: "cpu 258ns dev0 2.50us" ("-" unmeasured); "" */
  char ranks[TOP_RANKS_LEN]; /* a MAESTRO_RANK_ANY agent's firings per rank (agent_ranks_str); "" */
  double fires_s, in_s, out_s, bytes_in_s, bytes_out_s, avg_ns, busy_pct;
};

struct place_row {
  const struct prof_place_rec *r;
  double busy_pct, fires_s, h2d_s, d2h_s, d2d_s;
};

struct chan_row {
  const struct prof_chan_rec *r;
  double msgs_s, bytes_s, cross_s; /* cross: bytes moved host<->device per second */
};

struct top_view {
  struct prof_snapshot cur, prev;
  int has_prev;
  double dt_s; /* between the two publishes */
  double uptime_s;
  double since_publish_s; /* how old the snapshot's data is */
  double msgs_s, hd_bytes_s, fires_s;
  int n_agents, n_places, n_chans;
  int rt_index, rt_count; /* which of its process's runtimes this is, of how many */
  struct agent_row *agents;
  struct place_row *places;
  struct chan_row *chans;
};

/* Agent table columns, in display order (sort keys). */
enum agent_col {
  COL_NAME,
  COL_GRAPH,
  COL_PLACE,
  COL_STATE,
  COL_FIRES_S,
  COL_IN_S,
  COL_OUT_S,
  COL_AVG,
  COL_QUEUE,
  COL_FIRES,
  COL_FAIL,
  COL_RETRY,
  COL_CPU,   /* firings on CPU places */
  COL_DEV,   /* firings on device places */
  COL_FOVER, /* firings moved to another device (failover) */
  COL_COUNT
};
extern const char *const agent_col_names[COL_COUNT];

/* Replaces view->cur with `s` (taken over), keeping the old one as prev,
 * and recomputes rows. */
void view_update(struct top_view *v, struct prof_snapshot *s);
void view_free(struct top_view *v);
/* Sorts the agent rows by column `col`, descending for numbers unless
 * `reverse`; names ascending unless `reverse`. */
void view_sort_agents(struct top_view *v, int col, int reverse);

/* Every runtime of one process: a process may create several, each with
 * its segment (maestro-<uid>-<pid>, then .1, .2..., or a later index when a
 * name was taken), each shown with its own view. */
enum { TOP_MAX_RUNTIMES = 32 };
struct top_runtime {
  struct prof_reader *r;
  struct top_view v;
  int ended;      /* destroyed, or its process is gone: v holds its last snapshot */
  int just_ended; /* ended at the last refresh (its last snapshot is new) */
};
struct top_set {
  int pid;
  int n;
  struct top_runtime rt[TOP_MAX_RUNTIMES];
};
/* Attaches to the runtimes of s->pid not attached yet (again later: picks
 * up runtimes created since). PROF_READ_OK when at least one is attached;
 * else the status of the first failure and its message in `err`
 * (PROF_READ_ENOENT when there is no segment at all). */
int top_set_scan(struct top_set *s, char *err, size_t errlen);
/* Picks up new runtimes, takes a snapshot of each runtime not ended yet
 * and marks those that ended (segment flagged closing, process gone).
 * PROF_READ_OK, or the first snapshot's error (`err`). */
int top_set_refresh(struct top_set *s, char *err, size_t errlen);
/* 1 when every attached runtime has ended. */
int top_set_ended(const struct top_set *s);
/* When s->pid is gone (killed: its runtimes could not remove their
 * segments), removes its segments; returns how many. */
int top_set_clean_if_gone(const struct top_set *s);
void top_set_free(struct top_set *s);

/* The PLACE of an agent record: where it is placed (its CPU place and its
 * device place for a hybrid agent; from records of an older writer, where
 * it last fired), "-" when nowhere yet. */
void agent_place_str(const struct prof_agent_rec *r, char *buf, size_t n);
/* A hybrid agent's current estimates per place, "" for other agents. */
void agent_est_str(const struct prof_agent_rec *r, char *buf, size_t n);
/* A MAESTRO_RANK_ANY agent across ranks: on the owning rank the firings
 * each rank answered, with their share ("ranks: r0 812 (40.6%), r1 790
 * (39.5%), r2 398 (19.9%)", ranks past PROF_RANK_FIRES as "r16+"); on
 * another rank those it served ("served for rank 0: 790"); "" otherwise. */
void agent_ranks_str(const struct prof_agent_rec *r, char *buf, size_t n);

/* The agent table's order for the STATE column (enum prof_agent_state
 * values from the segment, any int32): <0, 0, >0 like strcmp. */
int agent_state_cmp(int32_t a, int32_t b);

/* "12.3k", "1.20M"; "-" for NAN. Returns buf. */
const char *fmt_num(char *buf, size_t n, double v);
/* "512B", "1.2KiB"... per second omitted; "-" for NAN. */
const char *fmt_bytes(char *buf, size_t n, double v);
/* "1.2us", "3.4ms"; "-" for NAN. */
const char *fmt_ns(char *buf, size_t n, double v);

#endif
