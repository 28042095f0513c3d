/* FNV-1a, 64 bits: cache keys, file names and checksums of data we wrote
 * ourselves (not a defence against someone who wants a collision). */
#ifndef MAESTRO_BASE_HASH_H
#define MAESTRO_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV_SEED 0xcbf29ce484222325ull

/* Folds `n` bytes at `p` into `h` (start from HASH_FNV_SEED). */
static inline uint64_t hash_fnv1a(uint64_t h, const void *p, size_t n) {
  const unsigned char *s = p;
  for (size_t i = 0; i < n; i++) {
    h ^= s[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

#endif
