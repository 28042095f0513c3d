/**
 * @file maestro/io.h
 * Bundled I/O agents: a file (or standard input) read into messages, and
 * messages written to a file (or standard output).
 *
 * Their blocking reads and writes never run on the runtime's pinned CPU
 * workers: each such agent has an I/O thread of its own, started with the
 * graph. A file source's thread reads ahead into buffers and hands them to
 * the agent through a channel of the default capacity (64 messages): when
 * the graph does not keep up, the thread waits (backpressure), it does not
 * read further. A file sink's agent hands its messages to its thread the
 * same way, and maestro_graph_wait returns only once the thread has written
 * (and closed) the whole file.
 *
 * A failure (a file that cannot be opened, a read or write error, a short
 * write that cannot go on such as a full disk) fails the graph as a failed
 * firing of the agent with MAESTRO_FAIL_STOP does: maestro_graph_wait
 * returns MAESTRO_EAGENT with a message naming the agent, the path and the
 * system's error.
 */
#ifndef MAESTRO_IO_H
#define MAESTRO_IO_H

#include <stddef.h>

#include "agent.h"
#include "graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/** How a file source cuts what it reads into messages. */
typedef enum maestro_io_split {
  /** Messages of exactly the block size, the last one shorter (never empty). */
  MAESTRO_IO_BLOCKS = 0,
  /**
   * Whole lines: each message holds one or more complete lines ('\n' kept),
   * about the block size (from the block size up to the end of the line
   * that crosses it). A line longer than the block size is never split: its
   * message grows to hold it whole. A last line without '\n' ends the last
   * message as it is. No byte is lost or added.
   */
  MAESTRO_IO_LINES = 1,
} maestro_io_split_t;

/** The block size used when 0 is given: 64 KiB. */
#define MAESTRO_IO_BLOCK_DEFAULT (64u * 1024u)

/**
 * Adds to `g` (before it starts) an agent named `name` that sends the
 * contents of the file at `path` (NULL or "-": standard input, which is not
 * closed) on its output port "out" (MAESTRO_BYTES), cut as `split` says into
 * messages of about `block` bytes (0 = MAESTRO_IO_BLOCK_DEFAULT), in order,
 * then ends its stream. An empty file sends no message. The file is opened
 * when the graph starts. The agent's input port "file" is fed by its I/O
 * thread: connect nothing to it.
 * @return MAESTRO_OK (and the agent in `*out`, if not NULL); MAESTRO_EINVAL
 *         (NULL g or name, unknown split), MAESTRO_ESTATE (graph started),
 *         MAESTRO_EGRAPH (name taken), MAESTRO_ENOMEM, MAESTRO_ESYS.
 */
int maestro_file_source(maestro_graph_t *g, const char *name, const char *path,
                        maestro_io_split_t split, size_t block, maestro_agent_t **out);

/**
 * Adds to `g` (before it starts) an agent named `name` that writes every
 * message arriving on its input port "in" (MAESTRO_BYTES) to the file at
 * `path` (created or truncated when the graph starts, mode 0666 less the
 * umask; NULL or "-": standard output, which is not closed), in order,
 * byte for byte. Its output port "file" feeds its I/O thread: connect
 * nothing to it. After a write error the rest of the stream is taken and
 * dropped, the graph having failed.
 * @return as maestro_file_source.
 */
int maestro_file_sink(maestro_graph_t *g, const char *name, const char *path,
                      maestro_agent_t **out);

#ifdef __cplusplus
}
#endif
#endif
