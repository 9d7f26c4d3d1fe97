# Experiments (issue 12): `hpinn sweep` (grids of runs, resume, failures, the
# sweep: section, the run metadata in summary.json) and `hpinn compare`
# (tables of runs and sweeps, seed groups, formats, plots), driven as
# subprocesses on tiny pipelines.
set(hp_sweep_plugins hpinn_cli hpinn_plugin_msff hpinn_plugin_p1_1d hpinn_plugin_global hpinn_plugin_adam)
hp_add_test(test_sweep_cli SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_sweep_cli.c TIMEOUT 240)
add_dependencies(test_sweep_cli ${hp_sweep_plugins})
hp_add_test(test_compare_cli SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_compare_cli.c TIMEOUT 180)
add_dependencies(test_compare_cli ${hp_sweep_plugins})
