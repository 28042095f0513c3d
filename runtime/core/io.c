/* Bundled I/O agents (include/maestro/io.h). Each is a pass-through agent
 * with an I/O thread of its own, so that blocking reads and writes stay off
 * the pinned workers and the engine's channels give the backpressure:
 *
 *   file source: thread --read--> host input "file" -> agent -> "out"
 *   file sink:   "in" -> agent -> host output "file" --write--> thread
 *
 * The threads start with the graph (graph_ext.start) and are joined when
 * it is destroyed (graph_ext.fini). A source's thread waits in poll() on the
 * file and on a wake pipe, so that a destroy ends a read from a pipe that
 * stays silent. A sink's thread holds the graph (graph_hold) until it has
 * written and closed the file: maestro_graph_wait then means the file is
 * complete. Failures go through graph_fail, naming the agent and the path. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "core/graph.h"

struct io_agent {
  struct maestro_graph *g;
  struct maestro_agent *a;
  char *path; /* NULL: standard input or output */
  maestro_io_split_t split;
  size_t block;
  maestro_input_t *in;   /* source: what the thread pushes into */
  maestro_output_t *out; /* sink: what the thread pops from */
  int wake[2];           /* source: written at fini to end a poll */
  pthread_t thread;
  int started;
};

static const char *io_path(const struct io_agent *io) {
  return io->path ? io->path : "-";
}

/* Fails the graph for `io`'s agent: `what` names the call, errno `e`. */
static void io_fail(struct io_agent *io, const char *fn, const char *what, int e) {
  char why[512];
  snprintf(why, sizeof why, "%s '%s': %s '%s': %s", fn, io->a->name, what, io_path(io),
           strerror(e));
  graph_fail(io->g, io->a, MAESTRO_ESYS, why);
}

static int io_pass(maestro_fire_t *f) {
  return maestro_fire_out(f, 0, maestro_buf_retain(maestro_fire_in(f, 0)));
}

static void io_free(struct io_agent *io) {
  if (io->wake[0] >= 0) close(io->wake[0]);
  if (io->wake[1] >= 0) close(io->wake[1]);
  free(io->path);
  free(io);
}

static void io_fini(void *arg) {
  struct io_agent *io = arg;
  if (io->started) {
    if (io->wake[1] >= 0) {
      ssize_t w = write(io->wake[1], "x", 1);
      (void)w; /* a full pipe has woken it already */
    }
    pthread_join(io->thread, NULL);
  }
  io_free(io);
}

static void io_start(void *arg, void *(*main)(void *)) {
  struct io_agent *io = arg;
  if (!io->in && !io->out) return; /* io_add failed half-way: no host end, no hold */
  if (io->a->remote) { /* another MPI rank owns it (core/dist.h): its thread runs there */
    if (!io->in) graph_agent_finished(io->g); /* a sink's hold */
    return;
  }
  int rc = pthread_create(&io->thread, NULL, main, io);
  if (rc == 0) {
    io->started = 1;
    return;
  }
  io_fail(io, "maestro_io", "cannot start the I/O thread for", rc);
  if (io->in) maestro_input_close(io->in);
  if (!io->in) graph_agent_finished(io->g); /* a sink's hold */
}

/* ---- source ---- */

/* Waits until `fd` is readable (or the wake pipe says stop); 1 to read. */
static int src_wait(struct io_agent *io, int fd) {
  struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = io->wake[0], .events = POLLIN}};
  for (;;) {
    int n = poll(p, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return 1; /* let read() say what is wrong */
    if (p[1].revents) return 0;
    return 1;
  }
}

/* Sends `b` (its first `len` bytes); 0 once the graph takes no more. */
static int src_send(struct io_agent *io, maestro_buf_t *b, size_t len) {
  if (len < maestro_buf_size(b) && maestro_buf_truncate(b, len) != MAESTRO_OK) {
    maestro_buf_release(b);
    return 0;
  }
  return maestro_input_push(io->in, b) == MAESTRO_OK;
}

