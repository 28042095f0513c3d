/* Bundled I/O agents (maestro/io.h): files through source -> check -> sink
 * come out byte for byte; in lines mode every message holds whole lines
 * only, a line longer than the block included; standard input through a
 * pipe; errors (missing file, a directory that does not exist, a full
 * device) fail the graph naming the agent and the path. The random files
 * print their seed; MAESTRO_IO_SEED replays one. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine_util.h"

static char tmpdir[64];

static int io_suite_init(void) {
  strcpy(tmpdir, "/tmp/maestro_io_XXXXXX");
  if (!mkdtemp(tmpdir)) return -1;
  return eng_suite_init();
}

static int io_suite_fini(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) return -1;
  return eng_suite_fini();
}

static void path_of(char *p, size_t n, const char *name) {
  snprintf(p, n, "%s/%s", tmpdir, name);
}

static void write_file(const char *path, const char *d, size_t n) {
  FILE *f = fopen(path, "wb");
  CU_ASSERT_FATAL(f != NULL);
  CU_ASSERT_EQUAL(fwrite(d, 1, n, f), n);
  fclose(f);
}

static char *read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *d = malloc((size_t)len + 1);
  *n = fread(d, 1, (size_t)len, f);
  fclose(f);
  return d;
}

/* Random lines (lengths 0..maxlen, a few of `longlen`), `total` bytes at
 * least; `nl_end`: the last line ends with '\n'. */
static char *random_lines(unsigned *seed, size_t total, size_t maxlen, size_t longlen, int nl_end,
                          size_t *n) {
  char *d = malloc(total + longlen + maxlen + 2);
  size_t at = 0;
  while (at < total) {
    size_t len = rand_r(seed) % 97 == 0 ? longlen : (size_t)rand_r(seed) % (maxlen + 1);
    for (size_t i = 0; i < len; i++)
      d[at++] = (char)(' ' + rand_r(seed) % 94);
    d[at++] = '\n';
  }
  if (!nl_end) d[at++] = 'z'; /* a last line without '\n' */
  *n = at;
  return d;
}

/* Checks each message between source and sink: in lines mode, every
 * message but the last ends with '\n' (so each starts a line); sizes. */
struct check {
  int lines;
  size_t block;
  atomic_ullong msgs, bytes, partial; /* partial: messages not ending with '\n' */
  atomic_ullong small, big;           /* blocks: messages shorter / longer than the block */
  atomic_ullong empty;
};

static const maestro_port_t bytes_in[] = {{"in", MAESTRO_BYTES, 0}};
static const maestro_port_t bytes_out[] = {{"out", MAESTRO_BYTES, 0}};

static int check_fire(maestro_fire_t *f) {
  struct check *c = maestro_fire_state(f);
  maestro_buf_t *b = maestro_fire_in(f, 0);
  size_t n = maestro_buf_size(b);
  const char *d = maestro_buf_cdata(b);
  atomic_fetch_add(&c->msgs, 1);
  atomic_fetch_add(&c->bytes, n);
  if (!n) atomic_fetch_add(&c->empty, 1);
  if (n && d[n - 1] != '\n') atomic_fetch_add(&c->partial, 1);
  if (n < c->block) atomic_fetch_add(&c->small, 1);
  if (n > c->block) atomic_fetch_add(&c->big, 1);
  return maestro_fire_out(f, 0, maestro_buf_retain(b));
}

/* file (or stdin when in_path is NULL) -> check -> file; returns
 * maestro_graph_wait's status. */
static int pipeline(const char *in_path, const char *out_path, maestro_io_split_t split,
                    size_t block, struct check *c) {
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "io", &g) == MAESTRO_OK);
  maestro_agent_t *src, *chk, *snk;
  CU_ASSERT_EQUAL(maestro_file_source(g, "read", in_path, split, block, &src), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_agent_add(g,
                                    &(maestro_agent_desc_t){.name = "check",
                                                            .in = bytes_in,
                                                            .n_in = 1,
                                                            .out = bytes_out,
                                                            .n_out = 1,
                                                            .cpu = check_fire,
                                                            .state = c},
                                    &chk),
                  MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_file_sink(g, "write", out_path, &snk), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, src, "out", chk, "in", 0), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, chk, "out", snk, "in", 0), MAESTRO_OK);
  int rc = maestro_graph_run(g);
  maestro_graph_destroy(g);
  return rc;
}

