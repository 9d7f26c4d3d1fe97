# Jet kernels and the network plugins (mlp, msff).
hp_add_test(test_jets SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_jets.c TIMEOUT 60)
# The network tests load the plugins through the registry (build tree).
hp_add_test(test_mlp SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_mlp.c TIMEOUT 60)
add_dependencies(test_mlp hpinn_plugin_mlp)
hp_add_test(test_msff SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_msff.c TIMEOUT 60)
add_dependencies(test_msff hpinn_plugin_msff)
# hpinn's network runner (tapes, chunks, the thread team), with the msff plugin.
hp_add_test(test_network_runner SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_network_runner.c TIMEOUT 60)
add_dependencies(test_network_runner hpinn_plugin_msff)
