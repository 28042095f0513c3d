/* Prints the runtime's place counts as JSON, for check_info.py to compare
 * with maestro-info --json under the same environment. */
#include <stdio.h>

#include "maestro.h"

int main(void) {
  maestro_runtime_t *rt;
  int rc = maestro_runtime_create(NULL, &rt);
  if (rc != MAESTRO_OK) {
    fprintf(stderr, "count_places: %s\n", maestro_last_error());
    return 1;
  }
  printf("{\"cpus\": %d, \"devices\": %d}\n", maestro_runtime_nplaces(rt, MAESTRO_PLACE_CPU),
         maestro_runtime_nplaces(rt, MAESTRO_PLACE_DEVICE));
  maestro_runtime_destroy(rt);
  return 0;
}
