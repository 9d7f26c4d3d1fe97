# Tests of the core foundation: config (YAML, params, overrides), expressions,
# registry (with real test plugins), and the CLI driven as a subprocess.
set(hp_test_plugin_dir ${CMAKE_BINARY_DIR}/tests/plugins)
foreach(variant GOOD BAD_ABI NO_SYMBOL NULL_STEP CTOR PARTIAL_STATE SHORT_OPS OLD_OPS)
  string(TOLOWER ${variant} v)
  string(REPLACE "_" "" v ${v})
  hp_add_plugin(NAME test${v} SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/plugins/test_plugins.c
                OUTPUT_DIRECTORY ${hp_test_plugin_dir})
  target_compile_definitions(hpinn_plugin_test${v} PRIVATE ${variant})
endforeach()
# the same plugin file name in two directories (dup_a before dup_b on the path)
foreach(dup a b)
  hp_add_plugin(NAME testdup_${dup} SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/plugins/test_plugins.c
                OUTPUT_DIRECTORY ${hp_test_plugin_dir}/dup_${dup})
  set_target_properties(hpinn_plugin_testdup_${dup} PROPERTIES OUTPUT_NAME hpinn_testdup)
  target_compile_definitions(hpinn_plugin_testdup_${dup} PRIVATE DUP_NAME="${dup}")
endforeach()
add_custom_target(hp_test_plugins DEPENDS hpinn_plugin_testgood hpinn_plugin_testbadabi
  hpinn_plugin_testnosymbol hpinn_plugin_testnullstep hpinn_plugin_testctor hpinn_plugin_testpartialstate hpinn_plugin_testshortops
  hpinn_plugin_testoldops
  hpinn_plugin_testdup_a
  hpinn_plugin_testdup_b)

# TIMEOUT: the hostile inputs of test_config must stay fast (each took 10-40 s
# before the loader's limits); the bound is generous for sanitizer builds.
hp_add_test(test_config SOURCES test_config.c TIMEOUT 120)
add_dependencies(test_config hp_test_plugins)
hp_add_test(test_expr SOURCES test_expr.c)
hp_add_test(test_registry SOURCES test_registry.c)
add_dependencies(test_registry hp_test_plugins)
hp_add_test(test_cli SOURCES test_cli.c TIMEOUT 120)
add_dependencies(test_cli hpinn_cli hp_test_plugins)
hp_add_test(test_blas_kernel SOURCES test_blas_kernel.c)
add_dependencies(test_blas_kernel hpinn_cli)

# Install into a temporary prefix and build docs/examples/ against it.
add_test(NAME test_install COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_install.sh)
set(hp_install_env "HPINN_SOURCE_DIR=${CMAKE_SOURCE_DIR};HPINN_BUILD_DIR=${CMAKE_BINARY_DIR};HPINN_PLUGIN_PATH=")
if(HPINN_SANITIZE)
  # the installed hpinn is instrumented; the example plugin is built the same way
  list(APPEND hp_install_env "HPINN_EXAMPLE_CFLAGS=-fsanitize=address,undefined")
endif()
set_tests_properties(test_install PROPERTIES ENVIRONMENT "${hp_install_env}" TIMEOUT 300)
