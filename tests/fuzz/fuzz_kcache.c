/* libFuzzer target: the on-disk kernel cache entry's checks and the
 * argument descriptions it carries (runtime/backend/opencl/cache_entry.c),
 * what program.c runs on a cache file before its binary reaches
 * clCreateProgramWithBinary. Input:
 *   u8 flags   bit 0: fix up the checksum, bit 1: fix up the key (so that
 *              the fuzzer gets past them to the lengths and descriptions)
 *   u8 arg     the argument asked for
 *   u8 type_len
 *   kernel name, NUL-terminated
 *   the cache file's bytes
 * The descriptions of an entry that passes are queried as program.c does;
 * the bytes after the header are also queried as descriptions whatever the
 * checks say (a checksum is no protection against a file made on purpose). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/opencl/cache_entry.h"
#include "base/hash.h"

#define KCACHE_KEY 0x6d61657374726f21ull /* also in seeds.c */

static void query(const char *meta, const char *kernel, unsigned arg, size_t type_len) {
  /* An exact-size buffer: AddressSanitizer sees a write past type_len. */
  char *type = malloc(type_len);
  if (!type) return;
  unsigned aq = 12345;
  if (ocl_cache_meta_arg(meta, kernel, arg, &aq, type, type_len)) {
    size_t n = strnlen(type, type_len);
    if (n >= type_len || memchr(type, '\n', n)) abort();
  } else if (aq != 12345) {
    abort(); /* not found: nothing written */
  }
  free(type);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 4) return 0;
  unsigned flags = data[0], arg = data[1];
  size_t type_len = (size_t)data[2] + 1;
  const uint8_t *name = data + 3;
  const uint8_t *nul = memchr(name, '\0', size - 3);
  if (!nul) return 0;
  const char *kernel = (const char *)name;
  size_t n = size - (size_t)(nul + 1 - data);
  unsigned char *file = malloc(n ? n : 1);
  if (!file) return 0;
  if (n) memcpy(file, nul + 1, n);

  const size_t hsz = sizeof(ocl_cache_header_t);
  if (n >= hsz) {
    ocl_cache_header_t h;
    memcpy(&h, file, hsz);
    if (flags & 2) h.key = KCACHE_KEY;
    if (flags & 1) h.checksum = hash_fnv1a(HASH_FNV_SEED, file + hsz, n - hsz);
    memcpy(file, &h, hsz);
  }
  size_t bin = 99, mlen = 99;
  if (ocl_cache_entry_check(file, n, KCACHE_KEY, &bin, &mlen)) {
    if (!bin || bin + mlen + hsz != n) abort();
    /* As load_binary: the descriptions, NUL-terminated, on their own. */
    char *meta = malloc(mlen + 1);
    if (!meta) abort();
    memcpy(meta, file + hsz + bin, mlen);
    meta[mlen] = 0;
    query(meta, kernel, arg, type_len);
    free(meta);
  } else if (bin || mlen) {
    abort();
  }
  if (n > hsz) {
    char *text = malloc(n - hsz + 1);
    if (!text) abort();
    memcpy(text, file + hsz, n - hsz);
    text[n - hsz] = 0;
    query(text, kernel, arg, type_len);
    free(text);
  }
  free(file);
  return 0;
}
