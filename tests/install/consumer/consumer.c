/* The smallest outside program: includes the installed header, creates a
 * runtime on the default places and prints what it found. Exits 0 only when
 * the library works. */
#include <maestro.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  if (strcmp(maestro_version(), MAESTRO_VERSION_STRING) != 0) {
    fprintf(stderr, "header %s, library %s\n", MAESTRO_VERSION_STRING, maestro_version());
    return 1;
  }
  maestro_config_t cfg;
  if (maestro_config_defaults(&cfg) != MAESTRO_OK) {
    fprintf(stderr, "config: %s\n", maestro_last_error());
    return 1;
  }
  maestro_runtime_t *rt;
  int rc = maestro_runtime_create(&cfg, &rt);
  if (rc != MAESTRO_OK) {
    fprintf(stderr, "runtime: %s: %s\n", maestro_strerror(rc), maestro_last_error());
    return 1;
  }
  int ncpu = maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU);
  int ndev = maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE);
  printf("maestro %s: %d CPU places, %d device places\n", maestro_version(), ncpu, ndev);
  maestro_runtime_destroy(rt);
  return ncpu > 0 ? 0 : 1;
}
