# The scheduler's run queues (runtime/sched/deque.h, inject.h): the
# work-stealing deque with an owner and thieves, the inject queue with
# several producers; each item taken exactly once. Worth running under the
# tsan preset. SCHED_QUEUE_SEED repeats an interleaving (the seed is printed).
maestro_add_test(sched_deque
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/sched/test_deque.c
  TIMEOUT 120)
