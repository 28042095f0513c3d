/* maestro-top: a live, top-like view of running Maestro programs.
 *
 *   maestro-top                 attach to this user's Maestro program (a list when several)
 *   maestro-top -p PID          attach to PID (every runtime it created)
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
#include <time.h>
#include <unistd.h>

#include "maestro.h"
#include "model.h"
#include "output.h"
#include "ui.h"

enum { MAX_PROCS = 256 };

static void usage(FILE *f) {
  fprintf(f, "usage: maestro-top [-p PID] [-d SECONDS] [-b] [-n N] [--json] [-l]\n"
             "  -p PID      attach to this process, every runtime it created (default: this\n"
             "              user's Maestro program; a list to pick from when several run)\n"
             "  -d SECONDS  refresh delay (default 1; fractions allowed)\n"
             "  -b          batch mode: plain text snapshots on stdout, no screen\n"
             "  -n N        stop after N snapshots (batch mode; default: until the program ends);\n"
             "              each one has rates over the delay (a first sample is taken -d before)\n"
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
    char prog[TOP_ESC_NAME], name[4 * sizeof procs[i].shm_name];
    top_escape(name, sizeof name, procs[i].shm_name);
    if (procs[i].stale)
      printf("%8d  %-24s %s (stale: process gone, removed)\n", procs[i].pid, "-", name);
    else
      printf("%8d  %-24s %s\n", procs[i].pid,
             procs[i].program[0] ? top_escape(prog, sizeof prog, procs[i].program) : "?", name);
  }
  if (cleaned) fprintf(stderr, "maestro-top: removed %d stale segment(s)\n", cleaned);
  return 0;
}

/* Finds a live program when no -p was given: the only one, the one picked
 * from a list (interactive), or the newest (batch). Returns 0 if none. A
 * process with several runtimes is one program (all its runtimes are
 * shown). */
static int choose_pid(int interactive) {
  struct prof_proc all[MAX_PROCS], live[MAX_PROCS];
  int cleaned = 0;
  int n = prof_list_segments(all, MAX_PROCS, 1, &cleaned);
  if (n > MAX_PROCS) n = MAX_PROCS;
  int nl = 0;
  for (int i = 0; i < n; i++)
    if (!all[i].stale && all[i].program[0] && (nl == 0 || live[nl - 1].pid != all[i].pid))
      live[nl++] = all[i]; /* listed by pid then index: one entry per process */
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

/* Attaches to every runtime of `pid`. A process that is gone was killed
 * (a runtime destroyed normally removes its segment): its segments are
 * removed, as stale. */
static int attach(int pid, struct top_set *set) {
  set->pid = pid;
  if (!prof_pid_alive(pid)) {
    int gone = top_set_clean_if_gone(set);
    if (gone)
      fprintf(stderr, "maestro-top: process %d is gone; removed its stale stats segment%s\n", pid,
              gone > 1 ? "s" : "");
    else
      fprintf(stderr, "maestro-top: no process %d\n", pid);
    return 1;
  }
  char err[256];
  if (top_set_scan(set, err, sizeof err) == PROF_READ_OK) return 0;
  fprintf(stderr, "maestro-top: pid %d: %s\n", pid, err);
  return 1;
}

static void print_line(void *ctx, enum line_style style, const char *line) {
  (void)style;
  fprintf(ctx, "%s\n", line);
}

static int run_batch(struct top_set *set, long n, double delay, int json) {
  int rc = 0, blocks = 0;
  /* A first sample, not shown: every snapshot printed, the first one too
   * (-n 1), has rates over -d. */
  char err0[256];
  if (top_set_refresh(set, err0, sizeof err0) != PROF_READ_OK) {
    fprintf(stderr, "maestro-top: %s\n", err0);
    return 1;
  }
  for (long i = 0; n <= 0 || i < n; i++) {
    char err[256];
    /* Ended at the first sample: that one is its last, shown as it is. */
    int sample = !(i == 0 && top_set_ended(set));
    if (sample) sleep_s(delay);
    if (sample && top_set_refresh(set, err, sizeof err) != PROF_READ_OK) {
      fprintf(stderr, "maestro-top: %s\n", err);
      rc = 1;
      break;
    }
    for (int k = 0; k < set->n; k++) {
      struct top_runtime *t = &set->rt[k];
      if (t->ended && !t->just_ended) continue; /* its last snapshot was shown */
      struct top_view *v = &t->v;
      view_sort_agents(v, v->has_prev ? COL_FIRES_S : COL_FIRES, 0);
      if (json) {
        write_json(stdout, v);
        continue;
      }
      if (blocks++ > 0) putchar('\n');
      render_header(v, t->ended ? (prof_pid_alive(set->pid) ? "[ended]" : "[exited]") : NULL,
                    print_line, stdout);
      putchar('\n');
      render_places(v, print_line, stdout);
      putchar('\n');
      render_agents(v, v->has_prev ? COL_FIRES_S : COL_FIRES, -1, print_line, stdout);
      putchar('\n');
      render_chans(v, -1, print_line, stdout);
    }
    fflush(stdout);
    if (top_set_ended(set)) {
      if (n <= 0 || i + 1 < n)
        fprintf(stderr, "maestro-top: process %d has exited (that was its last snapshot)\n",
                set->pid);
      break;
    }
  }
  /* Killed while watched: nothing else will remove its segments. */
  if (top_set_ended(set)) top_set_clean_if_gone(set);
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
  static struct top_set set;
  if (attach(pid, &set)) return 1;
  int rc = batch ? run_batch(&set, n, delay, json) : run_ui(&set, delay);
  top_set_free(&set);
  return rc;
}