static void *src_main(void *arg) {
  struct io_agent *io = arg;
  char name[16];
  snprintf(name, sizeof name, "maestro-io%d", io->a->id % 1000);
  pthread_setname_np(pthread_self(), name);
  struct maestro_runtime *rt = io->g->rt;
  int fd = io->path ? open(io->path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
  if (fd < 0) {
    io_fail(io, "maestro_file_source", "cannot open", errno);
    maestro_input_close(io->in);
    return NULL;
  }
  size_t block = io->block;
  maestro_buf_t *cur = NULL;         /* the message being filled */
  size_t len = 0, cap = 0, scan = 0; /* bytes in it, its size, bytes searched for '\n' */
  char *carry = NULL;                /* lines: what followed the last '\n' of the message sent */
  size_t ncarry = 0;
  int ok = 1;
  while (ok && !atomic_load_explicit(&io->g->stopped, memory_order_relaxed)) {
    if (!cur || len == cap) {
      /* A new message, or (lines) a bigger one for a line longer than it. */
      size_t want = !cur ? (ncarry + block) : cap * 2;
      maestro_buf_t *b;
      if (maestro_buf_create(rt, want, &b) != MAESTRO_OK) {
        io_fail(io, "maestro_file_source", "out of memory reading", ENOMEM);
        ok = 0;
        break;
      }
      char *d = maestro_buf_data(b);
      if (cur) {
        memcpy(d, maestro_buf_data(cur), len);
        maestro_buf_release(cur);
      } else {
        if (ncarry) memcpy(d, carry, ncarry);
        len = scan = ncarry;
        ncarry = 0;
      }
      cur = b;
      cap = want;
    }
    if (!src_wait(io, fd)) break;
    ssize_t n = read(fd, (char *)maestro_buf_data(cur) + len, cap - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      io_fail(io, "maestro_file_source", "cannot read", errno);
      ok = 0;
      break;
    }
    if (n == 0) { /* end of file: what is left is the last message */
      if (len)
        ok = src_send(io, cur, len);
      else
        maestro_buf_release(cur);
      cur = NULL;
      break;
    }
    len += (size_t)n;
    if (io->split == MAESTRO_IO_BLOCKS) {
      if (len == cap) {
        ok = src_send(io, cur, len);
        cur = NULL;
      }
      continue;
    }
    /* Lines: once a block's worth is in, send up to the last '\n'. */
    if (len < block) continue;
    char *d = maestro_buf_data(cur);
    char *nl = memrchr(d + scan, '\n', len - scan);
    scan = len;
    if (!nl) continue; /* a line longer than the message: it grows */
    size_t keep = (size_t)(nl + 1 - d);
    ncarry = len - keep;
    if (ncarry) {
      char *c = realloc(carry, ncarry);
      if (!c) {
        io_fail(io, "maestro_file_source", "out of memory reading", ENOMEM);
        ok = 0;
        break;
      }
      carry = c;
      memcpy(carry, d + keep, ncarry);
    }
    ok = src_send(io, cur, keep);
    cur = NULL;
  }
  if (cur) maestro_buf_release(cur);
  free(carry);
  if (io->path) close(fd);
  maestro_input_close(io->in);
  return NULL;
}

static void src_start(void *arg) {
  io_start(arg, src_main);
}

/* ---- sink ---- */

/* Writes all of `p`; 0 or an errno. */
static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return errno;
    if (w == 0) return EIO; /* a short write that makes no progress */
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void *sink_main(void *arg) {
  struct io_agent *io = arg;
  char name[16];
  snprintf(name, sizeof name, "maestro-io%d", io->a->id % 1000);
  pthread_setname_np(pthread_self(), name);
  int fd =
      io->path ? open(io->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666) : STDOUT_FILENO;
  int failed = fd < 0;
  if (failed) io_fail(io, "maestro_file_sink", "cannot open", errno);
  maestro_buf_t *b;
  /* Until end-of-stream: after a failure, what still comes is dropped. */
  while (maestro_output_pop(io->out, &b, -1) == MAESTRO_OK) {
    if (!failed) {
      int e = write_all(fd, maestro_buf_cdata(b), maestro_buf_size(b));
      if (e) {
        io_fail(io, "maestro_file_sink", "cannot write", e);
        failed = 1;
      }
    }
    maestro_buf_release(b);
  }
  if (io->path && fd >= 0 && close(fd) != 0 && !failed)
    io_fail(io, "maestro_file_sink", "cannot close", errno);
  graph_agent_finished(io->g); /* the hold: the file is complete */
  return NULL;
}

static void sink_start(void *arg) {
  io_start(arg, sink_main);
}

/* ---- adding them ---- */

static const maestro_port_t io_bytes_in[] = {{"in", MAESTRO_BYTES, 0}};
static const maestro_port_t io_bytes_out[] = {{"out", MAESTRO_BYTES, 0}};
static const maestro_port_t io_file_in[] = {{"file", MAESTRO_BYTES, 0}};
static const maestro_port_t io_file_out[] = {{"file", MAESTRO_BYTES, 0}};

static int io_add(maestro_graph_t *g, const char *fn, const char *name, const char *path,
                  int source, maestro_io_split_t split, size_t block, maestro_agent_t **out) {
  if (out) *out = NULL;
  if (!g || !name) return err_set(MAESTRO_EINVAL, "%s: %s is NULL", fn, g ? "name" : "g");
  if (source && split != MAESTRO_IO_BLOCKS && split != MAESTRO_IO_LINES)
    return err_set(MAESTRO_EINVAL, "%s: agent '%s': unknown split %d", fn, name, (int)split);
  struct io_agent *io = calloc(1, sizeof *io);
  if (!io) return err_set(MAESTRO_ENOMEM, "%s: out of memory", fn);
  io->wake[0] = io->wake[1] = -1;
  io->split = split;
  io->block = block ? block : MAESTRO_IO_BLOCK_DEFAULT;
  if (path && strcmp(path, "-") != 0 && !(io->path = strdup(path))) {
    io_free(io);
    return err_set(MAESTRO_ENOMEM, "%s: out of memory", fn);
  }
  if (source && pipe2(io->wake, O_CLOEXEC) != 0) {
    int e = errno;
    io->wake[0] = io->wake[1] = -1;
    io_free(io);
    return err_set(MAESTRO_ESYS, "%s: agent '%s': pipe: %s", fn, name, strerror(e));
  }
  maestro_agent_t *a = NULL;
  int rc = maestro_agent_add(g,
                             &(maestro_agent_desc_t){.name = name,
                                                     .in = source ? io_file_in : io_bytes_in,
                                                     .n_in = 1,
                                                     .out = source ? io_bytes_out : io_file_out,
                                                     .n_out = 1,
                                                     .cpu = io_pass},
                             &a);
  io->g = g;
  io->a = a;
  if (!rc)
    rc = graph_add_ext(
        g,
        &(struct graph_ext){.start = source ? src_start : sink_start, .fini = io_fini, .arg = io});
  if (rc) {
    io_free(io);
    return rc;
  }
  /* From here the graph owns `io` (freed at its destroy). Should the host
   * end fail (out of memory), the agent stays without a thread: a source's
   * unconnected "file" port keeps the graph from starting; a sink's thread
   * is not started (io_start). */
  rc = source ? maestro_graph_input(g, a, "file", &io->in)
              : maestro_graph_output(g, a, "file", &io->out);
  if (rc) return rc;
  if (!source) graph_hold(g);
  if (out) *out = a;
  return MAESTRO_OK;
}

int maestro_file_source(maestro_graph_t *g, const char *name, const char *path,
                        maestro_io_split_t split, size_t block, maestro_agent_t **out) {
  return io_add(g, "maestro_file_source", name, path, 1, split, block, out);
}

int maestro_file_sink(maestro_graph_t *g, const char *name, const char *path,
                      maestro_agent_t **out) {
  return io_add(g, "maestro_file_sink", name, path, 0, MAESTRO_IO_BLOCKS, 0, out);
}
