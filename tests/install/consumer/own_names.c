/* An outside program that happens to define functions and a variable with
 * the names of Maestro's internals (ring_init, err_set, json_write_str,
 * topo_init, prof_seg_create). It must link against libmaestro.a as well as
 * libmaestro.so, and each side must keep calling its own: the library's
 * internal names are local to it. Exits 0 only when both hold. */
#include <maestro.h>
#include <stdio.h>

int ring_init_calls;

int ring_init(int x);
int err_set(int x);
void json_write_str(void);
int topo_init(int x);
int prof_seg_create(void);

int ring_init(int x) {
  ring_init_calls++;
  return x + 1;
}
int err_set(int x) {
  return x * 2;
}
void json_write_str(void) {}
int topo_init(int x) {
  return -x;
}
int prof_seg_create(void) {
  return 7;
}

int main(void) {
  maestro_runtime_t *rt;
  int rc = maestro_runtime_create(NULL, &rt);
  if (rc != MAESTRO_OK) {
    fprintf(stderr, "runtime: %s: %s\n", maestro_strerror(rc), maestro_last_error());
    return 1;
  }
  /* Creating the runtime runs the library's own topo_init and
   * prof_seg_create (the stats segment, on by default). */
  maestro_graph_t *g;
  rc = maestro_graph_create(rt, "own_names", &g);
  if (rc == MAESTRO_OK) maestro_graph_destroy(g);
  int ncpu = maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU);
  maestro_runtime_destroy(rt);
  if (rc != MAESTRO_OK || ncpu <= 0) return 1;
  /* The library never called ours; ours still answer. */
  if (ring_init_calls != 0) {
    fprintf(stderr, "the library called the program's ring_init %d times\n", ring_init_calls);
    return 1;
  }
  if (ring_init(1) != 2 || err_set(3) != 6 || topo_init(4) != -4 || prof_seg_create() != 7) {
    fprintf(stderr, "the program's own functions were replaced\n");
    return 1;
  }
  json_write_str();
  printf("own_names: the program's and the library's internal names do not clash\n");
  return 0;
}
