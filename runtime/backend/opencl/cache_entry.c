/* The on-disk kernel cache entry as bytes (see cache_entry.h). */
#include "backend/opencl/cache_entry.h"

#include <stdio.h>
#include <string.h>

#include "base/hash.h"

const char ocl_cache_magic[8] = {'M', 'A', 'E', 'S', 'T', 'R', 'O', 'K'};

int ocl_cache_entry_check(const unsigned char *file, size_t n, uint64_t key, size_t *bin_len,
                          size_t *meta_len) {
  ocl_cache_header_t h;
  *bin_len = *meta_len = 0;
  if (n < sizeof h) return 0;
  memcpy(&h, file, sizeof h);
  /* Each length on its own first: their sum must not wrap. */
  if (memcmp(h.magic, ocl_cache_magic, sizeof h.magic) != 0 || h.version != OCL_CACHE_VERSION ||
      h.header_bytes != sizeof h || h.key != key || h.bin_bytes == 0 || h.bin_bytes > n ||
      h.meta_bytes > n || h.bin_bytes + h.meta_bytes != n - sizeof h)
    return 0;
  if (hash_fnv1a(HASH_FNV_SEED, file + sizeof h, n - sizeof h) != h.checksum) return 0;
  *bin_len = (size_t)h.bin_bytes;
  *meta_len = (size_t)h.meta_bytes;
  return 1;
}

int ocl_cache_meta_arg(const char *meta, const char *kernel, unsigned i, unsigned *aq, char *type,
                       size_t type_len) {
  size_t klen = strlen(kernel);
  for (const char *l = meta; l && *l;) {
    const char *eol = strchr(l, '\n');
    if (!eol) return 0;
    unsigned nargs = 0;
    if (l[0] == 'K' && l[1] == '\t' && !strncmp(l + 2, kernel, klen) && l[2 + klen] == '\t' &&
        sscanf(l + 3 + klen, "%u", &nargs) == 1 && i < nargs) {
      const char *a = eol + 1;
      for (unsigned k = 0; k < i && a; k++) {
        a = strchr(a, '\n');
        if (a) a++;
      }
      unsigned q = 0;
      int off = 0;
      const char *end = a ? strchr(a, '\n') : NULL;
      if (end && a[0] == 'A' && sscanf(a, "A\t%u\t%n", &q, &off) == 1 && off > 0 &&
          a + off <= end) {
        size_t len = (size_t)(end - (a + off));
        if (len >= type_len) len = type_len - 1;
        memcpy(type, a + off, len);
        type[len] = 0;
        *aq = q;
        return 1;
      }
      return 0;
    }
    l = eol + 1;
  }
  return 0;
}
