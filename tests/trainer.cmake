# Trainer, checkpoints and the `hpinn run` / `hpinn plot` commands (issue 6).
hp_add_test(test_checkpoint SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_checkpoint.c TIMEOUT 60)
# The trainer on a tiny 1-D pipeline with the real plugins of the build tree.
hp_add_test(test_trainer SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_trainer.c TIMEOUT 120)
add_dependencies(test_trainer hpinn_plugin_msff hpinn_plugin_p1_1d hpinn_plugin_global hpinn_plugin_adam
  hpinn_plugin_lbfgs)
# The remaining-time rule, on a clock of the test's own.
hp_add_test(test_trainer_eta SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_trainer_eta.c TIMEOUT 30)
# The progress display: fitting the line to the width, ETA texts, plain lines.
hp_add_test(test_trainer_display SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_trainer_display.c TIMEOUT 60)
add_dependencies(test_trainer_display hpinn_plugin_msff hpinn_plugin_p1_1d hpinn_plugin_global)
# `hpinn run` / `hpinn plot` end to end, as subprocesses.
hp_add_test(test_run_cli SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_run_cli.c LIBRARIES util TIMEOUT 180)
add_dependencies(test_run_cli hpinn_cli hpinn_plugin_msff hpinn_plugin_mlp hpinn_plugin_p1_1d hpinn_plugin_global hpinn_plugin_adam
  hpinn_plugin_lm)
# A run directory belongs to one run: locking, resume refusals, --force, divergence (CLI).
hp_add_test(test_run_dir SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_run_dir.c TIMEOUT 180)
add_dependencies(test_run_dir hpinn_cli hpinn_plugin_msff hpinn_plugin_mlp hpinn_plugin_p1_1d hpinn_plugin_global
  hpinn_plugin_adam hpinn_plugin_lbfgs)
# `hpinn eval` on tiny 1-D and 2-D runs, as a subprocess.
hp_add_test(test_eval_cli SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_eval_cli.c TIMEOUT 120)
add_dependencies(test_eval_cli hpinn_cli hpinn_plugin_msff hpinn_plugin_mlp hpinn_plugin_p1_1d hpinn_plugin_p1_2d
  hpinn_plugin_global hpinn_plugin_adam)
