# The docs test: every command of README.md and docs/*.md (fenced ```sh blocks)
# and every recipe in the configs' comments is run with tiny iteration counts, so
# the documentation cannot drift from the CLI (rules at the top of the script).
add_test(NAME test_docs COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/test_docs.sh)
set_tests_properties(test_docs PROPERTIES TIMEOUT 900
  ENVIRONMENT "HPINN_SOURCE_DIR=${CMAKE_SOURCE_DIR};HPINN_BUILD_DIR=${CMAKE_BINARY_DIR};HPINN_PLUGIN_PATH=")
