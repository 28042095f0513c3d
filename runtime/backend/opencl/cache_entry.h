/* The on-disk kernel cache entry (program.c) as bytes: its header, the
 * checks a file must pass before its binary reaches the driver, and the
 * argument descriptions it carries. No OpenCL calls and no file system
 * here, so that the checks can be fuzzed on their own (tests/fuzz). */
#ifndef MAESTRO_BACKEND_OPENCL_CACHE_ENTRY_H
#define MAESTRO_BACKEND_OPENCL_CACHE_ENTRY_H

#include <stddef.h>
#include <stdint.h>

/* An entry: this header, the device binary, then the kernels' argument
 * descriptions (text, see ocl_cache_meta_arg). */
enum { OCL_CACHE_VERSION = 1 };
extern const char ocl_cache_magic[8];
typedef struct {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;
  uint64_t key;       /* program.c's disk_key: a renamed or swapped file is refused */
  uint64_t bin_bytes; /* the device binary */
  uint64_t meta_bytes;
  uint64_t checksum; /* hash_fnv1a (base/hash.h) over the binary and the descriptions */
} ocl_cache_header_t;

/* 1 when the `n` bytes at `file` are a whole, unaltered entry for `key`
 * (magic, version, header size, key, lengths adding up to the file's,
 * checksum), with its binary at file + sizeof(ocl_cache_header_t),
 * `*bin_len` bytes, followed by `*meta_len` bytes of descriptions; else 0. */
int ocl_cache_entry_check(const unsigned char *file, size_t n, uint64_t key, size_t *bin_len,
                          size_t *meta_len);

/* Argument `i` of kernel `kernel` in the descriptions `meta` (NUL-
 * terminated; one line per kernel then one per argument:
 *   K<TAB>name<TAB>nargs\n  A<TAB>address qualifier<TAB>type name\n):
 * its qualifier and type name (cut to type_len - 1 characters). 1 when
 * found, else 0. */
int ocl_cache_meta_arg(const char *meta, const char *kernel, unsigned i, unsigned *aq, char *type,
                       size_t type_len);

#endif
