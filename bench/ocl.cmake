# OpenCL offload (runtime/ocl): each against raw OpenCL in the same run.
maestro_add_bench(offload SOURCES ocl_offload.c TINY_ARGS --tiny TIMEOUT 180)
maestro_add_bench(transfer SOURCES ocl_transfer.c TINY_ARGS --tiny TIMEOUT 180)
maestro_add_bench(mixed_pipeline SOURCES ocl_mixed_pipeline.c TINY_ARGS --tiny TIMEOUT 180)
