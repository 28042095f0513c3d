/* The on-disk kernel cache entry as bytes (backend/opencl/cache_entry.c),
 * without a device: which files pass the checks, and what the argument
 * descriptions answer. tests/fuzz/fuzz_kcache fuzzes the same functions. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backend/opencl/cache_entry.h"
#include "base/hash.h"
#include "testmain.h"

enum { KEY = 0x1234 };
static const char bin[] = "pretend device binary";
static const char meta[] = "K\tscale\t3\nA\t4507\tfloat*\nA\t4507\tfloat*\nA\t0\tuint\n"
                           "K\tcopy\t1\nA\t4506\tuchar*\n";

/* An entry as program.c writes it; returns its size. */
static size_t entry(unsigned char *out) {
  ocl_cache_header_t h = {.version = OCL_CACHE_VERSION,
                          .header_bytes = sizeof h,
                          .key = KEY,
                          .bin_bytes = sizeof bin,
                          .meta_bytes = (sizeof meta - 1)};
  memcpy(h.magic, ocl_cache_magic, sizeof h.magic);
  h.checksum = hash_fnv1a(hash_fnv1a(HASH_FNV_SEED, bin, sizeof bin), meta, (sizeof meta - 1));
  memcpy(out, &h, sizeof h);
  memcpy(out + sizeof h, bin, sizeof bin);
  memcpy(out + sizeof h + sizeof bin, meta, (sizeof meta - 1));
  return sizeof h + sizeof bin + (sizeof meta - 1);
}

static void test_check(void) {
  unsigned char f[512], g[512];
  size_t n = entry(f), b = 7, m = 7;
  CU_ASSERT_EQUAL(ocl_cache_entry_check(f, n, KEY, &b, &m), 1);
  CU_ASSERT_EQUAL(b, sizeof bin);
  CU_ASSERT_EQUAL(m, (sizeof meta - 1));
  CU_ASSERT_EQUAL(ocl_cache_entry_check(f, n, KEY + 1, &b, &m), 0); /* another device's */
  CU_ASSERT_EQUAL(b, 0);
  CU_ASSERT_EQUAL(m, 0);
  CU_ASSERT_EQUAL(ocl_cache_entry_check(f, n - 1, KEY, &b, &m), 0); /* cut short */
  CU_ASSERT_EQUAL(ocl_cache_entry_check(f, sizeof(ocl_cache_header_t) - 1, KEY, &b, &m), 0);
  /* Every byte of the file matters: magic, version, sizes, checksum, data. */
  int passed = 0;
  for (size_t i = 0; i < n; i++) {
    memcpy(g, f, n);
    g[i] ^= 0x40;
    passed += ocl_cache_entry_check(g, n, KEY, &b, &m);
  }
  CU_ASSERT_EQUAL(passed, 0);
  /* Lengths whose sum wraps to the file's size. */
  ocl_cache_header_t h;
  memcpy(&h, f, sizeof h);
  h.bin_bytes = UINT64_MAX;
  h.meta_bytes = n - sizeof h + 1;
  memcpy(g, &h, sizeof h);
  memcpy(g + sizeof h, f + sizeof h, n - sizeof h);
  CU_ASSERT_EQUAL(ocl_cache_entry_check(g, n, KEY, &b, &m), 0);
}

static void test_meta_arg(void) {
  unsigned aq = 0;
  char type[16];
  CU_ASSERT_EQUAL(ocl_cache_meta_arg(meta, "scale", 2, &aq, type, sizeof type), 1);
  CU_ASSERT_EQUAL(aq, 0);
  CU_ASSERT_STRING_EQUAL(type, "uint");
  CU_ASSERT_EQUAL(ocl_cache_meta_arg(meta, "copy", 0, &aq, type, sizeof type), 1);
  CU_ASSERT_EQUAL(aq, 4506);
  CU_ASSERT_STRING_EQUAL(type, "uchar*");
  CU_ASSERT_EQUAL(ocl_cache_meta_arg(meta, "copy", 0, &aq, type, 4), 1); /* cut */
  CU_ASSERT_STRING_EQUAL(type, "uch");
  aq = 99;
  CU_ASSERT_EQUAL(ocl_cache_meta_arg(meta, "copy", 1, &aq, type, sizeof type), 0);
  CU_ASSERT_EQUAL(ocl_cache_meta_arg(meta, "scal", 0, &aq, type, sizeof type), 0);
  CU_ASSERT_EQUAL(ocl_cache_meta_arg(meta, "missing", 0, &aq, type, sizeof type), 0);
  CU_ASSERT_EQUAL(ocl_cache_meta_arg("K\tk\t2\nA\t1\tint\n", "k", 1, &aq, type, sizeof type), 0);
  CU_ASSERT_EQUAL(ocl_cache_meta_arg("K\tk\t1\nA\t1\tint", "k", 0, &aq, type, sizeof type), 0);
  CU_ASSERT_EQUAL(ocl_cache_meta_arg("", "k", 0, &aq, type, sizeof type), 0);
  CU_ASSERT_EQUAL(aq, 99);
}

void register_suites(void) {
  ADD_SUITE("ocl_cache_entry", NULL, NULL, {"check", test_check}, {"meta_arg", test_meta_arg});
}
