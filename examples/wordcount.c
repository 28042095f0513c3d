/* wordcount: a file's words counted by an agent, the table written at the end.
 *
 *   file (lines) --> count --> file
 *
 * maestro_file_source reads the file (or standard input) on an I/O thread
 * of its own and sends whole lines, about 64 KiB per message; `count` keeps
 * a table of words in its private state; when its input ends, its .on_end
 * sends the table once (most frequent first); maestro_file_sink writes it to
 * standard output (or a file), also on a thread of its own.
 *
 *   wordcount [input|-] [output|-] */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_util.h" /* CHECK(call): prints maestro_last_error() and returns 1 on failure */
#include "maestro.h"

/* An open-addressing table of words (FNV-1a hashed). */
struct word {
  char *text;
  size_t count;
};

struct table {
  struct word *w;
  size_t n, cap;
};

static int table_add(struct table *t, const char *s, size_t len) {
  if (2 * (t->n + 1) > t->cap) {
    size_t cap = t->cap ? 2 * t->cap : 1024;
    struct word *w = calloc(cap, sizeof *w);
    if (!w) return MAESTRO_ENOMEM;
    for (size_t i = 0; i < t->cap; i++) {
      if (!t->w[i].text) continue;
      size_t h = 2166136261u;
      for (const char *p = t->w[i].text; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
      size_t j = h & (cap - 1);
      while (w[j].text)
        j = (j + 1) & (cap - 1);
      w[j] = t->w[i];
    }
    free(t->w);
    t->w = w;
    t->cap = cap;
  }
  size_t h = 2166136261u;
  for (size_t i = 0; i < len; i++)
    h = (h ^ (unsigned char)s[i]) * 16777619u;
  size_t j = h & (t->cap - 1);
  for (; t->w[j].text; j = (j + 1) & (t->cap - 1))
    if (strncmp(t->w[j].text, s, len) == 0 && t->w[j].text[len] == '\0') {
      t->w[j].count++;
      return MAESTRO_OK;
    }
  if (!(t->w[j].text = strndup(s, len))) return MAESTRO_ENOMEM;
  t->w[j].count = 1;
  t->n++;
  return MAESTRO_OK;
}

/* Fires once per message of whole lines: counts its words. */
static int count(maestro_fire_t *f) {
  struct table *t = maestro_fire_state(f);
  maestro_buf_t *in = maestro_fire_in(f, 0);
  const char *p = maestro_buf_cdata(in), *end = p + maestro_buf_size(in);
  while (p < end) {
    while (p < end && !isalnum((unsigned char)*p))
      p++;
    const char *w = p;
    while (p < end && isalnum((unsigned char)*p))
      p++;
    if (p > w && table_add(t, w, (size_t)(p - w)) != MAESTRO_OK) return MAESTRO_ENOMEM;
  }
  return MAESTRO_OK;
}

static int by_count(const void *a, const void *b) {
  const struct word *x = a, *y = b;
  if (x->count != y->count) return x->count < y->count ? 1 : -1;
  return strcmp(x->text, y->text);
}

/* Once the input has ended: the whole table in one message. */
static int send_table(maestro_fire_t *f) {
  struct table *t = maestro_fire_state(f);
  size_t n = 0, bytes = 0;
  for (size_t i = 0; i < t->cap; i++)
    if (t->w[i].text) {
      t->w[n++] = t->w[i]; /* packed to the front for sorting */
      bytes += strlen(t->w[i].text) + 24;
    }
  memset(t->w + n, 0, (t->cap - n) * sizeof *t->w);
  qsort(t->w, n, sizeof *t->w, by_count);
  if (!n) return MAESTRO_OK;
  maestro_buf_t *out;
  int rc = maestro_fire_alloc(f, bytes, &out);
  if (rc != MAESTRO_OK) return rc;
  char *d = maestro_buf_data(out);
  size_t at = 0;
  for (size_t i = 0; i < n; i++)
    at += (size_t)snprintf(d + at, bytes - at, "%zu %s\n", t->w[i].count, t->w[i].text);
  maestro_buf_truncate(out, at); /* sent with what it holds */
  return maestro_fire_out(f, 0, out);
}

int main(int argc, char **argv) {
  const char *in = argc > 1 ? argv[1] : "-", *out = argc > 2 ? argv[2] : "-";
  static const maestro_port_t bytes_in[] = {{"in", MAESTRO_BYTES, 0}};
  static const maestro_port_t bytes_out[] = {{"out", MAESTRO_BYTES, 0}};
  maestro_runtime_t *rt;
  CHECK(maestro_runtime_create(NULL, &rt));
  maestro_graph_t *g;
  CHECK(maestro_graph_create(rt, "wordcount", &g));
  struct table t = {0};
  maestro_agent_t *read, *counter, *write;
  CHECK(maestro_file_source(g, "read", in, MAESTRO_IO_LINES, 0, &read));
  CHECK(maestro_agent_add(g,
                          &(maestro_agent_desc_t){.name = "count",
                                                  .in = bytes_in,
                                                  .n_in = 1,
                                                  .out = bytes_out,
                                                  .n_out = 1,
                                                  .cpu = count,
                                                  .on_end = send_table,
                                                  .state = &t},
                          &counter));
  CHECK(maestro_file_sink(g, "write", out, &write));
  CHECK(maestro_connect(g, read, "out", counter, "in", 0));
  CHECK(maestro_connect(g, counter, "out", write, "in", 0));
  int rc = maestro_graph_run(g); /* returns once the table is written */
  if (rc != MAESTRO_OK) fprintf(stderr, "wordcount: %s\n", maestro_last_error());
  maestro_graph_destroy(g);
  maestro_runtime_destroy(rt);
  for (size_t i = 0; i < t.cap; i++)
    free(t.w[i].text);
  free(t.w);
  return rc == MAESTRO_OK ? 0 : 1;
}
