# hp_add_test(<name> SOURCES <src>... [LIBRARIES <lib>...] [LABELS <l>...] [TIMEOUT s])
#
# Registers one CMocka test executable with CTest. A source that does not exist
# is a configure error, never a silently skipped test: a deleted or renamed test
# file must not make its tests disappear from the suite.
function(hp_add_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBRARIES;LABELS" ${ARGN})
  if(NOT T_SOURCES)
    message(FATAL_ERROR "hp_add_test(${name}): no SOURCES given")
  endif()
  foreach(src ${T_SOURCES})
    get_filename_component(abs "${src}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
    if(NOT EXISTS "${abs}")
      message(FATAL_ERROR "hp_add_test(${name}): source ${src} does not exist; "
                          "a test file was removed or renamed without updating its tests/*.cmake fragment")
    endif()
  endforeach()
  add_executable(${name} ${T_SOURCES})
  target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/core/src ${CMAKE_SOURCE_DIR}/tests)
  target_link_libraries(${name} PRIVATE hpinn_internal PkgConfig::CMOCKA ${T_LIBRARIES} m)
  set_target_properties(${name} PROPERTIES ENABLE_EXPORTS ON)  # plugins bind to this copy of the core
  add_test(NAME ${name} COMMAND ${name} WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set(env "HPINN_SOURCE_DIR=${CMAKE_SOURCE_DIR};HPINN_BUILD_DIR=${CMAKE_BINARY_DIR};HPINN_PLUGIN_PATH=")
  if(HPINN_SANITIZE)
    list(APPEND env "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1" "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
  endif()
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${env}")
  if(T_TIMEOUT)
    set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT})
  endif()
  if(T_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}")
  endif()
endfunction()