static unsigned test_seed(void) {
  const char *s = getenv("MAESTRO_IO_SEED");
  unsigned seed = s ? (unsigned)strtoul(s, NULL, 0) : (unsigned)time(NULL);
  printf("\n    MAESTRO_IO_SEED=%u\n", seed);
  return seed;
}

/* Lines mode, a multi-MB file of random line lengths (some lines longer
 * than the block): byte-exact, every message whole lines. */
static void test_lines_roundtrip(void) {
  unsigned seed = test_seed();
  for (int nl_end = 0; nl_end < 2; nl_end++) {
    size_t n, m = 0;
    char *d = random_lines(&seed, 3u << 20, 200, 20000, nl_end, &n);
    char in[128], out[128];
    path_of(in, sizeof in, "lines.in");
    path_of(out, sizeof out, "lines.out");
    write_file(in, d, n);
    struct check c = {.lines = 1, .block = 4096};
    CU_ASSERT_EQUAL(pipeline(in, out, MAESTRO_IO_LINES, 4096, &c), MAESTRO_OK);
    char *r = read_file(out, &m);
    CU_ASSERT_FATAL(r != NULL);
    CU_ASSERT_EQUAL(m, n);
    CU_ASSERT(m == n && memcmp(r, d, n) == 0);
    CU_ASSERT_EQUAL(atomic_load(&c.bytes), n);
    CU_ASSERT_EQUAL(atomic_load(&c.partial), nl_end ? 0 : 1); /* only the last line */
    CU_ASSERT_EQUAL(atomic_load(&c.empty), 0);
    CU_ASSERT(atomic_load(&c.msgs) >= n / (4096 + 20001));
    CU_ASSERT(atomic_load(&c.big) > 0); /* messages hold a line past the block */
    free(r);
    free(d);
  }
}

/* Blocks mode: every message the block size, the last one shorter. */
static void test_blocks_roundtrip(void) {
  unsigned seed = test_seed();
  enum { BLOCK = 65536 };
  size_t n = 3 * BLOCK * 8 + 123, m = 0;
  char *d = malloc(n);
  for (size_t i = 0; i < n; i++)
    d[i] = (char)rand_r(&seed);
  char in[128], out[128];
  path_of(in, sizeof in, "blocks.in");
  path_of(out, sizeof out, "blocks.out");
  write_file(in, d, n);
  struct check c = {.block = BLOCK};
  CU_ASSERT_EQUAL(pipeline(in, out, MAESTRO_IO_BLOCKS, BLOCK, &c), MAESTRO_OK);
  char *r = read_file(out, &m);
  CU_ASSERT_FATAL(r != NULL);
  CU_ASSERT(m == n && memcmp(r, d, n) == 0);
  CU_ASSERT_EQUAL(atomic_load(&c.msgs), n / BLOCK + 1);
  CU_ASSERT_EQUAL(atomic_load(&c.small), 1);
  CU_ASSERT_EQUAL(atomic_load(&c.big), 0);
  free(r);
  free(d);
}

