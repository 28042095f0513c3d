/* One firing in progress (runtime/core/run.c). */
#ifndef MAESTRO_CORE_FIRE_H
#define MAESTRO_CORE_FIRE_H

#include "core/graph.h"

struct staged {
  int port;
  maestro_buf_t *b;
};

#define FIRE_INLINE_OUT 8

struct maestro_fire {
  struct maestro_agent *a;
  maestro_buf_t **in;
  int n_in;  /* inputs in `in`: the agent's, or 0 in on_end (in == NULL) */
  int n_out; /* the agent's output ports */
  uint64_t seq;
  int place_kind, place_index;
  struct staged *out; /* sends staged until the firing succeeds */
  int nout, cap;
  struct staged inl[FIRE_INLINE_OUT];
};

#endif
