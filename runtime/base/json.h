/* Small helpers to write JSON by hand (maestro-info, topo_describe). */
#ifndef MAESTRO_BASE_JSON_H
#define MAESTRO_BASE_JSON_H

#include <stdio.h>

/* Writes `s` as a JSON string literal, quotes included; NULL writes null. */
void json_write_str(FILE *f, const char *s);

#endif