/* One line of 100 KB between short ones, 1 KB blocks: never split. */
static void test_long_line(void) {
  size_t n = 0, m = 0;
  char *d = malloc(200000);
  for (int i = 0; i < 10; i++)
    n += (size_t)sprintf(d + n, "short %d\n", i);
  memset(d + n, 'L', 100000);
  n += 100000;
  d[n++] = '\n';
  n += (size_t)sprintf(d + n, "after\n");
  char in[128], out[128];
  path_of(in, sizeof in, "long.in");
  path_of(out, sizeof out, "long.out");
  write_file(in, d, n);
  struct check c = {.lines = 1, .block = 1024};
  CU_ASSERT_EQUAL(pipeline(in, out, MAESTRO_IO_LINES, 1024, &c), MAESTRO_OK);
  char *r = read_file(out, &m);
  CU_ASSERT_FATAL(r != NULL);
  CU_ASSERT(m == n && memcmp(r, d, n) == 0);
  CU_ASSERT_EQUAL(atomic_load(&c.partial), 0);
  CU_ASSERT_EQUAL(atomic_load(&c.big), 1); /* the long line's message */
  CU_ASSERT_EQUAL(atomic_load(&c.msgs), 2);
  free(r);
  free(d);
}

/* An empty file: no message, an empty output. */
static void test_empty(void) {
  char in[128], out[128];
  path_of(in, sizeof in, "empty.in");
  path_of(out, sizeof out, "empty.out");
  write_file(in, "", 0);
  struct check c = {.lines = 1, .block = 16};
  CU_ASSERT_EQUAL(pipeline(in, out, MAESTRO_IO_LINES, 16, &c), MAESTRO_OK);
  size_t m = 1;
  char *r = read_file(out, &m);
  CU_ASSERT_FATAL(r != NULL);
  CU_ASSERT_EQUAL(m, 0);
  CU_ASSERT_EQUAL(atomic_load(&c.msgs), 0);
  free(r);
}

/* Standard input through a pipe, fed by a thread in small writes. */
struct feed {
  int fd;
  const char *d;
  size_t n;
};

static void *feed_main(void *arg) {
  struct feed *f = arg;
  for (size_t at = 0; at < f->n;) {
    size_t k = f->n - at < 777 ? f->n - at : 777;
    ssize_t w = write(f->fd, f->d + at, k);
    if (w <= 0) break;
    at += (size_t)w;
  }
  close(f->fd);
  return NULL;
}

static void test_stdin_pipe(void) {
  unsigned seed = test_seed();
  size_t n, m = 0;
  char *d = random_lines(&seed, 1u << 20, 120, 5000, 1, &n);
  int p[2];
  CU_ASSERT_FATAL(pipe(p) == 0);
  int saved = dup(STDIN_FILENO);
  CU_ASSERT_FATAL(dup2(p[0], STDIN_FILENO) == STDIN_FILENO);
  close(p[0]);
  struct feed f = {p[1], d, n};
  pthread_t th;
  pthread_create(&th, NULL, feed_main, &f);
  char out[128];
  path_of(out, sizeof out, "stdin.out");
  struct check c = {.lines = 1, .block = 2048};
  CU_ASSERT_EQUAL(pipeline(NULL, out, MAESTRO_IO_LINES, 2048, &c), MAESTRO_OK);
  pthread_join(th, NULL);
  dup2(saved, STDIN_FILENO);
  close(saved);
  char *r = read_file(out, &m);
  CU_ASSERT_FATAL(r != NULL);
  CU_ASSERT(m == n && memcmp(r, d, n) == 0);
  CU_ASSERT_EQUAL(atomic_load(&c.partial), 0);
  free(r);
  free(d);
}

/* A pipe on standard input that stays silent: cancel and destroy end the
 * source's read (its thread waits in poll, woken at destroy). */
static void test_silent_stdin_destroy(void) {
  int p[2];
  CU_ASSERT_FATAL(pipe(p) == 0);
  int saved = dup(STDIN_FILENO);
  CU_ASSERT_FATAL(dup2(p[0], STDIN_FILENO) == STDIN_FILENO);
  close(p[0]);
  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "silent", &g) == MAESTRO_OK);
  maestro_agent_t *src, *snk;
  char out[128];
  path_of(out, sizeof out, "silent.out");
  CU_ASSERT_EQUAL(maestro_file_source(g, "read", NULL, MAESTRO_IO_LINES, 0, &src), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_file_sink(g, "write", out, &snk), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_connect(g, src, "out", snk, "in", 0), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_start(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_wait_for(g, 50), MAESTRO_ETIMEDOUT);
  CU_ASSERT_EQUAL(maestro_graph_cancel(g), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_graph_wait(g), MAESTRO_ECANCELED);
  maestro_graph_destroy(g);
  close(p[1]);
  dup2(saved, STDIN_FILENO);
  close(saved);
}

