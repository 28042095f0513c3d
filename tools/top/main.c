/* maestro-top: a live, top-like view of running Maestro programs.
 *
 *   maestro-top                 attach to this user's Maestro program (a list when several)
 *   maestro-top -p PID          attach to PID
 *   maestro-top -b -n N -d S    N plain-text snapshots, S seconds apart
 *   maestro-top --json ...      one JSON object per snapshot and line
 *   maestro-top -l              list this user's Maestro programs (and clean stale segments)
 *
 * It reads the live stats segment each program publishes (see
 * runtime/prof/segment.h) through runtime/prof/segment_reader.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "maestro.h"
#include "model.h"
#include "output.h"
#include "ui.h"

enum { MAX_PROCS = 256 };

static void usage(FILE *f) {
  fprintf(f, "usage: maestro-top [-p PID] [-d SECONDS] [-b] [-n N] [--json] [-l]\n"
             "  -p PID      attach to this process (default: this user's Maestro program;\n"
             "              a list to pick from when several run)\n"
             "  -d SECONDS  refresh delay (default 1; fractions allowed)\n"
             "  -b          batch mode: plain text snapshots on stdout, no screen\n"
             "  -n N        stop after N snapshots (batch mode; default: until the program ends)\n"
             "  --json      batch mode, one JSON object per snapshot and line\n"
             "  -l          list this user's Maestro programs and exit (removes stale segments)\n"
             "  -h          this help;  --version  the version\n"
             "keys: q quit, h help, Tab agents/channels, s/</> sort column, r reverse,\n"
             "      p pause, d delay\n");
}

static void sleep_s(double s) {
  struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static int list_procs(void) {
  struct prof_proc procs[MAX_PROCS];
  int cleaned = 0;
  int n = prof_list_segments(procs, MAX_PROCS, 1, &cleaned);
  if (n > MAX_PROCS) n = MAX_PROCS;
  printf("%8s  %-24s %s\n", "PID", "PROGRAM", "SEGMENT");
  for (int i = 0; i < n; i++) {
    if (procs[i].stale)
      printf("%8d  %-24s %s (stale: process gone, removed)\n", procs[i].pid, "-",
             procs[i].shm_name);
    else
      printf("%8d  %-24s %s\n", procs[i].pid, procs[i].program[0] ? procs[i].program : "?",
             procs[i].shm_name);
  }
  if (cleaned) fprintf(stderr, "maestro-top: removed %d stale segment(s)\n", cleaned);
  return 0;
}

/* Finds a live program when no -p was given: the only one, the one picked
 * from a list (interactive), or the newest (batch). Returns 0 if none. */
static int choose_pid(int interactive) {
  struct prof_proc all[MAX_PROCS], live[MAX_PROCS];
  int cleaned = 0;
  int n = prof_list_segments(all, MAX_PROCS, 1, &cleaned);
  if (n > MAX_PROCS) n = MAX_PROCS;
  int nl = 0;
  for (int i = 0; i < n; i++)
    if (!all[i].stale && all[i].program[0]) live[nl++] = all[i];
  if (cleaned) fprintf(stderr, "maestro-top: removed %d stale segment(s)\n", cleaned);
  if (nl == 0) {
    fprintf(stderr,
            "maestro-top: no running Maestro program of this user (uid %u) publishes "
            "stats (MAESTRO_STATS=0 turns them off)\n",
            (unsigned)getuid());
    return 0;
  }
  if (nl == 1) return live[0].pid;
  if (interactive) return ui_pick(live, nl);
  int newest = 0;
  for (int i = 1; i < nl; i++)
    if (live[i].start_unix_ns > live[newest].start_unix_ns) newest = i;
  fprintf(stderr, "maestro-top: %d programs run; showing the newest, pid %d (-p picks)\n", nl,
          live[newest].pid);
  return live[newest].pid;
}

