# The hybrid objective (issue 6): problem point sets and references, the
# compression operator Q̄, the objective's adjoint gradient against finite
# differences, the fallback path, validation, and `hpinn check --gradient` on
# every config in configs/. The objective tests load plugins through the
# registry (build tree), so they depend on the plugin targets.
set(hp_objective_plugins hpinn_plugin_mlp hpinn_plugin_msff hpinn_plugin_p1_1d hpinn_plugin_p1_2d
    hpinn_plugin_global hpinn_plugin_blocks)
hp_add_test(test_compression SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_compression.c TIMEOUT 60)
hp_add_test(test_collocation SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_collocation.c)
hp_add_test(test_problem SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_problem.c TIMEOUT 120)
add_dependencies(test_problem ${hp_objective_plugins})
hp_add_test(test_objective SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_objective.c TIMEOUT 300)
# `hpinn check` resolves whole pipelines, stages' optimizers included
add_dependencies(test_objective ${hp_objective_plugins} hpinn_cli hpinn_plugin_adam hpinn_plugin_lbfgs
                 hpinn_plugin_lm)
# the coarse-averaged residual τ3·A: the operator and the term's gradient, Jacobian and products
hp_add_test(test_residual_average SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_residual_average.c TIMEOUT 120)
add_dependencies(test_residual_average ${hp_objective_plugins})
