# Optimizer plugins: each test compiles its plugin's sources into the executable
# and reaches it through hp_plugin_entry(), so no plugin loading is involved.
set(hp_opt_dir ${CMAKE_SOURCE_DIR}/plugins/optimizers)
hp_add_test(test_adam SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_adam.c ${hp_opt_dir}/adam/adam.c
  LABELS optimizers TIMEOUT 60)
hp_add_test(test_lbfgs SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_lbfgs.c
  ${hp_opt_dir}/lbfgs/lbfgs.c ${hp_opt_dir}/lbfgs/more_thuente.c
  LABELS optimizers TIMEOUT 60)
target_include_directories(test_lbfgs PRIVATE ${hp_opt_dir}/lbfgs)
# hp_gram_lower (core/src/gram.c): the Gram matrix the Gauss–Newton optimizers share.
hp_add_test(test_gram SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_gram.c LABELS optimizers TIMEOUT 60)
hp_add_test(test_lm SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_lm.c ${hp_opt_dir}/lm/lm.c
  LABELS optimizers TIMEOUT 60)
# lm_cg: compiled in; dense lm and the hybrid's plugins are loaded from the build tree for comparison.
hp_add_test(test_lm_cg SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_lm_cg.c ${hp_opt_dir}/lm_cg/lm_cg.c
  LABELS optimizers TIMEOUT 120)
add_dependencies(test_lm_cg hpinn_plugin_lm hpinn_plugin_msff hpinn_plugin_p1_2d hpinn_plugin_global)
