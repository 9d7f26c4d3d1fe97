# hp_add_plugin(NAME <name> SOURCES <src>... [LIBRARIES <lib>...] [OUTPUT_DIRECTORY <dir>])
#
# Builds a hpinn plugin: a MODULE library named hpinn_<name>.so, compiled with
# hidden visibility so that only the entry symbol (HP_PLUGIN_DEFINE) is exported.
# Used by the plugins in this tree and, installed, by out-of-tree plugins
# (find_package(hpinn) provides the hpinn::hpinn target it links to).
function(hp_add_plugin)
  cmake_parse_arguments(P "" "NAME;OUTPUT_DIRECTORY" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT P_NAME MATCHES "^[a-z0-9_]+$")
    message(FATAL_ERROR "hp_add_plugin: plugin name '${P_NAME}' must match [a-z0-9_]+")
  endif()
  set(target hpinn_plugin_${P_NAME})
  add_library(${target} MODULE ${P_SOURCES})
  set_target_properties(${target} PROPERTIES
    PREFIX "" OUTPUT_NAME "hpinn_${P_NAME}"
    C_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  if(P_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${P_OUTPUT_DIRECTORY})
  elseif(DEFINED HPINN_BUILD_PLUGIN_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${HPINN_BUILD_PLUGIN_DIR})
  endif()
  if(TARGET hpinn)
    target_link_libraries(${target} PRIVATE hpinn ${P_LIBRARIES})
  else()
    target_link_libraries(${target} PRIVATE hpinn::hpinn ${P_LIBRARIES})
  endif()
  if(DEFINED HPINN_PLUGIN_SUBDIR AND NOT P_OUTPUT_DIRECTORY)
    install(TARGETS ${target} LIBRARY DESTINATION ${HPINN_PLUGIN_SUBDIR})
  endif()
endfunction()
