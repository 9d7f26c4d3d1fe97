# Jet kernels and the network plugins (mlp, msff).
hp_add_test(test_jets SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_jets.c TIMEOUT 60)
