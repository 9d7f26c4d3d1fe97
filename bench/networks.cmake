# bench_networks: PINN residual iteration on the paper's msff networks, against
# the same network in PyTorch (bench_networks_torch.py, run by the benchmark).
hp_add_bench(bench_networks SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/bench_networks.c)
target_compile_definitions(bench_networks PRIVATE
  HPINN_TORCH_SCRIPT="${CMAKE_CURRENT_SOURCE_DIR}/bench_networks_torch.py")
add_dependencies(bench_networks hpinn_plugin_msff)
