# Fine-scale P1 solve timing (CHOLMOD vs banded LAPACK) and the paper's reference
# K̃ values (the numbers in docs/results.md).
hp_add_bench(bench_fine_solve SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_fine_solve.c)
add_dependencies(bench_fine_solve hpinn_plugin_p1_2d)
hp_add_bench(bench_upscale_paper SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_upscale_paper.c)
add_dependencies(bench_upscale_paper hpinn_plugin_p1_1d hpinn_plugin_p1_2d hpinn_plugin_global
                 hpinn_plugin_blocks)
