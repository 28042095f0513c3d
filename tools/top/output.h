/* maestro-top's output: the screen as lines of text (shared by batch mode
 * and the curses screen) and the JSON snapshot. */
#ifndef MAESTRO_TOP_OUTPUT_H
#define MAESTRO_TOP_OUTPUT_H

#include <stdio.h>

#include "model.h"

enum line_style { LINE_PLAIN, LINE_TITLE, LINE_COLUMNS };

/* Receives each line; `style` lets curses highlight column headings. */
typedef void (*line_fn)(void *ctx, enum line_style style, const char *line);

/* A name from a segment made safe for a terminal: printable ASCII as is,
 * a backslash doubled, any other byte as \xNN (so no escape sequence in an
 * agent's or program's name reaches the terminal). `n` >= 4 * strlen(s) + 1
 * keeps it whole; shorter buffers get a truncated copy. Returns dst. */
const char *top_escape(char *dst, size_t n, const char *s);
enum { TOP_ESC_NAME = 4 * 64 + 1 }; /* room for an escaped record name */

/* `status` is appended to the summary line ("paused", "exited"), may be NULL. */
void render_header(const struct top_view *v, const char *status, line_fn out, void *ctx);
void render_places(const struct top_view *v, line_fn out, void *ctx);
/* `sort_col` is marked in the heading. `max_rows` < 0: all. */
void render_agents(const struct top_view *v, int sort_col, int max_rows, line_fn out, void *ctx);
void render_chans(const struct top_view *v, int max_rows, line_fn out, void *ctx);

/* One JSON object on one line (DESIGN.md's shape), newline-terminated. */
void write_json(FILE *f, const struct top_view *v);

#endif