static int open_pid(int pid, struct prof_reader **r) {
  char err[256];
  int rc = prof_reader_open_pid(pid, r, err, sizeof err);
  if (rc == PROF_READ_OK) return 0;
  if (rc == PROF_READ_ENOENT && !prof_pid_alive(pid)) {
    fprintf(stderr, "maestro-top: no process %d\n", pid);
    return 1;
  }
  if (!prof_pid_alive(pid) && rc != PROF_READ_EACCES) {
    /* A segment left by a killed process: remove it. */
    char name[80];
    snprintf(name, sizeof name, "/maestro-%u-%d", (unsigned)getuid(), pid);
    int gone = shm_unlink(name) == 0;
    fprintf(stderr, "maestro-top: process %d is gone%s\n", pid,
            gone ? "; removed its stale stats segment" : "");
    return 1;
  }
  fprintf(stderr, "maestro-top: pid %d: %s\n", pid, err);
  return 1;
}

static void print_line(void *ctx, enum line_style style, const char *line) {
  (void)style;
  fprintf(ctx, "%s\n", line);
}

static int process_gone(const struct top_view *v) {
  return (v->cur.live.flags & PROF_SEG_F_CLOSING) || !prof_pid_alive(v->cur.info.pid);
}

static int run_batch(struct prof_reader *r, long n, double delay, int json) {
  struct top_view v = {0};
  int rc = 0;
  for (long i = 0; n <= 0 || i < n; i++) {
    if (i > 0) sleep_s(delay);
    struct prof_snapshot s;
    char err[256];
    if (prof_reader_snapshot(r, &s, err, sizeof err) != PROF_READ_OK) {
      fprintf(stderr, "maestro-top: %s\n", err);
      rc = 1;
      break;
    }
    view_update(&v, &s);
    view_sort_agents(&v, v.has_prev ? COL_FIRES_S : COL_FIRES, 0);
    int gone = process_gone(&v);
    if (json) {
      write_json(stdout, &v);
    } else {
      if (i > 0) putchar('\n');
      render_header(&v, gone ? "[exited]" : NULL, print_line, stdout);
      putchar('\n');
      render_places(&v, print_line, stdout);
      putchar('\n');
      render_agents(&v, v.has_prev ? COL_FIRES_S : COL_FIRES, -1, print_line, stdout);
      putchar('\n');
      render_chans(&v, -1, print_line, stdout);
      fflush(stdout);
    }
    if (gone) {
      if (n <= 0 || i + 1 < n)
        fprintf(stderr, "maestro-top: process %d has exited (that was its last snapshot)\n",
                v.cur.info.pid);
      break;
    }
  }
  view_free(&v);
  return rc;
}

int main(int argc, char **argv) {
  int pid = 0, batch = 0, json = 0, list = 0;
  long n = 0;
  double delay = 1.0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
    char *end;
    /* argv[i] is set for i < argc. */
    // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker)
    if (!strcmp(a, "-p") && val) {
      long v = strtol(val, &end, 10);
      if (*end || v <= 0 || v > 1 << 30) {
        fprintf(stderr, "maestro-top: -p '%s': expected a process id\n", val);
        return 2;
      }
      pid = (int)v;
      i++;
    } else if (!strcmp(a, "-d") && val) {
      delay = strtod(val, &end);
      if (*end || !(delay >= 0.05 && delay <= 3600)) {
        fprintf(stderr, "maestro-top: -d '%s': expected seconds from 0.05 to 3600\n", val);
        return 2;
      }
      i++;
    } else if (!strcmp(a, "-n") && val) {
      n = strtol(val, &end, 10);
      if (*end || n <= 0) {
        fprintf(stderr, "maestro-top: -n '%s': expected a positive count\n", val);
        return 2;
      }
      i++;
    } else if (!strcmp(a, "-b")) {
      batch = 1;
    } else if (!strcmp(a, "--json") || !strcmp(a, "-j")) {
      batch = json = 1;
    } else if (!strcmp(a, "-l") || !strcmp(a, "--list")) {
      list = 1;
    } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--version")) {
      printf("maestro-top %s\n", maestro_version());
      return 0;
    } else {
      fprintf(stderr, "maestro-top: unknown or incomplete option '%s'\n", a);
      usage(stderr);
      return 2;
    }
  }
  if (list) return list_procs();
  int interactive = !batch && isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);
  if (!batch && !interactive) batch = 1; /* piped: behave like top -b */
  if (!pid && !(pid = choose_pid(interactive))) return 1;
  struct prof_reader *r;
  if (open_pid(pid, &r)) return 1;
  int rc = batch ? run_batch(r, n, delay, json) : run_ui(r, delay);
  prof_reader_close(r);
  return rc;
}
