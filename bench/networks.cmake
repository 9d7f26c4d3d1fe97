# bench_networks: PINN residual iteration on the paper's msff networks, against
# the same network in PyTorch (bench_networks_torch.py, run by the benchmark).
hp_add_bench(bench_networks SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_networks.c)
target_compile_definitions(bench_networks PRIVATE
  HPINN_TORCH_SCRIPT="${CMAKE_CURRENT_SOURCE_DIR}/bench_networks_torch.py")
add_dependencies(bench_networks hpinn_plugin_msff)

# bench_time_to_accuracy: hpinn run against the PyTorch twin (Adam, then LBFGS)
# on one 1-D problem, wall time to rel. L2 1e-1/1e-2/1e-3 (docs/performance.md).
hp_add_bench(bench_time_to_accuracy SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_time_to_accuracy.c)
target_compile_definitions(bench_time_to_accuracy PRIVATE
  HPINN_SOURCE_DIR="${CMAKE_SOURCE_DIR}" HPINN_CLI="$<TARGET_FILE:hpinn_cli>")
add_dependencies(bench_time_to_accuracy hpinn_cli hpinn_plugin_msff)

# bench_gram: the row-run Gram matrix of lm against one plain SYRK on the 2-D
# hybrid Jacobian's block layout (docs/performance.md).
hp_add_bench(bench_gram SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_gram.c)
