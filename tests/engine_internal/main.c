#include "testmain.h"

void register_ring_tests(void);
void register_pool_tests(void);
void register_smoke_tests(void);
void register_take_tests(void);

void register_suites(void) {
  register_ring_tests();
  register_pool_tests();
  register_smoke_tests();
  register_take_tests();
}