/* Failures name the agent and the path. */
static void test_errors(void) {
  char missing[128], out[128], nodir[128];
  path_of(missing, sizeof missing, "no-such-file");
  path_of(out, sizeof out, "err.out");
  path_of(nodir, sizeof nodir, "no-such-dir/x.out");
  struct check c = {.block = 64};
  CU_ASSERT_EQUAL(pipeline(missing, out, MAESTRO_IO_BLOCKS, 64, &c), MAESTRO_EAGENT);
  CU_ASSERT(eng_err_names("'read'"));
  CU_ASSERT(eng_err_names(missing));
  CU_ASSERT(eng_err_names("No such file"));

  char in[128];
  path_of(in, sizeof in, "err.in");
  write_file(in, "abc\ndef\n", 8);
  CU_ASSERT_EQUAL(pipeline(in, nodir, MAESTRO_IO_LINES, 64, &c), MAESTRO_EAGENT);
  CU_ASSERT(eng_err_names("'write'"));
  CU_ASSERT(eng_err_names(nodir));

  /* A device that is always full: the write fails (ENOSPC). */
  if (access("/dev/full", W_OK) == 0) {
    CU_ASSERT_EQUAL(pipeline(in, "/dev/full", MAESTRO_IO_LINES, 64, &c), MAESTRO_EAGENT);
    CU_ASSERT(eng_err_names("'write'"));
    CU_ASSERT(eng_err_names("/dev/full"));
    CU_ASSERT(eng_err_names("cannot write"));
  }

  maestro_graph_t *g;
  CU_ASSERT_FATAL(maestro_graph_create(eng_rt, "io_args", &g) == MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_file_source(g, "s", in, (maestro_io_split_t)7, 0, NULL), MAESTRO_EINVAL);
  CU_ASSERT(eng_err_names("'s'"));
  CU_ASSERT_EQUAL(maestro_file_source(g, NULL, in, MAESTRO_IO_LINES, 0, NULL), MAESTRO_EINVAL);
  CU_ASSERT_EQUAL(maestro_file_source(g, "s", in, MAESTRO_IO_LINES, 0, NULL), MAESTRO_OK);
  CU_ASSERT_EQUAL(maestro_file_sink(g, "s", out, NULL), MAESTRO_EGRAPH);
  maestro_graph_destroy(g); /* never started: no thread to join */
}

/* A source that fails at once ends its stream from its own thread while
 * the graph is already over: destroying the graph right away must wait for
 * the firing that end-of-stream causes (it ran on freed agents, found by
 * tsan in CI). Many rounds make the window likely. */
static void test_fail_then_destroy(void) {
  char missing[128], out[128];
  path_of(missing, sizeof missing, "no-such-file");
  path_of(out, sizeof out, "race.out");
  for (int i = 0; i < 300; i++) {
    struct check c = {.block = 64};
    CU_ASSERT_EQUAL_FATAL(pipeline(missing, out, MAESTRO_IO_BLOCKS, 64, &c), MAESTRO_EAGENT);
  }
}

void register_suites(void) {
  ADD_SUITE("engine_io", io_suite_init, io_suite_fini,
            {"lines: random multi-MB file, byte-exact, whole lines", test_lines_roundtrip},
            {"blocks: byte-exact, block-sized messages", test_blocks_roundtrip},
            {"lines: a line longer than the block is not split", test_long_line},
            {"an empty file", test_empty}, {"standard input through a pipe", test_stdin_pipe},
            {"a silent standard input: cancel and destroy", test_silent_stdin_destroy},
            {"errors name the agent and the path", test_errors},
            {"a failed source, destroyed at once, 300 rounds", test_fail_then_destroy});
}
