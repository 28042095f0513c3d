/* maestro-top's interactive screen (ncurses). */
#ifndef MAESTRO_TOP_UI_H
#define MAESTRO_TOP_UI_H

#include "model.h"
#include "prof/segment_reader.h"

/* Shows `n` programs and returns the pid picked (0 when the user quits). */
int ui_pick(const struct prof_proc *procs, int n);
/* The live screen of every runtime in `set` (one above the other) until
 * q; returns the exit status. */
int run_ui(struct top_set *set, double delay);

#endif
