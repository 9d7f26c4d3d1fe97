# `hpinn plot`: the figures of a 1-D and a 2-D run in every format, the gnuplot
# script they come from, --watch, and the errors (issue 13).
hp_add_test(test_plot SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_plot.c TIMEOUT 300)
add_dependencies(test_plot hpinn_cli hpinn_plugin_msff hpinn_plugin_p1_1d hpinn_plugin_p1_2d hpinn_plugin_global
  hpinn_plugin_adam hpinn_plugin_lm)
