/* maestro-top's interactive screen: header, places panel, then the agents
 * table or the channels view (Tab). Keys as in top: q quit, h help,
 * s / < / > sort column, r reverse, p pause, d delay. */
#include "ui.h"

#include <curses.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"
#include "output.h"

struct screen {
  int row;
  int rows, cols;
};

static void put_line(void *ctx, enum line_style style, const char *line) {
  struct screen *s = ctx;
  if (s->row >= s->rows - 1) return; /* the last row is the status line */
  if (style == LINE_COLUMNS) attron(A_REVERSE);
  if (style == LINE_TITLE) attron(A_BOLD);
  mvaddnstr(s->row, 0, line, s->cols);
  if (style == LINE_COLUMNS) {
    /* extend the highlight over the whole width */
    int len = (int)strlen(line);
    for (int c = len; c < s->cols; c++)
      mvaddch(s->row, c, ' ');
    attroff(A_REVERSE);
  }
  if (style == LINE_TITLE) attroff(A_BOLD);
  s->row++;
}

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void start_curses(void) {
  initscr();
  cbreak();
  noecho();
  keypad(stdscr, TRUE);
  curs_set(0);
  timeout(100);
}

int ui_pick(const struct prof_proc *procs, int n) {
  start_curses();
  int sel = 0, pid = 0;
  for (;;) {
    erase();
    attron(A_BOLD);
    mvprintw(0, 0,
             "maestro-top: %d Maestro programs run. Up/Down to choose, Enter to attach, q "
             "to quit.",
             n);
    attroff(A_BOLD);
    attron(A_REVERSE);
    mvprintw(2, 0, "%8s  %-30s %s", "PID", "PROGRAM", "SEGMENT");
    attroff(A_REVERSE);
    for (int i = 0; i < n && i + 3 < LINES; i++) {
      if (i == sel) attron(A_STANDOUT);
      char prog[TOP_ESC_NAME], name[4 * sizeof procs[i].shm_name];
      mvprintw(3 + i, 0, "%8d  %-30.30s %s", procs[i].pid,
               top_escape(prog, sizeof prog, procs[i].program),
               top_escape(name, sizeof name, procs[i].shm_name));
      if (i == sel) attroff(A_STANDOUT);
    }
    refresh();
    int ch = getch();
    if (ch == 'q' || ch == 27) break;
    if ((ch == KEY_UP || ch == 'k') && sel > 0) sel--;
    if ((ch == KEY_DOWN || ch == 'j') && sel + 1 < n) sel++;
    if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
      pid = procs[sel].pid;
      break;
    }
  }
  endwin();
  return pid;
}

static void draw_help(void) {
  static const char *const lines[] = {
      "maestro-top keys",
      "",
      "  q        quit",
      "  h or ?   this help (any key returns)",
      "  Tab      switch between the agents table and the channels view",
      "  s or >   sort by the next column;  <  the previous column",
      "  r        reverse the sort order",
      "  p        pause / resume refreshing",
      "  d        set the refresh delay in seconds",
      "",
      "Counters are totals since start; rates are over the last refresh.",
      "AVG is the average firing time, QUEUE the messages waiting on inputs.",
      "STATE: running (firing), waiting (for input), blocked (output full),",
      "       finished, failed, idle (not started), remote (another rank owns it).",
      "A MAESTRO_RANK_ANY agent has a line under its row: on rank 0 the firings",
      "each rank answered (ranks: r0 812 (40.6%), ...), on another rank those it",
      "served for rank 0 (served for rank 0: 790).",
  };
  erase();
  for (size_t i = 0; i < sizeof lines / sizeof lines[0] && (int)i < LINES; i++)
    mvaddnstr((int)i, 0, lines[i], COLS);
  refresh();
}

/* Reads a number of seconds on the status line. */
static double ask_delay(double cur) {
  char buf[32] = {0};
  move(LINES - 1, 0);
  clrtoeol();
  mvprintw(LINES - 1, 0, "Delay in seconds [%.2f]: ", cur);
  echo();
  curs_set(1);
  timeout(-1);
  getnstr(buf, (int)sizeof buf - 1);
  noecho();
  curs_set(0);
  timeout(100);
  char *end;
  double d = strtod(buf, &end);
  if (end != buf && d >= 0.05 && d <= 3600) return d;
  return cur;
}

int run_ui(struct top_set *set, double delay) {
  start_curses();
  int view_chans = 0, paused = 0, help = 0, sort_col = COL_FIRES_S, reverse = 0, gone = 0;
  double next = 0;
  char err[256] = "";
  int rc = 0;
  for (;;) {
    double now = mono_s();
    if (!paused && !gone && now >= next) {
      if (top_set_refresh(set, err, sizeof err) == PROF_READ_OK) {
        err[0] = '\0';
        gone = top_set_ended(set);
        /* Killed while watched: nothing else will remove its segments. */
        if (gone) top_set_clean_if_gone(set);
      }
      next = now + delay;
    }
    if (help) {
      draw_help();
    } else {
      erase();
      struct screen sc = {0, LINES, COLS};
      /* Each runtime of the process gets a block: header, places, then
       * its share of the rows left for its agents or channels. */
      for (int k = 0; k < set->n; k++) {
        struct top_runtime *t = &set->rt[k];
        struct top_view *v = &t->v;
        view_sort_agents(
            v, v->has_prev ? sort_col : (sort_col == COL_FIRES_S ? COL_FIRES : sort_col), reverse);
        char status[64];
        snprintf(status, sizeof status, "%s%s", t->ended ? (gone ? "[exited] " : "[ended] ") : "",
                 paused ? "[paused]" : "");
        if (k > 0) sc.row++;
        render_header(v, status[0] ? status : NULL, put_line, &sc);
        sc.row++;
        render_places(v, put_line, &sc);
        sc.row++;
        int room = (LINES - 1 - sc.row) / (set->n - k) - 1 - (k + 1 < set->n);
        if (room < 0) room = 0;
        if (view_chans)
          render_chans(v, room, put_line, &sc);
        else
          render_agents(v, sort_col, room, put_line, &sc);
      }
      move(LINES - 1, 0);
      attron(A_DIM);
      if (err[0])
        mvaddnstr(LINES - 1, 0, err, COLS);
      else
        mvprintw(LINES - 1, 0, "%s view | sort %s%s | delay %.2fs | q quit  h help  Tab view",
                 view_chans ? "channels" : "agents", agent_col_names[sort_col],
                 reverse ? " (reversed)" : "", delay);
      attroff(A_DIM);
      refresh();
    }
    int ch = getch();
    if (ch == ERR) continue;
    if (help) {
      help = 0;
      if (ch != 'q') continue;
    }
    switch (ch) {
    case 'q': goto out;
    case 'h':
    case '?': help = 1; break;
    case '\t': view_chans = !view_chans; break;
    case 's':
    case '>': sort_col = (sort_col + 1) % COL_COUNT; break;
    case '<': sort_col = (sort_col + COL_COUNT - 1) % COL_COUNT; break;
    case 'r': reverse = !reverse; break;
    case 'p': paused = !paused; break;
    case 'd':
      delay = ask_delay(delay);
      next = 0;
      break;
    default: break;
    }
  }
out:
  endwin();
  return rc;
}
