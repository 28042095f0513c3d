# The seam every backend plugs into (issue 8): a test-only backend
# (backend_fake.c: a fake device with memory of its own and a thread of its
# own) registered with one line, and the engine's graph tests run again
# with it, so that agents fire there and messages cross to it and back.
foreach(suite flow supervise stateless validate errors end truncate record)
  maestro_add_test(engine_${suite}_fake SOURCES engine_${suite}.c backend_fake.c TIMEOUT 180
                   LABELS backend)
  target_compile_definitions(engine_${suite}_fake PRIVATE ENG_FAKE_DEVICE)
endforeach()
# Placement by measured cost that measures again (issue 9), on the fake device.
maestro_add_test(sched_learn SOURCES sched_learn.c backend_fake.c TIMEOUT 120 LABELS backend)
# Device failover (issue 13): two fake devices, the first refusing launches.
maestro_add_test(engine_failover SOURCES engine_failover.c backend_fake.c TIMEOUT 120
                 LABELS backend)
# Issue 12: timers with the fake device registered (an agent with a timeout
# stays on the CPU runner that makes its timeout firings).
maestro_add_test(engine_timer_fake SOURCES engine_timer.c backend_fake.c TIMEOUT 120
                 LABELS backend)
target_compile_definitions(engine_timer_fake PRIVATE ENG_FAKE_DEVICE)
