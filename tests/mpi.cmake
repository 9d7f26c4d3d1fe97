# Data-parallel runs (issue 14, docs/scaling.md), when the build has MPI:
#   test_mpi_objective: the distributed objective, gradient, least-squares sums
#     and validation against the serial ones (one rank alone, then under
#     mpirun -np 2 and -np 3, oversubscribed on a 2-core machine);
#   test_mpi_cli: `mpirun hpinn run` histories against the serial run, resume
#     with another rank count, an error on one rank only, `mpirun hpinn sweep`.
# CI runs as root: OpenMPI refuses that unless told, which these tests (and
# only they) do through OMPI_ALLOW_RUN_AS_ROOT*.
if(HPINN_MPI)
  set(hp_mpi_plugins hpinn_plugin_mlp hpinn_plugin_msff hpinn_plugin_p1_1d hpinn_plugin_p1_2d
      hpinn_plugin_global hpinn_plugin_blocks)
  hp_add_test(test_mpi_objective SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_mpi_objective.c TIMEOUT 120)
  add_dependencies(test_mpi_objective ${hp_mpi_plugins})
  set(hp_mpi_env "HPINN_SOURCE_DIR=${CMAKE_SOURCE_DIR};HPINN_BUILD_DIR=${CMAKE_BINARY_DIR};HPINN_PLUGIN_PATH="
      "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1"
      "OMPI_MCA_btl_vader_single_copy_mechanism=none;OPENBLAS_NUM_THREADS=1")
  if(HPINN_SANITIZE)
    list(APPEND hp_mpi_env "ASAN_OPTIONS=detect_leaks=0:abort_on_error=1" "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1")
  endif()
  foreach(np 2 3)
    add_test(NAME test_mpi_objective_np${np}
             COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${np} --oversubscribe --bind-to none
                     $<TARGET_FILE:test_mpi_objective>
             WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
    set_tests_properties(test_mpi_objective_np${np} PROPERTIES ENVIRONMENT "${hp_mpi_env}" TIMEOUT 180)
  endforeach()
  add_test(NAME test_mpi_cli COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_mpi_cli.sh ${MPIEXEC_EXECUTABLE}
           WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(test_mpi_cli PROPERTIES ENVIRONMENT "${hp_mpi_env}" TIMEOUT 600)
endif()
