/* What a CPU-only program pays for OpenCL it does not use: start-up time and
 * peak resident memory of a fresh process that creates a runtime, runs a
 * small CPU-only graph and destroys it, with the default configuration
 * (devices discovered when first needed) against MAESTRO_DEVICES=none, the
 * baseline measured in the same run. A third mode asks for the devices
 * (maestro_runtime_nplaces), to show what discovery itself costs.
 *
 * Usage: startup [ROUNDS]   (each round: one fresh process per mode)
 * Goal (issue 8): default <= 2x the baseline's time and <= 16 MiB more
 * resident memory. Exits non-zero when a child fails or a message is lost. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "maestro.h"

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Peak resident memory of this process, in KiB (VmHWM). */
static long peak_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "VmHWM:", 6)) v = strtol(line + 6, NULL, 10);
  if (f) fclose(f);
  return v;
}

static int twice(maestro_fire_t *f) {
  maestro_buf_t *in = maestro_fire_in(f, 0), *out;
  int rc = maestro_fire_alloc(f, sizeof(uint64_t), &out);
  if (rc) return rc;
  uint64_t v;
  memcpy(&v, maestro_buf_cdata(in), sizeof v);
  v *= 2;
  memcpy(maestro_buf_data(out), &v, sizeof v);
  return maestro_fire_out(f, 0, out);
}

/* The child: one runtime, a host -> agent -> host graph of 100 messages. */
static int child(const char *mode) {
  double t0 = now_ms();
  maestro_config_t cfg;
  maestro_config_defaults(&cfg);
  cfg.stats = 0;
  if (!strcmp(mode, "none")) cfg.devices = "none";
  maestro_runtime_t *rt;
  if (maestro_runtime_create(&cfg, &rt)) bench_fail("startup", "%s", maestro_last_error());
  if (!strcmp(mode, "ask") && maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE) < 0)
    bench_fail("startup", "%s", maestro_last_error());
  static const maestro_port_t in[] = {{"in", MAESTRO_I64, 0}}, out[] = {{"out", MAESTRO_I64, 0}};
  maestro_graph_t *g;
  maestro_agent_t *a;
  maestro_input_t *src;
  maestro_output_t *dst;
  if (maestro_graph_create(rt, "startup", &g) ||
      maestro_agent_add(
          g,
          &(maestro_agent_desc_t){
              .name = "twice", .in = in, .n_in = 1, .out = out, .n_out = 1, .cpu = twice},
          &a) ||
      maestro_graph_input(g, a, "in", &src) || maestro_graph_output(g, a, "out", &dst) ||
      maestro_graph_start(g))
    bench_fail("startup", "%s", maestro_last_error());
  for (uint64_t i = 0; i < 100; i++) {
    maestro_buf_t *b;
    if (maestro_buf_from(rt, &i, sizeof i, &b) || maestro_input_push(src, b))
      bench_fail("startup", "push: %s", maestro_last_error());
  }
  maestro_input_close(src);
  uint64_t want = 0;
  maestro_buf_t *b;
  while (maestro_output_pop(dst, &b, -1) == MAESTRO_OK) {
    uint64_t v;
    memcpy(&v, maestro_buf_cdata(b), sizeof v);
    maestro_buf_release(b);
    if (v != 2 * want)
      bench_fail("startup", "message %llu: got %llu", (unsigned long long)want,
                 (unsigned long long)v);
    want++;
  }
  if (want != 100 || maestro_graph_wait(g))
    bench_fail("startup", "%llu of 100 messages", (unsigned long long)want);
  maestro_graph_destroy(g);
  maestro_runtime_destroy(rt);
  printf("%.3f %ld\n", now_ms() - t0, peak_kib());
  return 0;
}

/* Runs `self --child mode` and reads its time and peak memory. */
static void run_child(const char *self, const char *mode, double *ms, long *kib) {
  int fd[2];
  if (pipe(fd)) bench_fail("startup", "pipe");
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fd[1], 1);
    close(fd[0]);
    execl(self, self, "--child", mode, (char *)NULL);
    _exit(127);
  }
  close(fd[1]);
  char buf[128] = {0};
  ssize_t n = read(fd[0], buf, sizeof buf - 1);
  close(fd[0]);
  int st;
  waitpid(pid, &st, 0);
  if (n <= 0 || !WIFEXITED(st) || WEXITSTATUS(st) || sscanf(buf, "%lf %ld", ms, kib) != 2)
    bench_fail("startup", "the %s child failed", mode);
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "--child")) return child(argv[2]);
  int rounds = argc > 1 ? atoi(argv[1]) : 9;
  if (rounds < 1) rounds = 1;
  const char *modes[3] = {"none", "default", "ask"};
  double *ms = calloc((size_t)rounds * 3, sizeof *ms);
  long kib[3] = {0};
  for (int r = 0; r < rounds; r++)
    for (int m = 0; m < 3; m++) { /* alternating: the machine's noise hits every mode */
      long k;
      run_child("/proc/self/exe", modes[m], &ms[m * rounds + r], &k);
      if (k > kib[m]) kib[m] = k;
    }
  double med[3];
  for (int m = 0; m < 3; m++) {
    qsort(ms + m * rounds, (size_t)rounds, sizeof *ms, cmp_d);
    med[m] = ms[m * rounds + rounds / 2];
  }
  printf("startup: fresh process, runtime + 100-message CPU graph + destroy, median of %d\n",
         rounds);
  printf("  MAESTRO_DEVICES=none (baseline): %8.2f ms, peak RSS %6.1f MiB\n", med[0],
         kib[0] / 1024.0);
  printf(
      "  default (lazy devices):          %8.2f ms, peak RSS %6.1f MiB  -> %.2fx time, %+.1f MiB\n",
      med[1], kib[1] / 1024.0, med[1] / med[0], (kib[1] - kib[0]) / 1024.0);
  printf(
      "  devices asked for:               %8.2f ms, peak RSS %6.1f MiB  -> %.2fx time, %+.1f MiB\n",
      med[2], kib[2] / 1024.0, med[2] / med[0], (kib[2] - kib[0]) / 1024.0);
  free(ms);
  return 0;
}
