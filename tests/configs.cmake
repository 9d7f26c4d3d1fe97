# A smoke run (two iterations per stage) of every config in configs/ and its
# subdirectories: a shipped config that no longer runs fails the suite.
add_test(NAME test_configs COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_configs.sh)
set_tests_properties(test_configs PROPERTIES TIMEOUT 900
  ENVIRONMENT "HPINN_SOURCE_DIR=${CMAKE_SOURCE_DIR};HPINN_BUILD_DIR=${CMAKE_BINARY_DIR};HPINN_PLUGIN_PATH=")
