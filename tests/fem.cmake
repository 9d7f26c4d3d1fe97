# P1 finite elements (p1_1d, p1_2d), the upscaling strategies (global, blocks)
# and the reference upscaling driver behind `hpinn upscale`.
# The tests reach the plugins through the registry (several plugins per test), so
# they depend on the plugin targets being built.
set(hp_fem_plugins hpinn_plugin_p1_1d hpinn_plugin_p1_2d hpinn_plugin_global hpinn_plugin_blocks)
foreach(t test_p1_1d test_p1_2d test_upscaling_global test_upscaling_blocks test_upscale_reference)
  hp_add_test(${t} SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/${t}.c TIMEOUT 120 LABELS fem)
  add_dependencies(${t} ${hp_fem_plugins})
endforeach()
