# The engine (issue 3): graphs, agents, channels, buffers, scheduling,
# supervision, stats, DOT. Public API only; CPU places only.
maestro_add_test(engine_flow SOURCES engine_flow.c TIMEOUT 120)
maestro_add_test(engine_validate SOURCES engine_validate.c TIMEOUT 60)
maestro_add_test(engine_supervise SOURCES engine_supervise.c TIMEOUT 120)
# Aligned joins under SKIP: a diamond whose join always pairs copies of one source message.
maestro_add_test(engine_join SOURCES engine_join.c TIMEOUT 120)
maestro_add_test(engine_sched SOURCES engine_sched.c TIMEOUT 120)
# Hundreds of random graphs; MAESTRO_STRESS_SEED replays a run,
# MAESTRO_STRESS_GRAPHS sets how many.
maestro_add_test(engine_stress SOURCES engine_stress.c TIMEOUT 300 LABELS stress)
# Stateless agents fire on several workers at once, in input order.
maestro_add_test(engine_stateless SOURCES engine_stateless.c TIMEOUT 60)
# Counts allocator calls (defines malloc itself; a plain check in sanitizer builds).
maestro_add_test(engine_alloc SOURCES engine_alloc.c TIMEOUT 60)
# A failed firing's own message in maestro_graph_wait and in dead letters' .reason.
maestro_add_test(engine_errors SOURCES engine_errors.c TIMEOUT 60)
# Issue 13: destroy while waiting, calls refused inside a firing, cycles that
# can never end, statuses no firing may return.
maestro_add_test(engine_guard SOURCES engine_guard.c TIMEOUT 120)
# .on_end: final messages after every input ended, before end-of-stream.
maestro_add_test(engine_end SOURCES engine_end.c TIMEOUT 60)
# maestro_buf_truncate (also with the fake device: its replicas are freed).
maestro_add_test(engine_truncate SOURCES engine_truncate.c TIMEOUT 60)
# Element sizes on input ports, MAESTRO_RECORD ports.
maestro_add_test(engine_record SOURCES engine_record.c TIMEOUT 60)
# Issue 13: random graphs under injected faults (Debug builds; others run
# them without faults). A few seconds here; tools/soak.sh runs it for minutes.
maestro_add_test(engine_soak SOURCES engine_soak.c TIMEOUT 120 LABELS stress
                 ENV MAESTRO_SOAK_SECONDS=3)
# Issue 13: MAESTRO_FAULTS parsing, each injection point, and a borrowed
# input sent without a retain.
maestro_add_test(engine_faults SOURCES engine_faults.c TIMEOUT 60)
# Issue 12: .period_ms: periodic sources and timeout firings.
maestro_add_test(engine_timer SOURCES engine_timer.c TIMEOUT 120)
# Issue 12: bundled file source and sink (maestro/io.h).
maestro_add_test(engine_io SOURCES engine_io.c TIMEOUT 120)
# Issue 9 (batched ring publication): chains and a fan-in across two cores,
# capacities 1-3, exact counts and order, backpressure bound, end-of-stream last.
maestro_add_test(engine_cross SOURCES engine_cross.c TIMEOUT 120)
