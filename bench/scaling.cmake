# Data-parallel scaling (docs/scaling.md): bench_comm times one checked sum over
# the ranks; bench_scaling.sh runs one 2-D pipeline on 1 rank x 2 threads and
# 2 ranks x 1 thread and prints ms per iteration and the communication share.
if(HPINN_MPI)
  hp_add_bench(bench_comm SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_comm.c)
endif()
