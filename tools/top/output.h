/* maestro-top's output: the screen as lines of text (shared by batch mode
 * and the curses screen) and the JSON snapshot. */
#ifndef MAESTRO_TOP_OUTPUT_H
#define MAESTRO_TOP_OUTPUT_H

#include <stdio.h>

#include "model.h"

enum line_style { LINE_PLAIN, LINE_TITLE, LINE_COLUMNS };

/* Receives each line; `style` lets curses highlight column headings. */
typedef void (*line_fn)(void *ctx, enum line_style style, const char *line);

/* `status` is appended to the summary line ("paused", "exited"), may be NULL. */
void render_header(const struct top_view *v, const char *status, line_fn out, void *ctx);
void render_places(const struct top_view *v, line_fn out, void *ctx);
/* `sort_col` is marked in the heading. `max_rows` < 0: all. */
void render_agents(const struct top_view *v, int sort_col, int max_rows, line_fn out, void *ctx);
void render_chans(const struct top_view *v, int max_rows, line_fn out, void *ctx);

/* One JSON object on one line (DESIGN.md's shape), newline-terminated. */
void write_json(FILE *f, const struct top_view *v);

#endif
